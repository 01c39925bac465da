// Secrets produced by, or accepted by, a real PostgreSQL 15.18 (Debian 15.18-0+deb12u1).
//
// How they were obtained (throw-away cluster: initdb -D /tmp/pgauth, port 55998):
//  * PG-made: SET password_encryption = 'scram-sha-256' (resp. 'md5'); CREATE ROLE <r> LOGIN
//    PASSWORD '<pw>'; SELECT rolname, rolpassword FROM pg_authid.
//  * Ours, accepted by PG: ALTER/CREATE ROLE <r> PASSWORD '<verifier from make_scram_verifier>'
//    with pg_hba `host all all 127.0.0.1/32 scram-sha-256`, then
//    PGPASSWORD=<pw> psql -h 127.0.0.1 -p 55998 -U <r> -d postgres -c 'select 1' succeeded and
//    a wrong password gave FATAL 28P01. Also tried with method `md5` (u_md5gen logs in via the
//    md5 challenge) and `password` (PG-made non-ASCII fixtures below log in with cleartext).
//  * With pg_hba method md5, the SCRAM-stored role u logged in (PG switched to SCRAM); with
//    method scram-sha-256, the md5-stored role u_md5 failed with 28P01 and log DETAIL
//    `User "u_md5" does not have a valid SCRAM secret.` The server was then stopped and removed.
#pragma once

#include <string_view>

namespace pg_fixtures {

// PG-made, password "secret", role "u".
inline constexpr std::string_view kScramSecret =
    "SCRAM-SHA-256$4096:OsUwomQLx8xXQnv+dej5Hw==$zaW3KCM/He55/ssh0IGJl02KmxN6xuNyZHYhRFzCg+c=:"
    "1XWQbpqAxcqU8CAbmuNyj6W5HO/TEa8wh0uOt0GOfDk=";
// PG-made, password "secret", role "u_md5" (password_encryption = md5).
inline constexpr std::string_view kMd5Secret = "md5b86e5ba24c715f8b28df87aa95864881";
// PG-made, password "pässwörd" (precomposed; SASLprep leaves it unchanged).
inline constexpr std::string_view kScramNonAscii =
    "SCRAM-SHA-256$4096:vt/F0b8SHfLiwoWuZ4LysQ==$1sPYSj0mJ+V0DhUQhZRobzJbTrWTBIkiUmrv8nIduIo=:"
    "eloOHZwfsOmOkuGPTNtO/Rxr3Cm/R4fKLyx/IFkqeIQ=";
// PG-made, password "I<U+00AD soft hyphen>X" (SASLprep maps it to "IX").
inline constexpr std::string_view kScramSoftHyphen =
    "SCRAM-SHA-256$4096:bIEEB8iJBeq4pCFlOweDHg==$5csjqmxH1N6PNjOqwHIHR8jvHoTyfVtIsLeFqOBpZoI=:"
    "Xo/C7eOJSW2DNp1mwleED9w4lwVqXLa0Wj/RUvYRZHo=";
// PG-made, password "a<U+00A0 no-break space>b" (SASLprep maps it to "a b").
inline constexpr std::string_view kScramNbsp =
    "SCRAM-SHA-256$4096:JPZZiLPxL+kMtpHmv5BxHg==$zDLMK8dn+wb2cW62/OyawaDZlVoIeJAMExorhhNeOq4=:"
    "IExH90u9t/R3rNBjAUYWOr2ZCpqeVDVBk60K1MXHQF0=";
// PG-made, password "a<U+E000 private use>b" (prohibited: PG hashes the raw bytes).
inline constexpr std::string_view kScramPrivateUse =
    "SCRAM-SHA-256$4096:Qv1+fFPnljTVicVn9Upv2g==$lF6Ksds6ELAQD4eZpjnzrMNuiTOVEZ8Z0yLmbwM8KS4=:"
    "dSTzM+8ZeXrbm7IJSJlsPj8JQQxivnSsi1jarNEUYgU=";

// The salt we used for our own verifiers: bytes i*17+3, i = 0..15 (base64 AxQlNkdYaXqLnK2+z+DxAg==).
// Ours, accepted by PG as role u / gen_rand etc. with these passwords:
inline constexpr std::string_view kOursSecret =  // "secret", 4096
    "SCRAM-SHA-256$4096:AxQlNkdYaXqLnK2+z+DxAg==$yywOdNmtqddtiQfJfFLuJ0wImzvFHp/x5bCpDyD2DpU=:"
    "jkjVYJXpCngNtcHirdlM0ffgLJh2eHiF6t0cgrX/4uc=";
inline constexpr std::string_view kOursRandomSalt =  // "secret", random salt from RAND_bytes
    "SCRAM-SHA-256$4096:iQAcbvgfq703xyUfGQXf+A==$aTk2enUz8F6ZL8/taeL4qHtNW+uyRCZHelfMF0I1iYg=:"
    "ZGDVJ6l4iiv/VYA+/5l8Vqj0DIlheE8iVMkUap72roA=";
inline constexpr std::string_view kOursNonAscii =  // "pässwörd", 10000 iterations
    "SCRAM-SHA-256$10000:AxQlNkdYaXqLnK2+z+DxAg==$c9MwJQYwmh5oo8FGnr+ds/6kjBZ5PMw1TS2Gk7qag0o=:"
    "7E7y2xqvyMirSgqpE9GQyLqcTrnOc2z8mt0Lj2ZS+Vc=";
inline constexpr std::string_view kOursSoftHyphen =  // "I\u00ADX": PG logged in with "IX" and "I\u00ADX"
    "SCRAM-SHA-256$4096:AxQlNkdYaXqLnK2+z+DxAg==$vr1va5i8oqPbRREMCMn7J1myHbTVkD9h1ndwDL84tfc=:"
    "ExXKh83vCj/DSGYLKGEXAPumLz0r9Sx4y1zcW9nLhlI=";
// make_md5_secret("secret", "u_md5gen"), equal to what psql's md5sum gave and PG accepted.
inline constexpr std::string_view kOursMd5 = "md5b537f430964df3458a3d8246b03f4de2";

}  // namespace pg_fixtures
