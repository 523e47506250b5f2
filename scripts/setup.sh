#!/usr/bin/env bash
# Installs every Debian package aasim needs to build, test and benchmark (chromium: the
# browser test of `aasim run --html` and scripts/svg_to_png.sh; clang and libclang-rt-dev,
# which has libFuzzer: fuzz/run.sh).
# Idempotent: packages already present are skipped by apt. Needs root (or sudo).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config clang clang-format libclang-rt-dev
  libfmt-dev libyaml-cpp-dev libhiredis-dev libboost-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev
  liblua5.1-0-dev lua-cjson lua-bitop python3-aioredis
  redis-server redis-tools python3 python3-redis time
  chromium fonts-dejavu-core
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The Debian redis-server package starts a system service on 6379 where systemd
# runs; aasim never relies on it: tests start their own server on a free port.
