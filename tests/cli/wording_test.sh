#!/usr/bin/env bash
# The human-readable output reads right: a count of one takes the singular ("1 step", never
# "1 steps" or "1 step(s)") in every command's text, the anomalies header says what
# --requests gives a point, the anomalies lending table shows every invariant's whole name
# over a column aligned with it, run's replication metrics stay aligned under long region
# names, and lending says how its requests are spaced. JSON and CSV are not concerned.
# Usage: wording_test.sh AASIM
source "$(dirname "$0")/lib.sh" "$@"  # aasim, dir, failed; at the repository root

# singular NAME REGEX -- COMMAND...: the command's stdout matches REGEX (what a count of one
# must read) and holds no "1 <plural>" nor "(s)".
singular() {
  local name=$1 want=$2
  shift 3
  timeout 60 "$@" >"$dir/out" 2>"$dir/err"
  local bad
  # "1", then up to two words, then a word in s: "1 steps", "1 broken invariants", "1 more
  # shards with work"; not a sum's last term ("2 + 1 writers") nor a verb after its
  # subject ("1 writer writes").
  bad=$(grep -nE '(^|[(]|[^+] )1 ([a-z-]+ ){0,2}[a-z]+s\b|[a-z]\(s\)' "$dir/out" |
    grep -vE '(^|[^0-9])1 writer writes ')
  if ! grep -Eq -- "$want" "$dir/out" || [[ -n $bad ]]; then
    echo "FAIL $name: want /$want/, none of '1 <plural>' or '(s)'; found:"
    echo "$bad"
    head -c 2000 "$dir/out"
    failed=1
  else
    echo "ok   $name"
  fi
}

# 1. One of each.
cat >"$dir/one.yaml" <<'YAML'
name: one of each
regions: [A]
steps:
  - A: SET k 1
    expect: OK
YAML
singular run-summary ': 1 step, 1 expectation, 0 failed; virtual time [^;]*; [0-9]+ events?; ' -- \
  "$aasim" run "$dir/one.yaml"
singular explore-one-schedule ': 1 schedule \(seed ' -- "$aasim" explore --runs 1 "$dir/one.yaml"
printf 'name: cut\nregions: [A, B]\nsteps:\n  - A: SET k 1\n  - wait: 1s\n  - B: GET k\n    expect: "1"\n' \
  >"$dir/cut.yaml"
singular explore-one-fault 'minimal schedule \(shrunk from run [0-9]+; 1 fault, 3 of the file.s 3 steps\)' -- \
  "$aasim" explore "$dir/cut.yaml" --runs 5 --max-faults 1 --faults partition
printf 'name: alone\nregions: [A]\nsteps:\n  - A: GET k\n    expect: "1"\n' >"$dir/alone.yaml"
singular explore-one-step 'minimal schedule \(shrunk from run 0; 0 faults, 1 of the file.s 1 step\)' -- \
  "$aasim" explore "$dir/alone.yaml" --runs 1
singular lending-one '^lending: 1 region \(1 instance each\), 1 user, 1 book, 1 request, one every ' -- \
  "$aasim" lending --regions A --instances 1 --users 1 --books 1 --requests 1
singular lending-one-table '^== Lending in 1 region ==' -- \
  "$aasim" lending --regions A --users 1 --books 1 --requests 1 --table
singular hotkey-one '^aasim hotkey: 1 writer, 1 shard per cluster; .*closed loop, 1 write per writer' -- \
  "$aasim" hotkey --writers 1 --clusters 1 --ops-per-writer 1
grep -q '^== 1 cluster, per-op ==$' "$dir/out" || { echo "FAIL hotkey-one: no '== 1 cluster'"; failed=1; }
singular hotkey-burst 'burst: 1 write per writer at t=0' -- \
  "$aasim" hotkey --writers 1 --clusters 2 --ops-per-writer 1 --arrival burst
singular hotkey-figure '^Figure 4-4: 1 writer writes the hot key' -- \
  "$aasim" hotkey --preset figure-4-4 --writers 1
grep -q 'every cluster has the write at' "$dir/out" ||
  { echo "FAIL hotkey-figure: not 'every cluster has the write'"; failed=1; }
# Writers spread unevenly over the clusters are counted per cluster, not as cluster 0's.
singular hotkey-figure-uneven '^  2 clusters: 2 \+ 1 writers +last write at' -- \
  "$aasim" hotkey --preset figure-4-4 --writers 3
singular lending-one-broken '^after sync: 1 broken invariant$' -- \
  "$aasim" lending --seed 19 --requests 30 --home-routing
# The diagram's zoom on a heal that delivers one message.
cat >"$dir/zoom.yaml" <<'YAML'
name: one message
regions: [A, B]
steps:
  - partition: [A, B]
  - A: SET k 1
  - wait: 1h
  - heal: all
  - wait: 1ms
YAML
"$aasim" run "$dir/zoom.yaml" --svg "$dir/zoom.svg" >/dev/null
singular svg-zoom-one 'Zoom 1: [^<]*, 1 message, ' -- grep -o 'Zoom [0-9]*: [^<]*' "$dir/zoom.svg"
singular anomalies-one 'about 1 request per point \(Poisson arrivals\), seed 1, 1 account,' -- \
  "$aasim" anomalies --requests 1 --accounts 1 --latency 10ms
cat >"$dir/latency.yaml" <<'YAML'
name: one of each
seed: 1
duration: 1s
budget: 100ms
regions:
  west: {lat: 37.4, lon: -121.9}
  east: {lat: 39.0, lon: -77.5}
links: {local_rtt: 1ms}
cluster: {shards: 1, service_time: 100us}
workload: {rate: 10, calls: 1, reads: 0.5, keys: 1}
deployments: [active-active]
expect:
  - {deployment: active-active, region: west, p99_max: 1s}
YAML
singular latency-one 'req/s x 1 call, .*' -- "$aasim" latency "$dir/latency.yaml"
for want in '^ +1 key \(zipf [0-9.]+\), 1 shard per cluster, ' ': 1 deployment, 1 check, 0 failed; '; do
  grep -Eq -- "$want" "$dir/out" || { echo "FAIL latency-one: no /$want/"; failed=1; }
done

# 2. anomalies: what --requests gives a point. Overdraft's Poisson traffic holds about that
#    many (the requests column shows a point's own count), lending's exactly that many.
check_header() {
  local name=$1 want=$2
  shift 2
  "$@" >"$dir/out" 2>"$dir/err"
  if head -1 "$dir/out" | grep -Eq -- "$want"; then
    echo "ok   $name"
  else
    echo "FAIL $name: the header is not /$want/:"
    head -3 "$dir/out"
    failed=1
  fi
}
check_header anomalies-overdraft-about \
  '^anomalies: workload overdraft, about 2000 requests per point \(Poisson arrivals\), seed 1' \
  "$aasim" anomalies --requests 2000 --latency 10ms
# (and the points do differ from 2000: the word "about" is needed)
awk 'NR > 3 && $6 != 2000 { differs = 1 } END { exit !differs }' "$dir/out" ||
  { echo "FAIL anomalies-overdraft-about: every point holds exactly 2000"; failed=1; }
check_header anomalies-lending-exact '^anomalies: workload lending, 300 requests per point, seed 1$' \
  "$aasim" anomalies --workload lending --latency 10ms --requests 300
awk 'NR > 3 && $6 != 300 { bad = 1 } END { exit bad }' "$dir/out" ||
  { echo "FAIL anomalies-lending-exact: a point holds another count"; failed=1; }

# 3. anomalies --workload lending: every invariant's column header is its whole name (the
#    names as --csv gives them, after concurrent_model), and every value ends under the end
#    of its right-aligned column's header: with small counts, and with violation rates
#    whose interval is wider than the column's usual 22 characters.
aligned() {  # NAME -- ANOMALIES-ARGS...
  local name=$1
  shift 2
  "$aasim" anomalies "$@" --csv >"$dir/csv"
  "$aasim" anomalies "$@" >"$dir/table"
  if python3 - "$dir/csv" "$dir/table" <<'PY'; then
import re, sys
names = open(sys.argv[1]).readline().strip().split(",")
names = names[names.index("concurrent_model") + 1:]
lines = open(sys.argv[2]).read().splitlines()
header, rows = lines[2], lines[3:]
ok = bool(names) and bool(rows)
right = ["latency", "loss", "rate", "requests", "violations/10k [95%]", "p50", "p99", "refused"]
for name in right + names:
    m = re.search(r" " + re.escape(name) + r"( |$)", header)
    if not m:
        print(f"header lacks the whole name {name!r}: {header!r}")
        ok = False
        continue
    end = m.start() + 1 + len(name)  # one past the name's last character
    for row in rows:
        if len(row) < end or row[end - 1] == " " or (len(row) > end and row[end] != " "):
            print(f"{name!r}: the value does not end under the header:\n{header}\n{row}")
            ok = False
sys.exit(0 if ok else 1)
PY
    echo "ok   $name"
  else
    echo "FAIL $name"
    failed=1
  fi
}
aligned anomalies-lending-columns -- --workload lending --latency 10ms,100ms --requests 100
aligned anomalies-lending-wide-rates -- --workload lending --latency 10s --rate 10 --requests 200 \
  --strategies active-active,home

# 4. What a table or a line says beyond counts.
# aasim run's replication metrics: a region name longer than the column (10) widens it, so
# every row's numbers stay under their headers.
printf 'name: long\nregions: [us-east-virginia, eu-west]\nsteps:\n  - us-east-virginia: INCR k\n  - sync\n' \
  >"$dir/long.yaml"
"$aasim" run "$dir/long.yaml" >"$dir/out"
if sed -n '/^replication:$/,/^$/p' "$dir/out" | python3 -c '
import sys
lines = [l for l in sys.stdin.read().splitlines()[1:] if l.strip()]
header, rows = lines[0], lines[1:]
# Each right-aligned header (after "region") ends where each row'"'"'s number ends.
ends = [i + 1 for i, c in enumerate(header) if c != " " and (i + 1 == len(header) or header[i + 1] == " ")][1:]
ok = len(rows) == 2 and all(len(r) >= e and r[e - 1] != " " and (len(r) == e or r[e] == " ") for r in rows for e in ends)
sys.exit(0 if ok else 1)'; then
  echo "ok   run-metrics-long-region"
else
  echo "FAIL run-metrics-long-region: the columns do not line up:"
  sed -n '/^replication:$/,/^$/p' "$dir/out"
  failed=1
fi
# aasim latency's table: a region name longer than its column (10) widens it, so the
# figures of every row stay under their headers (the requests column and the last one).
sed -e 's/^  west:/  us-west-silicon-valley:/' -e 's/region: west/region: us-west-silicon-valley/' \
  "$dir/latency.yaml" >"$dir/latency-long.yaml"
"$aasim" latency "$dir/latency-long.yaml" >"$dir/out"
if python3 - "$dir/out" <<'PY'; then
import sys
lines = open(sys.argv[1]).read().splitlines()
i = next(i for i, l in enumerate(lines) if l.startswith("deployment "))
header, rows = lines[i], [l for l in lines[i + 1:i + 3]]
end = header.index(" requests") + len(" requests")
ok = len(rows) == 2 and "us-west-silicon-valley" in "".join(rows)
for row in rows:
    t = row.split()
    ok = ok and row.index(" " + t[2] + " ", len(t[0]) + len(t[1])) + 1 + len(t[2]) == end
    ok = ok and len(row) == len(header)
if not ok:
    print("\n".join([header] + rows))
sys.exit(0 if ok else 1)
PY
  echo "ok   latency-long-region"
else
  echo "FAIL latency-long-region: the columns do not line up"
  failed=1
fi
# aasim lending's first line: --requests requests in all, --interval apart (not a rate of
# N requests every interval).
singular lending-interval '^lending: 2 regions \(1 instance each\), 20 users, 60 books, 200 requests, one every 10ms, seed 1$' -- \
  "$aasim" lending
exit $failed
