#!/usr/bin/python3
"""Pub/sub and RESP3 (HELLO 3) on aasim's endpoints.

Differential: the same raw RESP exchanges against a plain `redis-server` (started here on
a free port) and against region A of `aasim serve` must give the same bytes. Then what only
Active/Active has: a message published in A reaches B's subscribers after the link's
latency, and none crosses a cut link; the same over `aasim node` processes.
AASIM names the binary (ctest sets it)."""
import os
import socket
import subprocess
import tempfile
import time
import unittest

import redis

from ports import free_port
from serve_test import Served

AASIM = os.environ.get("AASIM", "aasim")


class RedisServer:
    def __init__(self, test):
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        test.addCleanup(self.stop)
        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis(port=self.port).ping():
                    break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def encode(argv):
    out = b"*%d\r\n" % len(argv)
    for a in argv:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Raw:
    """One connection that sends commands and reads whole RESP2/RESP3 replies as bytes."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line + b"\r\n"

    def _exact(self, n):
        while len(self.buf) < n:
            self.buf += self.sock.recv(65536)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:-2]
        if kind in (b"$", b"=", b"!"):
            n = int(rest)
            return line if n < 0 else line + self._exact(n + 2)
        if kind in (b"*", b"~", b">", b"%"):
            n = int(rest)
            if n < 0:
                return line
            if kind == b"%":
                n *= 2
            return line + b"".join(self.reply() for _ in range(n))
        return line

    def call(self, *argv):
        self.sock.sendall(encode(argv))
        return self.reply()


# Exchanges whose replies Redis defines (no ids, versions or times in them).
SCRIPT = [
    ("HELLO", "3", "SETNAME", "x"),  # answered separately (ids and versions differ)
    ("SET", "k", "v"),
    ("GET", "missing"),
    ("SADD", "s", "b", "a", "c"),
    ("SCARD", "s"),
    ("HSET", "h", "f1", "v1", "f2", "v2"),
    ("HGETALL", "h"),
    ("HGETALL", "nohash"),
    ("SMEMBERS", "nosuch"),
    ("MGET", "k", "missing"),
    ("MULTI",),
    ("GET", "missing"),
    ("HGETALL", "h"),
    ("INCR", "n"),
    ("EXEC",),
    # The pops and commands with scores: doubles and [member, score] pairs (one-member
    # keys where Redis draws at random).
    ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4.5", "d", "5", "e"),
    ("ZPOPMIN", "z"),
    ("ZPOPMAX", "z", "1"),
    ("ZPOPMIN", "z", "2"),
    ("ZPOPMIN", "z", "0"),
    ("ZPOPMIN", "noz"),
    ("ZPOPMAX", "noz", "3"),
    ("ZADD", "z2", "1", "x", "2.25", "y", "3", "w"),
    ("ZMPOP", "2", "noz", "z2", "MIN", "COUNT", "2"),
    ("ZMPOP", "1", "z2", "MAX"),
    ("ZMPOP", "1", "noz", "MAX"),
    ("ZADD", "z3", "1.5", "p", "2", "q", "3", "r"),
    ("BZPOPMIN", "noz", "z3", "0"),
    ("BZPOPMAX", "z3", "0"),
    ("BZMPOP", "0", "2", "noz", "z3", "MIN", "COUNT", "5"),
    ("ZADD", "zr", "2.5", "only"),
    ("ZRANDMEMBER", "zr", "1", "WITHSCORES"),
    ("ZRANDMEMBER", "zr", "-2", "WITHSCORES"),
    ("ZRANDMEMBER", "zr", "5", "withscores"),
    ("ZRANDMEMBER", "noz", "2", "WITHSCORES"),
    ("ZADD", "z5", "1", "a", "2", "b", "3", "c"),
    ("ZUNION", "2", "z5", "zr", "WITHSCORES"),
    ("ZINTER", "2", "z5", "z5", "WEIGHTS", "1", "0.5", "WITHSCORES"),
    ("ZDIFF", "2", "z5", "zr", "WITHSCORES"),
    ("ZUNION", "2", "z5", "zr"),
    ("ZRANGE", "z5", "0", "-1", "WITHSCORES"),
    ("ZSCORE", "z5", "b"),
    ("RPUSH", "l", "a", "b", "c"),
    ("LMPOP", "1", "l", "LEFT", "COUNT", "2"),
    ("LMPOP", "2", "nol", "l", "RIGHT"),
    ("LMPOP", "1", "nol", "LEFT"),
    ("HSET", "h1", "f", "v"),
    ("HRANDFIELD", "h1", "1", "WITHVALUES"),
    ("HRANDFIELD", "h1", "-2", "WITHVALUES"),
    ("HRANDFIELD", "h1", "3", "WITHVALUES"),
    ("HRANDFIELD", "noh", "3", "WITHVALUES"),
    ("MULTI",),
    ("ZMPOP", "1", "z5", "MIN"),
    ("BZPOPMIN", "z5", "0"),
    ("ZPOPMAX", "z5", "1"),
    ("ZMPOP", "1", "z5", "MIN"),
    ("EXEC",),
    ("PUBLISH", "ch", "nobody"),
    ("PUBSUB", "NUMSUB", "ch", "other"),
    ("PUBSUB", "NUMPAT"),
    ("PUBSUB", "CHANNELS"),
    ("HELLO", "4"),
    ("HELLO", "x"),
]


def normalise_set(reply):
    """SMEMBERS's order is Redis's hash order: compare its elements as a set."""
    if not reply.startswith(b"~"):
        return reply
    head, rest = reply.split(b"\r\n", 1)
    items = rest.split(b"\r\n")[:-1]
    pairs = sorted(zip(items[0::2], items[1::2]))
    return head + b"\r\n" + b"".join(a + b"\r\n" + b + b"\r\n" for a, b in pairs)


class PubSubDifferential(unittest.TestCase):
    def exchange(self, port):
        c = Raw(port)
        out = []
        for argv in SCRIPT:
            r = c.call(*argv)
            if argv[0] == "HELLO" and argv[1] == "3":
                self.assertTrue(r.startswith(b"%7\r\n"), r)
                self.assertIn(b"$5\r\nproto\r\n:3\r\n", r)
                continue
            out.append((argv, normalise_set(r)))
        # Subscribed in RESP3: confirmations and messages are pushes; commands still run.
        sub = Raw(port)
        out.append(("sub-hello2", sub.call("HELLO", "2")[:2]))
        out.append(("sub", sub.call("SUBSCRIBE", "ch", "ch2")))
        out.append(("sub2", sub.reply()))
        out.append(("sub-get", sub.call("GET", "k")))
        out.append(("sub-ping", sub.call("PING")))
        out.append(("psub", sub.call("PSUBSCRIBE", "c*")))
        out.append(("pub", c.call("PUBLISH", "ch", "hi")))
        out.append(("msg", sub.reply()))
        out.append(("pmsg", sub.reply()))
        # UNSUBSCRIBE with no channel goes in Redis's hash order: compare the channels as a
        # set and the counts in order.
        unsub = [sub.call("UNSUBSCRIBE"), sub.reply()]
        out.append(("unsub", sorted(r.split(b"\r\n")[4] for r in unsub),
                    [r.split(b"\r\n")[5] for r in unsub]))
        out.append(("punsub", sub.call("PUNSUBSCRIBE", "c*")))
        out.append(("punsub-none", sub.call("PUNSUBSCRIBE")))
        out.append(("after", sub.call("GET", "k")))
        r3 = Raw(port)
        r3.call("HELLO", "3")
        out.append(("r3-sub", r3.call("SUBSCRIBE", "ch")))
        out.append(("r3-get", r3.call("GET", "k")))
        out.append(("r3-pub", r3.call("PUBLISH", "ch", "self")))  # the push, then the count
        out.append(("r3-pub-count", r3.reply()))
        out.append(("r3-reset", r3.call("RESET")))
        out.append(("r3-get2", r3.call("GET", "missing")))
        for x in (c, sub, r3):
            x.close()
        return out

    def test_same_bytes_as_redis(self):
        real = RedisServer(self)
        s = Served(self, "name: one\nregions: [A]\n", regions=("A",))
        want = self.exchange(real.port)
        got = self.exchange(s.ports["A"])
        for w, g in zip(want, got):
            self.assertEqual(w, g)
        self.assertEqual(len(want), len(got))


class PubSubAcrossRegions(unittest.TestCase):
    def test_published_in_a_heard_in_b_after_the_latency(self):
        s = Served(self, "name: t\nregions: [A, B]\nlinks:\n  default: { latency: 300ms }\n")
        a, b = redis.Redis(port=s.ports["A"]), redis.Redis(port=s.ports["B"])
        pa, pb = a.pubsub(), b.pubsub()
        pa.subscribe("news")
        pb.psubscribe("ne*")
        for p in (pa, pb):
            self.assertIsNotNone(p.get_message(timeout=5))  # the confirmation
        t0 = time.monotonic()
        self.assertEqual(a.publish("news", "hello"), 1)  # A's own subscriber, at once
        self.assertEqual(pa.get_message(timeout=5)["data"], b"hello")
        # B hears it once it crossed the 300ms link, never before (however slow this
        # machine is, a message seen must have been seen after the latency).
        early = pb.get_message(timeout=0.1)
        if early is None:  # still on the wire
            early = pb.get_message(timeout=5)
        self.assertGreaterEqual(time.monotonic() - t0, 0.28)
        self.assertEqual(early["data"], b"hello")
        self.assertEqual(early["channel"], b"news")
        # A cut link loses what is published meanwhile (pub/sub stores nothing).
        self.assertEqual(a.execute_command("AASIM", "PARTITION", "A", "B"), b"OK")
        a.publish("news", "lost")
        self.assertIsNone(pb.get_message(timeout=0.8))
        self.assertEqual(a.execute_command("AASIM", "HEAL", "ALL"), b"OK")
        a.publish("news", "after")
        self.assertEqual(pb.get_message(timeout=5)["data"], b"after")


class PubSubNodes(unittest.TestCase):
    def test_publish_crosses_node_links(self):
        ports = {r: free_port() for r in "AB"}
        procs = []
        for r in "AB":
            other = "B" if r == "A" else "A"
            p = subprocess.Popen([AASIM, "node", "--region", r, "--listen",
                                  "127.0.0.1:%d" % ports[r], "--peer",
                                  "%s=127.0.0.1:%d" % (other, ports[other])],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            procs.append(p)
            self.addCleanup(lambda p=p: (p.kill(), p.wait(), p.stderr.close()))
        a, b = redis.Redis(port=ports["A"]), redis.Redis(port=ports["B"])
        deadline = time.monotonic() + 10
        while True:  # both up and linked: a write in A is seen in B
            try:
                a.set("up", "1")
                if b.get("up") == b"1":
                    break
            except (redis.ConnectionError, redis.ResponseError):
                pass
            if time.monotonic() > deadline:
                self.fail("nodes did not link")
            time.sleep(0.05)
        pb = b.pubsub()
        pb.subscribe("ch")
        self.assertIsNotNone(pb.get_message(timeout=5))
        self.assertEqual(a.publish("ch", "over tcp"), 0)  # nobody in A
        got = pb.get_message(timeout=5)
        self.assertIsNotNone(got)
        self.assertEqual(got["data"], b"over tcp")


if __name__ == "__main__":
    unittest.main()
