#!/usr/bin/env bash
# `aasim explore`: the same report with 1 or 2 jobs, 4 merged shards give exactly the
# one-machine report, a minimal schedule written with --out replays its failure under
# `aasim run`, and bad input exits 2.
# Usage: explore_test.sh AASIM
source "$(dirname "$0")/lib.sh" "$@"  # aasim, dir; at the repository root
set -e
file=scenarios/overdraft-fast-replication.yaml
args=(--runs 48 --seed 3 --faults partition,loss,delay,crash,clock-skew)

rc=0
"$aasim" explore "$file" "${args[@]}" --jobs 1 --json >"$dir/one.json" || rc=$?
[[ $rc -eq 1 ]] || { echo "explore: expected exit 1 (a check broke), got $rc"; exit 1; }
"$aasim" explore "$file" "${args[@]}" --jobs 2 --json >"$dir/two.json" || true
cmp "$dir/one.json" "$dir/two.json" || { echo "--jobs 2 differs from --jobs 1"; exit 1; }

for i in 0 1 2 3; do
  "$aasim" explore "$file" "${args[@]}" --shard "$i/4" --json >"$dir/shard$i.json" || true
done
"$aasim" explore merge --json "$dir"/shard{2,0,3,1}.json >"$dir/merged.json" || true
cmp "$dir/one.json" "$dir/merged.json" || { echo "4 merged shards differ from one run"; diff "$dir/one.json" "$dir/merged.json" | head -20; exit 1; }
"$aasim" explore "$file" "${args[@]}" >"$dir/one.txt" || true
"$aasim" explore merge "$dir"/shard*.json >"$dir/merged.txt" || true
cmp "$dir/one.txt" "$dir/merged.txt" || { echo "merged text differs"; exit 1; }

# A missing shard, or one given twice, is refused.
if "$aasim" explore merge "$dir"/shard{0,1,2}.json >/dev/null 2>"$dir/err"; then exit 1; fi
grep -q "shard 3/4 is missing" "$dir/err"
if "$aasim" explore merge "$dir"/shard{0,0,1,2}.json >/dev/null 2>"$dir/err"; then exit 1; fi
grep -q "given twice" "$dir/err"
# A report with a member of the wrong type, or an absurd shard count, is refused with the
# reason (it used to abort on an uncaught nlohmann exception, or allocate a flag per shard).
mutate() {  # mutate OUT PYTHON-STATEMENT-ON-r
  python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(r, open(sys.argv[2], "w"))' "$dir/shard0.json" "$1" "$2"
}
mutate "$dir/bad1.json" 'r["failures"][0]["check"] = 5'
mutate "$dir/bad2.json" 'r["kind"] = {}'
mutate "$dir/bad3.json" 'r["schedules"][0] = 7'
mutate "$dir/bad4.json" 'r["shard"]["count"] = 10**18'
mutate "$dir/bad5.json" 'del r["max_faults"]'
for want in "bad1.json is not an .*: failures\[0\]\.check is missing or mistyped" \
  "bad2.json is not an" "bad3.json is not an .*: schedules\[0\] is not an object" \
  "a batch has 1 to 1000000 shards, not 1000000000000000000" \
  "bad5.json is not an .*: the report\.max_faults is missing or mistyped"; do
  n=$((${n:-0} + 1))
  rc=0
  "$aasim" explore merge "$dir/bad$n.json" "$dir"/shard{1,2,3}.json >/dev/null 2>"$dir/err" || rc=$?
  [[ $rc -eq 2 ]] && grep -Eq -- "$want" "$dir/err" || { echo "bad$n.json: exit $rc, want 2 and /$want/:"; cat "$dir/err"; exit 1; }
done

# Every failure's minimal schedule replays under `aasim run` with the same failure.
"$aasim" explore "$file" "${args[@]}" --out "$dir/found" >"$dir/found.txt" || true
n=$(ls "$dir/found"/*.yaml | wc -l)
[[ $n -ge 1 ]] || { echo "no failure written"; exit 1; }
# ... each with its diagram: well-formed SVG with one lane per region.
for f in "$dir"/found/*.yaml; do
  svg="${f%.yaml}.svg"
  [[ -s "$svg" ]] || { echo "no diagram $svg"; exit 1; }
  python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$svg"
done
grep -q "B: GET balance" "$dir/found.txt"
for f in "$dir"/found/*.yaml; do
  rc=0
  "$aasim" run -q "$f" >"$dir/replay.txt" || rc=$?
  [[ $rc -eq 1 ]] || { echo "replay of $f: expected exit 1, got $rc"; cat "$f"; exit 1; }
done
! grep -q "does not replay" "$dir/found.txt"

# Convergence and the lending invariants hold under every schedule of the home-region file.
"$aasim" explore scenarios/lending-home-region.yaml --runs 40 --no-expectations >"$dir/lending.txt" || { cat "$dir/lending.txt"; exit 1; }

# Bad input.
for bad in "--runs 0" "--faults partition,flood" "--shard 4/4" "--shard x" "--seed -1" "--max-faults 0"; do
  rc=0
  # shellcheck disable=SC2086
  "$aasim" explore "$file" $bad >/dev/null 2>&1 || rc=$?
  [[ $rc -eq 2 ]] || { echo "explore $bad: expected exit 2, got $rc"; exit 1; }
done
rc=0
"$aasim" explore scenarios/invalid/huge-wait.yaml >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] || { echo "explore of an invalid file: expected exit 2, got $rc"; exit 1; }
echo "explore: ok"
