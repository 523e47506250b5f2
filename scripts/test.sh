#!/usr/bin/env bash
# Installs what aasim needs, builds it twice and passes every test, as CI does:
#   1. clang-format check of every source file;
#   2. Release build with -Wall -Wextra -Werror: unit, property and scenario tests;
#   3. Debug build with ASan+UBSan: the same tests, and every scenario twice (digest diff);
#   4. the libFuzzer targets of fuzz/, built with clang, each run briefly (FUZZ_SECONDS,
#      default 8 per target).
# A redis-server of its own runs on a free loopback port for the duration (tests that
# need a real Redis find it in AASIM_REDIS_URL); it is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== clang-format"
mapfile -t sources < <(git ls-files '*.h' '*.cc' 2>/dev/null || find crdt cluster_sim lending cli bench tests -name '*.h' -o -name '*.cc')
clang-format --dry-run --Werror "${sources[@]}"
echo "formatted: ${#sources[@]} files"

echo "== redis-server on a free loopback port"
redis_dir=$(mktemp -d)
stop_redis() {
  [ -n "${port:-}" ] && redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$redis_dir"
}
trap stop_redis EXIT
# Below the ephemeral range, where no outgoing connection's source port can take it; should
# another process bind it first all the same, the server starts again on another port.
for attempt in 1 2 3 4 5; do
  port=$(python3 tests/server/ports.py)
  rm -f "$redis_dir/redis.log"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$redis_dir" --save '' --appendonly no \
    --daemonize yes --pidfile "$redis_dir/redis.pid" --logfile "$redis_dir/redis.log"
  for _ in $(seq 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    grep -q "Address already in use" "$redis_dir/redis.log" 2>/dev/null && break
    sleep 0.1
  done
  if grep -q "Address already in use" "$redis_dir/redis.log" 2>/dev/null; then
    echo "port $port was taken (attempt $attempt); trying another"
    port=
    continue
  fi
  break
done
redis-cli -p "$port" ping
export AASIM_REDIS_URL="redis://127.0.0.1:$port/0"

echo "== Release build, -Werror"
BUILD_DIR=build/ci-release bash scripts/build.sh -DAASIM_WERROR=ON
ctest --test-dir build/ci-release --output-on-failure -j "$(nproc)"

echo "== Debug build, ASan+UBSan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
BUILD_DIR=build/ci-asan bash scripts/build.sh -DCMAKE_BUILD_TYPE=Debug -DAASIM_WERROR=ON \
  -DAASIM_SANITIZE=address,undefined -DAASIM_BUILD_BENCH=OFF
ctest --test-dir build/ci-asan --output-on-failure -j "$(nproc)"

echo "== Fuzzing (clang, libFuzzer)"
bash fuzz/run.sh "${FUZZ_SECONDS:-8}"
echo "all tests passed"
