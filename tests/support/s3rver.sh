# Sourced by integration tests that need an S3-protocol server: s3rver 3.7.1 from npm, where
# scripts/install-deps.sh --test puts it (or $METAGATE_S3RVER: the script, or the directory npm
# installed it into).
#
#   s3rver_find        sets S3RVER (the script), or prints why not and returns 1
#   s3rver_start DIR BUCKET LOG [PORT]   starts it on PORT (default: one the kernel picks) with
#                      BUCKET made, on an empty DIR unless PORT is given (a restart keeps the
#                      data); sets S3RVER_PID and S3RVER_PORT
#   s3rver_stop
#   awscli ARGS...     Debian's awscli against it (credentials S3RVER/S3RVER)

s3rver_find() {
  command -v node >/dev/null 2>&1 || { echo "Node.js not found (scripts/install-deps.sh --test installs it)"; return 1; }
  S3RVER=${METAGATE_S3RVER:-}
  if [ -n "$S3RVER" ] && [ -d "$S3RVER" ]; then S3RVER=$S3RVER/node_modules/.bin/s3rver; fi
  [ -n "$S3RVER" ] || S3RVER=${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/metagate/s3rver/node_modules/.bin/s3rver
  [ -x "$S3RVER" ] || { echo "s3rver not found at $S3RVER: run scripts/install-deps.sh --test"; return 1; }
  S3RVER_NODE_OPTIONS=${NODE_OPTIONS:-}
  # Its listing continuation tokens use DES: OpenSSL 3 (Node >= 17) has it in the legacy provider.
  if node --openssl-legacy-provider -e 0 >/dev/null 2>&1; then S3RVER_NODE_OPTIONS="$S3RVER_NODE_OPTIONS --openssl-legacy-provider"; fi
}

s3rver_start() {
  local dir=$1 bucket=$2 log=$3 port=${4:-0} attempt i
  for attempt in 1 2 3; do
    if [ "$port" = 0 ]; then rm -rf "$dir"; fi
    mkdir -p "$dir"; : >"$log"
    NODE_OPTIONS=$S3RVER_NODE_OPTIONS "$S3RVER" -d "$dir" -a 127.0.0.1 -p "$port" --configure-bucket "$bucket" >>"$log" 2>&1 &
    S3RVER_PID=$!
    for i in $(seq 1 300); do
      S3RVER_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$log" | head -1)
      if [ -n "$S3RVER_PORT" ] && (exec 3<>"/dev/tcp/127.0.0.1/$S3RVER_PORT") 2>/dev/null; then return 0; fi
      kill -0 "$S3RVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$S3RVER_PID" 2>/dev/null; wait "$S3RVER_PID" 2>/dev/null; S3RVER_PID=""
  done
  return 1
}

s3rver_stop() {
  [ -n "${S3RVER_PID:-}" ] || return 0
  kill "$S3RVER_PID" 2>/dev/null
  local i
  for i in $(seq 1 30); do kill -0 "$S3RVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$S3RVER_PID" 2>/dev/null
  wait "$S3RVER_PID" 2>/dev/null
  S3RVER_PID=""
}

awscli() {
  local aws=/usr/bin/aws
  [ -x "$aws" ] || aws=aws
  AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    "$aws" --endpoint-url "http://127.0.0.1:$S3RVER_PORT" "$@"
}
