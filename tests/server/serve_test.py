#!/usr/bin/python3
"""`aasim serve` against real clients: redis-cli, redis-benchmark, python3-redis and raw
sockets, all on loopback with free ports. Each test starts its own server process and
kills it on the way out, pass or fail. AASIM names the binary (ctest sets it)."""
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import redis
from ports import free_port

AASIM = os.environ.get("AASIM", "aasim")


class Served:
    """Runs `aasim serve FILE ARGS...` and parses its `REGION HOST:PORT` lines."""

    def __init__(self, test, yaml_text, *args, regions=("A", "B")):
        self.dir = tempfile.TemporaryDirectory()
        test.addCleanup(self.dir.cleanup)
        self.file = os.path.join(self.dir.name, "scenario.yaml")
        with open(self.file, "w") as f:
            f.write(yaml_text)
        self.proc = subprocess.Popen([AASIM, "serve", self.file, *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        test.addCleanup(self.stop)
        self.ports = {}
        self.addrs = {}  # REGION: HOST:PORT as printed
        while len(self.ports) < len(regions):
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("aasim serve exited: " + self.proc.stderr.read())
            name, addr = line.split()
            self.addrs[name] = addr
            self.ports[name] = int(addr.rsplit(":", 1)[1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()

    def client(self, region, **kw):
        return redis.Redis(host="127.0.0.1", port=self.ports[region], socket_timeout=10, **kw)

    def cli(self, region, *args):
        out = subprocess.run(["redis-cli", "-p", str(self.ports[region]), *args],
                             capture_output=True, text=True, timeout=20)
        return out.stdout.strip()


TWO_REGIONS = """
name: two regions
regions: [A, B]
links:
  default: { latency: %s }
"""


class ServeRedisCli(unittest.TestCase):
    def test_incr_on_a_then_get_on_b_after_the_latency(self):
        s = Served(self, TWO_REGIONS % "400ms")
        t0 = time.monotonic()
        self.assertEqual(s.cli("A", "INCR", "foo"), "1")
        self.assertEqual(s.cli("B", "INCRBY", "foo", "10"), "10")
        early = s.cli("B", "GET", "foo")
        if time.monotonic() - t0 < 0.35:  # A's effect cannot have arrived yet
            self.assertEqual(early, "10")
        # After the latency it arrives (polled: a loaded machine may run us late).
        deadline = time.monotonic() + 10
        while s.cli("B", "GET", "foo") != "11" and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertGreaterEqual(time.monotonic() - t0, 0.4)
        self.assertEqual(s.cli("B", "GET", "foo"), "11")
        self.assertEqual(s.cli("A", "GET", "foo"), "11")

    def test_replicated_streams_xadd_in_a_xrange_in_b_after_the_latency(self):
        s = Served(self, TWO_REGIONS % "400ms" + "streams: { replicate: true }\n")
        t0 = time.monotonic()
        id_a = s.cli("A", "XADD", "events", "*", "kind", "signup")
        early = s.cli("B", "XLEN", "events")
        if time.monotonic() - t0 < 0.35:  # A's entry cannot have arrived yet
            self.assertEqual(early, "0")
        deadline = time.monotonic() + 10
        while s.cli("B", "XLEN", "events") != "1" and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertGreaterEqual(time.monotonic() - t0, 0.4)
        self.assertEqual(s.cli("B", "XRANGE", "events", "-", "+").split("\n"),
                         [id_a, "kind", "signup"])
        # --streams local on the command line overrides the file: nothing replicates.
        local = Served(self, TWO_REGIONS % "40ms" + "streams: { replicate: true }\n",
                       "--streams", "local")
        local.cli("A", "XADD", "events", "*", "k", "v")
        time.sleep(0.3)
        self.assertEqual(local.cli("B", "XLEN", "events"), "0")

    def test_geopos_of_a_missing_member_is_a_null_array(self):
        s = Served(self, TWO_REGIONS % "40ms")
        s.client("A").geoadd("sicily", (13.361389, 38.115556, "Palermo"))
        with socket.create_connection(("127.0.0.1", s.ports["A"]), timeout=10) as c:
            c.sendall(b"GEOPOS sicily nope\r\n")
            got = b""
            while not got.endswith(b"\r\n") or got.count(b"\r\n") < 2:
                got += c.recv(4096)
        self.assertEqual(got, b"*1\r\n*-1\r\n")  # as Redis 7, not a null bulk

    def test_table_4_2_through_redis_cli(self):
        s = Served(self, TWO_REGIONS % "40ms")
        self.assertEqual(s.cli("A", "SMEMBERS", "group"), "")
        self.assertEqual(s.cli("A", "AASIM", "PARTITION", "A", "B"), "OK")
        self.assertEqual(s.cli("A", "SADD", "group", "paul"), "1")
        self.assertEqual(s.cli("B", "SADD", "group", "jorma"), "1")
        self.assertEqual(s.cli("A", "SMEMBERS", "group"), "paul")
        self.assertEqual(s.cli("B", "SMEMBERS", "group"), "jorma")
        self.assertEqual(s.cli("B", "AASIM", "HEAL", "A", "B"), "OK")
        self.assertEqual(s.cli("B", "AASIM", "WAITSYNC", "5000"), "OK")
        self.assertEqual(sorted(s.cli("A", "SMEMBERS", "group").split()), ["jorma", "paul"])
        self.assertEqual(sorted(s.cli("B", "SMEMBERS", "group").split()), ["jorma", "paul"])
        self.assertEqual(s.cli("A", "AASIM", "PARTITION", "A", "B"), "OK")
        self.assertEqual(s.cli("A", "SREM", "group", "paul"), "1")
        self.assertEqual(s.cli("B", "SADD", "group", "grace"), "1")
        self.assertEqual(s.cli("A", "SREM", "group", "grace"), "0")
        self.assertEqual(s.cli("A", "AASIM", "HEAL", "ALL"), "OK")
        self.assertEqual(s.cli("A", "AASIM", "WAITSYNC"), "OK")
        self.assertIn("from 0 to 3600000", s.cli("A", "AASIM", "WAITSYNC", "99999999999999"))
        # A known admin command with extra arguments is not an unknown one.
        for sub in ("TIME", "STATUS", "WAITSYNC"):
            self.assertEqual(s.cli("A", "AASIM", sub, "1", "2"),
                             "ERR wrong number of arguments for 'aasim|%s' command" % sub.lower())
        for region in "AB":
            self.assertEqual(sorted(s.cli(region, "SMEMBERS", "group").split()),
                             ["grace", "jorma"])

    def test_bounded_counter_commands(self):
        # The overdraft kept (scenarios/overdraft-escrow.yaml) through real clients: each
        # region spends only its own rights; the value is never negative; GET reads it.
        s = Served(self, TWO_REGIONS % "20ms")
        self.assertEqual(s.cli("A", "BC.INCRBY", "balance", "100"), "100")
        self.assertEqual(s.cli("A", "BC.TRANSFER", "balance", "40", "B"), "60")
        self.assertEqual(s.cli("A", "AASIM", "WAITSYNC", "5000"), "OK")
        self.assertEqual(s.cli("B", "BC.RIGHTS", "balance").split(), ["A", "60", "B", "40"])
        self.assertEqual(s.cli("A", "BC.DECRBY", "balance", "60"), "40")
        self.assertIn("insufficient rights: region B holds 40 of 60",
                      s.cli("B", "BC.DECRBY", "balance", "60"))
        self.assertEqual(s.cli("A", "AASIM", "WAITSYNC", "5000"), "OK")
        for region in "AB":
            self.assertEqual(s.cli(region, "BC.GET", "balance"), "40")
            self.assertEqual(s.cli(region, "GET", "balance"), "40")
            self.assertEqual(s.cli(region, "TYPE", "balance"), "bcounter")

    def test_diagram_of_what_happened_so_far(self):
        import xml.etree.ElementTree as ET
        s = Served(self, TWO_REGIONS % "20ms", "--record")
        self.assertEqual(s.cli("A", "INCR", "n"), "1")
        self.assertEqual(s.cli("A", "AASIM", "PARTITION", "A", "B"), "OK")
        self.assertEqual(s.cli("B", "SADD", "s", "x"), "1")
        self.assertEqual(s.cli("A", "AASIM", "HEAL", "ALL"), "OK")
        self.assertEqual(s.cli("A", "AASIM", "WAITSYNC"), "OK")
        path = os.path.join(s.dir.name, "so-far.svg")
        self.assertEqual(s.cli("B", "AASIM", "DIAGRAM", path), "OK")
        root = ET.parse(path).getroot()  # well-formed XML
        ns = "{http://www.w3.org/2000/svg}"
        steps = [g for g in root.iter(ns + "g") if g.get("id", "").startswith("step-")]
        self.assertEqual(len(steps), 4)  # INCR, partition, SADD, heal
        text = ET.tostring(root, encoding="unicode")
        self.assertIn("INCR n", text)
        self.assertIn("partition A | B", text)
        arrows = [e for e in root.iter() if "arrow" in e.get("class", "").split()]
        self.assertGreater(len(arrows), 0)
        # Without --record there is nothing to draw, and it says how to get it.
        plain = Served(self, TWO_REGIONS % "20ms")
        self.assertIn("--record", plain.cli("A", "AASIM", "DIAGRAM", path))

    def test_redis_cli_scan_and_float_counters(self):
        s = Served(self, TWO_REGIONS % "40ms")
        keys = ["key:%d" % i for i in range(60)]
        s.client("A").mset({k: "v" for k in keys})
        self.assertEqual(sorted(s.cli("A", "--scan").split()), sorted(keys))
        self.assertEqual(sorted(s.cli("A", "--scan", "--pattern", "key:1*").split()),
                         sorted(k for k in keys if k.startswith("key:1")))
        self.assertEqual(s.cli("A", "AASIM", "PARTITION", "A", "B"), "OK")
        self.assertEqual(s.cli("A", "INCRBYFLOAT", "price", "1.5"), "1.5")
        self.assertEqual(s.cli("B", "INCRBYFLOAT", "price", "2.5"), "2.5")
        self.assertEqual(s.cli("A", "AASIM", "HEAL", "ALL"), "OK")
        self.assertEqual(s.cli("A", "AASIM", "WAITSYNC", "5000"), "OK")
        self.assertEqual(s.cli("A", "GET", "price"), "4")
        self.assertEqual(s.cli("B", "GET", "price"), "4")

    def test_admin_info_and_connection_commands(self):
        s = Served(self, TWO_REGIONS % "20ms")
        self.assertEqual(s.cli("A", "PING"), "PONG")
        self.assertEqual(s.cli("A", "ECHO", "hi"), "hi")
        self.assertEqual(s.cli("A", "SELECT", "0"), "OK")
        self.assertIn("DB index is out of range", s.cli("A", "SELECT", "1"))
        self.assertEqual(int(s.cli("A", "COMMAND", "COUNT")) > 40, True)
        self.assertIn("unknown command", s.cli("A", "NOSUCHCOMMAND"))
        # COMMAND GETKEYS: the key range, and Redis 7.0's errors around it.
        self.assertEqual(s.cli("A", "COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"), "a\nb")
        self.assertIn("wrong number of arguments for 'command|getkeys'",
                      s.cli("A", "COMMAND", "GETKEYS", "GET"))
        self.assertIn("Invalid number of arguments specified for command",
                      s.cli("A", "COMMAND", "GETKEYS", "MSET", "a"))
        self.assertIn("Invalid command specified", s.cli("A", "COMMAND", "GETKEYS", "NOPE", "x"))
        self.assertIn("no key arguments", s.cli("A", "COMMAND", "GETKEYS", "PING", "x"))
        s.cli("A", "SET", "k", "v")
        info = s.cli("A", "INFO", "activeactive")
        for field in ("max_ops_lag:", "min_ops_lag:", "effects_in:", "effects_out:",
                      "partial_syncs:", "full_syncs:", "peer0:name=B"):
            self.assertIn(field, info)
        status = s.cli("A", "AASIM", "STATUS")
        self.assertIn("A: up writes=1", status)
        self.assertIn("unknown region", s.cli("A", "AASIM", "PARTITION", "A", "X"))
        self.assertEqual(s.cli("A", "AASIM", "CRASH", "B"), "0")
        self.assertIn("CLUSTERDOWN", s.cli("B", "GET", "k"))
        self.assertEqual(s.cli("A", "AASIM", "RESTART", "B"), "OK")
        self.assertEqual(s.cli("A", "AASIM", "WAITSYNC"), "OK")
        self.assertEqual(s.cli("B", "GET", "k"), "v")


class ServePythonClient(unittest.TestCase):
    def test_pipelines_and_transactions(self):
        s = Served(self, TWO_REGIONS % "30ms")
        a, b = s.client("A"), s.client("B")
        self.assertTrue(a.ping())
        a.client_setname("tester")
        self.assertEqual(a.client_getname(), "tester")
        pipe = a.pipeline(transaction=False)
        for _ in range(1000):
            pipe.incr("hits")
        self.assertEqual(pipe.execute()[-1], 1000)
        with a.pipeline(transaction=True) as tx:
            tx.incrby("hits", 5).sadd("tags", "x", "y").smembers("tags")
            replies = tx.execute()
        self.assertEqual(replies, [1005, 2, {b"x", b"y"}])
        self.assertEqual(b.execute_command("AASIM", "WAITSYNC"), b"OK")
        self.assertEqual(b.get("hits"), b"1005")
        self.assertEqual(b.smembers("tags"), {b"x", b"y"})

    def test_watch_aborts_when_a_local_client_or_a_peer_writes(self):
        s = Served(self, TWO_REGIONS % "30ms")
        a, a2, b = s.client("A"), s.client("A"), s.client("B")
        a.set("balance", 10)
        # A local write between WATCH and EXEC.
        with a.pipeline() as p:
            p.watch("balance")
            a2.set("balance", 20)
            p.multi()
            p.set("balance", 0)
            with self.assertRaises(redis.WatchError):
                p.execute()
        # A write in region B whose effect reaches A between WATCH and EXEC.
        a.execute_command("AASIM", "WAITSYNC")
        with a.pipeline() as p:
            p.watch("balance")
            b.incr("counter")  # other key: does not matter
            b.set("balance", 30)
            self.assertEqual(a.execute_command("AASIM", "WAITSYNC"), b"OK")
            p.multi()
            p.set("balance", 0)
            with self.assertRaises(redis.WatchError):
                p.execute()
        # On the wire, an aborted EXEC is Redis's null array.
        with socket.create_connection(("127.0.0.1", s.ports["A"])) as sock:
            sock.sendall(b"WATCH balance\r\n")
            self.assertEqual(sock.recv(100), b"+OK\r\n")
            a2.incr("balance")
            sock.sendall(b"MULTI\r\nINCR balance\r\nEXEC\r\nQUIT\r\n")
            self.assertEqual(read_reply(sock), b"+OK\r\n+QUEUED\r\n*-1\r\n+OK\r\n")
        a2.set("balance", 30)
        # Untouched: EXEC runs.
        with a.pipeline() as p:
            p.watch("balance")
            p.multi()
            p.incr("balance")
            self.assertEqual(p.execute(), [31])

    def test_transaction_errors(self):
        s = Served(self, TWO_REGIONS % "30ms")
        a = s.client("A")
        with self.assertRaises(redis.ResponseError) as e:
            with a.pipeline(transaction=True) as tx:
                tx.execute_command("GET")  # wrong number of arguments: EXECABORT
                tx.execute()
        self.assertIn("wrong number of arguments", str(e.exception))
        # What redis-py reports above is the queueing error; EXEC itself says EXECABORT.
        with socket.create_connection(("127.0.0.1", s.ports["A"])) as sock:
            sock.sendall(b"MULTI\r\nGET\r\nINCR n\r\nEXEC\r\nQUIT\r\n")
            self.assertEqual(read_reply(sock),
                             b"+OK\r\n-ERR wrong number of arguments for 'get' command\r\n"
                             b"+QUEUED\r\n-EXECABORT Transaction discarded because of "
                             b"previous errors.\r\n+OK\r\n")
        self.assertIsNone(a.get("n"))
        a.set("s", "string")
        with a.pipeline(transaction=True) as tx:
            tx.incr("n").sadd("s", "x")
            replies = tx.execute(raise_on_error=False)
        self.assertEqual(replies[0], 1)
        self.assertIsInstance(replies[1], redis.ResponseError)
        self.assertIn("WRONGTYPE", str(replies[1]))


    def test_watch_aborts_when_a_write_restores_the_same_value(self):
        # Redis compares versions, not values: a write that leaves the value as it was
        # (SET to the same value, or a change and a change back) still aborts EXEC.
        s = Served(self, TWO_REGIONS % "30ms")
        a, a2, b = s.client("A"), s.client("A"), s.client("B")
        a.set("balance", 10)
        with a.pipeline() as p:
            p.watch("balance")
            a2.set("balance", 10)
            p.multi()
            p.incr("balance")
            with self.assertRaises(redis.WatchError):
                p.execute()
        with a.pipeline() as p:
            p.watch("balance")
            a2.incr("balance")
            a2.decr("balance")
            p.multi()
            p.incr("balance")
            with self.assertRaises(redis.WatchError):
                p.execute()
        # The same value written in region B, merged into A between WATCH and EXEC.
        self.assertEqual(a.execute_command("AASIM", "WAITSYNC"), b"OK")
        with a.pipeline() as p:
            p.watch("balance")
            b.set("balance", 10)
            self.assertEqual(a.execute_command("AASIM", "WAITSYNC"), b"OK")
            p.multi()
            p.incr("balance")
            with self.assertRaises(redis.WatchError):
                p.execute()
        self.assertEqual(a.get("balance"), b"10")
        # Reads do not move the version: EXEC runs.
        with a.pipeline() as p:
            p.watch("balance")
            a2.get("balance")
            p.multi()
            p.incr("balance")
            self.assertEqual(p.execute(), [11])

    def test_endpoint_and_unknown_commands_inside_multi(self):
        s = Served(self, TWO_REGIONS % "30ms")
        with socket.create_connection(("127.0.0.1", s.ports["A"])) as sock:
            sock.sendall(b"MULTI\r\nPING\r\nECHO hi\r\nINCR n\r\nEXEC\r\n"
                         b"MULTI\r\nNOSUCH x\r\nEXEC\r\nQUIT\r\n")
            self.assertEqual(read_reply(sock),
                             b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n"
                             b"*3\r\n+PONG\r\n$2\r\nhi\r\n:1\r\n"
                             b"+OK\r\n-ERR unknown command 'NOSUCH', with args beginning "
                             b"with: 'x' \r\n-EXECABORT Transaction discarded because of "
                             b"previous errors.\r\n+OK\r\n")


class ServeBlockingListPops(unittest.TestCase):
    """BLPOP/BRPOP/BLMOVE/BRPOPLPUSH/BLMPOP wait on the endpoint: served by a push in the
    region or replicated from a peer, nil (a null array) at the timeout, no wait in MULTI."""

    def blocked(self, client, *args):
        results = []
        t = threading.Thread(target=lambda: results.append(client.execute_command(*args)),
                             daemon=True)
        t.start()
        return t, results

    def test_pushes_here_and_in_a_peer_serve_blocked_pops(self):
        s = Served(self, TWO_REGIONS % "30ms")
        a, a2, b = s.client("A"), s.client("A"), s.client("B")
        t, got = self.blocked(a, "BLPOP", "q1", "q2", "0")
        time.sleep(0.2)
        self.assertTrue(t.is_alive())
        self.assertEqual(a2.info("clients")["blocked_clients"], 1)
        a2.rpush("q2", "job1")
        t.join(5)
        self.assertEqual(got, [(b"q2", b"job1")])  # redis-py: a tuple
        # A push in region B replicates to A and serves A's waiting BRPOP.
        t, got = self.blocked(a, "BRPOP", "q1", "5")
        time.sleep(0.2)
        self.assertTrue(t.is_alive())
        b.lpush("q1", "from-b")
        t.join(5)
        self.assertEqual(got, [(b"q1", b"from-b")])
        # BLMOVE and BRPOPLPUSH wait for their source and push to the destination.
        t, got = self.blocked(a, "BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
        time.sleep(0.1)
        a2.rpush("src", "x")
        t.join(5)
        self.assertEqual(got, [b"x"])
        self.assertEqual(a2.lrange("dst", 0, -1), [b"x"])
        t, got = self.blocked(a, "BLMPOP", "0", "2", "m1", "m2", "RIGHT", "COUNT", "2")
        time.sleep(0.1)
        a2.rpush("m2", "a", "b", "c")
        t.join(5)
        self.assertEqual(got, [[b"m2", [b"c", b"b"]]])

    def test_timeout_and_multi(self):
        s = Served(self, TWO_REGIONS % "30ms")
        a = s.client("A")
        t0 = time.monotonic()
        self.assertIsNone(a.blpop(["empty"], timeout=0.3))
        self.assertGreaterEqual(time.monotonic() - t0, 0.29)
        with socket.create_connection(("127.0.0.1", s.ports["A"])) as sock:
            sock.sendall(b"BRPOPLPUSH empty dst 0.1\r\nPING\r\nQUIT\r\n")
            self.assertEqual(read_reply(sock), b"*-1\r\n+PONG\r\n+OK\r\n")
        with self.assertRaises(redis.ResponseError) as e:
            a.execute_command("BLPOP", "empty", "-1")
        self.assertIn("timeout is negative", str(e.exception))
        # A very long timeout waits, as in Redis (it used to reply nil at once beyond 1e9 s).
        a2 = s.client("A")
        for seconds in ("4294967296", "1e12", "9e15"):
            t, got = self.blocked(a, "BLPOP", "long", seconds)
            time.sleep(0.3)
            self.assertTrue(t.is_alive(), "BLPOP long %s replied %r at once" % (seconds, got))
            a2.rpush("long", seconds)
            t.join(5)
            self.assertEqual(got, [(b"long", seconds.encode())])
        # Beyond 2^63 ms: Redis 7.0's error (its milliseconds wrap negative), never nil.
        for seconds in ("9223372036854776", "1e16", "1e308"):
            with self.assertRaises(redis.ResponseError) as e:
                a.execute_command("BLPOP", "empty", seconds)
            self.assertIn("timeout is negative", str(e.exception))
        with a.pipeline(transaction=True) as tx:  # in MULTI: the non-blocking form
            tx.blpop(["empty"], timeout=0)
            tx.rpush("empty", "v")
            tx.blpop(["empty"], timeout=0)
            self.assertEqual(tx.execute(), [None, 1, (b"empty", b"v")])  # redis-py: a tuple


class ServeBlockingReads(unittest.TestCase):
    """XREADGROUP ... BLOCK ms, as Redis 7: waits for an XADD in the region, nil at the
    timeout, BLOCK 0 forever, first blocked first served, other clients served meanwhile."""

    def reader(self, client, consumer, block, results):
        def run():
            try:
                results[consumer] = client.xreadgroup("workers", consumer, {"jobs": ">"},
                                                      block=block)
            except Exception as e:  # reported by the test thread
                results[consumer] = e
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    def test_blocked_reader_gets_the_entry_another_client_adds(self):
        s = Served(self, TWO_REGIONS % "30ms")
        a, a2, b = s.client("A"), s.client("A"), s.client("B")
        a2.xgroup_create("jobs", "workers", id="$", mkstream=True)
        b.xgroup_create("jobs", "workers", id="$", mkstream=True)
        results = {}
        t = self.reader(a, "w1", 0, results)
        time.sleep(0.3)
        self.assertTrue(t.is_alive())  # blocked: nothing for the group yet
        # Other clients are served meanwhile.
        self.assertTrue(a2.ping())
        self.assertEqual(a2.info("clients")["blocked_clients"], 1)
        a2.set("x", 1)
        self.assertEqual(a2.get("x"), b"1")
        # Streams are region-local: an XADD in region B does not serve A's reader.
        b.xadd("jobs", {"in": "B"})
        time.sleep(0.2)
        self.assertTrue(t.is_alive())
        entry = a2.xadd("jobs", {"job": "42"})
        t.join(5)
        self.assertFalse(t.is_alive())
        self.assertEqual(results["w1"], [[b"jobs", [(entry, {b"job": b"42"})]]])
        self.assertEqual(a2.info("clients")["blocked_clients"], 0)
        # Delivered to w1: pending for it, not delivered again.
        self.assertEqual(a2.xpending("jobs", "workers")["pending"], 1)
        self.assertEqual(a2.xreadgroup("workers", "w2", {"jobs": ">"}), [])  # redis-py: nil

    def test_replicated_streams_an_entry_from_a_peer_serves_the_reader(self):
        s = Served(self, TWO_REGIONS % "200ms" + "streams: { replicate: true }\n")
        a, b = s.client("A"), s.client("B")
        a.xgroup_create("jobs", "workers", id="$", mkstream=True)
        deadline = time.monotonic() + 10
        while b.exists("jobs") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        results = {}
        t = self.reader(a, "w1", 10000, results)
        time.sleep(0.2)
        self.assertTrue(t.is_alive())
        entry = b.xadd("jobs", {"in": "B"})
        t.join(8)
        self.assertFalse(t.is_alive())
        self.assertEqual(results["w1"], [[b"jobs", [(entry, {b"in": b"B"})]]])

    def xread_thread(self, client, block, results):
        def run():
            try:
                results["xread"] = client.xread({"s": "$"}, block=block)
            except Exception as e:  # reported by the test thread
                results["xread"] = e
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    def wait_blocked(self, client):
        deadline = time.monotonic() + 10
        while client.info("clients")["blocked_clients"] != 1:
            self.assertLess(time.monotonic(), deadline, "the reader never blocked")
            time.sleep(0.02)

    def test_xread_dollar_is_served_an_entry_from_a_peer(self):
        s = Served(self, TWO_REGIONS % "50ms" + "streams: { replicate: true }\n")
        a, b = s.client("A"), s.client("B")
        results = {}
        t = self.xread_thread(a, 10000, results)
        self.wait_blocked(s.client("A"))
        entry = b.xadd("s", {"in": "B"})
        t.join(8)
        self.assertFalse(t.is_alive())
        self.assertEqual(results["xread"], [[b"s", [(entry, {b"in": b"B"})]]])

    def test_xread_dollar_is_the_last_id_ever_deleted_included(self):
        # '$' is the stream's last id (deleted entries count, as Redis's last_id), fixed when
        # the read begins, and finding it is not a command: nothing of it is recorded.
        s = Served(self, TWO_REGIONS % "20ms" +
                   "streams: { replicate: true, id_mode: liberal }\n", "--record")
        a, b = s.client("A"), s.client("B")
        a.xadd("s", {"f": "1"}, id="1-1")
        self.assertEqual(s.cli("A", "AASIM", "WAITSYNC"), "OK")
        self.assertEqual(s.cli("A", "AASIM", "PARTITION", "A", "B"), "OK")
        a.xadd("s", {"f": "3"}, id="3-1")
        self.assertEqual(a.xdel("s", "3-1"), 1)
        b.xadd("s", {"f": "2"}, id="2-1")  # B has not seen 3-1
        results = {}
        t = self.xread_thread(a, 10000, results)
        self.wait_blocked(s.client("A"))
        self.assertEqual(s.cli("A", "AASIM", "HEAL", "ALL"), "OK")
        self.assertEqual(s.cli("A", "AASIM", "WAITSYNC"), "OK")
        self.assertEqual(a.xlen("s"), 2)  # 2-1 arrived, and is before '$' (3-1)
        time.sleep(0.1)
        self.assertTrue(t.is_alive(), results.get("xread"))
        b.xadd("s", {"f": "4"}, id="4-1")
        t.join(8)
        self.assertEqual(results["xread"], [[b"s", [(b"4-1", {b"f": b"4"})]]])
        path = os.path.join(s.dir.name, "so-far.svg")
        self.assertEqual(s.cli("A", "AASIM", "DIAGRAM", path), "OK")
        with open(path) as f:
            text = f.read()
        self.assertIn("XREAD", text)
        self.assertNotIn("XREVRANGE", text)

    def test_timeout_replies_nil(self):
        s = Served(self, TWO_REGIONS % "30ms")
        a = s.client("A")
        a.xgroup_create("jobs", "workers", id="$", mkstream=True)
        t0 = time.monotonic()
        self.assertEqual(a.xreadgroup("workers", "w1", {"jobs": ">"}, block=300), [])
        self.assertGreaterEqual(time.monotonic() - t0, 0.29)
        # On the wire: Redis's null array, then the pipelined command behind it.
        with socket.create_connection(("127.0.0.1", s.ports["A"])) as sock:
            sock.sendall(b"XREADGROUP GROUP workers w1 BLOCK 100 STREAMS jobs >\r\n"
                         b"PING\r\nQUIT\r\n")
            self.assertEqual(read_reply(sock), b"*-1\r\n+PONG\r\n+OK\r\n")
        # Bad timeouts are Redis's errors, and never block.
        with self.assertRaises(redis.ResponseError) as e:
            a.execute_command("XREADGROUP", "GROUP", "workers", "w1", "BLOCK", "-1",
                              "STREAMS", "jobs", ">")
        self.assertIn("timeout is negative", str(e.exception))
        # A very long BLOCK waits (its timer used to wrap past 2^63 ns and fire at once).
        got = []
        reader = threading.Thread(target=lambda: got.append(a.execute_command(
            "XREADGROUP", "GROUP", "workers", "w1", "BLOCK", "9223372036854775", "STREAMS",
            "jobs", ">")), daemon=True)
        reader.start()
        time.sleep(0.3)
        self.assertTrue(reader.is_alive(), "a BLOCK of 2^63 ns replied %r at once" % got)
        s.client("A").xadd("jobs", {"f": "v"})
        reader.join(5)
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0][0][1][0][1], {b"f": b"v"})
        # Inside MULTI, BLOCK does not wait (as in Redis).
        with a.pipeline(transaction=True) as tx:
            tx.xreadgroup("workers", "w1", {"jobs": ">"}, block=0)
            self.assertEqual(tx.execute(), [[]])  # nil, at once

    def test_readers_are_served_in_the_order_they_blocked(self):
        s = Served(self, TWO_REGIONS % "30ms")
        a = s.client("A")
        a.xgroup_create("jobs", "workers", id="$", mkstream=True)
        results = {}
        t1 = self.reader(s.client("A"), "w1", 0, results)
        time.sleep(0.2)
        t2 = self.reader(s.client("A"), "w2", 5000, results)
        time.sleep(0.2)
        first = a.xadd("jobs", {"n": "1"})
        t1.join(5)
        self.assertEqual(results["w1"], [[b"jobs", [(first, {b"n": b"1"})]]])
        time.sleep(0.2)
        self.assertTrue(t2.is_alive())  # the entry went to w1 only
        second = a.xadd("jobs", {"n": "2"})
        t2.join(5)
        self.assertEqual(results["w2"], [[b"jobs", [(second, {b"n": b"2"})]]])
        # A reader that disconnects while blocked takes nothing with it.
        sock = socket.create_connection(("127.0.0.1", s.ports["A"]))
        sock.sendall(b"XREADGROUP GROUP workers w3 BLOCK 0 STREAMS jobs >\r\n")
        time.sleep(0.2)
        sock.close()
        time.sleep(0.2)
        third = a.xadd("jobs", {"n": "3"})
        self.assertEqual(a.xreadgroup("workers", "w4", {"jobs": ">"}, block=1000),
                         [[b"jobs", [(third, {b"n": b"3"})]]])


class ServeBenchmark(unittest.TestCase):
    def test_redis_benchmark_completes_without_errors(self):
        s = Served(self, TWO_REGIONS % "10ms")
        out = subprocess.run(
            ["redis-benchmark", "-p", str(s.ports["A"]), "-t", "set,get,incr,sadd", "-P", "16",
             "-n", "20000", "-c", "20", "-q"],
            capture_output=True, text=True, timeout=100)
        text = out.stdout.replace("\r", "\n") + out.stderr
        self.assertEqual(out.returncode, 0, text)
        for test in ("SET", "GET", "INCR", "SADD"):
            self.assertRegex(text, test + r": [0-9.]+ requests per second")
        self.assertNotIn("ERR", text)
        self.assertNotIn("Error", text)
        # Every INCR arrived, and it replicates.
        b = s.client("B")
        self.assertEqual(b.execute_command("AASIM", "WAITSYNC", "20000"), b"OK")
        self.assertEqual(b.get("counter:__rand_int__"), b"20000")


def read_reply(sock, timeout=5):
    """Reads until the peer closes or `timeout`; returns the bytes."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    return data


class ServeMalformed(unittest.TestCase):
    def setUp(self):
        self.s = Served(self, TWO_REGIONS % "10ms")
        self.healthy = self.s.client("A")
        self.assertTrue(self.healthy.ping())

    def raw(self):
        sock = socket.create_connection(("127.0.0.1", self.s.ports["A"]))
        self.addCleanup(sock.close)
        return sock

    def assert_alive(self):
        self.assertIsNone(self.s.proc.poll(), "the server died")
        self.assertTrue(self.healthy.ping())
        self.assertEqual(self.s.client("B").ping(), True)

    def test_protocol_errors_reply_and_close(self):
        cases = {
            b"*1\r\n$99999999999\r\n": b"-ERR Protocol error: invalid bulk length\r\n",
            b"*abc\r\n": b"-ERR Protocol error: invalid multibulk length\r\n",
            b"*1\r\n+x\r\n": b"-ERR Protocol error: expected '$', got '+'\r\n",
            b'SET "k v\r\n': b"-ERR Protocol error: unbalanced quotes in request\r\n",
            b"PING\r\n*1\r\n$-5\r\n": b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n",
        }
        for bad, reply in cases.items():
            sock = self.raw()
            sock.sendall(bad)
            self.assertEqual(read_reply(sock), reply, bad)
        self.assert_alive()

    def test_random_bytes(self):
        rng = random.Random(8)
        for _ in range(50):
            sock = self.raw()
            sock.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000))))
            sock.shutdown(socket.SHUT_WR)
            read_reply(sock, timeout=2)
            sock.close()
        self.assert_alive()

    def test_truncated_frames_do_not_block_others(self):
        stuck = []
        for frame in (b"*3\r\n$3\r\nSET\r\n$1\r\nk", b"*2\r\n$3\r\nGET\r\n$100000\r\nabc",
                      b"*1000000\r\n", b"PIN"):
            sock = self.raw()
            sock.sendall(frame)
            stuck.append(sock)  # left open, half a request sent
        self.assert_alive()
        for sock in stuck:
            sock.close()
        self.assert_alive()

    def test_huge_bulk_lengths(self):
        sock = self.raw()
        # Within the limit (512MB): the server waits for the bytes without allocating them.
        sock.sendall(b"*2\r\n$3\r\nGET\r\n$60000000\r\nxyz")
        self.assert_alive()
        sock.close()
        sock = self.raw()
        sock.sendall(b"*1\r\n$600000000\r\n")
        self.assertIn(b"invalid bulk length", read_reply(sock))
        self.assert_alive()

    def test_ten_thousand_pipelined_commands(self):
        sock = self.raw()
        n = 10000
        sock.sendall(b"".join(b"*2\r\n$4\r\nINCR\r\n$1\r\np\r\n" for _ in range(n)) +
                     b"PING\r\n" * 10 + b"QUIT\r\n")
        data = read_reply(sock, timeout=20)
        self.assertTrue(data.endswith(b"+PONG\r\n" * 10 + b"+OK\r\n"), data[-100:])
        self.assertEqual(data.count(b"\r\n"), n + 11)
        self.assertTrue(data.startswith(b":1\r\n:2\r\n"))
        self.assertIn(b":10000\r\n", data)
        self.assert_alive()

    def test_client_that_never_reads(self):
        sock = self.raw()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        big = b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$200000\r\n" + b"x" * 200000 + b"\r\n"
        sock.sendall(big)
        sock.settimeout(5)
        try:
            for _ in range(400):  # ~80MB of replies requested, never read
                sock.send(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n")
        except (socket.timeout, BlockingIOError):
            pass  # flow control: the server stopped reading us
        self.assert_alive()


def ipv6_loopback():
    """Whether this machine can listen on ::1."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def raw_command(host, port, command):
    """Sends one inline command over a fresh connection and returns the reply's bytes."""
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(command + b"\r\nQUIT\r\n")
        return read_reply(sock)


class ServeIPv6(unittest.TestCase):
    """An IPv6 host in HOST:PORT is written in brackets ([::1]:6379), as Redis and URLs do."""

    def setUp(self):
        if not ipv6_loopback():
            self.skipTest("no IPv6 loopback (::1) on this machine")

    def test_serve_prints_and_reports_bracketed_addresses(self):
        for host in ("::1", "[::1]"):
            s = Served(self, TWO_REGIONS % "10ms", "--host", host)
            for region in "AB":
                self.assertEqual(s.addrs[region], "[::1]:%d" % s.ports[region])
            c = redis.Redis(host="::1", port=s.ports["A"], socket_timeout=10)
            self.assertTrue(c.set("k", "v"))
            # CLIENT LIST's addr= as Redis writes it for an IPv6 client.
            self.assertIn(b"addr=[::1]:", raw_command("::1", s.ports["A"], b"CLIENT LIST"))

    def test_serve_rejects_a_host_with_a_port(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write(TWO_REGIONS % "10ms")
            f.flush()
            out = subprocess.run([AASIM, "serve", f.name, "--host", "[::1]:80"],
                                 capture_output=True, text=True, timeout=20)
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("'[::1]:80' is not an IP address", out.stderr)

    def node(self, *args):
        p = subprocess.Popen([AASIM, "node", *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.addCleanup(p.stderr.close)
        self.addCleanup(p.stdout.close)
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        return p

    def test_nodes_listen_and_peer_over_ipv6(self):
        pa, pb = free_port(), free_port()
        a = self.node("--region", "A", "--listen", "[::1]:%d" % pa, "--peer", "B=[::1]:%d" % pb)
        b = self.node("--region", "B", "--listen", "[::1]:%d" % pb, "--peer", "A=[::1]:%d" % pa)
        self.assertEqual(a.stdout.readline().strip(), "A [::1]:%d" % pa, a.stderr)
        self.assertEqual(b.stdout.readline().strip(), "B [::1]:%d" % pb)
        redis.Redis(host="::1", port=pa, socket_timeout=10).incrby("hits", 5)
        cb = redis.Redis(host="::1", port=pb, socket_timeout=10)
        for _ in range(200):
            if cb.get("hits") == b"5":
                break
            time.sleep(0.05)
        self.assertEqual(cb.get("hits"), b"5")
        self.assertIn(b"addr=[::1]:%d" % pa, raw_command("::1", pb, b"INFO activeactive"))

    def test_node_rejects_unbracketed_ipv6_with_a_port(self):
        for flag, value in (("--listen", "::1:0"), ("--peer", "B=::1:6379")):
            args = ["--region", "A", "--listen", "[::1]:0"] if flag == "--peer" else \
                ["--region", "A"]
            out = subprocess.run([AASIM, "node", *args, flag, value], capture_output=True,
                                 text=True, timeout=20)
            self.assertEqual(out.returncode, 2, out.stderr)
            self.assertIn("an IPv6 host goes in brackets", out.stderr)


class ServeAuthAndScript(unittest.TestCase):
    def test_requirepass(self):
        s = Served(self, TWO_REGIONS % "10ms", "--requirepass", "s3cret")
        anon = s.client("A")
        with self.assertRaises(redis.AuthenticationError):
            anon.get("k")
        with self.assertRaises((redis.AuthenticationError, redis.ResponseError)) as e:
            s.client("A", password="wrong").ping()
        self.assertIn("WRONGPASS", str(e.exception))
        good = s.client("A", password="s3cret")
        self.assertTrue(good.set("k", "v"))
        self.assertEqual(good.get("k"), b"v")
        # HELLO AUTH checks the password as AUTH does (a real redis-server with requirepass:
        # protocol_differential_test.py's AUTH_CASES).
        hello = s.client("A")
        with self.assertRaises(redis.ResponseError) as e:
            hello.execute_command("HELLO", "2", "AUTH", "default", "wrong")
        self.assertIn("WRONGPASS", str(e.exception))
        reply = hello.execute_command("HELLO", "2", "AUTH", "default", "s3cret")
        self.assertEqual(reply[reply.index(b"proto") + 1], 2)
        self.assertEqual(hello.get("k"), b"v")

    def test_fixed_ports_from_the_file_and_the_command_line(self):
        pa, pb = free_port(), free_port()
        s = Served(self, TWO_REGIONS % "10ms" + "ports: {A: %d}\n" % pa, "--port",
                   "B=%d" % pb)
        self.assertEqual(s.ports, {"A": pa, "B": pb})
        self.assertTrue(s.client("B").ping())

    def test_steps_and_script_run_against_the_wall_clock(self):
        yaml = TWO_REGIONS % "50ms" + """
steps:
  - A: INCR foo
    expect: 1
  - B: GET foo
    expect: null
  - wait: 100ms
  - B: GET foo
    expect: 1
"""
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("""name: script
regions: [A, B]
steps:
  - partition: [A, B]
  - A: SADD s x
  - wait: 100ms
  - B: SMEMBERS s
    expect: []
  - heal: all
  - sync
  - converged: [s]
  - B: SMEMBERS s
    expect: [x]
  - B: GET foo
    expect: 2
""")
        self.addCleanup(os.unlink, f.name)
        s = Served(self, yaml, "--script", f.name, "--exit-after-steps")
        out, err = s.proc.communicate(timeout=30)
        self.assertEqual(s.proc.returncode, 1, out + err)  # the last step fails: foo is 1
        self.assertIn("B: GET foo -> 1  ok", out)
        self.assertIn("B: SMEMBERS s -> [x]  ok", out)
        self.assertIn("converged: ok", out)
        self.assertIn("expected 2", out)
        self.assertIn("steps done: 1 failure", out)

    def test_bad_input_is_rejected(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("name: x\nregions: [A]\nports: {B: 1}\n")
        self.addCleanup(os.unlink, f.name)
        out = subprocess.run([AASIM, "serve", f.name], capture_output=True, text=True,
                             timeout=10)
        self.assertEqual(out.returncode, 2)
        self.assertIn(":3:", out.stderr)
        self.assertIn("unknown region 'B'", out.stderr)


if __name__ == "__main__":
    unittest.main()
