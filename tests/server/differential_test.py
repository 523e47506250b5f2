#!/usr/bin/python3
"""Differential test: `aasim node` processes and the simulator run one protocol
(cluster_sim::Replicator) over two transports; given the same commands and the same faults
they must give the same replies and end with the same data.

A seeded generator makes a sequence of steps for regions A, B and C: commands on a handful
of keys of every type (and one key every type writes, for type conflicts and WRONGTYPE),
partitions (before and during writes), heals and syncs. The sequence runs twice:
  - simulator: written as a scenario file, run by `aasim run --json`; each command step's
    reply and every region's final data (`final_state`) come from the JSON;
  - nodes: three `aasim node` processes on loopback; each command goes through redis-py to
    its region's node, a partition X | Y is `AASIM DISCONNECT Y 3600000` on X and
    `AASIM DISCONNECT X 3600000` on Y (both directions cut, kept down), a heal is the same
    with 0 (reconnect at once), and the final data is `AASIM DUMP` of every node.
Every reply and every region's final data must be equal, and so must a digest of the data.

Timing. Both sides compare states where every message that can arrive has arrived: in the
simulator, links of 100us and a `wait: 1ms` after every step deliver each effect and its
acknowledgement before the next step; on the nodes, the runner waits after every step until
every node's links to the peers it is not cut from are up and acknowledge all its writes
(INFO activeactive). A heal is always followed by a `sync` (run until caught up) on both.

Seeds: AASIM_SEED=S (or S1,S2,...) replays those sequences; without it, a fixed set runs.
AASIM names the binary. On a failure the scenario files and the nodes' logs are kept and
their directory printed."""
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
import unittest

import redis
from ports import PortTaken, free_port

AASIM = os.environ.get("AASIM", "aasim")
REGIONS = ("A", "B", "C")
DEFAULT_SEEDS = tuple(range(1, 21))
STEPS = 80
HEADER_LINES = 7  # of the scenario file, before its first step
CUT_MS = "3600000"  # AASIM DISCONNECT's longest pause: the link stays down until healed
QUIESCE_TIMEOUT = 20  # seconds a node-side step may take to settle
AGREE_TIMEOUT = 2  # seconds settled nodes may take to show the same data

# Few keys, so that writes in regions cut from each other often meet on one key or field.
KEYS = {"counter": ["n1", "n2"], "string": ["s1"], "set": ["t1", "t2"], "hash": ["h1"]}
SHARED = "x"  # written by every type: concurrent SET and SADD keep both, WRONGTYPE replies
ALL_KEYS = [k for ks in KEYS.values() for k in ks] + [SHARED]
MEMBERS = ["a", "b", "c"]
FIELDS = ["f", "g", "h"]
VALUES = ["0", "1", "7", "42", "v", "w"]
# Replies without an order in Redis: compared as sorted members / sorted field-value pairs.
UNORDERED = {"SMEMBERS"}
PAIRS = {"HGETALL"}


# ---- the generator ----------------------------------------------------------------------

def pairs_of(groups):
    """The region pairs a `partition:`/`heal:` value names (every pair across groups)."""
    groups = [[g] if isinstance(g, str) else g for g in groups]
    out = set()
    for i, gi in enumerate(groups):
        for gj in groups[i + 1:]:
            for x in gi:
                for y in gj:
                    out.add(tuple(sorted((x, y))))
    return out


def all_pairs():
    return pairs_of(list(REGIONS))


def writes(rng, fam, key):
    m, f, v = rng.choice(MEMBERS), rng.choice(FIELDS), rng.choice(VALUES)
    f2 = rng.choice([x for x in FIELDS if x != f])
    return {
        "counter": [["INCR", key], ["INCRBY", key, str(rng.randint(-5, 20))], ["DECR", key]],
        "string": [["SET", key, v], ["SET", key, v], ["SETNX", key, v]],
        "set": [["SADD", key, m], ["SADD", key] + rng.sample(MEMBERS, 2), ["SREM", key, m],
                ["SREM", key] + rng.sample(MEMBERS, 2)],
        "hash": [["HSET", key, f, v], ["HSET", key, f, v, f2, rng.choice(VALUES)],
                 ["HDEL", key, f], ["HDEL", key, f, f2],
                 ["HINCRBY", key, f, str(rng.randint(-3, 9))]],
        "keys": [["DEL", key], ["DEL"] + rng.sample(ALL_KEYS, 2)],
    }[fam]


def reads(rng, fam, key):
    return {
        "counter": [["GET", key]],
        "string": [["GET", key], ["MGET"] + rng.sample(ALL_KEYS, rng.randint(2, 3))],
        "set": [["SMEMBERS", key], ["SISMEMBER", key, rng.choice(MEMBERS)], ["SCARD", key]],
        "hash": [["HGET", key, rng.choice(FIELDS)], ["HGETALL", key]],
        "keys": [["EXISTS", key], ["EXISTS"] + rng.sample(ALL_KEYS, 2)],
    }[fam]


def family_and_key(rng, families):
    fam = rng.choice(families)
    if fam == "keys" or rng.random() < 0.15:
        return fam, rng.choice(ALL_KEYS)  # any type's key: WRONGTYPE, type conflicts
    return fam, rng.choice(KEYS[fam])


def command(rng):
    """One command, deterministic in its effect (no SPOP, no clock-reading command)."""
    fam, key = family_and_key(rng, list(KEYS) + ["keys"])
    return rng.choice(writes(rng, fam, key) + reads(rng, fam, key))


def conflict(rng):
    """Two writes to one key: run on both sides of a cut, they are concurrent."""
    fam, key = family_and_key(rng, ["counter", "string", "string", "set", "hash", "hash"])
    pick = lambda: ["DEL", key] if rng.random() < 0.1 else rng.choice(writes(rng, fam, key))
    return pick(), pick()


def partition(rng):
    x, y, z = rng.sample(REGIONS, 3)
    return rng.choice([[x, y], [x, y], [[x], [y, z]], [x, y, z]])


def generate(seed, n=STEPS):
    """Steps: ("cmd", region, argv), ("partition", groups), ("heal", groups | "all"),
    ("sync",). Every sequence has a partition while writes go on (half of them one before
    the first write too); every heal is followed by a sync; the sequence ends healed and
    synced."""
    rng = random.Random(seed)
    steps, cut = [], set()

    def add_partition():
        groups = partition(rng)
        steps.append(("partition", groups))
        cut.update(pairs_of(groups))

    if rng.random() < 0.5:
        add_partition()  # before any write
    during = rng.randint(n // 4, n // 2)  # at least one partition while writes go on
    while len(steps) < n:
        r = rng.random()
        if during is not None and len(steps) >= during and cut != all_pairs():
            add_partition()
            during = None
        elif r < 0.07 and cut != all_pairs():
            add_partition()
        elif r < 0.14 and cut:
            if rng.random() < 0.5:
                steps.append(("heal", "all"))
                cut.clear()
            else:
                pair = sorted(cut)[rng.randrange(len(cut))]
                steps.append(("heal", list(pair)))
                cut.discard(pair)
            steps.append(("sync",))
        elif r < 0.17:
            steps.append(("sync",))
        elif r < 0.32 and cut:
            x, y = sorted(cut)[rng.randrange(len(cut))]
            if rng.random() < 0.5:
                x, y = y, x
            first, second = conflict(rng)
            steps += [("cmd", x, first), ("cmd", y, second)]
        else:
            steps.append(("cmd", rng.choice(REGIONS), command(rng)))
    steps += [("heal", "all"), ("sync",)]
    return steps


def flow(groups):
    return "[" + ", ".join(flow(g) if isinstance(g, list) else g for g in groups) + "]"


def scenario_yaml(seed, steps):
    """The steps as a scenario file. Every step is followed by `wait: 1ms`: the simulator's
    last-write-wins timestamps are virtual time, so without it every write of a stretch
    without time steps would carry the same timestamp (ties going to the region whose name
    sorts first), while the nodes' wall clocks give later steps later timestamps. With it,
    both order concurrent writes by step order; and with 100us links the millisecond also
    delivers every effect and its acknowledgement, as the node side waits for."""
    out = ["name: differential seed %d" % seed,
           "source: tests/server/differential_test.py (AASIM_SEED=%d)" % seed,
           "seed: %d" % seed,
           "regions: [%s]" % ", ".join(REGIONS),
           "links:",
           "  default: { latency: 100us }",
           "steps:"]
    assert len(out) == HEADER_LINES
    for st in steps:
        if st[0] == "cmd":
            out.append("  - %s: %s" % (st[1], " ".join(st[2])))
        elif st[0] == "partition":
            out.append("  - partition: " + flow(st[1]))
        elif st[0] == "heal":
            out.append("  - heal: " + (st[1] if st[1] == "all" else flow(st[1])))
        else:
            out.append("  - sync")
        out.append("  - wait: 1ms")
    return "\n".join(out) + "\n"


# ---- one form for both sides' replies ---------------------------------------------------

def error_text(text):
    # redis-py drops the "ERR " prefix of an error reply (and keeps any other); do the same.
    return ("err", text[4:] if text.startswith("ERR ") else text)


def from_json(reply):
    t, v = reply["type"], reply["value"]
    if t == "integer":
        return ("int", v)
    if t in ("bulk", "status"):  # redis-py cannot tell a status from a bulk string
        return ("str", v)
    if t == "nil":
        return None
    if t == "error":
        return error_text(v)
    if t == "array":
        return [from_json(x) for x in v]
    raise AssertionError("unknown reply type %r" % t)


def from_redis_py(reply):
    if isinstance(reply, redis.ResponseError):
        return error_text(str(reply))
    if isinstance(reply, bool):
        raise AssertionError("a response callback ran: %r" % reply)
    if isinstance(reply, int):
        return ("int", reply)
    if isinstance(reply, bytes):
        return ("str", reply.decode())
    if reply is None:
        return None
    if isinstance(reply, list):
        return [from_redis_py(x) for x in reply]
    raise AssertionError("unexpected redis-py reply %r" % (reply,))


def canonical(argv, reply):
    """Orders what Redis does not: SMEMBERS' members, HGETALL's field-value pairs."""
    name = argv[0].upper()
    if isinstance(reply, list) and name in UNORDERED:
        return sorted(reply, key=repr)
    if isinstance(reply, list) and name in PAIRS:
        pairs = [reply[i:i + 2] for i in range(0, len(reply), 2)]
        return [x for p in sorted(pairs, key=repr) for x in p]
    return reply


def fnv1a64(texts):
    h = 0xcbf29ce484222325
    for t in texts:
        for b in t.encode():
            h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


# ---- the simulator side -----------------------------------------------------------------

def run_simulator(path, steps):
    """Replies by index of `steps` (command steps only) and final data by region."""
    out = subprocess.run([AASIM, "run", "--json", path], capture_output=True, text=True,
                         timeout=60)
    if out.returncode != 0:
        raise AssertionError("aasim run %s: exit %d\n%s%s" % (path, out.returncode,
                                                              out.stdout[-2000:], out.stderr))
    sc = json.loads(out.stdout)["scenarios"][0]
    by_step = {s["step"]: s for s in sc["steps"]}
    replies = {}
    for i, st in enumerate(steps):
        if st[0] == "cmd":
            s = by_step[2 * i + 1]  # every step is followed by a wait
            assert s["region"] == st[1] and s["operation"] == " ".join(st[2]), s
            replies[i] = canonical(st[2], from_json(s["reply"]))
    disagreed = any(len(set(s.get("values", {}).values())) > 1 for s in sc["steps"])
    return replies, [sc["final_state"][r] for r in REGIONS], disagreed


# ---- the node side ----------------------------------------------------------------------

class Nodes:
    """Three `aasim node` processes, one per region, started together; their stderr goes
    to files named by `log_prefix` (a pipe nobody reads could fill and stall a node)."""

    def __init__(self, log_prefix):
        self.procs = {}
        self.logs = {r: "%s-%s.log" % (log_prefix, r) for r in REGIONS}
        # A port free_port found can be taken by another test before the node binds it
        # (ctest runs tests in parallel): then all three start again on fresh ports.
        for attempt in range(5):
            try:
                self.start()
                break
            except PortTaken:
                if attempt == 4:
                    raise
        self.clients = {}
        for r in REGIONS:
            c = redis.Redis(host="127.0.0.1", port=self.ports[r], socket_timeout=10)
            c.response_callbacks.clear()  # raw replies: no bool for OK, no dict for HGETALL
            self.clients[r] = c

    def start(self):
        self.ports = {r: free_port() for r in REGIONS}
        try:
            for r in REGIONS:
                args = [AASIM, "node", "--region", r, "--listen", str(self.ports[r])]
                for peer in REGIONS:
                    if peer != r:
                        args += ["--peer", "%s=127.0.0.1:%d" % (peer, self.ports[peer])]
                with open(self.logs[r], "w") as log:
                    self.procs[r] = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log,
                                                     text=True)
            for r, p in self.procs.items():
                line = p.stdout.readline()
                if line.split() != [r, "127.0.0.1:%d" % self.ports[r]]:
                    p.wait(10)
                    err = self.stderr(r)
                    if "Address already in use" in err:
                        raise PortTaken(err)
                    raise AssertionError("node %s: %r %s" % (r, line, err))
        except BaseException:
            self.stop()
            raise

    def stop(self):
        for p in self.procs.values():
            p.kill()
            p.wait()
            p.stdout.close()
        self.procs = {}

    def stderr(self, region):
        with open(self.logs[region]) as f:
            return f.read()[-2000:]

    def run(self, argv, region):
        try:
            reply = self.clients[region].execute_command(*argv)
        except redis.ResponseError as e:
            reply = e
        return canonical(argv, from_redis_py(reply))

    def disconnect(self, pair, ms):
        x, y = pair
        for a, b in ((x, y), (y, x)):
            n = self.clients[a].execute_command("AASIM", "DISCONNECT", b, ms)
            if n != 1:
                raise AssertionError("AASIM DISCONNECT %s %s on %s: %r" % (b, ms, a, n))

    def links(self, region):
        """Per peer: (status, ops_lag) from INFO activeactive."""
        text = self.clients[region].execute_command("INFO", "activeactive").decode()
        out = {}
        for line in text.split("\r\n"):
            if line.startswith("peer") and ":name=" in line:
                fields = dict(kv.split("=", 1) for kv in line.split(":", 1)[1].split(","))
                out[fields["name"]] = (fields["status"], int(fields["ops_lag"]))
        return out

    def quiesce(self, cut):
        """Waits until every node's link to every peer it is not cut from is up and that peer
        acknowledged all its writes: what the simulator reaches in the 1ms after a step."""
        deadline = time.monotonic() + QUIESCE_TIMEOUT
        while True:
            views = {r: self.links(r) for r in REGIONS}
            pending = ["%s->%s %s ops_lag=%d" % (r, p, *views[r][p])
                       for r in REGIONS for p in REGIONS
                       if p != r and tuple(sorted((r, p))) not in cut
                       and views[r][p] != ("up", 0)]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise AssertionError("nodes did not settle within %ds: %s"
                                     % (QUIESCE_TIMEOUT, ", ".join(pending)))
            time.sleep(0.002)

    def agree(self):
        """Whether every node holds the same data (waiting up to AGREE_TIMEOUT for it)."""
        deadline = time.monotonic() + AGREE_TIMEOUT
        while len(set(self.dump())) != 1:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)
        return True

    def dump(self):
        return [self.clients[r].execute_command("AASIM", "DUMP").decode() for r in REGIONS]


def run_nodes(steps, log_prefix):
    """Replies by index of `steps`, final data by region, and the syncs after which the
    nodes, every link up, did not hold the same data."""
    nodes = Nodes(log_prefix)
    try:
        replies, cut, apart = {}, set(), []
        nodes.quiesce(cut)
        for i, st in enumerate(steps):
            if st[0] == "cmd":
                replies[i] = nodes.run(st[2], st[1])
            elif st[0] == "partition":
                for pair in sorted(pairs_of(st[1]) - cut):
                    nodes.disconnect(pair, CUT_MS)
                    cut.add(pair)
            elif st[0] == "heal":
                healed = set(cut) if st[1] == "all" else pairs_of(st[1]) & cut
                for pair in sorted(healed):
                    nodes.disconnect(pair, "0")
                    cut.discard(pair)
            nodes.quiesce(cut)  # a sync step is this wait, and with no cut:
            if st[0] == "sync" and not cut and not nodes.agree():
                apart.append("%s: %s" % (describe(steps, i), nodes.dump()))
        assert not cut
        return replies, nodes.dump(), apart
    except AssertionError as e:
        raise AssertionError("%s\nnodes' stderr:\n%s" % (e, "".join(
            "%s: %s\n" % (r, nodes.stderr(r)) for r in REGIONS))) from e
    finally:
        nodes.stop()


# ---- the comparison ---------------------------------------------------------------------

def describe(steps, i):
    st = steps[i]
    line = HEADER_LINES + 1 + 2 * i  # every step is followed by a wait
    what = "%s: %s" % (st[1], " ".join(st[2])) if st[0] == "cmd" else st[0]
    return "step %d (scenario line %d): %s" % (i + 1, line, what)


def compare(steps, sim_replies, sim_final, node_replies, node_final):
    """Every difference between the two runs, one line each (empty: they agree)."""
    diffs = []
    for i in sorted(sim_replies):
        if sim_replies[i] != node_replies.get(i):
            diffs.append("%s\n    simulator: %r\n    nodes:     %r"
                         % (describe(steps, i), sim_replies[i], node_replies.get(i)))
    for r, s, n in zip(REGIONS, sim_final, node_final):
        if s != n:
            diffs.append("final data of %s\n    simulator: %r\n    nodes:     %r" % (r, s, n))
    return diffs


def seeds():
    env = os.environ.get("AASIM_SEED")
    return [int(s) for s in env.split(",")] if env else list(DEFAULT_SEEDS)


def check_seed(seed, workdir):
    """Runs one sequence both ways; returns (commands, did the regions ever disagree)."""
    steps = generate(seed)
    path = os.path.join(workdir, "seed-%d.yaml" % seed)
    with open(path, "w") as f:
        f.write(scenario_yaml(seed, steps))
    sim_replies, sim_final, disagreed = run_simulator(path, steps)
    node_replies, node_final, apart = run_nodes(steps, path[:-len(".yaml")])
    diffs = compare(steps, sim_replies, sim_final, node_replies, node_final)
    diffs += ["nodes disagree after " + a for a in apart]
    digests = fnv1a64(sim_final), fnv1a64(node_final)
    print("seed %d: %d steps, %d commands, %d differences; digest simulator %s nodes %s"
          % (seed, len(steps), len(sim_replies), len(diffs), *digests), flush=True)
    if diffs or digests[0] != digests[1]:
        raise AssertionError("nodes and simulator differ:\n" + "\n".join(diffs))
    # The comparison is not vacuous: one changed reply is caught, and so is one region's
    # changed data.
    i = next(iter(sim_replies))
    tampered = dict(sim_replies)
    tampered[i] = ("str", "tampered")
    assert len(compare(steps, tampered, sim_final, node_replies, node_final)) == 1
    assert len(compare(steps, sim_replies, sim_final[:2] + ["tampered"], node_replies,
                       node_final)) == 1
    return len(sim_replies), disagreed


class NodeVsSimulator(unittest.TestCase):
    def test_same_replies_and_data(self):
        workdir = tempfile.mkdtemp(prefix="aasim-differential-")
        disagreed = False
        for seed in seeds():
            try:
                _, dis = check_seed(seed, workdir)
            except AssertionError as e:
                self.fail("AASIM_SEED=%d: %s\n(scenario and node logs kept in %s)"
                          % (seed, e, workdir))
            disagreed |= dis
        shutil.rmtree(workdir, ignore_errors=True)
        # Partitions did cut: at some step the regions held different values.
        self.assertTrue(disagreed, "no step ever saw the regions disagree")


if __name__ == "__main__":
    unittest.main()
