#!/usr/bin/env bash
# Bad input never crashes, hangs or wraps: each case runs aasim (under a time limit) and
# checks its exit code and a message (an extended regex) on stdout+stderr.
# Usage: robustness_test.sh AASIM
source "$(dirname "$0")/lib.sh" "$@"  # aasim, dir, failed; at the repository root

# check NAME WANT_EXIT REGEX -- COMMAND...
check() {
  local name=$1 want=$2 regex=$3
  shift 4
  local out rc
  out=$(timeout 60 "$@" 2>&1)
  rc=$?
  if [[ $rc -ne $want ]] || ! grep -Eq -- "$regex" <<<"$out"; then
    echo "FAIL $name: exit $rc (want $want), output:"
    head -c 2000 <<<"$out"
    echo
    failed=1
  else
    echo "ok   $name"
  fi
}

cat >"$dir/steps.yaml" <<'YAML'
name: steps
regions: [A, B]
steps:
  - A: SET x 1
  - crash: A
  - crash: A
  - restart: B
  - restart: A
  - at: 1ms
  - wait: 10ms
  - at: 5ms
YAML
cat >"$dir/budget.yaml" <<'YAML'
name: a retransmission every microsecond for 1000 hours
regions: [A, B]
links:
  default: { latency: 1us, loss: 0.5 }
replication: { max_retry: 1us }
steps:
  - partition: [A, B]
  - A: INCR x
  - wait: 1000h
  - B: GET x
YAML
cat >"$dir/serve.yaml" <<'YAML'
name: serve
regions: [A, B]
steps:
  - A: SET x 1
  - load: { regions: [A], ops: 10, duration: 10ms }
YAML

check seed-negative 2 'seed: a non-negative integer' -- "$aasim" run --seed -1 scenarios/table-4-1-counter.yaml
check seed-text 2 'seed: a non-negative integer' -- "$aasim" run --seed abc scenarios/table-4-1-counter.yaml
check seed-too-big 2 'below 2\^64' -- "$aasim" run --seed 18446744073709551616 scenarios/table-4-1-counter.yaml
check seed-max 0 'seed 18446744073709551615' -- "$aasim" run -q --seed 18446744073709551615 scenarios/table-4-1-counter.yaml
check lending-seed-negative 2 'seed' -- "$aasim" lending --seed -5 --requests 10
check dev-zero 2 'cannot read file: larger than 16 MiB' -- "$aasim" run /dev/zero
check crash-twice-restart-live 1 "steps\.yaml:6:5: region 'A' is already down" -- "$aasim" run "$dir/steps.yaml"
check restart-live 1 "steps\.yaml:7:5: region 'B' is not down" -- "$aasim" run "$dir/steps.yaml"
check at-in-the-past 1 "steps\.yaml:11:5: at 5ms is in the past" -- "$aasim" run "$dir/steps.yaml"
check max-events-negative 2 'max-events: expected an event budget: a non-negative integer' -- "$aasim" run --max-events -1 scenarios/table-4-1-counter.yaml
cat >"$dir/at.yaml" <<'YAML'
name: at
regions: [A]
steps:
  - wait: 2s
  - at: { time: 1s, if_past: now }
  - at: { time: 1s, if_past: maybe }
YAML
check at-if-past-bad 2 "at\.yaml:6:30: at\.if_past: expected fail or now, got \"maybe\"" -- "$aasim" run "$dir/at.yaml"
sed -i '$d' "$dir/at.yaml"
check at-if-past-now 0 'already past \(virtual time is 2s\): runs now' -- "$aasim" run "$dir/at.yaml"
check event-budget 1 'event budget of 1000000 events spent at virtual time [0-9.]+s; the run stops here' -- "$aasim" run --max-events 1000000 "$dir/budget.yaml"
check lending-latency-huge 2 '--latency: expected a duration .* \(at most 1000h\)' -- "$aasim" lending --latency 9223372036854775807us --requests 10
check lending-regions-many 2 '--regions: at most 64 regions, got 65' -- "$aasim" lending --requests 10 --regions "$(seq -s, -f 'R%g' 0 64)"
check lending-requests-huge 2 '--requests: at most 10000000' -- "$aasim" lending --requests 2000000000
check hotkey-service-time-huge 2 'service-time: expected a duration .*at most 1000h' -- "$aasim" hotkey --service-time 99999999h
check hotkey-open-loop-huge 2 'writers \(1000\) x writes per writer in the duration \(3600000000000\) is more than the limit of 20000000 writes' -- "$aasim" hotkey --rate 1000000 --duration 1000h --writers 1000
check hotkey-service-time-1000h 0 ' util L util R ' -- "$aasim" hotkey --service-time 1000h
if "$aasim" hotkey --service-time 1000h | grep -Eq -- ' -[0-9]|[0-9]{4,}%'; then
  echo "FAIL hotkey-service-time-1000h: a negative time or an absurd utilisation"
  failed=1
fi
check latency-rate-huge 2 'duration x rate' -- "$aasim" latency scenarios/latency-three-regions.yaml --rate 1000000000
# A rate whose gap between arrivals overflows the clock: refused, not a run that never ends.
check latency-rate-tiny 2 '--rate must be 0 or in \[1e-6, 1e9\]' -- "$aasim" latency scenarios/latency-three-regions.yaml --rate 1e-300
check latency-duration-huge 2 'at most 1000h' -- "$aasim" latency scenarios/latency-three-regions.yaml --duration 999999h
check latency-given-scenario 2 'table-4-1-counter\.yaml:[0-9]+:[0-9]+: this is a scenario file .*aasim run' -- "$aasim" latency scenarios/table-4-1-counter.yaml
check serve-given-latency 2 'latency-three-regions\.yaml:[0-9]+:[0-9]+: this is a latency file' -- "$aasim" serve scenarios/latency-three-regions.yaml
check serve-load-step 2 'serve\.yaml:5:5: aasim serve cannot run `load` steps' -- "$aasim" serve "$dir/serve.yaml" --exit-after-steps
check serve-lending-step 2 'lending-two-regions\.yaml:[0-9]+:[0-9]+: aasim serve cannot run service steps' -- "$aasim" serve scenarios/lending-two-regions.yaml --exit-after-steps
# A value that is not UTF-8 (bytes from a \xHH escape): --json prints U+FFFD for the bad
# bytes instead of aborting on nlohmann's exception.
cat >"$dir/bytes.yaml" <<'YAML'
name: bytes
regions: [A, B]
steps:
  - A: 'SET k "\xff\xfe"'
  - A: GET k
YAML
json_value='import json, sys; step = json.load(sys.stdin)["scenarios"][0]["steps"][1]
print(step["operation"], "->", ascii(step["reply"]["value"]))'
check json-bytes 0 "GET k -> '\\\\ufffd\\\\ufffd'" -- \
  bash -c 'set -o pipefail; "$0" run --json "$1" | python3 -c "$2"' "$aasim" "$dir/bytes.yaml" "$json_value"
# A report that cannot be written (a full disk) is not a success: exit 2 and the reason.
if [[ -w /dev/full ]]; then
  check stdout-full 2 'cannot write to stdout .*: the output is incomplete' -- \
    bash -c '"$0" run --json scenarios/table-4-1-counter.yaml >/dev/full' "$aasim"
  check stdout-full-latency 2 'cannot write to stdout' -- \
    bash -c '"$0" latency -q scenarios/latency-three-regions.yaml >/dev/full' "$aasim"
fi
if command -v redis-server >/dev/null; then
  check redis-not-applicable 0 'N/A scenarios/crash-restart\.yaml: written for the memory backend only .*crash steps lose in-memory data' -- "$aasim" run --backend redis scenarios/crash-restart.yaml
fi
exit $failed
