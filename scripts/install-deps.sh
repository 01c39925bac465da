#!/usr/bin/env bash
# Installs what metagate needs to build (and, with --test, to run its tests) on Debian 12.
# Idempotent: only missing packages are installed; nothing is downloaded at build time.
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
)
TEST_PKGS=(
  libgtest-dev libgmock-dev
  clang libclang-rt-14-dev
  postgresql-15 postgresql-client-15
  golang-go golang-github-lib-pq-dev golang-github-jackc-pgx-v4-dev
  systemd python3 python3-yaml curl
)

pkgs=("${BUILD_PKGS[@]}")
if [[ "${1:-}" == "--test" ]]; then pkgs+=("${TEST_PKGS[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
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
