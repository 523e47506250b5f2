#!/usr/bin/env bash
# aasim run --backend redis from the command line, with --keep-redis and redis-cli:
#   1. after table-4-1-counter.yaml, `redis-cli -p <port of A> GET foo` prints 25, and B's
#      (--keep-redis prints each server's directory too);
#   2. an aasim restart between two runs on the same servers (--redis REGION=URL): a write
#      that A could not replicate in run 1 (partitioned) reaches B in run 2, once;
#   3. bad --redis values and unreachable servers exit 2 with a clear message;
#   4. a server that refuses the (write-behind) commits mid-run: exit 3 and the reason.
# Usage: redis_cli_test.sh AASIM SCENARIO_DIR TEST_DIR
set -euo pipefail
aasim=$1 scenarios=$2 tests=$3
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  if [[ -n "${CI:-}${AASIM_REDIS_URL:-}" ]]; then echo "FAIL: no redis-server/redis-cli"; exit 1; fi
  echo "no redis-server: skipped"; exit 0
fi
ports=()
cleanup() {  # the kept servers and their directories (aasim-redis-*)
  for p in "${ports[@]}"; do
    dir=$(redis-cli -p "$p" config get dir 2>/dev/null | sed -n 2p)
    redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
    [[ "$dir" == */aasim-redis-* ]] && rm -rf "$dir"
  done
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# 1. GET foo after Table 4-1.
out=$("$aasim" run --quiet --backend redis --keep-redis "$scenarios/table-4-1-counter.yaml")
echo "$out"
a=$(awk '$1 == "A" && $2 ~ /^127\.0\.0\.1:[0-9]+$/ {split($2, p, ":"); print p[2]}' <<<"$out")
b=$(awk '$1 == "B" && $2 ~ /^127\.0\.0\.1:[0-9]+$/ {split($2, p, ":"); print p[2]}' <<<"$out")
[[ -n "$a" && -n "$b" ]] || fail "--keep-redis did not print REGION 127.0.0.1:PORT"
ports+=("$a" "$b")
# ... and DIR, the kept server's directory (its AOF), which the user removes.
dir_a=$(awk '$1 == "A" && $2 ~ /^127\.0\.0\.1:/ {print $3}' <<<"$out")
[[ -n "$dir_a" && -d "$dir_a" && $(redis-cli -p "$a" config get dir | sed -n 2p) == "$dir_a" ]] ||
  fail "--keep-redis did not print A's directory: '$dir_a'"
[[ $(redis-cli -p "$a" GET foo) == 25 ]] || fail "A: GET foo is not 25"
[[ $(redis-cli -p "$b" GET foo) == 25 ]] || fail "B: GET foo is not 25"
echo "redis-cli GET foo: 25 on A ($a) and B ($b)"

# 2. An aasim restart on the same servers (fresh ones: a scenario that leaves A partitioned).
out=$("$aasim" run --quiet --backend redis --keep-redis "$tests/redis_scenarios/restart-part1.yaml")
echo "$out"
a=$(awk '$1 == "A" && $2 ~ /^127\.0\.0\.1:/ {split($2, p, ":"); print p[2]}' <<<"$out")
b=$(awk '$1 == "B" && $2 ~ /^127\.0\.0\.1:/ {split($2, p, ":"); print p[2]}' <<<"$out")
ports+=("$a" "$b")
[[ $(redis-cli -p "$b" GET foo) == 5 ]] || fail "run 1: B should not have A's second write yet"
[[ $(redis-cli -p "$a" XLEN aasim:log) -ge 1 ]] || fail "run 1: A's log stream is empty"
out=$("$aasim" run --redis "A=redis://127.0.0.1:$a/0" --redis "B=redis://127.0.0.1:$b/0" \
      "$tests/redis_scenarios/restart-part2.yaml")
echo "$out"
[[ $(redis-cli -p "$b" GET foo) == 25 ]] || fail "run 2: B's foo is not 25"
[[ $(redis-cli -p "$a" GET foo) == 25 ]] || fail "run 2: A's foo is not 25"
[[ $(redis-cli -p "$a" XLEN aasim:log) == 0 ]] || fail "run 2: A's log was not trimmed after the acks"
echo "aasim restart: replication resumed from Redis"

# 3. Bad input: exit 2 and a clear message.
set +e
msg=$("$aasim" run --redis "A=http://x" "$scenarios/table-4-1-counter.yaml" 2>&1); rc=$?
[[ $rc == 2 && $msg == *"bad Redis URL"* ]] || fail "bad URL: rc=$rc $msg"
msg=$("$aasim" run --redis "Z=redis://127.0.0.1:1/0" "$scenarios/table-4-1-counter.yaml" 2>&1); rc=$?
[[ $rc == 2 && $msg == *"has no region 'Z'"* ]] || fail "unknown region: rc=$rc $msg"
msg=$("$aasim" run --redis "A=redis://127.0.0.1:1/0" "$scenarios/table-4-1-counter.yaml" 2>&1); rc=$?
[[ $rc == 2 && $msg == *"region A"*"cannot connect"* ]] || fail "unreachable: rc=$rc $msg"
msg=$("$aasim" run --redis "A=redis://127.0.0.1:$a/0" --redis "B=redis://127.0.0.1:$a" \
      "$scenarios/table-4-1-counter.yaml" 2>&1); rc=$?
[[ $rc == 2 && $msg == *"share"* ]] || fail "shared db: rc=$rc $msg"
msg=$("$aasim" run --keep-redis "$scenarios/table-4-1-counter.yaml" 2>&1); rc=$?
[[ $rc == 2 ]] || fail "--keep-redis without redis: rc=$rc $msg"
set -e
echo "bad input: exit 2"

# 4. A's server refuses writes (out of memory): the run's commits are written behind, so
#    the failure is found after A answered; the run must say so, not pass.
redis-cli -p "$a" config set maxmemory-policy noeviction >/dev/null
redis-cli -p "$a" config set maxmemory 1 >/dev/null
set +e
msg=$("$aasim" run --quiet --redis "A=redis://127.0.0.1:$a/0" --redis "B=redis://127.0.0.1:$b/0" \
      "$scenarios/table-4-1-counter.yaml" 2>&1); rc=$?
set -e
redis-cli -p "$a" config set maxmemory 0 >/dev/null
[[ $rc == 3 && $msg == *"region A: redis 127.0.0.1:$a"*"write-behind commit failed"*OOM* ]] ||
  fail "refused commits: rc=$rc $msg"
echo "refused commits: exit 3"

# 5. The load-time warning for an unknown step command: with --backend redis the X...
#    commands of region-local streams go to Redis, which answers them (no warning); a
#    typo still gets one.
xdir=$(mktemp -d)
cat >"$xdir/xinfo.yaml" <<'YAML'
name: xinfo
regions: [A, B]
steps:
  - A: XADD s 1-1 f v
  - A: XINFO STREAM s
  - A: STE foo 3
YAML
set +e
out=$("$aasim" run --backend redis "$xdir/xinfo.yaml" 2>"$xdir/err"); rc=$?
set -e
[[ $rc == 0 && $out == *"radix-tree-keys"* ]] || fail "XINFO through Redis: rc=$rc $out"
grep -q "xinfo.yaml:6:8: warning: A: unknown command 'STE'" "$xdir/err" ||
  fail "no warning for STE: $(cat "$xdir/err")"
if grep -q "XINFO" "$xdir/err"; then fail "a warning for XINFO, which Redis answers: $(cat "$xdir/err")"; fi
out=$("$aasim" run "$xdir/xinfo.yaml" 2>"$xdir/err")
grep -q "unknown command 'XINFO'" "$xdir/err" || fail "memory backend: no warning for XINFO"
rm -rf "$xdir"
echo "warnings follow the backend"
echo "PASS"
