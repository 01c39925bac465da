// COPY text and csv formats: row splitting, escapes, quoting, NULL markers.
#include "metagate/types/copy_format.hpp"

namespace metagate::types {

namespace {

PgError bad_copy(std::string msg) { return PgError::make("22P04", std::move(msg)); }

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

PgResult<std::optional<std::vector<std::optional<std::string>>>> CopyReader::parse_line(std::string_view line) {
  ++line_;
  std::vector<std::optional<std::string>> fields;
  if (!opts_.csv) {
    if (line == "\\.") {
      ended_ = true;
      return std::optional<std::vector<std::optional<std::string>>>();
    }
    // Split on the delimiter first (escaped delimiters are \t etc., never raw), then unescape.
    size_t start = 0;
    for (;;) {
      size_t end = line.find(opts_.delimiter, start);
      std::string_view raw = line.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
      if (raw == opts_.null_string) {
        fields.emplace_back(std::nullopt);
      } else {
        std::string v;
        v.reserve(raw.size());
        for (size_t i = 0; i < raw.size(); ++i) {
          char c = raw[i];
          if (c != '\\' || i + 1 >= raw.size()) {
            v.push_back(c);
            continue;
          }
          char n = raw[++i];
          switch (n) {
            case 'b': v.push_back('\b'); break;
            case 'f': v.push_back('\f'); break;
            case 'n': v.push_back('\n'); break;
            case 'r': v.push_back('\r'); break;
            case 't': v.push_back('\t'); break;
            case 'v': v.push_back('\v'); break;
            case 'x': {
              int val = 0, digits = 0;
              while (digits < 2 && i + 1 < raw.size() && hexval(raw[i + 1]) >= 0) val = val * 16 + hexval(raw[++i]), ++digits;
              if (digits == 0) v.push_back('x');
              else v.push_back(static_cast<char>(val));
              break;
            }
            default:
              if (n >= '0' && n <= '7') {
                int val = n - '0', digits = 1;
                while (digits < 3 && i + 1 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '7') val = val * 8 + (raw[++i] - '0'), ++digits;
                v.push_back(static_cast<char>(val));
              } else {
                v.push_back(n);
              }
          }
        }
        fields.emplace_back(std::move(v));
      }
      if (end == std::string_view::npos) break;
      start = end + 1;
    }
    return std::optional(std::move(fields));
  }
  // csv
  size_t i = 0;
  for (;;) {
    std::string v;
    bool quoted = false;
    bool any_quote = false;
    while (i < line.size()) {
      char c = line[i];
      if (quoted) {
        if (c == opts_.escape && i + 1 < line.size() && line[i + 1] == opts_.quote) {
          v.push_back(opts_.quote);
          i += 2;
          continue;
        }
        if (c == opts_.quote) {
          quoted = false;
          ++i;
          continue;
        }
        v.push_back(c);
        ++i;
        continue;
      }
      if (c == opts_.delimiter) break;
      if (c == opts_.quote) {
        quoted = true;
        any_quote = true;
        ++i;
        continue;
      }
      v.push_back(c);
      ++i;
    }
    if (quoted) return unexpected(bad_copy("unterminated CSV quoted field"));
    if (!any_quote && v == opts_.null_string) fields.emplace_back(std::nullopt);
    else fields.emplace_back(std::move(v));
    if (i >= line.size()) break;
    ++i;  // delimiter
    if (i == line.size()) {
      fields.emplace_back(opts_.null_string.empty() ? std::optional<std::string>() : std::optional<std::string>(""));
      break;
    }
  }
  return std::optional(std::move(fields));
}

PgResult<std::optional<std::vector<std::optional<std::string>>>> CopyReader::next_row() {
  while (!ended_) {
    // In csv a newline inside quotes belongs to the field: find the end of the record.
    size_t end = std::string::npos;
    if (opts_.csv) {
      bool q = false;
      for (size_t i = pos_; i < buf_.size(); ++i) {
        if (buf_[i] == opts_.quote) q = !q;
        else if (buf_[i] == '\n' && !q) {
          end = i;
          break;
        }
      }
    } else {
      end = buf_.find('\n', pos_);
    }
    if (end == std::string::npos) {
      if (pos_ > 0) {
        buf_.erase(0, pos_);
        pos_ = 0;
      }
      return std::optional<std::vector<std::optional<std::string>>>();
    }
    std::string_view line(buf_.data() + pos_, end - pos_);
    pos_ = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (skip_header_) {
      skip_header_ = false;
      ++line_;
      continue;
    }
    if (opts_.csv && line == "\\.") {
      ended_ = true;
      break;
    }
    return parse_line(line);
  }
  return std::optional<std::vector<std::optional<std::string>>>();
}

PgResult<std::optional<std::vector<std::optional<std::string>>>> CopyReader::finish() {
  if (ended_ || pos_ >= buf_.size()) return std::optional<std::vector<std::optional<std::string>>>();
  std::string rest = buf_.substr(pos_);
  pos_ = buf_.size();
  if (!rest.empty() && rest.back() == '\r') rest.pop_back();
  if (rest.empty()) return std::optional<std::vector<std::optional<std::string>>>();
  return parse_line(rest);
}

void copy_write_row(const CopyOptions& opts, const std::vector<std::optional<std::string>>& fields, std::string& out) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) out.push_back(opts.delimiter);
    if (!fields[i]) {
      out += opts.null_string;
      continue;
    }
    const std::string& v = *fields[i];
    if (opts.csv) {
      bool needs = v.empty() || v.find_first_of(std::string{opts.delimiter, opts.quote, '\n', '\r'}) != std::string::npos ||
                   v == opts.null_string || v == "\\.";
      if (!needs) {
        out += v;
        continue;
      }
      out.push_back(opts.quote);
      for (char c : v) {
        if (c == opts.quote || c == opts.escape) out.push_back(opts.escape);
        out.push_back(c);
      }
      out.push_back(opts.quote);
      continue;
    }
    for (char c : v) {
      switch (c) {
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\v': out += "\\v"; break;
        default:
          if (c == opts.delimiter) {
            out.push_back('\\');
          }
          out.push_back(c);
      }
    }
  }
  out.push_back('\n');
}

}  // namespace metagate::types
