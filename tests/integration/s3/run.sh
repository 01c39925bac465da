#!/usr/bin/env bash
# The S3 client (src/s3) end to end against a real S3-protocol server, s3rver 3.7.1 (npm):
#
#   A  s3_probe exercises every call: PutObject (small, 6 MiB), GetObject (memory, file),
#      HeadObject, ListObjectsV2 over several pages, a key needing percent-encoding, multipart
#      (5 MiB + 5 MiB + tail), abort, DeleteObject, a session token, missing keys, a wrong
#      access key, connection refused, a server that never answers, the upload rate limit
#   B  awscli (Debian's 2.9.19), an independent client: `aws s3 ls` lists exactly the objects
#      the probe made, with their sizes; `aws s3 cp s3://… -` is byte-identical to what was
#      uploaded; an object awscli uploads (its own multipart) reads back identical through ours
#   C  verify_sigv4.py: every request the probe sent, re-signed with botocore's S3 signer from
#      the headers as sent, must carry the same signature (s3rver checks none), and the one
#      signed with a wrong secret must not
#
#   run.sh --s3-probe BIN --work DIR
#
# s3rver is looked for at $METAGATE_S3RVER (the s3rver script, or the directory npm installed
# it into), else where scripts/install-deps.sh --test puts it:
# ${XDG_CACHE_HOME:-$HOME/.cache}/metagate/s3rver. Without Node.js the test is skipped.
# Scratch data lives in a temporary directory (removed at exit); logs and the request log stay
# in DIR. The output ends with "N passed, M failed"; the exit status is non-zero on failure.
set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
probe="" work=""
while [ $# -gt 0 ]; do
  case $1 in
    --s3-probe) probe=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "usage: run.sh --s3-probe BIN --work DIR"; exit 2 ;;
  esac
done
[ -n "$probe" ] && [ -n "$work" ] || { echo "usage: run.sh --s3-probe BIN --work DIR"; exit 2; }

skip() { echo "s3: skipped: $*"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
broken() { echo "s3: $*"; echo "0 passed, 1 failed"; exit 1; }

source "$here/../../support/s3rver.sh"
if ! s3rver_find >"${TMPDIR:-/tmp}/mgs3-why.$$"; then
  why=$(cat "${TMPDIR:-/tmp}/mgs3-why.$$"); rm -f "${TMPDIR:-/tmp}/mgs3-why.$$"
  # Without Node.js (or npm to install s3rver) there is nothing to test with: skip.
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then skip "$why"; fi
  broken "$why (or set METAGATE_S3RVER)"
fi
rm -f "${TMPDIR:-/tmp}/mgs3-why.$$"
# Debian's awscli, and the Python it is installed for (its botocore is inside the awscli
# package). PATH may hold another aws first (a pip-installed one): use Debian's by path.
AWS=/usr/bin/aws
[ -x "$AWS" ] || AWS=$(command -v aws) || broken "awscli not found (Debian package awscli)"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || broken "python3 not found"
[ -x "$probe" ] || broken "s3_probe not found at $probe"

mkdir -p "$work" && rm -rf "${work:?}"/* || broken "cannot use $work"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mgs3.XXXXXX") || exit 2
cleanup() {
  s3rver_stop
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
# count_results FILE: adds the PASS/FAIL lines a helper program printed to the totals.
count_results() {
  pass=$((pass + $(grep -c '^PASS ' "$1"))); fail=$((fail + $(grep -c '^FAIL ' "$1")))
}

bucket=bucket
echo "== s3rver $("$S3RVER" --version 2>/dev/null), node $(node --version), $("$AWS" --version 2>&1)"
s3rver_start "$tmp/s3data" "$bucket" "$work/s3rver.log" || broken "s3rver would not start: $(tail -5 "$work/s3rver.log")"
endpoint=http://127.0.0.1:$S3RVER_PORT
echo "s3rver on $endpoint"

echo "== A: every call of the client (s3_probe)"
timeout 240 "$probe" --endpoint "$endpoint" --bucket "$bucket" --work "$work" >"$work/probe.log" 2>&1
probe_rc=$?
cat "$work/probe.log"
count_results "$work/probe.log"
check "A: s3_probe exited 0 (exit status $probe_rc)" [ "$probe_rc" = 0 ]

echo "== B: awscli sees what the probe wrote, and the probe reads what awscli wrote"
awscli() {
  AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 \
    AWS_CONFIG_FILE=$tmp/no-aws-config AWS_SHARED_CREDENTIALS_FILE=$tmp/no-aws-credentials \
    AWS_EC2_METADATA_DISABLED=true AWS_PAGER="" \
    timeout 120 "$AWS" --endpoint-url "$endpoint" "$@"
}
if [ -s "$work/expected.tsv" ]; then
  awscli s3 ls --recursive "s3://$bucket/probe/" >"$work/aws-ls.txt" 2>"$work/aws-ls.err"
  ls_rc=$?
  check "B: aws s3 ls --recursive s3://$bucket/probe/ (exit status $ls_rc)" [ "$ls_rc" = 0 ]
  # "2026-12-06 14:52:15       4096 probe/odd key.txt" -> "probe/odd key.txt<TAB>4096"; keys may hold spaces.
  sed -E 's/^[0-9-]+ [0-9:]+ +([0-9]+) (.*)$/\2\t\1/' "$work/aws-ls.txt" | LC_ALL=C sort >"$tmp/listed.tsv"
  cut -f1,2 "$work/expected.tsv" | LC_ALL=C sort >"$tmp/expected.tsv"
  if diff "$tmp/expected.tsv" "$tmp/listed.tsv" >"$tmp/ls.diff"; then
    ok "B: awscli lists exactly the $(wc -l <"$tmp/expected.tsv") objects the probe left, with their sizes"
  else
    bad "B: awscli's listing differs from what the probe left:"; cat "$tmp/ls.diff"
  fi
  while IFS=$'\t' read -r key size local; do
    [ "$local" = "-" ] && continue
    awscli s3 cp "s3://$bucket/$key" - 2>"$tmp/cp.err" | cmp -s - "$local"
    st="${PIPESTATUS[0]}${PIPESTATUS[1]}"
    check "B: aws s3 cp s3://$bucket/$key - is identical to the $size bytes uploaded" [ "$st" = 00 ]
  done <"$work/expected.tsv"
else
  bad "B: the probe left no expected.tsv"
fi
# 9 MiB: above awscli's 8 MiB threshold, so awscli uploads it in parts of its own.
head -c $((9 * 1024 * 1024 + 7)) /dev/urandom >"$tmp/from-aws.bin"
awscli s3 cp "$tmp/from-aws.bin" "s3://$bucket/from-aws/data.bin" >"$tmp/cp-up.log" 2>&1
st=$?
check "B: aws s3 cp uploads 9 MiB (exit status $st)" [ "$st" = 0 ]
size=$(timeout 60 "$probe" --endpoint "$endpoint" --bucket "$bucket" --get from-aws/data.bin --out "$tmp/from-aws.download" 2>&1)
check "B: our client downloads awscli's upload to a file, identical ($size bytes)" cmp -s "$tmp/from-aws.bin" "$tmp/from-aws.download"

echo "== C: every signature recomputed with botocore (from Debian's awscli)"
if [ -s "$work/requests.jsonl" ]; then
  timeout 120 "$PY" "$here/verify_sigv4.py" --requests "$work/requests.jsonl" --secret S3RVER --region us-east-1 \
    >"$work/verify.log" 2>&1
  verify_rc=$?
  cat "$work/verify.log"
  count_results "$work/verify.log"
  check "C: verify_sigv4.py exited 0 (exit status $verify_rc)" [ "$verify_rc" = 0 ]
else
  bad "C: the probe logged no requests"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
