// Unit tests of the wire codec: framing, frontend decoding, backend encoding.
#include <gtest/gtest.h>

#include "metagate/wire/backend.hpp"
#include "metagate/wire/frontend.hpp"

using namespace metagate;
using namespace metagate::wire;

namespace {
std::vector<uint8_t> msg(char type, const std::string& body) {
  std::vector<uint8_t> out;
  out.push_back(static_cast<uint8_t>(type));
  uint32_t len = static_cast<uint32_t>(body.size() + 4);
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(len >> s));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}
std::string be32(int32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>(static_cast<uint32_t>(v) >> (24 - 8 * i));
  return s;
}
std::string be16(int16_t v) {
  return std::string{static_cast<char>(static_cast<uint16_t>(v) >> 8), static_cast<char>(v & 0xff)};
}
PgResult<FrontendMessage> decode(const std::vector<uint8_t>& bytes) {
  auto fr = next_frame(bytes, false, Limits{});
  EXPECT_EQ(fr.status, FrameStatus::kFrame);
  return parse_frontend(fr.frame);
}
}  // namespace

TEST(Framing, NeedsMoreUntilComplete) {
  auto m = msg('Q', std::string("select 1") + '\0');
  for (size_t n = 0; n < m.size(); ++n) {
    auto r = next_frame(std::span(m.data(), n), false, Limits{});
    EXPECT_EQ(r.status, FrameStatus::kNeedMore) << n;
  }
  auto r = next_frame(m, false, Limits{});
  ASSERT_EQ(r.status, FrameStatus::kFrame);
  EXPECT_EQ(r.frame.total_size, m.size());
}

TEST(Framing, RejectsBadLengths) {
  std::vector<uint8_t> tiny = {'Q', 0, 0, 0, 3};
  auto r = next_frame(tiny, false, Limits{});
  EXPECT_EQ(r.status, FrameStatus::kError);
  EXPECT_EQ(r.error.sqlstate, "08P01");
  EXPECT_EQ(r.error.severity, "FATAL");
  std::vector<uint8_t> huge = {'Q', 0x7f, 0xff, 0xff, 0xff};
  r = next_frame(huge, false, Limits{});
  EXPECT_EQ(r.status, FrameStatus::kError);
  std::vector<uint8_t> big_startup = {0x00, 0x01, 0x00, 0x00};
  r = next_frame(big_startup, true, Limits{});
  EXPECT_EQ(r.status, FrameStatus::kError);
}

TEST(Startup, ParsesParamsAndSpecialCodes) {
  std::string body = be32(kProtocolV3) + std::string("user\0grafana\0database\0g\0\0", 25);
  auto sp = parse_startup_packet(std::span(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
  ASSERT_TRUE(sp);
  auto& m = std::get<StartupMessage>(*sp);
  ASSERT_NE(m.find("user"), nullptr);
  EXPECT_EQ(*m.find("user"), "grafana");
  EXPECT_EQ(*m.find("database"), "g");

  std::string ssl = be32(kSslRequestCode);
  auto s = parse_startup_packet(std::span(reinterpret_cast<const uint8_t*>(ssl.data()), ssl.size()));
  ASSERT_TRUE(s);
  EXPECT_TRUE(std::holds_alternative<SslRequest>(*s));

  std::string cancel = be32(kCancelRequestCode) + be32(42) + be32(-7);
  auto c = parse_startup_packet(std::span(reinterpret_cast<const uint8_t*>(cancel.data()), cancel.size()));
  ASSERT_TRUE(c);
  EXPECT_EQ(std::get<CancelRequest>(*c).pid, 42);
  EXPECT_EQ(std::get<CancelRequest>(*c).secret, -7);

  std::string unterminated = be32(kProtocolV3) + std::string("user\0grafana", 12);
  auto u = parse_startup_packet(std::span(reinterpret_cast<const uint8_t*>(unterminated.data()), unterminated.size()));
  EXPECT_FALSE(u);
}

TEST(Frontend, Bind) {
  std::string body = std::string("p1\0s1\0", 6) + be16(1) + be16(1) + be16(2) + be32(3) + "abc" + be32(-1) +
                     be16(1) + be16(1);
  auto r = decode(msg('B', body));
  ASSERT_TRUE(r);
  auto& b = std::get<Bind>(*r);
  EXPECT_EQ(b.portal, "p1");
  EXPECT_EQ(b.statement, "s1");
  ASSERT_EQ(b.params.size(), 2u);
  EXPECT_EQ(*b.params[0], "abc");
  EXPECT_FALSE(b.params[1].has_value());
  EXPECT_EQ(b.result_formats, std::vector<int16_t>{1});
}

TEST(Frontend, BindWithLyingLengthIsProtocolError) {
  std::string body = std::string("\0\0", 2) + be16(0) + be16(1) + be32(1000) + "abc" + be16(0);
  auto r = decode(msg('B', body));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().sqlstate, "08P01");
}

TEST(Frontend, ParseDescribeExecuteClose) {
  auto p = decode(msg('P', std::string("s\0select $1\0", 12) + be16(1) + be32(23)));
  ASSERT_TRUE(p);
  EXPECT_EQ(std::get<Parse>(*p).param_types, std::vector<uint32_t>{23});
  auto d = decode(msg('D', std::string("Sname\0", 6)));
  ASSERT_TRUE(d);
  EXPECT_EQ(std::get<Describe>(*d).kind, 'S');
  auto bad = decode(msg('D', std::string("Xname\0", 6)));
  EXPECT_FALSE(bad);
  auto e = decode(msg('E', std::string("\0", 1) + be32(10)));
  ASSERT_TRUE(e);
  EXPECT_EQ(std::get<Execute>(*e).max_rows, 10);
  auto trailing = decode(msg('E', std::string("\0", 1) + be32(10) + "x"));
  EXPECT_FALSE(trailing);
}

TEST(Frontend, UnknownTypeIsProtocolError) {
  // Refused from the header alone, as PostgreSQL does: the body is never waited for.
  auto m = msg('z', std::string(1000, 'x'));
  auto r = next_frame(std::span(m.data(), 5), false, Limits{});
  ASSERT_EQ(r.status, FrameStatus::kError);
  EXPECT_EQ(r.error.sqlstate, "08P01");
  EXPECT_EQ(r.error.message, "invalid frontend message type 122");
}

TEST(Framing, SmallMessagesCannotAnnounceLargeBodies) {
  // Sync, Flush, Terminate, Execute, Close, Describe: at most 10000 bytes of body.
  for (char t : {'S', 'H', 'X', 'E', 'C', 'D'}) {
    auto big = msg(t, std::string(10001, 'x'));
    auto r = next_frame(std::span(big.data(), 5), false, Limits{});
    ASSERT_EQ(r.status, FrameStatus::kError) << t;
    EXPECT_EQ(r.error.message, "invalid message length");
    auto ok = msg(t, std::string(10000, 'x'));
    EXPECT_EQ(next_frame(std::span(ok.data(), 5), false, Limits{}).status, FrameStatus::kNeedMore) << t;
  }
}

TEST(Backend, LengthsAreBackPatched) {
  std::string out;
  Writer w(out);
  w.command_complete("SELECT 1");
  ASSERT_EQ(out.size(), 1u + 4u + 9u);
  EXPECT_EQ(out[0], 'C');
  EXPECT_EQ(out.substr(1, 4), be32(13));
  out.clear();
  w.begin_data_row(2);
  w.field("42");
  w.null_field();
  w.end_data_row();
  EXPECT_EQ(out, std::string("D") + be32(4 + 2 + 4 + 2 + 4) + be16(2) + be32(2) + "42" + be32(-1));
}

TEST(Backend, ErrorResponseFields) {
  std::string out;
  Writer w(out);
  auto e = PgError::make(sqlstate::kUndefinedTable, "relation \"x\" does not exist");
  e.position = 15;
  w.error_response(e);
  EXPECT_NE(out.find(std::string("C42P01\0", 7)), std::string::npos);
  EXPECT_NE(out.find(std::string("P15\0", 4)), std::string::npos);
  EXPECT_EQ(out.back(), '\0');
}
