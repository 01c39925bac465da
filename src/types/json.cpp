// json/jsonb: PG's JSON lexer/parser rules for validation (json keeps the text) and jsonb's
// normalised output (keys sorted by length then bytes, last duplicate wins, ", "/": " spacing,
// numbers in numeric's canonical form, strings re-escaped).
#include <algorithm>
#include <cstdio>
#include <vector>

#include "internal.hpp"

namespace metagate::types::detail {
namespace {

constexpr size_t kMaxDepth = 6400;  // PG 15 handles 5000-deep jsonb, fails at 20000

enum class Tok { LBrace, RBrace, LBracket, RBracket, Colon, Comma, String, Number, True, False, Null, End };

struct JMember;
struct JNode {
  enum class K { Null, True, False, Number, String, Array, Object } k = K::Null;
  std::string s;  // string value (decoded) or canonical number
  std::vector<JNode> arr;
  std::vector<JMember> obj;  // (a named struct: libstdc++ 12's std::pair of an incomplete type breaks clang 14)
};
struct JMember {
  JMember() = default;
  JMember(std::string k, JNode v) : first(std::move(k)), second(std::move(v)) {}
  std::string first;
  JNode second;
};

PgError json_error(std::string detail) {
  return PgError::make(sqlstate::kInvalidTextRepresentation, "invalid input syntax for type json")
      .with_detail(std::move(detail));
}

bool word_char(char c) {
  return is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'z') || c == '_' || (static_cast<unsigned char>(c) & 0x80);
}

int hexv(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class Parser {
 public:
  Parser(std::string_view s, bool build) : s_(s), build_(build) {}

  // Iterative (explicit stack) so that nesting depth costs heap, not native stack.
  PgStatus parse_document(JNode& root) {
    struct Frame {
      JNode* node;
      bool is_array;
    };
    std::vector<Frame> stack;
    JNode scratch;  // target for values when not building
    JNode* target = &root;
    if (auto st = next(); !st) return st;
    for (;;) {
      // A value is expected here, to be stored in *target.
      bool opened = false;
      switch (tok_) {
        case Tok::String: target->k = JNode::K::String; if (build_) target->s = str_; break;
        case Tok::Number:
          target->k = JNode::K::Number;
          if (build_) {
            auto num = numeric_in(text_, -1);
            if (!num) return fail(std::move(num).error());
            target->s = std::move(num->s);
          }
          break;
        case Tok::True: target->k = JNode::K::True; break;
        case Tok::False: target->k = JNode::K::False; break;
        case Tok::Null: target->k = JNode::K::Null; break;
        case Tok::LBracket:
        case Tok::LBrace: {
          const bool arr = tok_ == Tok::LBracket;
          target->k = arr ? JNode::K::Array : JNode::K::Object;
          if (stack.size() >= kMaxDepth) return fail(PgError::make("54001", "stack depth limit exceeded"));
          if (auto st = next(); !st) return st;
          if (tok_ == (arr ? Tok::RBracket : Tok::RBrace)) break;  // empty
          stack.push_back({target, arr});
          if (arr) {
            if (!starts_value()) return fail(unexpected_tok("array element or \"]\""));
            target = add_element(stack.back().node, scratch);
          } else {
            auto t = member(stack.back().node, scratch, true);
            if (!t) return fail(std::move(t).error());
            target = *t;
          }
          opened = true;
          break;
        }
        default: return fail(unexpected_tok("JSON value"));
      }
      if (opened) continue;
      // The value is complete: close containers / move to the next element.
      for (;;) {
        if (auto st = next(); !st) return st;
        if (stack.empty()) {
          if (tok_ != Tok::End) return fail(json_error("Expected end of input, but found \"" + std::string(text_) + "\"."));
          return Ok{};
        }
        const Frame f = stack.back();
        if (tok_ == (f.is_array ? Tok::RBracket : Tok::RBrace)) {
          stack.pop_back();
          continue;
        }
        if (tok_ != Tok::Comma) return fail(unexpected_tok(f.is_array ? "\",\" or \"]\"" : "\",\" or \"}\""));
        if (auto st = next(); !st) return st;
        if (f.is_array) {
          if (!starts_value()) return fail(unexpected_tok("JSON value"));
          target = add_element(f.node, scratch);
        } else {
          auto t = member(f.node, scratch, false);
          if (!t) return fail(std::move(t).error());
          target = *t;
        }
        break;
      }
    }
  }

 private:
  std::string_view s_;
  bool build_;
  size_t pos_ = 0;
  Tok tok_ = Tok::End;
  std::string_view text_;
  std::string str_;  // decoded string token

  PgError invalid_token(size_t start, size_t end) {
    while (end < s_.size() && word_char(s_[end])) ++end;
    return json_error("Token \"" + std::string(s_.substr(start, end - start)) + "\" is invalid.");
  }

  PgStatus next() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
    const size_t start = pos_;
    if (pos_ >= s_.size()) {
      tok_ = Tok::End;
      text_ = {};
      return Ok{};
    }
    const char c = s_[pos_];
    auto single = [&](Tok t) {
      tok_ = t;
      text_ = s_.substr(pos_++, 1);
      return PgStatus(Ok{});
    };
    switch (c) {
      case '{': return single(Tok::LBrace);
      case '}': return single(Tok::RBrace);
      case '[': return single(Tok::LBracket);
      case ']': return single(Tok::RBracket);
      case ':': return single(Tok::Colon);
      case ',': return single(Tok::Comma);
      case '"': return lex_string();
      default: break;
    }
    if (c == '-' || is_digit(c)) {
      size_t k = pos_;
      if (s_[k] == '-') ++k;
      if (k >= s_.size() || !is_digit(s_[k])) return fail(invalid_token(start, k));
      if (s_[k] == '0') {
        ++k;
      } else {
        while (k < s_.size() && is_digit(s_[k])) ++k;
      }
      if (k < s_.size() && s_[k] == '.') {
        ++k;
        if (k >= s_.size() || !is_digit(s_[k])) return fail(invalid_token(start, k));
        while (k < s_.size() && is_digit(s_[k])) ++k;
      }
      if (k < s_.size() && (s_[k] == 'e' || s_[k] == 'E')) {
        ++k;
        if (k < s_.size() && (s_[k] == '+' || s_[k] == '-')) ++k;
        if (k >= s_.size() || !is_digit(s_[k])) return fail(invalid_token(start, k));
        while (k < s_.size() && is_digit(s_[k])) ++k;
      }
      if (k < s_.size() && word_char(s_[k])) return fail(invalid_token(start, k));
      tok_ = Tok::Number;
      text_ = s_.substr(start, k - start);
      pos_ = k;
      return Ok{};
    }
    if (word_char(c)) {
      size_t k = pos_;
      while (k < s_.size() && word_char(s_[k])) ++k;
      text_ = s_.substr(start, k - start);
      pos_ = k;
      if (text_ == "true") tok_ = Tok::True;
      else if (text_ == "false") tok_ = Tok::False;
      else if (text_ == "null") tok_ = Tok::Null;
      else return fail(json_error("Token \"" + std::string(text_) + "\" is invalid."));
      return Ok{};
    }
    size_t n = 1;  // one (UTF-8) character
    while (pos_ + n < s_.size() && (static_cast<unsigned char>(s_[pos_ + n]) & 0xC0) == 0x80) ++n;
    return fail(json_error("Token \"" + std::string(s_.substr(start, n)) + "\" is invalid."));
  }

  PgStatus lex_string() {
    const size_t start = pos_;
    size_t k = pos_ + 1;
    str_.clear();
    uint32_t high = 0;  // pending high surrogate (jsonb)
    while (true) {
      if (k >= s_.size()) return fail(json_error("Token \"" + std::string(s_.substr(start)) + "\" is invalid."));
      const char c = s_[k];
      if (c == '"') break;
      if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "0x%02x", static_cast<unsigned char>(c));
        return fail(json_error(std::string("Character with value ") + buf + " must be escaped."));
      }
      if (c != '\\') {
        if (high) return fail(json_error("Unicode low surrogate must follow a high surrogate."));
        if (build_) str_.push_back(c);
        ++k;
        continue;
      }
      if (k + 1 >= s_.size()) return fail(json_error("Token \"" + std::string(s_.substr(start)) + "\" is invalid."));
      const char e = s_[k + 1];
      if (e == 'u') {
        uint32_t cp = 0;
        for (int j = 0; j < 4; ++j) {
          const int h = k + 2 + static_cast<size_t>(j) < s_.size() ? hexv(s_[k + 2 + static_cast<size_t>(j)]) : -1;
          if (h < 0) return fail(json_error("\"\\u\" must be followed by four hexadecimal digits."));
          cp = cp * 16 + static_cast<uint32_t>(h);
        }
        k += 6;
        if (!build_) continue;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (high) return fail(json_error("Unicode high surrogate must not follow a high surrogate."));
          high = cp;
          continue;
        }
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
          if (!high) return fail(json_error("Unicode low surrogate must follow a high surrogate."));
          cp = 0x10000 + ((high - 0xD800) << 10) + (cp - 0xDC00);
          high = 0;
        } else if (high) {
          return fail(json_error("Unicode low surrogate must follow a high surrogate."));
        }
        if (cp == 0)
          return fail(PgError::make(sqlstate::kUntranslatableCharacter, "unsupported Unicode escape sequence")
                          .with_detail("\\u0000 cannot be converted to text."));
        append_utf8(str_, cp);
        continue;
      }
      if (high) return fail(json_error("Unicode low surrogate must follow a high surrogate."));
      char out;
      switch (e) {
        case '"': out = '"'; break;
        case '\\': out = '\\'; break;
        case '/': out = '/'; break;
        case 'b': out = '\b'; break;
        case 'f': out = '\f'; break;
        case 'n': out = '\n'; break;
        case 'r': out = '\r'; break;
        case 't': out = '\t'; break;
        default: {
          size_t n = 1;
          while (k + 1 + n < s_.size() && (static_cast<unsigned char>(s_[k + 1 + n]) & 0xC0) == 0x80) ++n;
          return fail(json_error("Escape sequence \"\\" + std::string(s_.substr(k + 1, n)) + "\" is invalid."));
        }
      }
      if (build_) str_.push_back(out);
      k += 2;
    }
    if (high) return fail(json_error("Unicode low surrogate must follow a high surrogate."));
    tok_ = Tok::String;
    text_ = s_.substr(start, k + 1 - start);
    pos_ = k + 1;
    return Ok{};
  }

  PgError unexpected_tok(std::string_view expected) {
    if (tok_ == Tok::End) return json_error("The input string ended unexpectedly.");
    return json_error("Expected " + std::string(expected) + ", but found \"" + std::string(text_) + "\".");
  }

  bool starts_value() const {
    return tok_ != Tok::RBracket && tok_ != Tok::RBrace && tok_ != Tok::Comma && tok_ != Tok::Colon &&
           tok_ != Tok::End;
  }

  JNode* add_element(JNode* arr, JNode& scratch) {
    if (!build_) return &(scratch = JNode{});
    return &arr->arr.emplace_back();
  }

  // At a member's key: reads key and ':' and returns where the value goes.
  PgResult<JNode*> member(JNode* obj, JNode& scratch, bool first) {
    if (tok_ != Tok::String) return fail(unexpected_tok(first ? "string or \"}\"" : "string"));
    std::string key = build_ ? str_ : std::string();
    if (auto st = next(); !st) return fail(std::move(st).error());
    if (tok_ != Tok::Colon) return fail(unexpected_tok("\":\""));
    if (auto st = next(); !st) return fail(std::move(st).error());
    if (!starts_value()) return fail(unexpected_tok("JSON value"));
    if (!build_) return &(scratch = JNode{});
    return &obj->obj.emplace_back(std::move(key), JNode{}).second;
  }
};

void escape_json(std::string_view s, std::string& out) {
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

// jsonb object semantics: last duplicate wins, keys ordered by (length, bytes).
void normalize_object(JNode& n) {
  std::stable_sort(n.obj.begin(), n.obj.end(), [](const auto& a, const auto& b) {
    if (a.first.size() != b.first.size()) return a.first.size() < b.first.size();
    return a.first < b.first;
  });
  std::vector<JMember> out;
  for (auto& kv : n.obj) {
    if (!out.empty() && out.back().first == kv.first) out.back() = std::move(kv);
    else out.push_back(std::move(kv));
  }
  n.obj = std::move(out);
}

// Writes a document without recursion (nesting can be thousands deep).
void write(JNode& root, std::string& out, int /*depth*/) {
  struct Frame {
    JNode* node;
    size_t next;
  };
  std::vector<Frame> stack;
  auto open = [&](JNode& n) {
    switch (n.k) {
      case JNode::K::Null: out += "null"; return;
      case JNode::K::True: out += "true"; return;
      case JNode::K::False: out += "false"; return;
      case JNode::K::Number: out += n.s; return;
      case JNode::K::String: escape_json(n.s, out); return;
      case JNode::K::Array: out.push_back('['); break;
      case JNode::K::Object:
        normalize_object(n);
        out.push_back('{');
        break;
    }
    stack.push_back(Frame{&n, 0});
  };
  open(root);
  while (!stack.empty()) {
    Frame& f = stack.back();
    JNode& n = *f.node;
    bool is_array = n.k == JNode::K::Array;
    size_t size = is_array ? n.arr.size() : n.obj.size();
    if (f.next == size) {
      out.push_back(is_array ? ']' : '}');
      stack.pop_back();
      continue;
    }
    size_t k = f.next++;
    if (k) out += ", ";
    if (is_array) {
      open(n.arr[k]);
    } else {
      escape_json(n.obj[k].first, out);
      out += ": ";
      open(n.obj[k].second);
    }
  }
}

}  // namespace

PgStatus json_validate(std::string_view s) {
  JNode root;
  Parser p(s, false);
  return p.parse_document(root);
}

PgResult<std::string> jsonb_normalize(std::string_view s) {
  JNode root;
  Parser p(s, true);
  if (auto st = p.parse_document(root); !st) return fail(std::move(st).error());
  std::string out;
  write(root, out, 0);
  return out;
}

}  // namespace metagate::types::detail
