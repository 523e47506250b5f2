#!/usr/bin/python3
"""Lists against a real redis-server: seeded random sequences of list commands (edge
indexes, counts, options, wrong types, syntax and integer errors) go to one `aasim serve`
region and to a redis-server; every reply (value or error text) must be equal, and so must
the final contents. AASIM_REDIS_URL (as scripts/test.sh sets it) or REDIS_URL names the
server (default redis://127.0.0.1:16390/0; keys
carry a per-run prefix and are deleted afterwards); the test is skipped when none answers,
unless CI=true. AASIM names the binary; AASIM_SEED=S replays one sequence."""
import os
import random
import sys
import unittest

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_test import Served  # noqa: E402  (the `aasim serve` process of a test)

REDIS_URL = (os.environ.get("AASIM_REDIS_URL") or
             os.environ.get("REDIS_URL", "redis://127.0.0.1:16390/0"))
SEEDS = ([int(os.environ["AASIM_SEED"])] if os.environ.get("AASIM_SEED")
         else list(range(1, 31)))
STEPS = 150
VALUES = ["a", "b", "c", "a", "1", ""]
INDEXES = ["0", "1", "-1", "2", "-2", "5", "-7", "100", "-100", "x", "1.5",
           "9223372036854775807", "-9223372036854775808"]


def command(rng, prefix):
    k = lambda: prefix + rng.choice(["l1", "l2", "s"])  # "s" is sometimes a string
    v = lambda: rng.choice(VALUES)
    i = lambda: rng.choice(INDEXES)
    end = lambda: rng.choice(["LEFT", "RIGHT", "left", "up"])
    pick = rng.randrange(24)
    if pick < 4:
        return [rng.choice(["LPUSH", "RPUSH"]), k()] + [v() for _ in range(rng.randint(1, 3))]
    if pick == 4:
        return [rng.choice(["LPUSHX", "RPUSHX"]), k(), v()]
    if pick == 5:
        cmd = [rng.choice(["LPOP", "RPOP"]), k()]
        if rng.random() < 0.5:
            cmd.append(rng.choice(["0", "1", "2", "10", "-1", "x"]))
        return cmd
    if pick == 6:
        return ["LRANGE", k(), i(), i()]
    if pick == 7:
        return ["LLEN", k()]
    if pick == 8:
        return ["LINDEX", k(), i()]
    if pick == 9:
        return ["LSET", k(), i(), v()]
    if pick == 10:
        return ["LINSERT", k(), rng.choice(["BEFORE", "after", "middle"]), v(), v()]
    if pick == 11:
        return ["LREM", k(), rng.choice(["0", "1", "-1", "2", "-2", "x"]), v()]
    if pick == 12:
        return ["LTRIM", k(), i(), i()]
    if pick == 13:
        cmd = ["LPOS", k(), v()]
        for _ in range(rng.randint(0, 3)):
            opt = rng.choice(["RANK", "COUNT", "MAXLEN", "BOGUS"])
            cmd += [opt, rng.choice(["0", "1", "-1", "2", "-2", "x"])]
        return cmd
    if pick == 14:
        return ["LMOVE", k(), k(), end(), end()]
    if pick == 15:
        return ["RPOPLPUSH", k(), k()]
    if pick == 16:
        n = rng.choice(["1", "2", "0", "x", "5"])
        cmd = ["LMPOP", n, k(), k(), end()]
        if rng.random() < 0.5:
            cmd += ["COUNT", rng.choice(["1", "3", "0", "x"])]
        return cmd
    if pick == 17:
        # Past 2^63 ms (1e16 s): Redis 7.0 says "timeout is negative", as for -1.
        timeout = rng.choice(["0.01", "-1", "x", "1e16", "9223372036854775807"])
        return [rng.choice(["BLPOP", "BRPOP"]), k(), k(), timeout]
    if pick == 18:
        return ["BLMOVE", k(), k(), end(), end(), rng.choice(["0.01", "-1"])]
    if pick == 19:
        return ["BRPOPLPUSH", k(), k(), "0.01"]
    if pick == 20:
        return ["BLMPOP", rng.choice(["0.01", "-1"]), "2", k(), k(), end(), "COUNT", "2"]
    if pick == 21:
        return ["SET", prefix + "s", v()]
    if pick == 22:
        return ["DEL", k()]
    return ["TYPE", k()]


def run(client, cmd):
    try:
        return ("ok", client.execute_command(*cmd))
    except redis.ResponseError as e:
        return ("error", str(e))


class ListsAgainstRedis(unittest.TestCase):
    def setUp(self):
        self.real = redis.Redis.from_url(REDIS_URL, socket_timeout=10)
        try:
            self.real.ping()
        except redis.ConnectionError:
            if os.environ.get("CI") == "true":
                raise
            self.skipTest("no redis-server at " + REDIS_URL)
        served = Served(self, "name: one region\nregions: [A]\nlinks:\n  default: { latency: 1ms }\n",
                        regions=("A",))
        self.sim = served.client("A")

    def test_random_sequences(self):
        prefix = "aasim-lists-%d:" % os.getpid()
        self.addCleanup(lambda: [self.real.delete(prefix + k) for k in ("l1", "l2", "s")])
        for seed in SEEDS:
            rng = random.Random(seed)
            for k in ("l1", "l2", "s"):
                self.real.delete(prefix + k)
                self.sim.delete(prefix + k)
            for step in range(STEPS):
                cmd = command(rng, prefix)
                want, got = run(self.real, cmd), run(self.sim, cmd)
                self.assertEqual(got, want, "seed=%d step=%d %r" % (seed, step, cmd))
            for k in ("l1", "l2"):
                self.assertEqual(self.sim.lrange(prefix + k, 0, -1),
                                 self.real.lrange(prefix + k, 0, -1), "seed=%d" % seed)


if __name__ == "__main__":
    unittest.main()
