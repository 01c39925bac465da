// Plan execution on SQLite: parameter decoding, row encoding, command tags.
#include "metagate/store/executor.hpp"

#include "metagate/types/codec.hpp"
#include "metagate/types/type_catalog.hpp"

namespace metagate::store {

namespace o = types::oid;
using types::Value;
using types::ValueRef;

int16_t result_format(const std::vector<int16_t>& formats, size_t i) {
  if (formats.empty()) return 0;
  if (formats.size() == 1) return formats[0];
  return i < formats.size() ? formats[i] : 0;
}

PgResult<std::vector<Value>> decode_params(const sql::Plan& plan, const std::vector<int16_t>& formats,
                                           const std::vector<std::optional<std::string>>& raw,
                                           const types::SessionContext& sc) {
  std::vector<Value> out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (!raw[i]) {
      out.push_back(Value::null());
      continue;
    }
    types::Oid t = i < plan.params.size() ? plan.params[i].type : o::kText;
    int16_t fmt = result_format(formats, i);
    const auto* info = types::find_type(t);
    if (info && info->typcategory == 'A') {
      if (fmt != 0) return unexpected(PgError::make(sqlstate::kFeatureNotSupported, "metagate does not support binary array parameters"));
      out.push_back(Value::text(*raw[i]));  // mg_array_json() parses the literal
      continue;
    }
    if (fmt == 0) {
      auto v = types::parse_text(t, *raw[i], -1, sc);
      if (!v) return unexpected(v.error());
      out.push_back(std::move(*v));
    } else if (fmt == 1) {
      auto v = types::decode_binary_param(t, *raw[i], -1, sc, static_cast<int>(i + 1));
      if (!v) return unexpected(v.error());
      out.push_back(std::move(*v));
    } else {
      return unexpected(PgError::make(sqlstate::kProtocolViolation, "unsupported format code: " + std::to_string(fmt)));
    }
  }
  return out;
}

Cursor& Cursor::operator=(Cursor&& o) noexcept {
  if (this != &o) {
    close();
    conn_ = o.conn_;
    stmt_ = o.stmt_;
    plan_ = std::move(o.plan_);
    rows_ = o.rows_;
    changes_ = o.changes_;
    done_ = o.done_;
    o.stmt_ = nullptr;
    o.conn_ = nullptr;
  }
  return *this;
}

Cursor::~Cursor() { close(); }

void Cursor::close() {
  if (stmt_ && conn_) conn_->give_back(plan_->sqlite_sql, stmt_);
  stmt_ = nullptr;
  conn_ = nullptr;
}

PgResult<Cursor> Cursor::open(Connection& conn, sql::PlanPtr plan, const std::vector<Value>& params,
                              const sql::Catalog* catalog) {
  auto st = conn.take(plan->sqlite_sql, catalog);
  if (!st) return unexpected(st.error());
  Cursor c;
  c.conn_ = &conn;
  c.stmt_ = *st;
  c.plan_ = std::move(plan);
  int n = sqlite3_bind_parameter_count(c.stmt_);
  for (int i = 1; i <= n; ++i) {
    const char* name = sqlite3_bind_parameter_name(c.stmt_, i);
    // Parameters are named ?N, so the index is the PostgreSQL parameter number.
    size_t idx = name ? static_cast<size_t>(std::atoi(name + 1)) : static_cast<size_t>(i);
    if (idx == 0 || idx > params.size()) {
      sqlite3_bind_null(c.stmt_, i);
      continue;
    }
    const Value& v = params[idx - 1];
    switch (v.kind) {
      case Value::Kind::Null: sqlite3_bind_null(c.stmt_, i); break;
      case Value::Kind::Int: sqlite3_bind_int64(c.stmt_, i, v.i); break;
      case Value::Kind::Real: sqlite3_bind_double(c.stmt_, i, v.r); break;
      case Value::Kind::Text: sqlite3_bind_text(c.stmt_, i, v.s.data(), static_cast<int>(v.s.size()), SQLITE_TRANSIENT); break;
      case Value::Kind::Blob: sqlite3_bind_blob(c.stmt_, i, v.s.data(), static_cast<int>(v.s.size()), SQLITE_TRANSIENT); break;
    }
  }
  return c;
}

namespace {

ValueRef column_ref(sqlite3_stmt* st, int i) {
  switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: return ValueRef::integer(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT: return ValueRef::real(sqlite3_column_double(st, i));
    case SQLITE_TEXT: {
      auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
      return ValueRef::text(std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(st, i))));
    }
    case SQLITE_BLOB: {
      auto* p = static_cast<const char*>(sqlite3_column_blob(st, i));
      return ValueRef::blob(std::string_view(p ? p : "", static_cast<size_t>(sqlite3_column_bytes(st, i))));
    }
    default: return ValueRef::null();
  }
}

// Brings a value SQLite computed into the storage form of its PostgreSQL type.
bool fits(types::Oid t, const ValueRef& v, Value& fixed) {
  const auto* info = types::find_type(t);
  if (!info) return true;
  using K = Value::Kind;
  if (t == o::kNumeric) {
    if (v.kind == K::Int) { fixed = Value::text(std::to_string(v.i)); return false; }
    if (v.kind == K::Real) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.15g", v.r);
      fixed = Value::text(buf);
      return false;
    }
    return true;
  }
  switch (info->storage) {
    case types::StorageClass::Int:
      if (v.kind == K::Real) { fixed = Value::integer(static_cast<int64_t>(v.r)); return false; }
      if (v.kind == K::Text && t == o::kBool) {
        fixed = Value::integer(!v.s.empty() && (v.s[0] == 't' || v.s[0] == '1'));
        return false;
      }
      // regclass/regnamespace computed as names (mg_regclass) are printed as they are.
      if (v.kind == K::Text && (t == o::kRegclass || t == o::kRegnamespace)) return true;
      if (v.kind == K::Text) { fixed = Value::integer(std::strtoll(std::string(v.s).c_str(), nullptr, 10)); return false; }
      return true;
    case types::StorageClass::Real:
      if (v.kind == K::Int) { fixed = Value::real(static_cast<double>(v.i)); return false; }
      return true;
    case types::StorageClass::Text:
      if (v.kind == K::Int) { fixed = Value::text(std::to_string(v.i)); return false; }
      if (v.kind == K::Real) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", v.r);
        fixed = Value::text(buf);
        return false;
      }
      if (v.kind == K::Blob) { fixed = Value::text(std::string(v.s)); return false; }
      return true;
    case types::StorageClass::Blob:
      if (v.kind == K::Text) { fixed = Value::blob(std::string(v.s)); return false; }
      return true;
  }
  return true;
}

}  // namespace

PgResult<bool> Cursor::fetch(wire::Writer& w, const std::vector<int16_t>& result_formats, int32_t max_rows,
                             const types::SessionContext& sc, const sql::Catalog* catalog) {
  if (done_) return true;
  const auto& cols = plan_->columns;
  const int ncols = static_cast<int>(cols.size());
  int32_t produced = 0;
  while (true) {
    if (max_rows > 0 && produced >= max_rows) return false;
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) {
      if (!plan_->returns_rows) continue;
      w.begin_data_row(static_cast<int16_t>(ncols));
      for (int i = 0; i < ncols; ++i) {
        if (sqlite3_column_type(stmt_, i) == SQLITE_NULL) {
          w.null_field();
          continue;
        }
        ValueRef v = column_ref(stmt_, i);
        Value fixed;
        if (!fits(cols[static_cast<size_t>(i)].type, v, fixed)) v = fixed.ref();
        size_t mark = w.begin_field();
        auto st = result_format(result_formats, static_cast<size_t>(i)) == 1
                      ? types::encode_binary(cols[static_cast<size_t>(i)].type, v, w.buffer(), sc)
                      : types::encode_text(cols[static_cast<size_t>(i)].type, v, w.buffer(), sc);
        if (!st) return unexpected(st.error());
        w.end_field(mark);
      }
      w.end_data_row();
      ++rows_;
      ++produced;
      continue;
    }
    if (rc == SQLITE_DONE) {
      changes_ = sqlite3_changes64(conn_->db());
      done_ = true;
      close();
      return true;
    }
    PgError e = map_sqlite_error(conn_->db(), rc, catalog);
    sqlite3_reset(stmt_);
    done_ = true;
    close();
    return unexpected(std::move(e));
  }
}

PgResult<bool> Cursor::fetch_copy(wire::Writer& w, const types::CopyOptions& opts, const types::SessionContext& sc,
                                  const sql::Catalog* catalog) {
  const auto& cols = plan_->columns;
  std::vector<std::optional<std::string>> fields(cols.size());
  std::string line;
  for (;;) {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) {
      for (size_t i = 0; i < cols.size(); ++i) {
        if (sqlite3_column_type(stmt_, static_cast<int>(i)) == SQLITE_NULL) {
          fields[i].reset();
          continue;
        }
        ValueRef v = column_ref(stmt_, static_cast<int>(i));
        Value fixed;
        if (!fits(cols[i].type, v, fixed)) v = fixed.ref();
        std::string text;
        if (auto st = types::encode_text(cols[i].type, v, text, sc); !st) return unexpected(st.error());
        fields[i] = std::move(text);
      }
      line.clear();
      types::copy_write_row(opts, fields, line);
      w.copy_data(line);
      ++rows_;
      continue;
    }
    if (rc == SQLITE_DONE) {
      done_ = true;
      close();
      return true;
    }
    PgError e = map_sqlite_error(conn_->db(), rc, catalog);
    done_ = true;
    close();
    return unexpected(std::move(e));
  }
}

std::string Cursor::command_tag() const {
  const std::string& tag = plan_->tag;
  if (tag == "COPY") return "COPY " + std::to_string(rows_);
  if (!plan_->row_count_tag) return tag;
  uint64_t n = plan_->returns_rows ? rows_ : static_cast<uint64_t>(changes_);
  if (tag == "INSERT") return "INSERT 0 " + std::to_string(n);
  return tag + " " + std::to_string(n);
}

}  // namespace metagate::store
