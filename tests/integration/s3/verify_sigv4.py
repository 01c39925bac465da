#!/usr/bin/python3
"""Recomputes the AWS SigV4 signature of every request s3_probe sent, the way S3 would.

s3rver does not check signatures, so this is what proves the client signs correctly. For each
request (tests/integration/s3/s3_probe.cpp writes them, one JSON object a line: request line,
header lines exactly as sent, payload SHA-256) it acts as the server: it takes the headers
listed in the Authorization header's SignedHeaders from those actually sent, rebuilds the
canonical request, and computes the signature with botocore's S3 signer (the copy bundled in
Debian's awscli package), then compares it with the one sent. Also checked, because a real
server canonicalises these itself while libcurl signs them as written:
  - the path is already in S3's canonical form (decode + re-encode gives the same bytes),
  - the query is already canonical (sorted, RFC 3986, "name=" for empty values),
  - every signed header was sent (libcurl signs headers blanked with "Name:" but omits them),
  - host, x-amz-date, x-amz-content-sha256 and every Content-Type, Content-MD5, x-amz-* sent
    are signed, and x-amz-content-sha256 is the SHA-256 of the body that was sent,
  - the credential scope (date, region, service).
Requests tagged "expect": "mismatch" (signed with a wrong secret on purpose) must NOT verify:
otherwise this check could not tell a right signature from a wrong one.

  verify_sigv4.py --requests FILE.jsonl --secret SECRET [--region us-east-1]

Prints PASS/FAIL lines; exits 1 on any FAIL.
"""
import argparse
import json
import os
import sys
from urllib.parse import quote, unquote


def load_botocore():
    """botocore from Debian's awscli: Debian 12's awscli 2.9.19 ships it inside the awscli
    package (/usr/lib/python3/dist-packages/awscli/botocore), not as a top-level package; put
    that directory first on sys.path so `import botocore` finds this copy and no other."""
    import awscli  # noqa: F401  (the package, not the command)
    awscli_dir = os.path.dirname(os.path.abspath(awscli.__file__))
    if not os.path.isdir(os.path.join(awscli_dir, "botocore")):
        raise SystemExit("verify_sigv4: %s has no bundled botocore" % awscli_dir)
    sys.path.insert(0, awscli_dir)
    import botocore
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    if not os.path.abspath(botocore.__file__).startswith(awscli_dir + os.sep):
        raise SystemExit("verify_sigv4: botocore came from %s, not from awscli" % botocore.__file__)
    return botocore


botocore = load_botocore()
from botocore.auth import S3SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

passed = 0
failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("PASS " + what)
    else:
        failed += 1
        print("FAIL " + what + (" -- " + detail if detail else ""))


def s3_canonical_path(path):
    # What S3 does with the path it receives: decode, then encode every byte except the
    # unreserved characters and '/'.
    return quote(unquote(path), safe="/-_.~")


def server_canonical_query(query):
    pairs = []
    if query:
        for part in query.split("&"):
            name, _, value = part.partition("=")
            pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join("%s=%s" % p for p in sorted(pairs))


def operation(method, path, query):
    names = {p.partition("=")[0] for p in query.split("&")} if query else set()
    if method == "PUT":
        return "UploadPart" if "uploadId" in names else "PutObject"
    if method == "GET":
        return "ListObjectsV2" if "list-type" in names else "GetObject"
    if method == "HEAD":
        return "HeadObject"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in names else "DeleteObject"
    if method == "POST":
        return "CreateMultipartUpload" if "uploads" in names else "CompleteMultipartUpload"
    return method


def parse_authorization(value):
    algorithm, _, rest = value.partition(" ")
    fields = {}
    for item in rest.split(","):
        k, _, v = item.strip().partition("=")
        fields[k] = v
    return algorithm, fields


def verify(rec, secret, region):
    """Returns (problems, signature_matches): structural problems (a list of strings) and
    whether botocore computes the signature that was sent."""
    problems = []
    method, target, _version = rec["request_line"].split(" ", 2)
    path, _, query = target.partition("?")
    headers = []
    for line in rec["headers"]:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    by_name = {}
    for name, value in headers:
        by_name.setdefault(name, []).append(value)

    auth = by_name.get("authorization", [""])[0]
    algorithm, fields = parse_authorization(auth)
    if algorithm != "AWS4-HMAC-SHA256":
        return ["not a SigV4 Authorization header: %r" % auth], False
    access_key, date, scope_region, service, terminator = (fields.get("Credential", "").split("/") + [""] * 5)[:5]
    signed = fields.get("SignedHeaders", "").split(";")
    sent_signature = fields.get("Signature", "")
    amz_date = by_name.get("x-amz-date", [""])[0]

    if date != amz_date[:8] or scope_region != region or service != "s3" or terminator != "aws4_request":
        problems.append("credential scope %s/%s/%s/%s for X-Amz-Date %s" % (date, scope_region, service, terminator, amz_date))
    if signed != sorted(signed):
        problems.append("SignedHeaders not sorted: %s" % signed)
    for required in ("host", "x-amz-date", "x-amz-content-sha256"):
        if required not in signed:
            problems.append("%s is not signed" % required)
    for name in by_name:
        if (name in ("content-type", "content-md5") or name.startswith("x-amz-")) and name not in signed:
            problems.append("%s is sent but not signed" % name)
    for name in signed:
        if name not in by_name:
            problems.append("%s is signed but was not sent" % name)
    if by_name.get("x-amz-content-sha256", [""])[0] != rec["payload_sha256"]:
        problems.append("x-amz-content-sha256 %s is not the body's SHA-256 %s"
                        % (by_name.get("x-amz-content-sha256"), rec["payload_sha256"]))
    if s3_canonical_path(path) != path:
        problems.append("path %r is not canonical (S3 would sign %r)" % (path, s3_canonical_path(path)))
    if server_canonical_query(query) != query:
        problems.append("query %r is not canonical (S3 would sign %r)" % (query, server_canonical_query(query)))

    # The request as the server sees it: only the signed headers, with the values sent.
    request = AWSRequest(method=method, url="http://" + by_name.get("host", ["?"])[0] + target,
                         headers={n: v for n, v in headers if n in signed and n != "authorization"})
    request.context["timestamp"] = amz_date
    signer = S3SigV4Auth(Credentials(access_key, secret), "s3", region)
    canonical = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical)
    expected = signer.signature(string_to_sign, request)
    if signer.signed_headers(signer.headers_to_sign(request)) != ";".join(signed):
        problems.append("botocore would sign headers %s" % signer.signed_headers(signer.headers_to_sign(request)))
    return problems, expected == sent_signature


def self_test():
    # AWS's published example (S3 API reference, "Example: GET Object"): the verifier must
    # compute AWS's own signature for it, or it proves nothing.
    rec = {
        "request_line": "GET /test.txt HTTP/1.1",
        "headers": [
            "Host: examplebucket.s3.amazonaws.com",
            "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
            "Range: bytes=0-9",
            "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "x-amz-date: 20130524T000000Z",
        ],
        "payload_sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    }
    problems, ok = verify(rec, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1")
    check(ok and not problems, "self-test: AWS's documented GET Object example verifies", "; ".join(problems))
    rec["headers"][3] = "Range: bytes=0-10"
    problems, ok = verify(rec, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1")
    check(not ok, "self-test: the same example with one signed header changed does not verify")


def mutation_tests(records, secret, region):
    # Damaged copies of a real, verified request (an UploadPart: query, body, Content-MD5) must
    # fail: the ways libcurl's signer goes wrong (docs/S3.md) are caught, not only a bad secret.
    base = next((r for r in records if r.get("expect") != "mismatch"
                 and r["request_line"].startswith("PUT ") and "partNumber=" in r["request_line"]), None)
    if base is None:
        check(False, "mutation tests: no UploadPart request logged")
        return

    def fails(mutate):
        rec = json.loads(json.dumps(base))
        mutate(rec)
        problems, ok = verify(rec, secret, region)
        return bool(problems) or not ok

    def swap_query(rec):
        method, target, version = rec["request_line"].split(" ", 2)
        path, _, query = target.partition("?")
        rec["request_line"] = "%s %s?%s %s" % (method, path, "&".join(reversed(query.split("&"))), version)

    def drop_md5(rec):
        rec["headers"] = [h for h in rec["headers"] if not h.lower().startswith("content-md5:")]

    def other_body(rec):
        rec["payload_sha256"] = "0" * 64

    check(not verify(base, secret, region)[0] and verify(base, secret, region)[1], "mutation tests: the base request verifies")
    check(fails(swap_query), "mutation: the same query in another order does not verify")
    check(fails(drop_md5), "mutation: a signed header missing from the request does not verify")
    check(fails(other_body), "mutation: a body other than the one whose SHA-256 was signed does not verify")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--region", default="us-east-1")
    args = ap.parse_args()
    print("verify_sigv4: botocore %s from %s" % (botocore.__version__, os.path.dirname(botocore.__file__)))
    self_test()

    with open(args.requests, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    check(len(records) > 0, "the probe logged %d requests" % len(records))

    verified_ops = set()
    odd_key = token = 0
    negatives = negatives_rejected = 0
    bad = []
    for rec in records:
        method, target, _ = rec["request_line"].split(" ", 2)
        path, _, query = target.partition("?")
        op = operation(method, path, query)
        problems, ok = verify(rec, args.secret, args.region)
        where = "%s [%s] %s" % (op, rec["tag"], rec["request_line"])
        if rec.get("expect") == "mismatch":
            negatives += 1
            if not ok:
                negatives_rejected += 1
            else:
                bad.append(where + ": signed with a wrong secret, yet verified")
            continue
        if problems or not ok:
            bad.append(where + ": " + ("; ".join(problems) if problems else "signature differs"))
            continue
        verified_ops.add(op)
        if "%" in path:
            odd_key += 1
        if any(h.lower().startswith("x-amz-security-token:") for h in rec["headers"]):
            token += 1

    for line in bad:
        print("  " + line)
    mutation_tests(records, args.secret, args.region)
    matched = len(records) - negatives
    check(not bad, "every request verifies with botocore's S3 signer (%d requests), and none has a structural "
          "problem" % matched, "%d bad" % len(bad))
    for op in ("PutObject", "GetObject", "HeadObject", "ListObjectsV2", "DeleteObject", "CreateMultipartUpload",
               "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload"):
        check(op in verified_ops, "signature verified for %s" % op)
    check(odd_key > 0, "signature verified for %d request(s) whose key needed percent-encoding" % odd_key)
    check(token > 0, "signature verified for %d request(s) with a session token (x-amz-security-token)" % token)
    check(negatives > 0 and negatives_rejected == negatives,
          "negative control: %d of %d request(s) signed with a wrong secret do NOT verify"
          % (negatives_rejected, negatives))
    print("verify_sigv4: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
