// COPY text/csv formats: escapes, NULL markers, quoting, rows split across chunks.
#include <gtest/gtest.h>

#include "metagate/types/copy_format.hpp"

namespace metagate::types {
namespace {

using Row = std::vector<std::optional<std::string>>;

std::vector<Row> read_all(CopyOptions o, const std::vector<std::string>& chunks) {
  CopyReader r(o);
  std::vector<Row> rows;
  for (const auto& c : chunks) {
    r.feed(c);
    for (;;) {
      auto row = r.next_row();
      EXPECT_TRUE(row);
      if (!row || !*row) break;
      rows.push_back(**row);
    }
  }
  auto last = r.finish();
  EXPECT_TRUE(last);
  if (last && *last) rows.push_back(**last);
  return rows;
}

TEST(CopyText, EscapesNullsAndChunks) {
  auto rows = read_all({}, {"1\tab\\tc\t\\N\n2\tx", "\\\\y\t\\101\n", "\\.\n", "ignored\n"});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (Row{"1", "ab\tc", std::nullopt}));
  EXPECT_EQ(rows[1], (Row{"2", "x\\y", "A"}));
}

TEST(CopyText, WriteRoundTrip) {
  CopyOptions o;
  std::string out;
  copy_write_row(o, {"a\tb", std::nullopt, "line\nbreak", "back\\slash"}, out);
  EXPECT_EQ(out, "a\\tb\t\\N\tline\\nbreak\tback\\\\slash\n");
  auto rows = read_all(o, {out});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], (Row{"a\tb", std::nullopt, "line\nbreak", "back\\slash"}));
}

TEST(CopyCsv, QuotesHeaderAndEmptyNull) {
  CopyOptions o;
  o.csv = true;
  o.delimiter = ',';
  o.null_string = "";
  o.header = true;
  auto rows = read_all(o, {"id,name\n1,\"a,b\"\n2,\n3,\"\"\n4,\"multi\nline\"\n"});
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0], (Row{"1", "a,b"}));
  EXPECT_EQ(rows[1], (Row{"2", std::nullopt}));
  EXPECT_EQ(rows[2], (Row{"3", ""}));
  EXPECT_EQ(rows[3], (Row{"4", "multi\nline"}));
  std::string out;
  copy_write_row(o, {"x\"y", std::nullopt, ""}, out);
  EXPECT_EQ(out, "\"x\"\"y\",,\"\"\n");
}

TEST(CopyCsv, UnterminatedQuoteIsAnError) {
  CopyOptions o;
  o.csv = true;
  o.delimiter = ',';
  o.null_string = "";
  CopyReader r(o);
  r.feed("1,\"abc");
  auto row = r.next_row();
  ASSERT_TRUE(row);
  EXPECT_FALSE(*row);
  auto last = r.finish();
  ASSERT_FALSE(last);
  EXPECT_EQ(last.error().sqlstate, "22P04");
}

}  // namespace
}  // namespace metagate::types
