// COPY data formats (text and csv) as PostgreSQL reads and writes them: splitting a stream
// into rows and fields, and rendering rows. Pure: no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metagate/util/pg_error.hpp"

namespace metagate::types {

struct CopyOptions {
  bool csv = false;
  char delimiter = '\t';        // ',' for csv
  std::string null_string = "\\N";  // "" for csv
  bool header = false;
  char quote = '"';
  char escape = '"';
};

// Incremental reader: feed CopyData bytes; complete rows come out. A row is a list of fields
// (nullopt = NULL). The "\." end-of-data line of the text format ends the data.
class CopyReader {
 public:
  explicit CopyReader(CopyOptions opts) : opts_(std::move(opts)), skip_header_(opts_.header) {}
  void feed(std::string_view data) { buf_.append(data); }
  // Next complete row, nullopt when more data is needed. At end of input call finish().
  PgResult<std::optional<std::vector<std::optional<std::string>>>> next_row();
  // After CopyDone: a final row without a newline, if any.
  PgResult<std::optional<std::vector<std::optional<std::string>>>> finish();
  bool ended() const { return ended_; }
  size_t line() const { return line_; }

 private:
  PgResult<std::optional<std::vector<std::optional<std::string>>>> parse_line(std::string_view line);
  CopyOptions opts_;
  std::string buf_;
  size_t pos_ = 0;
  size_t line_ = 0;
  bool skip_header_;
  bool ended_ = false;
};

// Appends one row (text values already in PostgreSQL's text output form; nullopt = NULL).
void copy_write_row(const CopyOptions& opts, const std::vector<std::optional<std::string>>& fields, std::string& out);

}  // namespace metagate::types
