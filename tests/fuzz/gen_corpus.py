#!/usr/bin/env python3
"""Writes the seed corpora in tests/fuzz/corpus/<target>/ (deterministic; rerun after editing).

Protocol messages are built here by hand from the PostgreSQL v3 message formats, shaped like
what libpq, lib/pq and pgx send (startup parameters, extended-protocol sequences, SASL); the
SCRAM messages are the RFC 7677 example; SQL is a sample of /work/shared/grafana/*.sql.

Usage: python3 tests/fuzz/gen_corpus.py [GRAFANA_SQL_DIR]   (default ../shared/grafana)
Each target's directory is emptied first; files are named after what they contain.
"""
import os
import re
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
SQL_DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "shared", "grafana")

out = {}


def add(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80]
    d = out.setdefault(target, {})
    base, n = name, 1
    while name in d:
        n += 1
        name = f"{base}_{n}"
    d[name] = data


# --- PostgreSQL v3 message builders ---------------------------------------------------------
def i16(v): return struct.pack("!h", v)
def i32(v): return struct.pack("!i", v)
def z(s): return (s.encode() if isinstance(s, str) else s) + b"\0"


def msg(t, body): return t.encode() + i32(len(body) + 4) + body
def startup_body(params, proto=196608):
    b = i32(proto)
    for k, v in params:
        b += z(k) + z(v)
    return b + b"\0"
def startup(params, proto=196608):
    b = startup_body(params, proto)
    return i32(len(b) + 4) + b
SSL = i32(8) + i32(80877103)
GSS = i32(8) + i32(80877104)
def cancel(pid, key): return i32(16) + i32(80877102) + i32(pid) + i32(key)

def Q(sql): return msg("Q", z(sql))
def P(name, sql, types=()): return msg("P", z(name) + z(sql) + i16(len(types)) + b"".join(i32(t) for t in types))
def B(portal, stmt, fmts, params, rfmts):
    b = z(portal) + z(stmt) + i16(len(fmts)) + b"".join(i16(f) for f in fmts) + i16(len(params))
    for p in params:
        b += i32(-1) if p is None else i32(len(p)) + p
    return msg("B", b + i16(len(rfmts)) + b"".join(i16(f) for f in rfmts))
def D(kind, name): return msg("D", kind.encode() + z(name))
def E(portal, n=0): return msg("E", z(portal) + i32(n))
def C(kind, name): return msg("C", kind.encode() + z(name))
S = msg("S", b"")
H = msg("H", b"")
X = msg("X", b"")
def sasl_initial_body(mech, data):
    return z(mech) + (i32(-1) if data is None else i32(len(data)) + data.encode())
def p(body): return msg("p", body if isinstance(body, bytes) else body.encode())

LIBPQ = [("user", "grafana"), ("database", "grafana"), ("application_name", "psql"), ("client_encoding", "UTF8")]
LIBPQ_GO = [("user", "grafana"), ("database", "grafana"), ("extra_float_digits", "2"), ("datestyle", "ISO, MDY"),
            ("client_encoding", "UTF8")]
PGX = [("database", "grafana"), ("user", "grafana")]

CF = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
CF_LIBPQ = "n,,n=,r=rOprNGfwEbeRWgbNEkqO"
SF_NONCE = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
FINAL = "c=biws,r=" + SF_NONCE + ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="

# --- fuzz_wire_frontend: byte 0 = mode (0 stream from start, 1 normal stream, 2 one message,
#     3 SASLInitialResponse body; +4 = tiny limits) --------------------------------------------
W = "fuzz_wire_frontend"
libpq_go_extended = (P("", 'SELECT "id", "login" FROM "user" WHERE "login"=$1 LIMIT 1', [0]) + D("S", "") + S
                     + B("", "", [0], [b"admin"], [0]) + D("P", "") + E("") + S)
pgx_extended = (P("stmtcache_1", 'SELECT "id","org_id","version" FROM "dashboard" WHERE "uid"=$1 AND "org_id"=$2',
                  [25, 20]) + D("S", "stmtcache_1") + S
                + B("", "stmtcache_1", [0, 1], [b"abc", struct.pack("!q", 1)], [1, 1, 1]) + E("") + S)
streams = {
    "libpq_simple_select": startup(LIBPQ) + Q("SELECT 1;") + X,
    "libpq_ssl_then_startup": SSL + startup(LIBPQ) + Q("BEGIN;") + Q("COMMIT;") + X,
    "libpq_gss_ssl_startup": GSS + SSL + startup(LIBPQ) + X,
    "cancel_request": cancel(1234, 0x5eed),
    "protocol_2_startup": startup([("user", "u")], proto=0x00020000),
    "protocol_3_9_startup": startup(LIBPQ, proto=0x00030009) + Q(";") + X,
    "libpq_go_extended_query": startup(LIBPQ_GO) + libpq_go_extended + X,
    "pgx_extended_binary": startup(PGX) + pgx_extended + X,
    "scram_exchange": startup(LIBPQ) + p(sasl_initial_body("SCRAM-SHA-256", CF_LIBPQ)) + p(FINAL) + Q("SELECT 1") + X,
    "scram_initial_without_data": startup(LIBPQ) + p(sasl_initial_body("SCRAM-SHA-256", None)) + p(CF) + p(FINAL),
    "cleartext_password": startup(LIBPQ) + p(z("secret")) + Q("SELECT version()"),
    "md5_password": startup(LIBPQ) + p(z("md5" + "0123456789abcdef" * 2)) + X,
    "copy_in": startup(LIBPQ) + Q("COPY t FROM STDIN") + msg("d", b"1\tone\n") + msg("d", b"2\ttwo\n")
               + msg("c", b"") + msg("f", z("aborted")) + S,
    "close_flush_function": startup(LIBPQ) + C("S", "s1") + C("P", "") + H + msg("F", i32(1234) + i16(0) + i16(0) + i16(0)) + S,
    "multi_statement_query": startup(LIBPQ) + Q("BEGIN; SELECT 1; COMMIT") + Q("") + X,
    "split_frame_need_more": startup(LIBPQ) + Q("SELECT 1")[:7],
    "bad_startup_length": i32(4) + i32(196608),
    "huge_startup_length": i32(10001) + i32(196608),
    "bad_message_length": startup(LIBPQ) + b"Q" + i32(3),
    "unknown_message_type": startup(LIBPQ) + msg("Z", b"") + X,
    "startup_missing_terminator": i32(4 + 4 + 5) + i32(196608) + b"user\0",
}
for name, s in streams.items():
    add(W, "stream_" + name, b"\x00" + s)
add(W, "stream_tiny_limits_query", b"\x04" + startup([("user", "u")]) + Q("SELECT 'a much longer statement than 32'"))
add(W, "stream_tiny_limits_startup", b"\x04" + startup(LIBPQ))
for name, s in {"libpq_go_extended": libpq_go_extended, "pgx_extended": pgx_extended,
                "sync_flush_terminate": S + H + X}.items():
    add(W, "normal_" + name, b"\x01" + s)
singles = {
    "parse_two_params": P("s1", "SELECT $1::int + $2", [23, 0]),
    "parse_negative_count": msg("P", z("") + z("SELECT 1") + i16(-1)),
    "parse_short_types": msg("P", z("") + z("SELECT $1") + i16(2) + i32(23)),
    "bind_null_and_binary": B("p1", "s1", [1], [None, struct.pack("!i", 42)], [0]),
    "bind_param_len_too_big": msg("B", z("") + z("") + i16(0) + i16(1) + i32(1000) + b"x" + i16(0)),
    "bind_negative_len": msg("B", z("") + z("") + i16(0) + i16(1) + i32(-2) + i16(0)),
    "describe_statement": D("S", "s1"),
    "describe_bad_kind": D("X", "s1"),
    "execute_max_rows": E("p1", 100),
    "close_portal": C("P", "p1"),
    "query_no_nul": msg("Q", b"SELECT 1"),
    "query_trailing_garbage": msg("Q", b"SELECT 1\0junk"),
    "copy_data": msg("d", b"\x00\x01binary"),
    "copy_fail": msg("f", z("client gave up")),
    "password_sasl_response": p(FINAL),
    "function_call": msg("F", i32(1) + i16(0) + i16(0) + i16(0)),
    "sync_with_body": msg("S", b"x"),
}
for name, m in singles.items():
    add(W, "single_" + name, b"\x02" + m[0:1] + m[5:])
for name, body in {"scram_with_data": sasl_initial_body("SCRAM-SHA-256", CF_LIBPQ),
                   "scram_no_data": sasl_initial_body("SCRAM-SHA-256", None),
                   "plus_mechanism": sasl_initial_body("SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,n=,r=abc"),
                   "length_mismatch": z("SCRAM-SHA-256") + i32(100) + b"n,,n=,r=x",
                   "length_minus_two": z("SCRAM-SHA-256") + i32(-2)}.items():
    add(W, "sasl_initial_" + name, b"\x03" + body)

# --- fuzz_wire_startup: the body of one startup packet ---------------------------------------
T = "fuzz_wire_startup"
add(T, "libpq", startup_body(LIBPQ))
add(T, "lib_pq_go", startup_body(LIBPQ_GO))
add(T, "pgx", startup_body(PGX))
add(T, "with_options", startup_body(LIBPQ + [("options", "-c search_path=public -c statement_timeout=0"),
                                            ("replication", "false")]))
add(T, "ssl_request", i32(80877103))
add(T, "gssenc_request", i32(80877104))
add(T, "cancel_request", i32(80877102) + i32(4242) + i32(-559038737))
add(T, "cancel_short", i32(80877102) + i32(4242))
add(T, "protocol_2", startup_body([("user", "u")], proto=0x00020000))
add(T, "protocol_3_1", startup_body([("user", "u"), ("_pq_.some_ext", "on")], proto=0x00030001))
add(T, "no_params", startup_body([]))
add(T, "missing_final_nul", startup_body(LIBPQ)[:-1])
add(T, "value_missing", i32(196608) + z("user"))
add(T, "trailing_bytes", startup_body(LIBPQ) + b"xyz")
add(T, "empty_value", startup_body([("user", "grafana"), ("database", "")]))
add(T, "utf8_values", startup_body([("user", "grafanа"), ("application_name", "Grafana — ü")]))

# --- fuzz_auth_scram: flags, client-first '\n' client-final ---------------------------------
A = "fuzz_auth_scram"
def scram(flags, first, final=None):
    return bytes([flags]) + first.encode() + (b"" if final is None else b"\n" + final.encode())
add(A, "rfc7677_success", scram(0, CF, FINAL))
add(A, "rfc7677_libpq_empty_user", scram(4, CF_LIBPQ, "c=biws,r=" + SF_NONCE + ",p=AAAA"))
add(A, "fixed_proof_y_flag", scram(4, "y,,n=,r=abcdef", "c=eSws,r=abcdef%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=x"))
add(A, "fixed_proof_with_extension", scram(4, "n,,n=,r=abc,x=ext", "c=biws,r=abc%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,e=1,p=x"))
add(A, "wrong_proof", scram(0, CF, "c=biws,r=" + SF_NONCE + ",p=" + "A" * 43 + "="))
add(A, "nonce_mismatch", scram(4, CF, "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=x"))
add(A, "cbind_mismatch", scram(4, "y,,n=,r=abc", "c=biws,r=abc%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=x"))
add(A, "channel_binding_p", scram(0, "p=tls-server-end-point,,n=,r=abc"))
add(A, "authzid", scram(0, "n,a=admin,n=,r=abc"))
add(A, "mandatory_extension", scram(0, "n,,m=ext,n=,r=abc"))
add(A, "nonprintable_nonce", scram(0, "n,,n=,r=ab\x7fc"))
add(A, "empty_first", scram(0, ""))
add(A, "garbage_after_proof", scram(0, CF, FINAL + ",x=1"))
add(A, "bad_base64_proof", scram(0, CF, "c=biws,r=" + SF_NONCE + ",p=!!!!"))
add(A, "nul_in_final", scram(0, CF, "c=biws\0,r=x"))
add(A, "md5_secret_doomed", scram(2 | 4, CF, "c=biws,r=" + SF_NONCE + ",p=x"))
add(A, "mock_user_doomed", scram(3 | 4, CF, "c=biws,r=" + SF_NONCE + ",p=x"))
add(A, "out_of_order", scram(8, CF, FINAL))

# --- fuzz_auth_hba: pg_hba.conf text ---------------------------------------------------------
HB = "fuzz_auth_hba"
hba = {
    "default_loopback": "host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n",
    "grafana_scram_tls": "hostssl grafana grafana 0.0.0.0/0 scram-sha-256   # trailing comment\n",
    "netmask_form": "host all all 10.0.0.0 255.0.0.0 md5\n",
    "lists_and_quotes": 'host "all",db2 alice,"bob smith" 192.168.1.0/24 password\n',
    "sameuser_reject": "host\tsameuser\tall\tall\treject\n",
    "v4_mapped": "host all all ::ffff:0:0/96 trust\n",
    "nossl_v6": "hostnossl all all 2001:db8::/32 md5\n# comment only\n\n",
    "bad_prefix": "host all all 127.0.0.1/33 trust",
    "hostname": "host all all db.example.com trust",
    "zone_id": "host all all fe80::1%eth0/64 trust",
    "unsupported_method": "host all all all ident",
    "auth_option": "hostssl all all all scram-sha-256 clientcert=verify-full",
    "local_line": "local all all trust",
    "group_and_file": "host all +admins all trust\nhost @dbs all all trust",
    "continuation": "host all \\\n all all trust",
    "empty_list_item": "host all,,x all all trust",
}
for k, v in hba.items():
    add(HB, k, v)

# --- fuzz_auth_credential: byte 0 = 0 Credential::parse, 1 verifier, 2 md5, 3 base64, 4 saslprep
CR = "fuzz_auth_credential"
VER = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
add(CR, "credential_scram", b"\x00" + VER.encode())
add(CR, "credential_md5", b"\x00md5" + b"0123456789abcdef" * 2)
add(CR, "credential_plain", b"\x00plaintext")
add(CR, "verifier", b"\x01" + VER.encode())
add(CR, "verifier_zero_iterations", b"\x01SCRAM-SHA-256$0:c2FsdA==$AAAA:AAAA")
add(CR, "verifier_huge_iterations", b"\x01SCRAM-SHA-256$99999999999:c2FsdA==$AAAA:AAAA")
add(CR, "md5_upper_hex", b"\x02md5" + b"0123456789ABCDEF" * 2)
add(CR, "base64_padded", b"\x03W22ZaJ0SNY7soEsUEjb6gQ==")
add(CR, "base64_nonzero_pad_bits", b"\x03QR==")
add(CR, "base64_bad_char", b"\x03ab*d")
add(CR, "saslprep_ascii", b"\x04pencil")
add(CR, "saslprep_nbsp", "\x04pen\u00a0cil".encode())
add(CR, "saslprep_soft_hyphen", "\x04pen\u00adcil".encode())
add(CR, "saslprep_kana", "\x04パスワード".encode())
add(CR, "saslprep_invalid_utf8", b"\x04pen\xffcil")
add(CR, "saslprep_control", b"\x04pen\x07cil")
add(CR, "saslprep_combining", "\x04e\u0301".encode())

# --- fuzz_types: type index, mode|ctx<<3, nargs, args (int16 BE), payload --------------------
TY = "fuzz_types"
TYPES = ["bool", "int2", "int4", "int8", "float4", "float8", "numeric", "text", "varchar", "bpchar", "name",
         "char", "json", "jsonb", "uuid", "bytea", "date", "time", "timestamp", "timestamptz", "interval",
         "oid", "regclass", "regtype", "xid", "unknown", "xml", "cstring", "timetz", "_int4", "_text", "record"]
def ty(tname, payload, mode=0, ctx=0, args=()):
    b = bytes([TYPES.index(tname), mode | (ctx << 3), len(args)]) + b"".join(struct.pack("!h", a) for a in args)
    return b + (payload.encode() if isinstance(payload, str) else payload)
text_inputs = {
    "bool": ["t", "false", " yes ", "of", "1", "maybe"],
    "int2": ["32767", "-32768", "32768", " 42 ", "0x1F", "1_000"],
    "int4": ["-2147483648", "2147483648", "+7", "0o17", "0b101", "12e3"],
    "int8": ["9223372036854775807", "-9223372036854775808", "9223372036854775808", "  -0  "],
    "float4": ["3.4028235e38", "3.5e38", "1e-46", "NaN", "-Infinity", "0.1", "1.17549435e-38"],
    "float8": ["1.7976931348623157e308", "1e309", "4.9e-324", "-0", " inf ", "0.1", "1e-400"],
    "numeric": ["12.50", "-0.000", "NaN", "Infinity", "1e1000", "1e-1000", "  .5", "123456789012345678901234567890.123"],
    "text": ["hello", "", "Grafana \u00fc \U0001F600"],
    "varchar": ["abc", "abcdef   ", "\u00fc\u00fc\u00fc\u00fc\u00fc"],
    "bpchar": ["ab", "abcdef", "  "],
    "name": ["a" * 70, "migration_log"],
    "char": ["a", "", "\\101", "\\377", "\u00fc"],
    "json": ['{"a": [1, 2.5, "x", null, true]}', "[", '"\\ud83d\\ude00"', " 1e400 "],
    "jsonb": ['{"b": 1, "a": {"c": [1, 1.50]}, "a": 2}', '{"x": "\\u0000"}', "-0.0e10", '[[[[[[[[]]]]]]]]'],
    "uuid": ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "{A0EEBC99-9C0B4EF8-BB6D6BB9-BD380A11}", "a0ee-bc99"],
    "bytea": ["\\x48656c6c6f", "\\x4", "abc\\\\def\\001", "\\xZZ", "plain"],
    "date": ["2024-05-30", "epoch", "infinity", "-infinity", "today", "0001-01-01", "10000-01-01",
             "2024-02-30", "May 30, 2024", "20240530", "1/2/2003", "J2451187", "2024-05-30 BC"],
    "time": ["11:34:30", "24:00:00", "24:00:01", "23:59:59.9999995", "allballs", "11:34:30+02", "now"],
    "timestamp": ["2024-05-30 11:34:30", "2024-05-30T11:34:30.123456789Z", "epoch", "infinity", "now",
                  "9999-12-31 23:59:59.9999999", "0001-01-01 00:00:00 BC", "2006-01-02 15:04:05.999999999-07:00",
                  "yesterday", "tomorrow allballs", "2024-05-30 25:00"],
    "timestamptz": ["2024-05-30 11:34:30+02", "2024-05-30 11:34:30 Europe/Berlin", "2024-05-30 11:34:30.5 UTC",
                    "2024-05-30 11:34:30-07:00", "-infinity", "1999-12-31 23:59:60"],
    "interval": ["1 day", "1 year 2 mons 3 days 04:05:06.789", "P1Y2M3DT4H5M6S", "-1 day +02:03", "@ 1 hour ago",
                 "1.5 weeks", "178000000 years", "PT0.0000001S", "1 millennium", "2 decades 3 centuries"],
    "oid": ["4294967295", "4294967296", "-1"],
    "regclass": ["12345"],
    "xid": ["7"],
    "timetz": ["11:34:30+02"],
    "_int4": ["{1,2,3}"],
}
for t, inputs in text_inputs.items():
    for i, s in enumerate(inputs):
        add(TY, f"text_{t}_{i}", ty(t, s, ctx=i % 5))
# extra_float_digits 0 / -15 (ctx 6 / 7): rounded output, e.g. DBL_MAX prints as 2e+308
for ctx in (6, 7):
    add(TY, f"text_float8_max_ctx{ctx}", ty("float8", "1.7976931348623157e308", ctx=ctx))
    add(TY, f"text_float4_ctx{ctx}", ty("float4", "0.1", ctx=ctx))
# with typmods (args as CREATE TABLE / casts give them)
for t, args, s in [("varchar", (3,), "abcd"), ("varchar", (3,), "abc   "), ("bpchar", (5,), "ab"),
                   ("numeric", (5, 2), "123.456"), ("numeric", (5, 2), "1234.5"), ("numeric", (3,), "999.5"),
                   ("numeric", (2, -3), "12345"), ("numeric", (1000, 1000), "0.5"),
                   ("timestamp", (0,), "2024-05-30 11:34:30.5"), ("timestamptz", (3,), "2024-05-30 11:34:30.12345+01"),
                   ("time", (2,), "23:59:59.999"), ("interval", (4,), "3 years 5 months"),
                   ("interval", (0x1c08, 2), "1 day 12:34:56.789"), ("interval", (0x7FFF, 0xFFFF - 65536), "1 day"),
                   ("timestamp", (7,), "2024-05-30")]:
    add(TY, f"typmod_{t}_{'_'.join(map(str, args))}", ty(t, s, args=args))
# binary inputs (mode 1)
for t, b in [("bool", b"\x01"), ("int2", b"\x80\x00"), ("int4", b"\x00\x00\x00\x2a"), ("int8", b"\x7f" + b"\xff" * 7),
             ("float4", struct.pack("!f", 0.1)), ("float8", struct.pack("!d", -0.0)),
             ("float8", b"\x7f\xf8\x00\x00\x00\x00\x00\x01"),
             ("numeric", struct.pack("!hhhh", 2, 0, 0, 2) + struct.pack("!hh", 12, 5000)),
             ("numeric", struct.pack("!hhhh", 0, 0, 0xC000 - 65536, 0)),
             ("numeric", struct.pack("!hhhh", 1, 100, 0x4000, 0) + struct.pack("!h", 9999)),
             ("uuid", bytes(range(16))), ("date", struct.pack("!i", 8916)), ("date", struct.pack("!i", 2**31 - 1)),
             ("time", struct.pack("!q", 86400000000)), ("timestamp", struct.pack("!q", 770000000000000)),
             ("timestamp", struct.pack("!q", 2**63 - 1)), ("timestamptz", struct.pack("!q", -(2**63))),
             ("interval", struct.pack("!qii", 3600000000, 1, 14)), ("interval", struct.pack("!qii", 2**63 - 1, 0, 0)),
             ("jsonb", b"\x01{\"a\":1}"), ("jsonb", b"\x02{}"), ("text", "abc\u00fc".encode()), ("name", b"x" * 64),
             ("char", b"\xff"), ("bytea", b"\x00\xff"), ("oid", b"\xff\xff\xff\xff"), ("int4", b"\x00\x00\x00"),
             ("int4", b"\x00\x00\x00\x00\x00")]:
    add(TY, f"binary_{t}_{b[:6].hex()}", ty(t, b, mode=1))
# (timestamp(2) binary 2**63-2 overflowed round_to_precision: crashers/fuzz_types/)
add(TY, "binary_timestamp_typmod2", ty("timestamp", struct.pack("!q", 770000000123456), mode=1, args=(2,)))
add(TY, "bind_param_int4_extra", ty("int4", b"\x00\x00\x00\x01\x02", mode=5))
# storage values (mode 2): kind 1 Int, 2 Real, 3 Text, 4 Blob
for t, kind, payload in [("bool", 1, b"\x00" * 7 + b"\x02"), ("int2", 1, b"\x00\x00\x00\x00\x00\x01\x00\x00"),
                         ("float8", 3, b"abc"), ("numeric", 2, struct.pack("!d", 1e300)), ("numeric", 3, b"1e5"),
                         ("timestamp", 3, b"2024-13-01 00:00:00"), ("timestamptz", 1, b"\x00" * 8),
                         ("date", 3, b"infinity"), ("interval", 3, b"1 day garbage"), ("uuid", 4, bytes(16)),
                         ("jsonb", 3, b"{not json"), ("time", 3, b"24:00:00"), ("char", 4, b""),
                         ("int4", 2, struct.pack("!d", float("nan")))]:
    add(TY, f"storage_{t}_{kind}_{payload[:4].hex()}", ty(t, bytes([kind]) + payload, mode=2))
# coercions (mode 3) and helpers (mode 4)
for t, args, s in [("varchar", (2,), "abcd"), ("bpchar", (2,), "a   "), ("numeric", (4, 1), "999.96"),
                   ("timestamp", (0,), "9999-12-31 23:59:59.6"), ("interval", (4,), "1 year 11 months 40 days")]:
    add(TY, f"coerce_{t}_{s[:10]}", ty(t, s, mode=3, args=args))
for s in ["2024-05-30 11:34:30.5", "2024-05-30", "24:00:00", "1 year 2 mons -3 days +04:05:06", "infinity",
          "double precision", "character varying(10)[]", "pg_catalog.int4", '"char"', "timestamp with time zone",
          "serial8", "UTC-3", "<+0530>-05:30", "Etc/GMT+12"]:
    add(TY, f"helpers_{s[:20]}", ty("text", s, mode=4))

# --- fuzz_sql: byte 0 = declared parameter count, then SQL ----------------------------------
SQ = "fuzz_sql"
def sql_statements(path, backticks):
    text = open(path, encoding="utf-8").read()
    lines = [l for l in text.split("\n") if not l.lstrip().startswith("--")]
    body = "\n".join(lines)
    if backticks:
        body = body.replace("`", '"')
    return [s.strip() + ";" for s in body.split(";\n") if s.strip()]

picked = []
for fname, step, backticks in [("runtime-queries.sql", 2, False), ("migrations-grafana11.0.0-iqbal.sql", 6, True),
                               ("migrations-grafana7.5.6-asterisk.sql", 9, True)]:
    path = os.path.join(SQL_DIR, fname)
    if not os.path.exists(path):
        print("warning: missing", path, file=sys.stderr)
        continue
    stmts = sql_statements(path, backticks)
    seen = set()
    for i, s in enumerate(stmts):
        if i % step or s in seen:
            continue
        seen.add(s)
        picked.append((fname.split("-")[0] + f"_{i:03d}", s))
for name, s in picked:
    first = re.sub(r"[^A-Za-z]+", "_", s[:40]).strip("_").lower()
    nparams = len(set(re.findall(r"\$(\d+)", s))) % 4
    add(SQ, f"{name}_{first}", bytes([nparams]) + s.encode())
extra_sql = {
    "empty": "", "semicolons": ";;;", "ping_comment": "-- ping", "syntax_error": "SELEC 1",
    "unterminated_string": "SELECT 'abc", "deep_parens": "SELECT " + "(" * 200 + "1" + ")" * 200,
    "set_show": "SET TIME ZONE 'UTC'; SHOW timezone; RESET ALL",
    "ddl_then_select": 'CREATE TABLE "t" ("id" SERIAL PRIMARY KEY NOT NULL, "v" TEXT); INSERT INTO "t" ("v") VALUES ($1) RETURNING "id"; SELECT * FROM t',
    "savepoints": "BEGIN; SAVEPOINT a; RELEASE a; ROLLBACK TO a; COMMIT",
    "upsert": 'INSERT INTO "kv_store" ("org_id","namespace","key","value","created","updated") VALUES ($1,$2,$3,$4,now(),now()) ON CONFLICT ("org_id","namespace","key") DO UPDATE SET "value"=excluded."value"',
    "unknown_table": "SELECT * FROM nope",
    "system_catalog": "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'",
}
for k, v in extra_sql.items():
    add(SQ, "extra_" + k, bytes([1]) + v.encode())

# --- fuzz_backup_manifest: manifest files as metagate writes them, and damaged ones
BM = "fuzz_backup_manifest"
manifest = """{
  "format": 1,
  "id": "20261206T113500.123Z",
  "database": "grafana",
  "source": "/var/lib/metagate/grafana.db",
  "created_unix_ms": 1796556900123,
  "page_size": 4096,
  "page_count": 30,
  "schema_version": 12,
  "raw_bytes": 122880,
  "raw_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  "stored_bytes": 6712,
  "stored_sha256": "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
  "compression": "zstd",
  "integrity": "ok",
  "copy_seconds": 0.017,
  "total_seconds": 0.045,
  "reason": "scheduled"
}
"""
add(BM, "manifest", manifest)
add(BM, "manifest_truncated", manifest[: len(manifest) // 2])
add(BM, "manifest_format2", manifest.replace('"format": 1', '"format": 2'))
add(BM, "manifest_lz4", manifest.replace('"zstd"', '"lz4"'))
add(BM, "manifest_bad_id", manifest.replace('20261206T113500.123Z', '../etc/passwd'))
add(BM, "manifest_types", manifest.replace('"page_size": 4096', '"page_size": "4096"'))
add(BM, "manifest_minimal", '{"format":1,"id":"a","created_unix_ms":-1,"page_size":0,"page_count":0,"raw_bytes":0,'
    '"raw_sha256":"","stored_bytes":18446744073709551615,"stored_sha256":"","compression":"zstd"}')
add(BM, "not_json", "zstd\x00\xff")

# --- fuzz_backup_wal: byte 0 = 0 raw bytes, 1 a valid log built from the rest (byte 1 = frame to damage)
BW = "fuzz_backup_wal"
add(BW, "built_three_commits", bytes([1, 0]) + bytes([0x81, 0x02, 0x83, 0x84, 0x05]))
add(BW, "built_damaged_2", bytes([1, 2]) + bytes([0x81, 0x82, 0x83]))
add(BW, "built_uncommitted_tail", bytes([1, 0]) + bytes([0x81, 0x02, 0x03]))
add(BW, "raw_short", bytes([0]) + b"\x37\x7f\x06\x82")
add(BW, "raw_magic_big", bytes([0]) + bytes.fromhex("377f0683002de21800001000") + bytes(20))

# --- fuzz_backup_segment: byte 0 = 0 raw bytes, 1 a valid segment shaped by the rest
#     (byte 1 % 4 == 3: a close record; bytes 2-3: byte to flip; byte 4: cut at 97 * n)
BS = "fuzz_backup_segment"
add(BS, "built_three", bytes([1, 0, 0, 0, 0]) + bytes([2, 7, 9, 1, 4, 0, 3, 3, 3]))
add(BS, "built_close", bytes([1, 3, 0, 0, 0]) + bytes([1, 5, 2, 6, 6]))
add(BS, "built_damaged", bytes([1, 0, 0x02, 0x10, 0]) + bytes([2, 7, 9, 1, 4, 0, 3, 3, 3]))
add(BS, "built_cut", bytes([1, 0, 0, 0, 9]) + bytes([2, 7, 9, 1, 4, 0, 3, 3, 3]))
add(BS, "raw_magic", bytes([0]) + b"MGSEG001" + bytes(88))
add(BS, "raw_short", bytes([0]) + b"MGSEG")

# --- write -------------------------------------------------------------------------------------
total = 0
for target, files in sorted(out.items()):
    d = os.path.join(CORPUS, target)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    for name, data in sorted(files.items()):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        total += len(data)
    print(f"{target}: {len(files)} files")
print(f"total {total} bytes")
