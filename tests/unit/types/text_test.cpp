// Character types, bytea and uuid: text/binary I/O, varchar(n)/char(n) rules, UTF-8 checks.
#include "test_support.hpp"
#include "metagate/types/codec.hpp"

namespace metagate::types {
namespace {
using testing::Row;
using testing::binary_in;
using testing::check_rows;
using testing::text_io;

int32_t len_typmod(Oid t, int64_t n) {
  const int64_t args[] = {n};
  return *typmod_from_args(t, args);
}

// Tables: PostgreSQL 15.18, PQexecParams("SELECT $1") with a text parameter of the type;
// text result and binary (typsend) result.
TEST(Text, MatchesPostgres) {
  static constexpr Row kRows[] = {
    {"abc", "abc", "616263"},
    {"", "", ""},
    {"  x  ", "  x  ", "2020782020"},
    {"é", "é", "c3a9"},
  };
  check_rows(oid::kText, kRows);
  check_rows(oid::kVarchar, kRows);
  check_rows(oid::kBpchar, kRows);
}

TEST(Name, MatchesPostgres) {
  static constexpr Row kRows[] = {
    {"abc", "abc", "616263"},
    {"x", "x", "78"},
    {"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878"},
    {"éééééééééééééééééééééééééééééééééééééééé", "ééééééééééééééééééééééééééééééé", "c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9c3a9"},
  };
  check_rows(oid::kName, kRows);
}

TEST(Char, MatchesPostgres) {
  static constexpr Row kRows[] = {
    {"a", "a", "61"},
    {"ab", "a", "61"},
    {"", "", "00"},
    {"\\101", "A", "41"},
    {"\\377", "\\377", "ff"},
    {"\\12", "\\", "5c"},
  };
  check_rows(oid::kChar, kRows);
  EXPECT_EQ(binary_in(oid::kChar, "ff"), "\\377");
  EXPECT_EQ(binary_in(oid::kChar, ""), "ERR 08P01 no data left in message");
}

TEST(Bytea, MatchesPostgres) {
  static constexpr Row kRows[] = {
    {"\\x4142", "\\x4142", "4142"},
    {"\\X41 42", "ERR 22P02 invalid input syntax for type bytea", nullptr},
    {"\\x414", "ERR 22023 invalid hexadecimal data: odd number of digits", nullptr},
    {"\\x4g", "ERR 22023 invalid hexadecimal digit: \"g\"", nullptr},
    {"abc\\\\d\\101\\x", "ERR 22P02 invalid input syntax for type bytea", nullptr},
    {"ab\\", "ERR 22P02 invalid input syntax for type bytea", nullptr},
    {"\\400", "ERR 22P02 invalid input syntax for type bytea", nullptr},
    {"\\1", "ERR 22P02 invalid input syntax for type bytea", nullptr},
    {"é", "\\xc3a9", "c3a9"},
    {"", "\\x", ""},
    {"\\x", "\\x", ""},
    {"\\x41 42", "\\x4142", "4142"},
    {" \\x41", "ERR 22P02 invalid input syntax for type bytea", nullptr},
    {"\\x41 4", "ERR 22023 invalid hexadecimal data: odd number of digits", nullptr},
    {"a\\\\b", "\\x615c62", "615c62"},
    {"\\377\\000", "\\xff00", "ff00"},
    {"\\xDEADbeef", "\\xdeadbeef", "deadbeef"},
  };
  check_rows(oid::kBytea, kRows);
  // The multi-byte character is reported whole (SELECT '\x4é'::bytea).
  EXPECT_EQ(text_io(oid::kBytea, "\\x4\xc3\xa9"), "ERR 22023 invalid hexadecimal digit: \"\xc3\xa9\"");
  auto v = parse_text(oid::kBytea, "\\x00ff", -1, {});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->kind, Value::Kind::Blob);
  EXPECT_EQ(v->s, std::string("\0\xff", 2));
}

TEST(Uuid, MatchesPostgres) {
  static constexpr Row kRows[] = {
    {"{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc999c0b4ef8bb6d6bb9bd380a11"},
    {"a0eebc999c0b4ef8bb6d6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc999c0b4ef8bb6d6bb9bd380a11"},
    {"a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc999c0b4ef8bb6d6bb9bd380a11"},
    {"a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc999c0b4ef8bb6d6bb9bd380a11"},
    {" a0eebc999c0b4ef8bb6d6bb9bd380a11", "ERR 22P02 invalid input syntax for type uuid: \" a0eebc999c0b4ef8bb6d6bb9bd380a11\"", nullptr},
    {"a0eebc999c0b4ef8bb6d6bb9bd380a11 ", "ERR 22P02 invalid input syntax for type uuid: \"a0eebc999c0b4ef8bb6d6bb9bd380a11 \"", nullptr},
    {"{a0eebc999c0b4ef8bb6d6bb9bd380a11", "ERR 22P02 invalid input syntax for type uuid: \"{a0eebc999c0b4ef8bb6d6bb9bd380a11\"", nullptr},
    {"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", "ERR 22P02 invalid input syntax for type uuid: \"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1\"", nullptr},
    {"x", "ERR 22P02 invalid input syntax for type uuid: \"x\"", nullptr},
    {"", "ERR 22P02 invalid input syntax for type uuid: \"\"", nullptr},
    {"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-", "ERR 22P02 invalid input syntax for type uuid: \"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-\"", nullptr},
    {"a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11", "ERR 22P02 invalid input syntax for type uuid: \"a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11\"", nullptr},
  };
  check_rows(oid::kUuid, kRows);
  EXPECT_EQ(binary_in(oid::kUuid, "a0eebc999c0b4ef8bb6d6bb9bd380a"), "ERR 08P01 insufficient data left in message");
  EXPECT_EQ(binary_in(oid::kUuid, "a0eebc999c0b4ef8bb6d6bb9bd380a1100"), "ERR 22P03 incorrect binary data format");
}

// Assignment of a parameter to a varchar(3)/char(3) column (INSERT INTO t VALUES ($1)
// RETURNING c) and explicit casts ($1::text::varchar(3)) in PG 15.
TEST(Varchar, LengthRules) {
  const int32_t v3 = len_typmod(oid::kVarchar, 3);
  EXPECT_EQ(v3, 7);
  EXPECT_EQ(text_io(oid::kVarchar, "abc", v3), "abc");
  EXPECT_EQ(text_io(oid::kVarchar, "abcd", v3), "ERR 22001 value too long for type character varying(3)");
  EXPECT_EQ(text_io(oid::kVarchar, "abc   ", v3), "abc");
  EXPECT_EQ(text_io(oid::kVarchar, "ab  x", v3), "ERR 22001 value too long for type character varying(3)");
  EXPECT_EQ(text_io(oid::kVarchar, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", v3),
            "ERR 22001 value too long for type character varying(3)");
  EXPECT_EQ(text_io(oid::kVarchar, "\xc3\xa9\xc3\xa9\xc3\xa9 ", v3), "\xc3\xa9\xc3\xa9\xc3\xa9");
  auto cast = [&](Oid t, const char* s, int32_t typmod) {
    auto r = coerce_to_typmod(t, Value::text(s), typmod, true);
    return r ? r->s : testing::err(r.error());
  };
  EXPECT_EQ(cast(oid::kVarchar, "abcd", v3), "abc");
  EXPECT_EQ(cast(oid::kVarchar, "ab  x", v3), "ab ");
  EXPECT_EQ(cast(oid::kVarchar, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", v3), "\xc3\xa9\xc3\xa9\xc3\xa9");
  auto assign = coerce_to_typmod(oid::kVarchar, Value::text("abcd"), v3, false);
  ASSERT_FALSE(assign);
  EXPECT_EQ(assign.error().sqlstate, "22001");
}

TEST(Bpchar, PaddingRules) {
  const int32_t c3 = len_typmod(oid::kBpchar, 3);
  EXPECT_EQ(text_io(oid::kBpchar, "a", c3), "a  ");  // octet_length('a'::char(3)) = 3
  EXPECT_EQ(text_io(oid::kBpchar, "", c3), "   ");
  EXPECT_EQ(text_io(oid::kBpchar, "\xc3\xa9", c3), "\xc3\xa9  ");
  EXPECT_EQ(text_io(oid::kBpchar, "abc  ", c3), "abc");
  EXPECT_EQ(text_io(oid::kBpchar, "abcd", c3), "ERR 22001 value too long for type character(3)");
  EXPECT_EQ(text_io(oid::kBpchar, "ab x", c3), "ERR 22001 value too long for type character(3)");
  auto cast = coerce_to_typmod(oid::kBpchar, Value::text("ab x"), c3, true);
  ASSERT_TRUE(cast);
  EXPECT_EQ(cast->s, "ab ");
  EXPECT_EQ(bpchar_pad("ab", c3), "ab ");
  EXPECT_EQ(bpchar_pad("abcd", c3), "abcd");
  EXPECT_EQ(bpchar_pad("ab", -1), "ab");
  EXPECT_EQ(testing::binary_in(oid::kBpchar, "6162", c3), "ab ");
  EXPECT_EQ(testing::binary_in(oid::kVarchar, "61626364", len_typmod(oid::kVarchar, 3)),
            "ERR 22001 value too long for type character varying(3)");
}

// Every client string must be valid UTF-8 without NUL (PG: invalid byte sequence for
// encoding "UTF8": 0xc3 0x28, SQLSTATE 22021).
TEST(Text, Utf8Validation) {
  EXPECT_EQ(text_io(oid::kText, "a\xc3(b"), "ERR 22021 invalid byte sequence for encoding \"UTF8\": 0xc3 0x28");
  EXPECT_EQ(text_io(oid::kText, std::string("a\0b", 3)), "ERR 22021 invalid byte sequence for encoding \"UTF8\": 0x00");
  EXPECT_EQ(text_io(oid::kText, "\xed\xa0\x80"), "ERR 22021 invalid byte sequence for encoding \"UTF8\": 0xed 0xa0 0x80");
  EXPECT_EQ(text_io(oid::kText, "\xf0\x9f\x98"), "ERR 22021 invalid byte sequence for encoding \"UTF8\": 0xf0 0x9f 0x98");
  EXPECT_EQ(text_io(oid::kText, "\xff"), "ERR 22021 invalid byte sequence for encoding \"UTF8\": 0xff");
  EXPECT_EQ(text_io(oid::kText, "\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");
  EXPECT_EQ(binary_in(oid::kText, "c3"), "ERR 22021 invalid byte sequence for encoding \"UTF8\": 0xc3");
  EXPECT_EQ(binary_in(oid::kText, "610062"), "ERR 22021 invalid byte sequence for encoding \"UTF8\": 0x00");
  // namerecv: identifier too long (42622).
  EXPECT_EQ(binary_in(oid::kName, std::string(128, '6')), "ERR 42622 identifier too long");
}

}  // namespace
}  // namespace metagate::types

// Array output quotes as PostgreSQL's array_out does: empty elements, any spelling of NULL
// (pg_strcasecmp), the delimiters, and array_isspace's whitespace (\v and \f included).
TEST(ArrayTextTest, QuotesWhatArrayOutQuotes) {
  using metagate::types::array_text;
  EXPECT_EQ(array_text({std::string("a"), std::nullopt, std::string("")}), "{a,NULL,\"\"}");
  EXPECT_EQ(array_text({std::string("NULL"), std::string("null"), std::string("nUlL"), std::string("nulls")}),
            "{\"NULL\",\"null\",\"nUlL\",nulls}");
  EXPECT_EQ(array_text({std::string("a b"), std::string("x\vy"), std::string("x\fy"), std::string("q\"r")}),
            "{\"a b\",\"x\vy\",\"x\fy\",\"q\\\"r\"}");
}
