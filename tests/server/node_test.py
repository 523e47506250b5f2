#!/usr/bin/python3
"""Three `aasim node` processes on loopback replicating over TCP: writes through each,
`kill -9` of one and its restart, convergence, and what survives. AASIM names the binary."""
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import redis
from ports import PortTaken, free_port

AASIM = os.environ.get("AASIM", "aasim")


class Cluster:
    def __init__(self, test, regions=("A", "B", "C"), extra=(), per_region=None):
        self.test = test
        self.ports = {r: free_port() for r in regions}
        self.extra = list(extra)
        self.per_region = per_region or {}
        self.procs = {}
        test.addCleanup(self.stop_all)
        # Another test running in parallel can bind a port between free_port and the node:
        # then every node starts again on fresh ports.
        for attempt in range(5):
            try:
                for r in regions:
                    self.start(r)
                break
            except PortTaken:
                self.stop_all()
                if attempt == 4:
                    raise
                self.ports = {r: free_port() for r in regions}

    def start(self, region):
        args = [AASIM, "node", "--region", region, "--listen", str(self.ports[region])]
        for peer, port in self.ports.items():
            if peer != region:
                args += ["--peer", "%s=127.0.0.1:%d" % (peer, port)]
        args += self.per_region.get(region, [])
        proc = subprocess.Popen(args + self.extra, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        self.procs[region] = proc
        line = proc.stdout.readline()
        if not line:
            err = proc.stderr.read()
            if "Address already in use" in err:
                raise PortTaken(err)
            raise AssertionError("node %s exited: %s" % (region, err))
        self.test.assertEqual(line.split(), [region, "127.0.0.1:%d" % self.ports[region]])

    def kill9(self, region):
        proc = self.procs.pop(region)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()

    def stop_all(self):
        for region in list(self.procs):
            self.kill9(region)

    def client(self, region):
        return redis.Redis(host="127.0.0.1", port=self.ports[region], socket_timeout=10)

    def wait_acknowledged(self, region, timeout=10):
        """INFO activeactive of REGION once its peers acknowledged everything it sent.

        Converged data is not yet acknowledged data: the peer's ack may still be on its way
        back, so the lag is read until it reaches zero (a lag that never clears fails)."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.client(region).info("activeactive")
            if info["max_ops_lag"] == 0 or time.monotonic() > deadline:
                return info
            time.sleep(0.05)

    def wait_converged(self, check, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            views = {r: check(self.client(r)) for r in self.procs}
            if len(set(views.values())) == 1:
                return next(iter(views.values()))
            if time.monotonic() > deadline:
                raise AssertionError("not converged: %r" % views)
            time.sleep(0.05)


class RedisServers:
    """Throw-away redis-servers on free loopback ports, AOF with fsync on every write."""

    def __init__(self, test, n):
        self.dir = tempfile.TemporaryDirectory()
        test.addCleanup(self.dir.cleanup)
        self.ports = []
        for i in range(n):
            port = free_port()
            d = os.path.join(self.dir.name, str(i))
            os.mkdir(d)
            proc = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                 "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            test.addCleanup(lambda p=proc: (p.kill(), p.wait()))
            deadline = time.monotonic() + 10
            while True:
                try:
                    redis.Redis(port=port, socket_timeout=1).ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            self.ports.append(port)

    def url(self, i):
        return "redis://127.0.0.1:%d/0" % self.ports[i]


def state(c):
    return (c.get("hits"), tuple(sorted(c.smembers("members"))),
            tuple(sorted(c.hgetall("h").items())))


class NodeProcesses(unittest.TestCase):
    def test_three_nodes_converge_and_survive_kill_9(self):
        cl = Cluster(self)
        for i, r in enumerate("ABC"):
            c = cl.client(r)
            for _ in range(10):
                c.incr("hits")
            c.sadd("members", "m-" + r)
            c.hset("h", "f" + r, i)
        got = cl.wait_converged(state)
        self.assertEqual(got[0], b"30")
        self.assertEqual(got[1], (b"m-A", b"m-B", b"m-C"))
        info = cl.wait_acknowledged("A")
        self.assertEqual(info["max_ops_lag"], 0, info)
        self.assertEqual(info["local_writes"], 12)
        self.assertEqual(info["effects_in"], 24)

        # B dies without warning; the others keep writing, then B comes back empty and
        # must catch up, including its own writes that had reached the others.
        cl.kill9("B")
        cl.client("A").incrby("hits", 100)
        cl.client("C").sadd("members", "while-B-was-down")
        time.sleep(0.2)
        cl.start("B")
        got = cl.wait_converged(state)
        self.assertEqual(got[0], b"130")
        self.assertEqual(got[1], (b"m-A", b"m-B", b"m-C", b"while-B-was-down"))
        self.assertEqual(dict(got[2]), {b"fA": b"0", b"fB": b"1", b"fC": b"2"})
        # The restarted B writes as a new incarnation; everyone sees it.
        cl.client("B").incr("hits")
        self.assertEqual(cl.wait_converged(state)[0], b"131")
        full_syncs = sum(cl.client(r).info("activeactive")["full_syncs"] for r in "AC")
        self.assertGreaterEqual(full_syncs, 2)

    def test_concurrent_writes_under_load_converge(self):
        cl = Cluster(self, extra=["--backlog", "4096"])
        pipes = [cl.client(r).pipeline(transaction=False) for r in "ABC"]
        for round_ in range(5):
            for i, p in enumerate(pipes):
                for k in range(200):
                    p.incr("hits")
                    p.sadd("members", "%d-%d-%d" % (i, round_, k % 7))
                p.execute()
        got = cl.wait_converged(state)
        self.assertEqual(got[0], b"3000")
        self.assertEqual(len(got[1]), 3 * 5 * 7)

    def test_reconnect_resumes_with_a_partial_or_a_full_sync(self):
        for backlog, kind in (("1048576", "partial_syncs"), ("64", "full_syncs")):
            cl = Cluster(self, regions=("A", "B"), extra=["--backlog", backlog])
            a = cl.client("A")
            a.sadd("members", "before")
            cl.wait_converged(state)
            self.assertEqual(a.execute_command("AASIM", "DISCONNECT", "B"), 1)
            for sub in ("STATUS", "DUMP", "DISCONNECT"):  # known, but too many arguments
                with self.assertRaisesRegex(redis.ResponseError,
                                            "wrong number of arguments for 'aasim\\|%s'"
                                            % sub.lower()):
                    a.execute_command("AASIM", sub, "B", "1", "2")
            for i in range(20):  # written while the link is down
                a.incr("hits")
                a.sadd("members", "during-%d" % i)
            got = cl.wait_converged(state)
            self.assertEqual(got[0], b"20")
            self.assertEqual(len(got[1]), 21)
            info = cl.wait_acknowledged("A")
            self.assertGreaterEqual(info[kind], 1, info)
            self.assertEqual(info["max_ops_lag"], 0, info)
            cl.stop_all()

    def test_topology_file(self):
        ports = {r: free_port() for r in "XY"}
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("name: t\nregions: [X, Y]\nports: {X: %d, Y: %d}\n" % (ports["X"], ports["Y"]))
        self.addCleanup(os.unlink, f.name)
        procs = []
        for r in "XY":
            p = subprocess.Popen([AASIM, "node", "--region", r, "--topology", f.name],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            procs.append(p)
            self.addCleanup(p.wait)
            self.addCleanup(p.kill)
            self.assertEqual(p.stdout.readline().split(), [r, "127.0.0.1:%d" % ports[r]])
        x = redis.Redis(port=ports["X"], socket_timeout=10)
        y = redis.Redis(port=ports["Y"], socket_timeout=10)
        x.incr("n")
        deadline = time.monotonic() + 10
        while y.get("n") != b"1" and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(y.get("n"), b"1")
        for p in procs:
            p.stdout.close()
            p.stderr.close()

    @unittest.skipUnless(shutil.which("redis-server"), "needs redis-server")
    def test_redis_store_kill_9_loses_nothing_acknowledged(self):
        rs = RedisServers(self, 3)
        cl = Cluster(self, per_region={r: ["--redis", rs.url(i)] for i, r in enumerate("ABC")})
        acked = {"A": [], "C": []}
        stop = threading.Event()

        def writer(region):
            c = cl.client(region)
            i = 0
            while not stop.is_set():
                member = "%s-%d" % (region, i)
                c.sadd("members", member)
                acked[region].append(member)  # acknowledged to this client
                i += 1
                time.sleep(0.002)

        threads = [threading.Thread(target=writer, args=(r,), daemon=True) for r in "AC"]
        for t in threads:
            t.start()
        b = cl.client("B")
        early = ["B-early-%d" % i for i in range(50)]
        for m in early:
            b.sadd("members", m)
        # B holds its own writes, so the views agree only once every peer has them.
        self.assertTrue(cl.wait_converged(
            lambda c: all(c.sismember("members", m) for m in early)))
        # B's links to its peers drop for 60s (longer than any slow machine needs for the
        # writes below); what B acknowledges now reaches no peer before B is killed.
        self.assertEqual(b.execute_command("AASIM", "DISCONNECT", "ALL", "60000"), 2)
        late = ["B-late-%d" % i for i in range(20)]
        for m in late:
            b.sadd("members", m)
        b.hset("h", "from-B", "late")
        cl.kill9("B")
        on_a = set(cl.client("A").smembers("members"))
        self.assertTrue(any(m.encode() not in on_a for m in late),
                        "the late writes reached a peer before the kill: test too slow")
        time.sleep(0.3)  # A and C keep writing meanwhile
        cl.start("B")
        for m in ("B-after-0", "B-after-1"):
            cl.client("B").sadd("members", m)
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join(5)
        members = cl.wait_converged(lambda c: tuple(sorted(c.smembers("members"))), timeout=20)
        have = {m.decode() for m in members}
        for m in early + late + ["B-after-0", "B-after-1"] + acked["A"] + acked["C"]:
            self.assertIn(m, have)
        self.assertEqual(cl.wait_converged(lambda c: c.hget("h", "from-B")), b"late")
        self.assertGreater(len(acked["A"]), 10)
        # B resumed its own log (same incarnation), it did not start over.
        info = cl.client("B").info("activeactive")
        self.assertEqual(info["incarnation"], 1)
        # ... replaying its late writes from the store's log to both peers (partial syncs),
        # and the peers resumed from the progress B had stored: no full sync anywhere.
        self.assertGreaterEqual(info["partial_syncs"], 2)
        for r in "ABC":
            self.assertEqual(cl.client(r).info("activeactive")["full_syncs"], 0, r)
        # Blocking stream reads on a node whose streams live in Redis: the node waits, not
        # Redis (a BLOCK forwarded to Redis would stall the whole node).
        a = cl.client("A")
        a.xgroup_create("jobs", "workers", id="$", mkstream=True)
        got = {}
        reader = threading.Thread(target=lambda: got.setdefault(
            "r", cl.client("A").xreadgroup("workers", "w1", {"jobs": ">"}, block=0)))
        reader.start()
        time.sleep(0.2)
        self.assertTrue(reader.is_alive())
        self.assertTrue(a.sadd("members", "while-blocked"))  # others are served meanwhile
        entry = a.xadd("jobs", {"job": "1"})
        reader.join(5)
        self.assertEqual(got["r"], [[b"jobs", [(entry, {b"job": b"1"})]]])
        self.assertEqual(a.xreadgroup("workers", "w1", {"jobs": ">"}, block=200), [])
        # The data is in Redis, as Redis shows it.
        self.assertIn(b"B-late-0", redis.Redis(port=rs.ports[1]).smembers("members"))

    @unittest.skipUnless(shutil.which("redis-server"), "needs redis-server")
    def test_wiped_redis_comes_back_as_a_new_incarnation(self):
        # A node whose Redis lost everything (FLUSHALL) must not come back as the incarnation
        # its peers know: they would drop its new writes as duplicates of the old ones.
        rs = RedisServers(self, 3)
        cl = Cluster(self, per_region={r: ["--redis", rs.url(i)] for i, r in enumerate("ABC")})
        acked = []
        for r in "ABC":
            for i in range(10):
                cl.client(r).sadd("members", "%s-before-%d" % (r, i))
                acked.append("%s-before-%d" % (r, i))
        cl.wait_converged(lambda c: c.scard("members"))
        self.assertEqual(cl.client("B").info("activeactive")["incarnation"], 1)
        cl.kill9("B")
        redis.Redis(port=rs.ports[1]).flushall()
        cl.start("B")
        info = cl.client("B").info("activeactive")
        self.assertEqual(info["incarnation"], 2, info)
        for r in "ABC":
            for i in range(10):
                cl.client(r).sadd("members", "%s-after-%d" % (r, i))
                acked.append("%s-after-%d" % (r, i))
        members = cl.wait_converged(lambda c: tuple(sorted(c.smembers("members"))), timeout=20)
        self.assertEqual(sorted(m.decode() for m in members), sorted(acked))
        for r in "ABC":
            info = cl.wait_acknowledged(r)
            self.assertEqual(info["incarnation_anomalies"], 0, (r, info))
            self.assertEqual(info["max_ops_lag"], 0, (r, info))
        # B's data is back in its own Redis, as Redis shows it.
        self.assertEqual(redis.Redis(port=rs.ports[1]).scard("members"), len(acked))

    def test_a_used_incarnation_is_refused_or_reported(self):
        cl = Cluster(self, regions=("A", "B"))
        cl.client("B").incr("n")
        cl.wait_converged(lambda c: c.get("n"))
        cl.kill9("B")
        # Asked for an incarnation A has already seen: refused at start, with the reason.
        args = [AASIM, "node", "--region", "B", "--listen", str(cl.ports["B"]),
                "--peer", "A=127.0.0.1:%d" % cl.ports["A"], "--incarnation", "1"]
        out = subprocess.run(args, capture_output=True, text=True, timeout=20)
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("has already seen incarnation 1 of region B", out.stderr)
        # Without it, B becomes the next incarnation and its writes count.
        cl.start("B")
        self.assertEqual(cl.client("B").info("activeactive")["incarnation"], 2)
        cl.client("B").incr("n")
        self.assertEqual(cl.wait_converged(lambda c: c.get("n")), b"2")
        # B comes back without waiting for A's answer (a join timeout of 0), so it takes
        # incarnation 1 again: both sides say so instead of dropping writes silently.
        cl.kill9("B")
        cl.per_region["B"] = ["--join-timeout", "0"]
        cl.start("B")
        self.assertEqual(cl.client("B").info("activeactive")["incarnation"], 1)
        cl.client("B").incr("n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            a = cl.client("A").execute_command("AASIM", "STATUS").decode()
            b = cl.client("B").execute_command("AASIM", "STATUS").decode()
            if "anomalies=0" not in a and "anomalies=0" not in b:
                break
            time.sleep(0.05)
        self.assertIn("last anomaly", a)
        self.assertIn("last anomaly", b)
        self.assertRegex(b, "has seen incarnation 2 of B|incarnation 1 of B is older than 2")
        self.assertEqual(cl.client("A").get("n"), b"2")  # B's new write was refused, not merged

    def test_causal_delivery_holds_a_reply_until_its_post(self):
        cl = Cluster(self, extra=["--causal"])
        # A hears nothing from B; C hears both.
        a, b, c = (cl.client(r) for r in "ABC")
        self.assertEqual(a.execute_command("AASIM", "DISCONNECT", "B", "3600000"), 1)
        b.set("post", "hello")
        deadline = time.monotonic() + 10
        while c.get("post") != b"hello" and time.monotonic() < deadline:
            time.sleep(0.02)
        c.sadd("replies", "re-hello")
        time.sleep(0.5)  # C's reply reaches A; A must hold it back
        self.assertIsNone(a.get("post"))
        self.assertEqual(a.smembers("replies"), set())
        self.assertEqual(a.execute_command("AASIM", "DISCONNECT", "B", "0"), 1)
        got = cl.wait_converged(lambda x: (x.get("post"), tuple(x.smembers("replies"))))
        self.assertEqual(got, (b"hello", (b"re-hello",)))

    def test_disconnect_cuts_both_directions(self):
        cl = Cluster(self, regions=("A", "B"))
        a, b = cl.client("A"), cl.client("B")
        a.set("start", "1")
        cl.wait_converged(lambda x: x.get("start"))
        # Only A is told; neither A's writes reach B nor B's reach A.
        self.assertEqual(a.execute_command("AASIM", "DISCONNECT", "B", "3600000"), 1)
        a.set("from-a", "1")
        b.set("from-b", "1")
        time.sleep(0.5)
        self.assertIsNone(b.get("from-a"))
        self.assertIsNone(a.get("from-b"))
        self.assertEqual(a.execute_command("AASIM", "DISCONNECT", "B", "0"), 1)
        got = cl.wait_converged(lambda x: (x.get("from-a"), x.get("from-b")))
        self.assertEqual(got, (b"1", b"1"))

    def test_bounded_counter_across_nodes(self):
        cl = Cluster(self, regions=("A", "B"))
        a, b = cl.client("A"), cl.client("B")
        self.assertEqual(a.execute_command("BC.INCRBY", "balance", "100"), 100)
        self.assertEqual(a.execute_command("BC.TRANSFER", "balance", "40", "B"), 60)
        cl.wait_converged(lambda x: tuple(x.execute_command("BC.RIGHTS", "balance")))
        # Cut off from each other, each region spends only its own rights.
        self.assertEqual(a.execute_command("AASIM", "DISCONNECT", "B", "3600000"), 1)
        self.assertEqual(a.execute_command("BC.DECRBY", "balance", "60"), 40)
        with self.assertRaisesRegex(redis.ResponseError, "region B holds 40 of 60"):
            b.execute_command("BC.DECRBY", "balance", "60")
        self.assertEqual(b.execute_command("BC.DECRBY", "balance", "40"), 60)
        self.assertEqual(a.execute_command("AASIM", "DISCONNECT", "B", "0"), 1)
        got = cl.wait_converged(lambda x: (x.execute_command("BC.GET", "balance"), x.get("balance")))
        self.assertEqual(got, (0, b"0"))  # never negative: 100 - 60 - 40

    def test_scripts_replicate_their_effect_and_not_the_cache(self):
        cl = Cluster(self, regions=("A", "B"))
        a, b = cl.client("A"), cl.client("B")
        sha = a.script_load(
            "redis.call('SADD', KEYS[2], ARGV[1]) return redis.call('INCR', KEYS[1])")
        self.assertEqual(a.evalsha(sha, 2, "runs", "who", "a"), 1)
        with a.pipeline(transaction=True) as pipe:  # a queued EVALSHA runs in EXEC
            pipe.evalsha(sha, 2, "runs", "who", "a2")
            self.assertEqual(pipe.execute(), [2])
        with self.assertRaisesRegex(redis.ResponseError, "No matching script"):
            b.evalsha(sha, 2, "runs", "who", "b")  # the cache is per region
        self.assertEqual(b.script_exists(sha), [False])
        got = cl.wait_converged(lambda c: (c.get("runs"), tuple(sorted(c.smembers("who")))))
        self.assertEqual(got, (b"2", (b"a", b"a2")))

    def test_replicated_streams(self):
        """--streams strict: an entry added in A is read in B once the link delivered it;
        ids never collide; a group created in B replicates to A."""
        cl = Cluster(self, regions=("A", "B"), extra=["--streams", "strict"])
        a, b = cl.client("A"), cl.client("B")
        id_a = a.xadd("s", {"f": "1"})
        id_b = b.xadd("s", {"f": "2"})
        self.assertNotEqual(id_a, id_b)
        merged = cl.wait_converged(lambda c: tuple(e[0] for e in c.xrange("s")))
        self.assertEqual(sorted(merged), sorted([id_a, id_b]))
        b.xgroup_create("s", "g", id="0")

        def groups(c):
            try:
                return c.xpending("s", "g")["pending"]
            except redis.ResponseError as e:  # NOGROUP until the creation arrives
                return str(e)

        self.assertEqual(cl.wait_converged(groups), 0)
        # A read in A delivers both regions' entries from the replicated group.
        got = a.xreadgroup("g", "c1", {"s": ">"})
        self.assertEqual(sorted(e[0] for e in got[0][1]), sorted([id_a, id_b]))

    @unittest.skipUnless(shutil.which("redis-server"), "needs redis-server")
    def test_replicated_streams_on_redis(self):
        """With --redis each region's Redis holds the merged stream as a native stream."""
        rs = RedisServers(self, 2)
        cl = Cluster(self, regions=("A", "B"), extra=["--streams", "liberal"],
                     per_region={r: ["--redis", rs.url(i)] for i, r in enumerate("AB")})
        cl.client("A").xadd("s", {"f": "a"}, id="5-1")
        cl.client("B").xadd("s", {"f": "b"}, id="7-1")
        cl.wait_converged(lambda c: c.xlen("s"))
        for i in range(2):
            native = redis.Redis(port=rs.ports[i], socket_timeout=10)
            deadline = time.monotonic() + 10
            while native.xlen("s") < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(native.xrange("s"), [(b"5-1", {b"f": b"a"}), (b"7-1", {b"f": b"b"})])
        # A node restarted on its Redis reloads the stream from the metadata.
        cl.kill9("A")
        cl.start("A")
        self.assertEqual([e[0] for e in cl.client("A").xrange("s")], [b"5-1", b"7-1"])

    @unittest.skipUnless(shutil.which("redis-server"), "needs redis-server")
    def test_xread_block_dollar_on_redis_local_streams(self):
        """With --redis and region-local streams (the default) the streams live on the
        redis-server: XREAD BLOCK's `$` is that stream's last id, as in Redis, so the read
        waits for a new entry instead of answering the old ones at once."""
        rs = RedisServers(self, 1)
        cl = Cluster(self, regions=("A",), extra=["--join-timeout", "0"],
                     per_region={"A": ["--redis", rs.url(0)]})
        a = cl.client("A")
        a.xadd("s", {"f": "old"}, id="1-1")
        a.xadd("s", {"f": "old2"}, id="2-1")
        start = time.monotonic()
        self.assertEqual(a.xread({"s": "$"}, block=300), [])  # redis-py's timed-out read
        self.assertGreaterEqual(time.monotonic() - start, 0.25)
        # `$` on a missing stream waits too (Redis: 0-0), and an entry added meanwhile is
        # served to the blocked reader.
        got = []
        reader = threading.Thread(
            target=lambda: got.append(cl.client("A").xread({"s": "$", "t": "$"}, block=5000)))
        reader.start()
        time.sleep(0.3)
        a.xadd("t", {"f": "new"}, id="3-1")
        reader.join()
        self.assertEqual(got, [[[b"t", [(b"3-1", {b"f": b"new"})]]]])

    def test_bad_configuration_is_rejected(self):
        port = free_port()
        for args, message in (
                (["--region", "A", "--listen", str(port), "--peer", "A=127.0.0.1:1"], "itself"),
                (["--region", "A", "--listen", "nohost:1"], "not an IP address"),
                (["--region", "A", "--listen", str(port), "--peer", "B"], "REGION=HOST:PORT"),
                (["--region", "A", "--listen", str(port), "--peer", "B=127.0.0.1:0"],
                 "--peer B=127.0.0.1:0: expected a port 1..65535"),
                (["--region", "A b", "--listen", str(port)], "letters, digits"),
                (["--region", "A"], "--listen or --topology is required")):
            out = subprocess.run([AASIM, "node", *args], capture_output=True, text=True,
                                 timeout=10)
            self.assertEqual(out.returncode, 2, out.stderr)
            self.assertIn(message, out.stderr)


if __name__ == "__main__":
    unittest.main()
