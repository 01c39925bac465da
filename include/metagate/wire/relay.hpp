// Cheap views of the frontend messages a pooling relay must look into (Parse, Bind,
// Describe, Close) and builders for the rewritten copies it sends instead. A view borrows the
// frame's bytes; nothing is decoded beyond the names (Bind's parameters stay raw). No I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace metagate::wire {

// Parse: statement name, query text, then the parameter-type section as raw bytes
// (int16 count + count × int32 OIDs).
struct ParseView {
  std::string_view name;
  std::string_view query;
  std::string_view types;
};
std::optional<ParseView> view_parse(std::string_view body);

// Bind: portal and statement names, then everything after them as raw bytes.
struct BindView {
  std::string_view portal;
  std::string_view statement;
  std::string_view rest;
};
std::optional<BindView> view_bind(std::string_view body);

// Describe and Close: 'S' (statement) or 'P' (portal), and the name.
struct TargetView {
  char kind = 0;
  std::string_view name;
};
std::optional<TargetView> view_target(std::string_view body);

// Whole frames (type byte and length included), appended to `out`.
void append_parse(std::string& out, std::string_view name, std::string_view query, std::string_view types);
void append_bind(std::string& out, std::string_view portal, std::string_view statement, std::string_view rest);
void append_target(std::string& out, char type, char kind, std::string_view name);  // 'D' or 'C'
void append_query(std::string& out, std::string_view sql);
void append_sync(std::string& out);

// CommandComplete's tag from its body (without the terminating zero).
std::string_view command_tag(std::string_view body);

}  // namespace metagate::wire
