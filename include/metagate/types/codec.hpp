// The value codec: PostgreSQL text/binary wire formats <-> metagate's SQLite storage values.
//
// Storage representation per type (what parse_text/decode_binary return and what
// encode_text/encode_binary expect):
//   bool → Int 0/1; int2/int4/int8/oid (and reg* OIDs) → Int; float4/float8 → Real;
//   numeric → Text, PG's canonical text ('12.50', 'NaN', 'Infinity');
//   text/varchar/bpchar/name/"char"/json/xml/unknown → Text (bpchar blank-padded when typmod
//   is known); jsonb → Text in PG's normalised jsonb output form;
//   uuid → Text lower-case 8-4-4-4-12; bytea → Blob;
//   timestamp → Text 'YYYY-MM-DD HH:MM:SS[.ffffff]' (PG ISO output, trailing zeros cut);
//   timestamptz → Text, the instant in UTC in the same form; date → 'YYYY-MM-DD';
//   time → 'HH:MM:SS[.ffffff]'; interval → PG 'postgres' IntervalStyle output;
//   ±infinity for timestamp/timestamptz/date → 'infinity' / '-infinity'.
// Years are limited to 0001..9999 so that text order is time order: other years are
// rejected with PG's "timestamp out of range: \"…\"" / "date out of range: \"…\"" (22008).
//
// encode_* accept what SQLite may hand back for a column of the type (e.g. an Int for a
// float8 or numeric expression, a Real for an int8 sum) and convert like the matching PG
// cast; a storage value that cannot be read as the type gives XX001. NULL is the caller's
// business (length -1 on the wire): encode_* with Kind::Null append nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>
#include <string_view>

#include "metagate/types/type_catalog.hpp"
#include "metagate/types/value.hpp"
#include "metagate/util/pg_error.hpp"

namespace metagate::types {

// PG's typinput (text-format parameters, literals, COPY text) with the column/cast typmod
// applied as on assignment: varchar(n)/char(n) longer than n → 22001 unless the excess is
// blanks; numeric(p,s) rounds/overflows; timestamp(p)/time(p)/interval(p) round.
PgResult<Value> parse_text(Oid type, std::string_view text, int32_t typmod, const SessionContext& ctx);

// PG's typreceive (binary-format parameters). Too few bytes → 08P01 "insufficient data left
// in message"; bytes left over → 22P03 "incorrect binary data format" (see decode_binary_param).
PgResult<Value> decode_binary(Oid type, std::string_view bytes, int32_t typmod, const SessionContext& ctx);
// decode_binary with Bind's wording for left-over bytes:
// "incorrect binary data format in bind parameter N" (param_number is 1-based).
PgResult<Value> decode_binary_param(Oid type, std::string_view bytes, int32_t typmod,
                                    const SessionContext& ctx, int param_number);

// PG's typoutput / typsend; appends to out (no length prefix).
PgStatus encode_text(Oid type, const ValueRef& v, std::string& out, const SessionContext& ctx);
// The elements of a one-dimensional array literal ({1,2}, {"a b",NULL}) as stored values of
// `elem` (nullopt = NULL); 22P02 with PostgreSQL's message and DETAIL when malformed.
PgResult<std::vector<std::optional<Value>>> parse_array_literal(Oid elem, std::string_view s, const SessionContext& ctx);
// One-dimensional array text as PostgreSQL's array_out writes it: {a,b,NULL,"x y"}.
std::string array_text(const std::vector<std::optional<std::string>>& elements);
PgStatus encode_binary(Oid type, const ValueRef& v, std::string& out, const SessionContext& ctx);

// True when the codec has a binary format for the type (clients may ask for binary results).
bool has_binary_send(Oid type);
// True when parse_text/encode_text handle the type.
bool has_text_codec(Oid type);

// The length coercion of a cast or assignment to a type with typmod (PG's varchar(),
// bpchar(), numeric(), timestamp() ... functions) applied to a stored value of that type.
// is_explicit: 'abcd'::varchar(2) truncates to 'ab'; on assignment it is an error (22001).
PgResult<Value> coerce_to_typmod(Oid type, Value v, int32_t typmod, bool is_explicit);

// bpchar storage helper: blank-pads (never truncates) s to the typmod's length in characters.
std::string bpchar_pad(std::string_view s, int32_t typmod);

// Checks s is valid UTF-8 without NUL, as PG does for every client string;
// 22021 "invalid byte sequence for encoding \"UTF8\": 0x.." otherwise.
PgStatus validate_utf8(std::string_view s);

}  // namespace metagate::types
