// Expressions: PostgreSQL expression nodes → typed SQLite expressions. Types follow
// PostgreSQL's resolution rules closely enough that RowDescription and
// ParameterDescription carry the OIDs PostgreSQL would send.
#include <cstring>

#include "context.hpp"
#include "metagate/sql/ident.hpp"
#include "metagate/types/codec.hpp"
#include "metagate/util/strings.hpp"

namespace metagate::sql::tr {

using types::Value;
using util::quote_ident;
using util::quote_literal;

namespace {

enum class Cat { kNumeric, kString, kBool, kDatetime, kOther };

Cat category(Oid t) {
  switch (t) {
    case o::kInt2: case o::kInt4: case o::kInt8: case o::kFloat4: case o::kFloat8: case o::kNumeric:
    case o::kOid:
      return Cat::kNumeric;
    case o::kText: case o::kVarchar: case o::kBpchar: case o::kName: case o::kChar: case o::kRegclass:
      return Cat::kString;
    case o::kBool: return Cat::kBool;
    case o::kTimestamp: case o::kTimestamptz: case o::kDate: return Cat::kDatetime;
    default: return Cat::kOther;
  }
}

int numeric_rank(Oid t) {
  switch (t) {
    case o::kInt2: return 1;
    case o::kInt4: return 2;
    case o::kOid: return 2;
    case o::kInt8: return 3;
    case o::kNumeric: return 4;
    case o::kFloat4: return 5;
    case o::kFloat8: return 6;
    default: return 0;
  }
}

bool is_integer(Oid t) { return t == o::kInt2 || t == o::kInt4 || t == o::kInt8 || t == o::kOid; }

// Types whose stored values can be used unchanged as the other type.
bool storage_compatible(Oid from, Oid to) {
  if (from == to) return true;
  Cat a = category(from), b = category(to);
  if (a == Cat::kString && b == Cat::kString) return true;
  if (is_integer(from) && is_integer(to)) return true;
  if ((from == o::kFloat4 || from == o::kFloat8) && (to == o::kFloat4 || to == o::kFloat8)) return true;
  if ((from == o::kTimestamp && to == o::kTimestamptz) || (from == o::kTimestamptz && to == o::kTimestamp))
    return true;  // stored as UTC text; sessions run in UTC
  if ((from == o::kJson || from == o::kJsonb) && (to == o::kText || to == o::kJson || to == o::kJsonb)) return true;
  if (from == o::kText && (to == o::kJson || to == o::kJsonb)) return false;
  return false;
}

Expr make(std::string sql, Oid type, std::string name = "?column?") {
  Expr e;
  e.sql = std::move(sql);
  e.type = type;
  e.name = std::move(name);
  return e;
}

}  // namespace

std::string type_display(Oid t) {
  if (t == 0 || t == o::kUnknown) return "unknown";
  const auto* info = types::find_type(t);
  return info ? std::string(info->sql_name) : std::to_string(t);
}

std::string sqlite_literal_for(const Value& v) {
  switch (v.kind) {
    case Value::Kind::Null: return "NULL";
    case Value::Kind::Int: return std::to_string(v.i);
    case Value::Kind::Real: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", v.r);
      std::string s = buf;
      if (s == "inf") return "9e999";
      if (s == "-inf") return "-9e999";
      if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
      return s;
    }
    case Value::Kind::Text: return quote_literal(v.s);
    case Value::Kind::Blob: {
      static const char* hex = "0123456789ABCDEF";
      std::string s = "X'";
      for (unsigned char c : v.s) {
        s.push_back(hex[c >> 4]);
        s.push_back(hex[c & 15]);
      }
      s += "'";
      return s;
    }
  }
  return "NULL";
}

PgResult<std::pair<Oid, int32_t>> resolve_type_name(Ctx& ctx, const Node& tn) {
  auto names = names_of(field(tn, "names"));
  std::string name = names.empty() ? "" : names.back();
  if (names.size() == 2 && names[0] != "pg_catalog" && names[0] != "public")
    return unexpected(ctx.error(sqlstate::kUndefinedObject, "type \"" + names[0] + "." + name + "\" does not exist",
                                loc_of(tn)));
  const auto* info = types::find_type_by_name(name);
  if (info == nullptr) {
    return unexpected(ctx.error(sqlstate::kUndefinedObject, "type \"" + name + "\" does not exist", loc_of(tn)));
  }
  Oid oid = info->oid;
  int32_t typmod = -1;
  const Node& mods = field(tn, "typmods");
  if (mods.is_array() && !mods.empty()) {
    std::vector<int64_t> args;
    for (const auto& m : mods) {
      const Node& c = field(m, "A_Const");
      if (c.is_null() || !has(c, "ival"))
        return unexpected(ctx.error(sqlstate::kSyntaxError, "type modifiers must be simple constants or identifiers",
                                    loc_of(tn)));
      args.push_back(field(c, "ival").value("ival", int64_t{0}));
    }
    auto tm = types::typmod_from_args(oid, args);
    if (!tm) {
      PgError e = tm.error();
      e.position = ctx.position(loc_of(tn));
      return unexpected(std::move(e));
    }
    typmod = *tm;
  } else if (name == "bpchar" || name == "char" || name == "character") {
    // char without a length is char(1)
    if (oid == o::kBpchar) typmod = 5;
  }
  const Node& bounds = field(tn, "arrayBounds");
  if (bounds.is_array() && !bounds.empty()) {
    Oid arr = types::array_of(oid);
    if (arr == 0) return unexpected(ctx.unsupported("arrays of type " + type_display(oid), loc_of(tn)));
    oid = arr;
  }
  return std::make_pair(oid, typmod);
}

PgResult<Expr> coerce(Ctx& ctx, Expr e, Oid type, int32_t typmod, bool explicit_cast) {
  if (type == 0 || type == o::kUnknown) return e;
  if (e.is_null) {
    e.type = type;
    e.typmod = typmod;
    return e;
  }
  if (e.unknown_literal) {
    types::SessionContext sc;
    auto v = types::parse_text(type, *e.unknown_literal, typmod, sc);
    if (!v) {
      PgError err = v.error();
      if (e.location >= 0) err.position = ctx.position(e.location);
      return unexpected(std::move(err));
    }
    e.sql = sqlite_literal_for(*v);
    e.type = type;
    e.typmod = typmod;
    e.unknown_literal.reset();
    return e;
  }
  if (e.param > 0 && (e.type == 0 || e.type == o::kUnknown)) {
    ctx.set_param_type(e.param, type, typmod);
    e.type = ctx.param_slot(e.param).type;
    if (e.type == type) {
      e.typmod = typmod;
      return e;
    }
  }
  if (e.type == 0 || e.type == o::kUnknown) {
    e.type = type;
    e.typmod = typmod;
    return e;
  }
  if (e.type == type && (!explicit_cast || typmod < 0 || typmod == e.typmod)) {
    return e;
  }
  if (storage_compatible(e.type, type) && !(explicit_cast && typmod >= 0)) {
    // Narrowing integer casts still need range checks.
    if (is_integer(e.type) && is_integer(type) && numeric_rank(type) < numeric_rank(e.type)) {
      e.sql = "mg_cast(" + e.sql + ", " + std::to_string(e.type) + ", " + std::to_string(type) + ", -1)";
    }
    e.type = type;
    e.typmod = typmod;
    return e;
  }
  if (!explicit_cast) {
    // Implicit conversions PostgreSQL allows in comparisons and assignments.
    bool ok = (category(e.type) == Cat::kNumeric && category(type) == Cat::kNumeric) ||
              (category(type) == Cat::kString) || (category(e.type) == Cat::kDatetime && category(type) == Cat::kDatetime);
    if (!ok) {
      return unexpected(ctx.error(sqlstate::kDatatypeMismatch,
                                  "column is of type " + type_display(type) + " but expression is of type " +
                                      type_display(e.type),
                                  e.location)
                            .with_hint("You will need to rewrite or cast the expression."));
    }
  }
  e.sql = "mg_cast(" + e.sql + ", " + std::to_string(e.type) + ", " + std::to_string(type) + ", " +
          std::to_string(typmod) + ")";
  e.type = type;
  e.typmod = typmod;
  return e;
}

PgResult<Expr> coerce_to_bool(Ctx& ctx, Expr e, std::string_view context) {
  if (e.type == o::kBool) return e;
  if (e.type == 0 || e.type == o::kUnknown || e.is_null) return coerce(ctx, std::move(e), o::kBool, -1, false);
  return unexpected(ctx.error(sqlstate::kDatatypeMismatch,
                              "argument of " + std::string(context) + " must be type boolean, not type " +
                                  type_display(e.type),
                              e.location));
}

namespace {

// Makes two operands agree on a type, PostgreSQL-style: an unknown side takes the other's type.
PgStatus unify(Ctx& ctx, Expr& a, Expr& b) {
  bool au = a.type == 0 || a.type == o::kUnknown;
  bool bu = b.type == 0 || b.type == o::kUnknown;
  if (au && bu) {
    // Both unknown: PostgreSQL resolves to text.
    auto ra = coerce(ctx, a, o::kText, -1, false);
    if (!ra) return unexpected(ra.error());
    auto rb = coerce(ctx, b, o::kText, -1, false);
    if (!rb) return unexpected(rb.error());
    a = std::move(*ra);
    b = std::move(*rb);
    return Ok{};
  }
  if (au) {
    auto r = coerce(ctx, a, b.type, b.typmod < 0 ? -1 : -1, false);
    if (!r) return unexpected(r.error());
    a = std::move(*r);
    return Ok{};
  }
  if (bu) {
    auto r = coerce(ctx, b, a.type, -1, false);
    if (!r) return unexpected(r.error());
    b = std::move(*r);
    return Ok{};
  }
  return Ok{};
}

PgError operator_error(Ctx& ctx, const std::string& op, const Expr& a, const Expr& b, int location) {
  return ctx.error(sqlstate::kUndefinedFunction,
                   "operator does not exist: " + type_display(a.type) + " " + op + " " + type_display(b.type),
                   location)
      .with_hint("No operator matches the given name and argument types. You might need to add explicit type casts.");
}

bool comparable(Oid a, Oid b) {
  if (a == b) return true;
  Cat ca = category(a), cb = category(b);
  if (ca != cb) return false;
  return ca != Cat::kOther;
}

Oid arithmetic_result(Oid a, Oid b) {
  int ra = numeric_rank(a), rb = numeric_rank(b);
  Oid t = ra >= rb ? a : b;
  if (t == o::kInt2) return o::kInt4;  // int2 + int2 yields int2 in PG, but int2 + int4 → int4
  if (a == o::kInt2 && b == o::kInt2) return o::kInt2;
  if (t == o::kOid) return o::kInt8;
  return t;
}

PgResult<Expr> translate_op(Ctx& ctx, const std::string& op, const Node& body, const Scope& scope) {
  int location = loc_of(body);
  const Node& l = field(body, "lexpr");
  const Node& r = field(body, "rexpr");
  if (l.is_null()) {
    // Prefix operator: unary minus/plus, NOT handled elsewhere.
    auto rv = translate_expr(ctx, r, scope);
    if (!rv) return rv;
    if (op == "-" || op == "+") {
      Expr e = *rv;
      if (e.unknown_literal || e.type == 0) {
        auto c = coerce(ctx, e, o::kNumeric, -1, false);
        if (!c) return c;
        e = *c;
      }
      if (category(e.type) != Cat::kNumeric) return unexpected(operator_error(ctx, op, Expr{}, e, location));
      e.sql = "(" + op + e.sql + ")";
      e.name = "?column?";
      e.param = 0;
      return e;
    }
    return unexpected(ctx.unsupported("the prefix operator " + op, location));
  }
  auto lv = translate_expr(ctx, l, scope);
  if (!lv) return lv;
  auto rv = translate_expr(ctx, r, scope);
  if (!rv) return rv;
  Expr a = std::move(*lv), b = std::move(*rv);

  static const char* const kCompare[] = {"=", "<>", "!=", "<", ">", "<=", ">="};
  for (const char* c : kCompare) {
    if (op == c) {
      if (auto s = unify(ctx, a, b); !s) return unexpected(s.error());
      if (!comparable(a.type, b.type)) return unexpected(operator_error(ctx, op, a, b, location));
      std::string sop = op == "!=" ? "<>" : op;
      return make("(" + a.sql + " " + sop + " " + b.sql + ")", o::kBool);
    }
  }
  if (op == "+" || op == "-" || op == "*" || op == "/" || op == "%") {
    // Date/time arithmetic with intervals.
    if ((category(a.type) == Cat::kDatetime || a.type == o::kInterval) || (category(b.type) == Cat::kDatetime)) {
      if (op == "-" && category(a.type) == Cat::kDatetime && category(b.type) == Cat::kDatetime &&
          a.type != o::kDate) {
        return make("mg_ts_diff(" + a.sql + ", " + b.sql + ")", o::kInterval);
      }
      if ((op == "+" || op == "-") && category(a.type) == Cat::kDatetime) {
        if (b.type == 0 || b.type == o::kUnknown) {
          auto c = coerce(ctx, b, o::kInterval, -1, false);
          if (!c) return c;
          b = *c;
        }
        if (b.type == o::kInterval) {
          Oid rt = a.type == o::kDate ? o::kTimestamp : a.type;
          return make("mg_ts_add(" + a.sql + ", " + b.sql + ", " + (op == "+" ? "1" : "-1") + ")", rt);
        }
      }
      return unexpected(operator_error(ctx, op, a, b, location));
    }
    if (a.type == 0 || a.type == o::kUnknown) {
      if (b.type == 0 || b.type == o::kUnknown) {
        return unexpected(ctx.error(sqlstate::kUndefinedFunction, "operator is not unique: unknown " + op + " unknown",
                                    location));
      }
    }
    if (auto s = unify(ctx, a, b); !s) return unexpected(s.error());
    if (category(a.type) != Cat::kNumeric || category(b.type) != Cat::kNumeric)
      return unexpected(operator_error(ctx, op, a, b, location));
    Oid rt = arithmetic_result(a.type, b.type);
    if (op == "/" || op == "%") {
      bool int_div = is_integer(a.type) && is_integer(b.type);
      std::string fn = op == "/" ? (int_div ? "mg_idiv" : "mg_div") : "mg_mod";
      return make(fn + "(" + a.sql + ", " + b.sql + ")", rt);
    }
    std::string lhs = a.sql;
    if (rt == o::kNumeric || rt == o::kFloat8 || rt == o::kFloat4) {
      // Make SQLite do real arithmetic when either side is stored as text (numeric).
      if (a.type == o::kNumeric) lhs = "CAST(" + a.sql + " AS REAL)";
    }
    std::string rhs = b.type == o::kNumeric ? "CAST(" + b.sql + " AS REAL)" : b.sql;
    return make("(" + lhs + " " + op + " " + rhs + ")", rt);
  }
  if (op == "||") {
    auto to_text = [&](Expr& e) -> PgStatus {
      if (e.type == 0 || e.type == o::kUnknown) {
        auto c = coerce(ctx, e, o::kText, -1, false);
        if (!c) return unexpected(c.error());
        e = *c;
      } else if (category(e.type) != Cat::kString) {
        e.sql = "mg_text(" + e.sql + ", " + std::to_string(e.type) + ")";
      }
      return Ok{};
    };
    if (auto s = to_text(a); !s) return unexpected(s.error());
    if (auto s = to_text(b); !s) return unexpected(s.error());
    return make("(" + a.sql + " || " + b.sql + ")", o::kText);
  }
  // Pattern matches: LIKE (~~) and regular expressions (~), each negated (!) and/or
  // case-insensitive (*), on strings.
  const bool like = op == "~~" || op == "!~~" || op == "~~*" || op == "!~~*";
  const bool regex = op == "~" || op == "!~" || op == "~*" || op == "!~*";
  if (like || regex) {
    if (auto s = unify(ctx, a, b); !s) return unexpected(s.error());
    if (category(a.type) != Cat::kString || category(b.type) != Cat::kString)
      return unexpected(operator_error(ctx, op, a, b, location));
    bool ci = op.find('*') != std::string::npos;
    bool neg = op[0] == '!';
    if (regex) {
      std::string call = "mg_regex(" + a.sql + ", " + b.sql + ", " + (ci ? "1" : "0") + ")";
      return make(neg ? "(NOT " + call + ")" : "(" + call + ")", o::kBool);
    }
    std::string lhs = ci ? "mg_lower(" + a.sql + ")" : a.sql;
    std::string rhs = ci ? "mg_lower(" + b.sql + ")" : b.sql;
    return make(std::string("(") + lhs + (neg ? " NOT LIKE " : " LIKE ") + rhs + " ESCAPE '\\')", o::kBool);
  }
  return unexpected(ctx.unsupported("the operator " + op, location));
}

PgResult<Expr> translate_column_ref(Ctx& ctx, const Node& body, const Scope& scope) {
  const Node& fields = field(body, "fields");
  int location = loc_of(body);
  std::vector<std::string> parts;
  bool star = false;
  for (const auto& f : fields) {
    if (f.contains("A_Star")) {
      star = true;
    } else {
      parts.push_back(str_of(f));
    }
  }
  if (star) return unexpected(ctx.error(sqlstate::kSyntaxError, "row expansion via \"*\" is not supported here", location));
  std::string col = parts.back();
  std::string rel = parts.size() >= 2 ? parts[parts.size() - 2] : "";
  for (const Scope* s = &scope; s != nullptr; s = s->parent) {
    if (rel.empty()) {
      for (const auto& [name, sql] : s->merged) {
        if (name == col) {
          // type from the first entry having the column
          for (const auto& e : s->entries) {
            for (const auto& c : e.columns) {
              if (c.name == col) {
                Expr x = make(sql, c.type, col);
                x.typmod = c.typmod;
                return x;
              }
            }
          }
        }
      }
      const RangeEntry* found = nullptr;
      const ScopeColumn* fc = nullptr;
      for (const auto& e : s->entries) {
        for (const auto& c : e.columns) {
          if (c.name == col) {
            if (found != nullptr) {
              return unexpected(
                  ctx.error(sqlstate::kAmbiguousColumn, "column reference \"" + col + "\" is ambiguous", location));
            }
            found = &e;
            fc = &c;
          }
        }
      }
      if (found != nullptr) {
        Expr x = make(quote_ident(found->sql_alias) + "." + quote_ident(col), fc->type, col);
        x.typmod = fc->typmod;
        x.location = location;
        return x;
      }
    } else {
      for (const auto& e : s->entries) {
        if (e.alias != rel) continue;
        for (const auto& c : e.columns) {
          if (c.name == col) {
            Expr x = make(quote_ident(e.sql_alias) + "." + quote_ident(col), c.type, col);
            x.typmod = c.typmod;
            x.location = location;
            return x;
          }
        }
        return unexpected(ctx.error(sqlstate::kUndefinedColumn, "column " + rel + "." + col + " does not exist", location));
      }
    }
  }
  if (!rel.empty()) {
    return unexpected(
        ctx.error(sqlstate::kUndefinedTable, "missing FROM-clause entry for table \"" + rel + "\"", location));
  }
  return unexpected(ctx.error(sqlstate::kUndefinedColumn, "column \"" + col + "\" does not exist", location));
}

PgResult<Expr> translate_const(Ctx& ctx, const Node& body) {
  int location = loc_of(body);
  Expr e;
  e.location = location;
  if (body.value("isnull", false)) {
    e.sql = "NULL";
    e.is_null = true;
    return e;
  }
  if (has(body, "ival")) {
    int64_t v = field(body, "ival").value("ival", int64_t{0});
    e.sql = std::to_string(v);
    e.type = o::kInt4;
    return e;
  }
  if (has(body, "fval")) {
    std::string v = field(body, "fval").value("fval", std::string("0"));
    // Integers too large for int4 arrive as fval: PostgreSQL types them int8 (or numeric).
    if (v.find_first_of(".eE") == std::string::npos) {
      if (auto iv = util::parse_int64(v)) {
        e.sql = v;
        // As PostgreSQL's make_const: an integer written as a float (-2147483648, after the
        // grammar folded the sign in) is int4 when it fits, else int8.
        e.type = (*iv >= INT32_MIN && *iv <= INT32_MAX) ? o::kInt4 : o::kInt8;
        return e;
      }
    }
    e.sql = "'" + v + "'";
    e.type = o::kNumeric;
    e.unknown_literal.reset();
    return e;
  }
  if (has(body, "boolval")) {
    bool b = field(body, "boolval").value("boolval", false);
    e.sql = b ? "1" : "0";
    e.type = o::kBool;
    e.name = "bool";
    return e;
  }
  if (has(body, "sval")) {
    std::string v = field(body, "sval").value("sval", std::string());
    e.sql = quote_literal(v);
    e.type = 0;
    e.unknown_literal = v;
    return e;
  }
  if (has(body, "bsval")) return unexpected(ctx.unsupported("bit string constants", location));
  e.sql = "NULL";
  e.is_null = true;
  return e;
}

// Unifies a list of expressions to one result type (CASE, COALESCE, VALUES columns...).
PgResult<Oid> unify_all(Ctx& ctx, std::vector<Expr*>& exprs) {
  Oid t = 0;
  int32_t tm = -1;
  for (auto* e : exprs) {
    if (e->type != 0 && e->type != o::kUnknown) {
      if (t == 0) {
        t = e->type;
        tm = e->typmod;
      } else if (t != e->type && category(t) == Cat::kNumeric && category(e->type) == Cat::kNumeric) {
        if (numeric_rank(e->type) > numeric_rank(t)) t = e->type;
        tm = -1;
      } else if (t != e->type && category(t) == Cat::kString && category(e->type) == Cat::kString) {
        t = o::kText;
        tm = -1;
      } else if (t != e->type) {
        tm = -1;
      }
    }
  }
  if (t == 0) t = o::kText;
  for (auto* e : exprs) {
    auto c = coerce(ctx, *e, t, -1, false);
    if (!c) return unexpected(c.error());
    *e = std::move(*c);
    e->typmod = tm;
  }
  return t;
}

}  // namespace

PgResult<Expr> translate_func(Ctx& ctx, const Node& body, const Scope& scope);
PgResult<Expr> translate_sublink(Ctx& ctx, const Node& body, const Scope& scope);

namespace {

[[gnu::noinline]] PgResult<Expr> tx_A_Expr(Ctx& ctx, const Node& body, const Scope& scope, int location) {
  (void)location;
  (void)scope;
  std::string kind = body.value("kind", std::string());
  auto opnames = names_of(field(body, "name"));
  std::string op = opnames.empty() ? "" : opnames.back();
  if (kind == "AEXPR_OP" || kind == "AEXPR_LIKE" || kind == "AEXPR_ILIKE") return translate_op(ctx, op, body, scope);
  if (kind == "AEXPR_IN") {
    auto lv = translate_expr(ctx, field(body, "lexpr"), scope);
    if (!lv) return lv;
    Expr a = *lv;
    const Node& list = field(field(body, "rexpr"), "List");
    std::vector<Expr> items;
    for (const auto& it : field(list, "items")) {
      auto iv = translate_expr(ctx, it, scope);
      if (!iv) return iv;
      items.push_back(std::move(*iv));
    }
    std::vector<Expr*> all{&a};
    for (auto& i : items) all.push_back(&i);
    if (a.type == 0) {
      auto t = unify_all(ctx, all);
      if (!t) return unexpected(t.error());
    } else {
      for (auto& i : items) {
        if (auto s = unify(ctx, a, i); !s) return unexpected(s.error());
        if (!comparable(a.type, i.type)) return unexpected(operator_error(ctx, "=", a, i, location));
      }
    }
    std::string sql = "(" + a.sql + (op == "<>" ? " NOT IN (" : " IN (");
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) sql += ", ";
      sql += items[i].sql;
    }
    sql += "))";
    return make(sql, o::kBool);
  }
  if (kind == "AEXPR_OP_ANY" || kind == "AEXPR_OP_ALL") {
    if (op != "=" && !(op == "<>" && kind == "AEXPR_OP_ALL"))
      return unexpected(ctx.unsupported(op + " " + (kind == "AEXPR_OP_ANY" ? "ANY" : "ALL") + " (array)", location));
    auto lv = translate_expr(ctx, field(body, "lexpr"), scope);
    if (!lv) return lv;
    const Node& r = field(body, "rexpr");
    Expr a = *lv;
    std::string negate = kind == "AEXPR_OP_ALL" ? " NOT IN " : " IN ";
    if (node_tag(r) == "A_ArrayExpr") {
      std::string sql = "(" + a.sql + negate + "(";
      bool first = true;
      for (const auto& el : field(node_body(r), "elements")) {
        auto ev = translate_expr(ctx, el, scope);
        if (!ev) return ev;
        Expr e = *ev;
        if (auto s = unify(ctx, a, e); !s) return unexpected(s.error());
        sql += (first ? "" : ", ") + e.sql;
        first = false;
      }
      return make(sql + "))", o::kBool);
    }
    auto rv = translate_expr(ctx, r, scope);
    if (!rv) return rv;
    Expr b = *rv;
    if (b.param > 0 && (b.type == 0) && a.type != 0) {
      Oid arr = types::array_of(a.type);
      if (arr == 0) return unexpected(ctx.unsupported("arrays of type " + type_display(a.type), location));
      ctx.set_param_type(b.param, arr);
      b.type = arr;
    }
    if (types::element_of(b.type) == 0) {
      return unexpected(ctx.error(sqlstate::kWrongObjectType, "op ANY/ALL (array) requires array on right side", location));
    }
    return make("(" + a.sql + negate + "(SELECT value FROM json_each(mg_array_json(" + b.sql + ", " +
                    std::to_string(b.type) + "))))",
                o::kBool);
  }
  if (kind == "AEXPR_BETWEEN" || kind == "AEXPR_NOT_BETWEEN") {
    auto lv = translate_expr(ctx, field(body, "lexpr"), scope);
    if (!lv) return lv;
    const Node& items = field(field(field(body, "rexpr"), "List"), "items");
    if (!items.is_array() || items.size() != 2) return unexpected(ctx.unsupported("this BETWEEN form", location));
    auto x = translate_expr(ctx, items[0], scope);
    if (!x) return x;
    auto y = translate_expr(ctx, items[1], scope);
    if (!y) return y;
    Expr a = *lv, b = *x, c = *y;
    if (auto s = unify(ctx, a, b); !s) return unexpected(s.error());
    if (auto s = unify(ctx, a, c); !s) return unexpected(s.error());
    return make("(" + a.sql + (kind == "AEXPR_BETWEEN" ? " BETWEEN " : " NOT BETWEEN ") + b.sql + " AND " + c.sql + ")",
                o::kBool);
  }
  if (kind == "AEXPR_DISTINCT" || kind == "AEXPR_NOT_DISTINCT") {
    auto lv = translate_expr(ctx, field(body, "lexpr"), scope);
    if (!lv) return lv;
    auto rv = translate_expr(ctx, field(body, "rexpr"), scope);
    if (!rv) return rv;
    Expr a = *lv, b = *rv;
    if (auto s = unify(ctx, a, b); !s) return unexpected(s.error());
    return make("(" + a.sql + (kind == "AEXPR_DISTINCT" ? " IS NOT " : " IS ") + b.sql + ")", o::kBool);
  }
  if (kind == "AEXPR_NULLIF") {
    auto lv = translate_expr(ctx, field(body, "lexpr"), scope);
    if (!lv) return lv;
    auto rv = translate_expr(ctx, field(body, "rexpr"), scope);
    if (!rv) return rv;
    Expr a = *lv, b = *rv;
    if (auto s = unify(ctx, a, b); !s) return unexpected(s.error());
    Expr e = make("nullif(" + a.sql + ", " + b.sql + ")", a.type, "nullif");
    e.typmod = a.typmod;
    return e;
  }
  return unexpected(ctx.unsupported("the expression kind " + kind, location));
}

[[gnu::noinline]] PgResult<Expr> tx_BoolExpr(Ctx& ctx, const Node& body, const Scope& scope, int location) {
  (void)location;
  (void)scope;
  std::string op = body.value("boolop", std::string());
  std::vector<std::string> parts;
  std::string what = op == "AND_EXPR" ? "AND" : op == "OR_EXPR" ? "OR" : "NOT";
  for (const auto& a : field(body, "args")) {
    auto av = translate_expr(ctx, a, scope);
    if (!av) return av;
    auto bv = coerce_to_bool(ctx, *av, what);
    if (!bv) return bv;
    parts.push_back(bv->sql);
  }
  if (op == "NOT_EXPR") return make("(NOT " + parts.at(0) + ")", o::kBool);
  std::string sql = "(";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) sql += " " + what + " ";
    sql += parts[i];
  }
  return make(sql + ")", o::kBool);
}

[[gnu::noinline]] PgResult<Expr> tx_NullTest(Ctx& ctx, const Node& body, const Scope& scope, int location) {
  (void)location;
  (void)scope;
  auto av = translate_expr(ctx, field(body, "arg"), scope);
  if (!av) return av;
  bool is_null = body.value("nulltesttype", std::string()) == "IS_NULL";
  return make("(" + av->sql + (is_null ? " IS NULL)" : " IS NOT NULL)"), o::kBool);
}

[[gnu::noinline]] PgResult<Expr> tx_BooleanTest(Ctx& ctx, const Node& body, const Scope& scope, int location) {
  (void)location;
  (void)scope;
  auto av = translate_expr(ctx, field(body, "arg"), scope);
  if (!av) return av;
  auto bv = coerce_to_bool(ctx, *av, "IS TRUE");
  if (!bv) return bv;
  std::string t = body.value("booltesttype", std::string());
  std::string sql;
  if (t == "IS_TRUE") sql = bv->sql + " IS 1";
  else if (t == "IS_NOT_TRUE") sql = bv->sql + " IS NOT 1";
  else if (t == "IS_FALSE") sql = bv->sql + " IS 0";
  else if (t == "IS_NOT_FALSE") sql = bv->sql + " IS NOT 0";
  else if (t == "IS_UNKNOWN") sql = bv->sql + " IS NULL";
  else sql = bv->sql + " IS NOT NULL";
  return make("(" + sql + ")", o::kBool);
}

[[gnu::noinline]] PgResult<Expr> tx_TypeCast(Ctx& ctx, const Node& body, const Scope& scope, int location) {
  (void)location;
  (void)scope;
  auto tr = resolve_type_name(ctx, field(body, "typeName"));
  if (!tr) return unexpected(tr.error());
  auto av = translate_expr(ctx, field(body, "arg"), scope);
  if (!av) return av;
  std::string name = av->name;
  bool plain_arg = node_tag(field(body, "arg")) == "ColumnRef" || node_tag(field(body, "arg")) == "FuncCall" ||
                   node_tag(field(body, "arg")) == "TypeCast";
  if (tr->first == o::kRegclass && av->unknown_literal) {
    Expr e = make(quote_literal(*av->unknown_literal), o::kRegclass, "regclass");
    return e;
  }
  // oid::regclass / ::regnamespace: the object's name (its text form), through the catalog.
  // ::regtype keeps the oid; its output prints the type name.
  if ((tr->first == o::kRegclass || tr->first == o::kRegnamespace || tr->first == o::kRegtype) && !av->unknown_literal &&
      (av->type == o::kOid || category(av->type) == Cat::kNumeric || av->type == o::kRegclass ||
       av->type == o::kRegtype || av->type == o::kRegnamespace)) {
    std::string fn = tr->first == o::kRegclass ? "mg_regclass" : tr->first == o::kRegnamespace ? "mg_regnamespace" : "";
    Expr e = make(fn.empty() ? av->sql : fn + "(" + av->sql + ")", tr->first,
                  plain_arg && name != "?column?" ? name : std::string(tr->first == o::kRegclass ? "regclass"
                                                                : tr->first == o::kRegtype ? "regtype" : "regnamespace"));
    return e;
  }
  auto cv = coerce(ctx, *av, tr->first, tr->second, true);
  if (!cv) return cv;
  Expr e = *cv;
  e.param = 0;
  if (!plain_arg || name == "?column?") {
    const auto* info = types::find_type(tr->first);
    // PostgreSQL names the column after the type as written: int[] → int4, oid[] → oid.
    const auto* shown = info && info->typcategory == 'A' && info->typelem ? types::find_type(info->typelem) : info;
    e.name = shown ? std::string(shown->typname) : name;
  } else {
    e.name = name;
  }
  return e;
}

[[gnu::noinline]] PgResult<Expr> tx_CollateClause(Ctx& ctx, const Node& body, const Scope& scope, int location) {
  (void)location;
  (void)scope;
  auto av = translate_expr(ctx, field(body, "arg"), scope);
  if (!av) return av;
  auto coll = names_of(field(body, "collname"));
  std::string c = coll.empty() ? "" : coll.back();
  if (c != "C" && c != "POSIX" && c != "default" && c != "ucs_basic")
    return unexpected(ctx.unsupported("the collation \"" + c + "\"", location));
  Expr e = *av;
  e.sql = "(" + e.sql + " COLLATE BINARY)";
  return e;
}

// arr[i] on a one-dimensional array (lower bound 1; int2vector and oidvector count from 0).
[[gnu::noinline]] PgResult<Expr> tx_Indirection(Ctx& ctx, const Node& body, const Scope& scope, int location) {
  const Node& ind = field(body, "indirection");
  if (!ind.is_array() || ind.size() != 1 || node_tag(ind[0]) != "A_Indices" || node_body(ind[0]).value("is_slice", false))
    return unexpected(ctx.unsupported("slices and field selection", location));
  auto av = translate_expr(ctx, field(body, "arg"), scope);
  if (!av) return av;
  Oid arr = av->type;
  bool vector = arr == o::kInt2Vector || arr == o::kOidVector;
  Oid el = arr == o::kInt2Vector ? o::kInt2 : arr == o::kOidVector ? o::kOid : types::element_of(arr);
  if (el == 0) return unexpected(ctx.error(sqlstate::kDatatypeMismatch,
                                           "cannot subscript type " + type_display(arr) + " because it does not support subscripting",
                                           location));
  auto iv = translate_expr(ctx, field(node_body(ind[0]), "uidx"), scope);
  if (!iv) return iv;
  Expr idx = *iv;
  if (idx.type == 0) {
    auto c = coerce(ctx, idx, o::kInt4, -1, false);
    if (!c) return c;
    idx = *c;
  }
  std::string list = vector ? "mg_array_json('{' || replace(" + av->sql + ", ' ', ',') || '}', " + std::to_string(types::array_of(el)) + ")"
                            : "mg_array_json(" + av->sql + ", " + std::to_string(arr) + ")";
  std::string key = vector ? "(" + idx.sql + ")" : "(" + idx.sql + ") - 1";
  Expr e = make("(SELECT \"__a\".value FROM json_each(" + list + ") AS \"__a\" WHERE \"__a\".key = " + key + ")", el, av->name);
  return e;
}

[[gnu::noinline]] PgResult<Expr> tx_CaseExpr(Ctx& ctx, const Node& body, const Scope& scope, int location) {
  (void)location;
  (void)scope;
  std::optional<Expr> arg;
  if (has(body, "arg")) {
    auto av = translate_expr(ctx, field(body, "arg"), scope);
    if (!av) return av;
    arg = *av;
  }
  std::vector<Expr> conds, results;
  for (const auto& w : field(body, "args")) {
    const Node& cw = field(w, "CaseWhen");
    auto cv = translate_expr(ctx, field(cw, "expr"), scope);
    if (!cv) return cv;
    Expr c = *cv;
    if (arg) {
      if (auto s = unify(ctx, *arg, c); !s) return unexpected(s.error());
    } else {
      auto b = coerce_to_bool(ctx, c, "CASE/WHEN");
      if (!b) return b;
      c = *b;
    }
    conds.push_back(c);
    auto rv = translate_expr(ctx, field(cw, "result"), scope);
    if (!rv) return rv;
    results.push_back(*rv);
  }
  Expr def = make("NULL", 0);
  def.is_null = true;
  if (has(body, "defresult")) {
    auto dv = translate_expr(ctx, field(body, "defresult"), scope);
    if (!dv) return dv;
    def = *dv;
  }
  std::vector<Expr*> all;
  for (auto& r : results) all.push_back(&r);
  all.push_back(&def);
  auto t = unify_all(ctx, all);
  if (!t) return unexpected(t.error());
  std::string sql = "(CASE";
  if (arg) sql += " " + arg->sql;
  for (size_t i = 0; i < conds.size(); ++i) sql += " WHEN " + conds[i].sql + " THEN " + results[i].sql;
  sql += " ELSE " + def.sql + " END)";
  Expr e = make(sql, *t, "case");
  return e;
}

[[gnu::noinline]] PgResult<Expr> tx_CoalesceExpr(Ctx& ctx, const Node& body, const Scope& scope, int location) {
  (void)location;
  (void)scope;
  std::vector<Expr> args;
  for (const auto& a : field(body, "args")) {
    auto av = translate_expr(ctx, a, scope);
    if (!av) return av;
    args.push_back(*av);
  }
  std::vector<Expr*> all;
  for (auto& a : args) all.push_back(&a);
  auto t = unify_all(ctx, all);
  if (!t) return unexpected(t.error());
  std::string sql = args.size() == 1 ? "(" + args[0].sql + ")" : "coalesce(";
  if (args.size() > 1) {
    for (size_t i = 0; i < args.size(); ++i) sql += (i ? ", " : "") + args[i].sql;
    sql += ")";
  }
  return make(sql, *t, "coalesce");
}

[[gnu::noinline]] PgResult<Expr> tx_MinMaxExpr(Ctx& ctx, const Node& body, const Scope& scope, int location) {
  (void)location;
  (void)scope;
  std::vector<Expr> args;
  for (const auto& a : field(body, "args")) {
    auto av = translate_expr(ctx, a, scope);
    if (!av) return av;
    args.push_back(*av);
  }
  std::vector<Expr*> all;
  for (auto& a : args) all.push_back(&a);
  auto t = unify_all(ctx, all);
  if (!t) return unexpected(t.error());
  bool greatest = body.value("op", std::string()) == "IS_GREATEST";
  std::string sql = std::string("(SELECT ") + (greatest ? "max" : "min") + "(column1) FROM (VALUES ";
  for (size_t i = 0; i < args.size(); ++i) sql += (i ? ", (" : "(") + args[i].sql + ")";
  sql += "))";
  return make(sql, *t, greatest ? "greatest" : "least");
}

[[gnu::noinline]] PgResult<Expr> tx_SQLValueFunction(Ctx& ctx, const Node& body, const Scope& scope, int location) {
  (void)location;
  (void)scope;
  std::string op = body.value("op", std::string());
  if (op == "SVFOP_CURRENT_TIMESTAMP" || op == "SVFOP_CURRENT_TIMESTAMP_N")
    return make("mg_now('transaction')", o::kTimestamptz, "current_timestamp");
  if (op == "SVFOP_LOCALTIMESTAMP" || op == "SVFOP_LOCALTIMESTAMP_N")
    return make("mg_now('transaction')", o::kTimestamp, "localtimestamp");
  if (op == "SVFOP_CURRENT_DATE") return make("substr(mg_now('transaction'), 1, 10)", o::kDate, "current_date");
  if (op == "SVFOP_CURRENT_USER" || op == "SVFOP_USER" || op == "SVFOP_CURRENT_ROLE")
    return make("mg_session('user')", o::kName, op == "SVFOP_USER" ? "current_user" : util::ascii_lower(op.substr(6)));
  if (op == "SVFOP_SESSION_USER") return make("mg_session('user')", o::kName, "session_user");
  if (op == "SVFOP_CURRENT_CATALOG") return make("mg_session('database')", o::kName, "current_catalog");
  if (op == "SVFOP_CURRENT_SCHEMA") return make("'public'", o::kName, "current_schema");
  return unexpected(ctx.unsupported(op, location));
}

}  // namespace

PgResult<Expr> translate_expr(Ctx& ctx, const Node& node, const Scope& scope) {
  if (++ctx.depth > 1000 || ctx.stack_too_deep()) {
    --ctx.depth;
    return unexpected(ctx.error("54001", "stack depth limit exceeded")
                          .with_hint("Increase the configuration parameter \"max_stack_depth\" (currently 2048kB), after "
                                     "ensuring the platform's stack depth limit is adequate."));
  }
  struct DepthGuard {
    Ctx& c;
    ~DepthGuard() { --c.depth; }
  } guard{ctx};

  std::string_view tag = node_tag(node);
  const Node& body = node_body(node);
  int location = loc_of(body);

  if (tag == "ColumnRef") return translate_column_ref(ctx, body, scope);
  if (tag == "A_Const") return translate_const(ctx, body);
  if (tag == "ParamRef") {
    int n = body.value("number", 0);
    if (n <= 0 || n > 65535) return unexpected(ctx.error(sqlstate::kUndefinedParameter, "there is no parameter $" + std::to_string(n), location));
    ParamSlot& slot = ctx.param_slot(n);
    Expr e = make("?" + std::to_string(n), slot.type == o::kUnknown ? 0 : slot.type);
    e.typmod = slot.typmod;
    e.param = n;
    e.location = location;
    return e;
  }
  if (tag == "A_Expr") return tx_A_Expr(ctx, body, scope, location);
  if (tag == "BoolExpr") return tx_BoolExpr(ctx, body, scope, location);
  if (tag == "NullTest") return tx_NullTest(ctx, body, scope, location);
  if (tag == "BooleanTest") return tx_BooleanTest(ctx, body, scope, location);
  if (tag == "TypeCast") return tx_TypeCast(ctx, body, scope, location);
  if (tag == "CollateClause") return tx_CollateClause(ctx, body, scope, location);
  if (tag == "CaseExpr") return tx_CaseExpr(ctx, body, scope, location);
  if (tag == "CoalesceExpr") return tx_CoalesceExpr(ctx, body, scope, location);
  if (tag == "MinMaxExpr") return tx_MinMaxExpr(ctx, body, scope, location);
  if (tag == "SQLValueFunction") return tx_SQLValueFunction(ctx, body, scope, location);
  if (tag == "FuncCall") return translate_func(ctx, body, scope);
  if (tag == "SubLink") return translate_sublink(ctx, body, scope);
  if (tag == "A_ArrayExpr") return unexpected(ctx.unsupported("ARRAY[...] expressions", location));
  if (tag == "RowExpr") return unexpected(ctx.unsupported("row constructors", location));
  if (tag == "A_Indirection") return tx_Indirection(ctx, body, scope, location);
  if (tag == "SetToDefault") return unexpected(ctx.error(sqlstate::kSyntaxError, "DEFAULT is not allowed in this context", location));
  return unexpected(ctx.unsupported("the expression " + std::string(tag), location));
}

PgResult<Expr> translate_sublink(Ctx& ctx, const Node& body, const Scope& scope) {
  std::string kind = body.value("subLinkType", std::string());
  int location = loc_of(body);
  const Node& sub = field(field(body, "subselect"), "SelectStmt");
  auto q = translate_select(ctx, sub, &scope);
  if (!q) return unexpected(q.error());
  if (kind == "EXISTS_SUBLINK") return make("(EXISTS (" + q->sql + "))", o::kBool, "exists");
  if (kind == "EXPR_SUBLINK") {
    if (q->columns.size() != 1)
      return unexpected(ctx.error(sqlstate::kSyntaxError, "subquery must return only one column", location));
    Expr e = make("(" + q->sql + ")", q->columns[0].type, q->columns[0].name);
    e.typmod = q->columns[0].typmod;
    return e;
  }
  if (kind == "ANY_SUBLINK" || kind == "ALL_SUBLINK") {
    auto ops = names_of(field(body, "operName"));
    std::string op = ops.empty() ? "=" : ops.back();
    bool any = kind == "ANY_SUBLINK";
    if (!((any && op == "=") || (!any && op == "<>")))
      return unexpected(ctx.unsupported(op + (any ? " ANY" : " ALL") + " (subquery)", location));
    auto lv = translate_expr(ctx, field(body, "testexpr"), scope);
    if (!lv) return lv;
    if (q->columns.size() != 1)
      return unexpected(ctx.error(sqlstate::kSyntaxError, "subquery has too many columns", location));
    Expr a = *lv;
    if (a.type == 0) {
      auto c = coerce(ctx, a, q->columns[0].type, -1, false);
      if (!c) return c;
      a = *c;
    }
    return make("(" + a.sql + (any ? " IN (" : " NOT IN (") + q->sql + "))", o::kBool);
  }
  if (kind == "ARRAY_SUBLINK") {
    // ARRAY(SELECT x ...): the rows, in the subquery's order, as one array value.
    if (q->columns.size() != 1)
      return unexpected(ctx.error(sqlstate::kSyntaxError, "subquery must return only one column", location));
    Oid el = q->columns[0].type;
    Oid arr = types::array_of(el);
    if (arr == 0) return unexpected(ctx.unsupported("arrays of type " + type_display(el), location));
    std::string col = quote_ident(q->columns[0].name);
    return make("(SELECT mg_array_from_json(json_group_array(" + col + "), " + std::to_string(el) + ") FROM (" + q->sql +
                    ") AS \"__mg_array\")",
                arr, "array");
  }
  return unexpected(ctx.unsupported("the subquery kind " + kind, location));
}

}  // namespace metagate::sql::tr
