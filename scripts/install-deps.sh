#!/usr/bin/env bash
# Installs what metagate needs to build (and, with --test, to run its tests) on Debian 12.
# Idempotent: only missing packages are installed; nothing is downloaded at build time.
# With --test it also puts s3rver (an S3-protocol server from npm, for tests/integration/s3)
# under ${XDG_CACHE_HOME:-$HOME/.cache}/metagate/s3rver, outside the build and work trees.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libboost1.81-dev
  libpg-query-dev
  libsqlite3-dev sqlite3
  libpq-dev
  nlohmann-json3-dev
  libspdlog-dev libfmt-dev
  libcli11-dev
  libssl-dev openssl
  prometheus-cpp-dev
  libzstd-dev
  libcurl4-openssl-dev libpugixml-dev
)
TEST_PKGS=(
  libgtest-dev libgmock-dev
  clang libclang-rt-14-dev
  postgresql-15 postgresql-client-15
  golang-go golang-github-lib-pq-dev golang-github-jackc-pgx-v4-dev
  systemd python3 python3-yaml curl
  awscli
)

with_tests=0
pkgs=("${BUILD_PKGS[@]}")
if [[ "${1:-}" == "--test" ]]; then with_tests=1; pkgs+=("${TEST_PKGS[@]}"); fi
# Node.js and npm run s3rver. Debian's packages only when there is no npm at all: a machine
# with NodeSource's nodejs (which bundles npm) cannot take Debian's npm package beside it.
if (( with_tests )) && ! command -v npm >/dev/null 2>&1; then pkgs+=(nodejs npm); fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Services from packages (postgresql) must not grab ports: tests start their own servers.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# s3rver for tests/integration/s3 (which looks in the same place, or at $METAGATE_S3RVER).
# Only when missing or another version; a failure here is reported, not fatal: that test
# then says what is missing.
if (( with_tests )); then
  S3RVER_VERSION=3.7.1
  s3rver_dir=${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/metagate/s3rver
  s3rver_pkg=$s3rver_dir/node_modules/s3rver/package.json
  if [[ ! -x $s3rver_dir/node_modules/.bin/s3rver ]] ||
     ! grep -q "\"version\": \"$S3RVER_VERSION\"" "$s3rver_pkg" 2>/dev/null; then
    if command -v npm >/dev/null 2>&1; then
      echo "install-deps: installing s3rver@$S3RVER_VERSION into $s3rver_dir"
      mkdir -p "$s3rver_dir"
      npm install --prefix "$s3rver_dir" --no-audit --no-fund --loglevel=error "s3rver@$S3RVER_VERSION" ||
        echo "install-deps: warning: npm could not install s3rver@$S3RVER_VERSION" >&2
    else
      echo "install-deps: warning: no npm, s3rver not installed (tests/integration/s3 will skip)" >&2
    fi
  fi
fi
