#!/usr/bin/python3
"""Differential test against a real redis-server: seeded sequences of sorted-set, geo and
HyperLogLog commands (valid and invalid: bad floats, inf/-inf/nan, +inf in ranges,
exclusive bounds, wrong types, bad options; geo points on the edges of the Mercator range,
invalid coordinates, every search shape and option) go to one region of `aasim serve` and to a
redis-server this test starts on a free port; every reply must be equal.

Scores in the generated ZINCRBY steps are dyadic (0.5, 0.25, integers), whose sums are
exact: aasim sums one region's increments before adding them to the ZADD base, which can
differ from a sequential Redis in the last bit for steps like 0.1 (crdt/zset.h).

AASIM names the binary; AASIM_SEED=S (or S1,S2,...) replays those sequences. Without a
redis-server in PATH the test is skipped (a failure under CI=true)."""
import os
import random
import shutil
import subprocess
import tempfile
import time
import unittest

import redis
from ports import free_port

AASIM = os.environ.get("AASIM", "aasim")
DEFAULT_SEEDS = tuple(range(1, 31))
STEPS = 150

KEYS = ["z1", "z2", "z3", "s", "str", "h1", "h2"]
MEMBERS = ["a", "b", "c", "d", "e", "m1", "m2", ""]
# Dyadic, so that sums with the dyadic increments below are exact (see above); decimal
# formatting of non-dyadic scores has a test of its own.
SCORES = ["0", "1", "-1", "2.5", "-2.5", "3", "1e3", "0.375", "inf", "-inf", "+inf",
          "0.0078125", "10", "1.5e300", "-0"]
BAD_SCORES = ["nan", "abc", "", " 1", "1 ", "1e400"]
BOUNDS = ["-inf", "+inf", "inf", "0", "1", "(1", "2.5", "(2.5", "-1", "(-inf", "(+inf", "3",
          "x", "(x", "(", "nan"]
LEX = ["-", "+", "[a", "(a", "[c", "(c", "[m", "[m1", "(m2", "a", "[", "("]
STEPS_DYADIC = ["0.5", "-0.25", "1", "2", "-3", "0", "inf", "-inf"]
ELEMENTS = ["u%d" % i for i in range(40)]


def command(rng):
    k = rng.choice(KEYS[:4] + ["z1", "z1", "z2"])
    m = rng.choice(MEMBERS)
    s = rng.choice(SCORES if rng.random() > 0.05 else BAD_SCORES)
    b1, b2 = rng.choice(BOUNDS), rng.choice(BOUNDS)
    r1, r2 = str(rng.randint(-6, 6)), str(rng.randint(-6, 6))
    l1, l2 = rng.choice(LEX), rng.choice(LEX)
    opts = lambda pool: [o for o in pool if rng.random() < 0.3]  # noqa: E731
    c = rng.randrange(34)
    if c < 6:
        flags = opts(["NX", "XX", "GT", "LT", "CH"])
        if rng.random() < 0.15:
            flags.append("INCR")
        pairs = []
        for _ in range(rng.choice([1, 1, 2, 3])):
            pairs += [rng.choice(SCORES[:8] + ["inf", "-inf"]), rng.choice(MEMBERS)]
        if rng.random() < 0.05:
            pairs = pairs[:-1]
        return ["ZADD", k] + flags + pairs
    if c < 9:
        return ["ZINCRBY", k, rng.choice(STEPS_DYADIC), m]
    if c < 11:
        return ["ZREM", k] + rng.sample(MEMBERS, rng.randint(1, 3))
    if c == 11:
        return ["ZSCORE", k, m]
    if c == 12:
        return ["ZMSCORE", k] + rng.sample(MEMBERS, 2)
    if c == 13:
        return ["ZCARD", k]
    if c == 14:
        return ["ZCOUNT", k, b1, b2]
    if c == 15:
        return [rng.choice(["ZRANK", "ZREVRANK"]), k, m]
    if c in (16, 17):
        kind = rng.choice([[], ["BYSCORE"], ["BYLEX"]])
        lo, hi = (b1, b2) if kind == ["BYSCORE"] else (l1, l2) if kind == ["BYLEX"] else (r1, r2)
        extra = kind + opts(["REV", "WITHSCORES"])
        if rng.random() < 0.3:
            extra += ["LIMIT", str(rng.randint(-1, 3)), str(rng.randint(-1, 4))]
        rng.shuffle(extra)
        return ["ZRANGE", k, lo, hi] + extra
    if c == 18:
        extra = opts(["WITHSCORES"])
        if rng.random() < 0.3:
            extra += ["LIMIT", str(rng.randint(-1, 3)), str(rng.randint(-1, 4))]
        return [rng.choice(["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]), k, b1, b2] + extra
    if c == 19:
        return ["ZREVRANGE", k, r1, r2] + opts(["WITHSCORES"])
    if c == 20:
        return ["ZRANGEBYLEX", k, l1, l2]
    if c == 21:
        return ["ZLEXCOUNT", k, l1, l2]
    if c == 22:
        return [rng.choice(["ZPOPMIN", "ZPOPMAX"]), k] + ([str(rng.randint(-1, 3))]
                                                          if rng.random() < 0.5 else [])
    if c == 23:
        kind = rng.choice([[], ["BYSCORE"]])
        lo, hi = (b1, b2) if kind else (r1, r2)
        return ["ZRANGESTORE", rng.choice(["z3", "z2"]), k, lo, hi] + kind + opts(["REV"])
    if c == 24:
        srcs = rng.sample(["z1", "z2", "z3", "s", "nokey"], rng.randint(1, 3))
        extra = []
        if rng.random() < 0.4:
            extra += ["WEIGHTS"] + [rng.choice(["1", "2", "0.5", "-1", "inf", "0"]) for _ in srcs]
        if rng.random() < 0.4:
            extra += ["AGGREGATE", rng.choice(["SUM", "MIN", "MAX", "AVG"])]
        return [rng.choice(["ZUNIONSTORE", "ZINTERSTORE"]), rng.choice(["z3", "z2"]),
                str(len(srcs))] + srcs + extra
    if c == 25:
        return ["ZREMRANGEBYSCORE", k, b1, b2]
    if c == 26:
        return ["ZREMRANGEBYRANK", k, r1, r2]
    if c == 27:
        return ["SADD", "s", rng.choice(MEMBERS)]
    if c == 28:
        return ["SET", "str", rng.choice(["v", "1"])]
    if c == 29:
        return ["DEL", rng.choice(KEYS)]
    if c == 30:
        return ["PFADD", rng.choice(["h1", "h2", "str", "z1"])] + rng.sample(
            ELEMENTS, rng.randint(0, 5))
    if c == 31:
        return ["PFCOUNT"] + rng.sample(["h1", "h2", "nokey"], rng.randint(1, 3))
    if c == 32:
        return ["PFMERGE", rng.choice(["h1", "h2", "h3"])] + rng.sample(["h1", "h2", "nokey"], 2)
    return ["TYPE", k]


def more_command(rng):
    """The sorted-set commands added after the first set: set algebra without a store
    (ZUNION, ZINTER, ZDIFF, ZINTERCARD), ZDIFFSTORE, ZMPOP, the blocking pops on keys that
    are present or with a short timeout, ZRANDMEMBER, ZREMRANGEBYLEX, ZREVRANGEBYLEX; mixed
    with the writes of command() so the keys change."""
    k = rng.choice(KEYS[:4] + ["z1", "z1", "z2"])
    l1, l2 = rng.choice(LEX), rng.choice(LEX)
    c = rng.randrange(16)
    if c < 5:
        return command(rng)
    if c == 5:
        return ["ZADD", rng.choice(["z1", "z2", "z3"]), rng.choice(["0", "0", "1", "-1"]),
                rng.choice(MEMBERS)]
    if c in (6, 7):
        name = rng.choice(["ZUNION", "ZINTER", "ZDIFF", "ZINTERCARD", "ZDIFFSTORE"])
        srcs = rng.sample(["z1", "z2", "z3", "s", "nokey", "str"][:5 if rng.random() < 0.9
                                                                    else 6], rng.randint(1, 3))
        numkeys = str(len(srcs)) if rng.random() < 0.9 else rng.choice(["0", "-1", "x", "9"])
        extra = []
        if rng.random() < 0.3:
            extra += ["WEIGHTS"] + [rng.choice(["1", "2", "0.5", "-1", "inf", "0", "x"])
                                    for _ in srcs]
        if rng.random() < 0.3:
            extra += ["AGGREGATE", rng.choice(["SUM", "MIN", "MAX", "AVG"])]
        if rng.random() < 0.4:
            extra.append("WITHSCORES")
        if rng.random() < 0.3:
            extra += ["LIMIT", rng.choice(["0", "1", "2", "-1", "x"])]
        rng.shuffle(extra)
        lead = [name] + (["z3"] if name == "ZDIFFSTORE" else [])
        return lead + [numkeys] + srcs + extra
    if c == 8:
        srcs = rng.sample(["z1", "z2", "z3", "nokey", "s"], rng.randint(1, 3))
        numkeys = str(len(srcs)) if rng.random() < 0.9 else rng.choice(["0", "x", "9"])
        extra = [rng.choice(["MIN", "MAX", "MIN", "MAX", "LEFT"])]
        if rng.random() < 0.5:
            extra += ["COUNT", rng.choice(["1", "2", "5", "0", "-1", "x"])]
        if rng.random() < 0.05:
            extra += ["COUNT", "1"]
        if rng.random() < 0.3:
            return ["BZMPOP", rng.choice(["0.01", "0.01", "-1", "x"]), numkeys] + srcs + extra
        return ["ZMPOP", numkeys] + srcs + extra
    if c == 9:
        srcs = rng.sample(["z1", "z2", "z3", "nokey"], rng.randint(1, 3))
        return [rng.choice(["BZPOPMIN", "BZPOPMAX"])] + srcs + [
            rng.choice(["0.01", "0.01", "0.01", "-1", "x"])]
    if c in (10, 11):
        argv = ["ZRANDMEMBER", k]
        if rng.random() < 0.8:
            argv.append(rng.choice(["0", "1", "2", "3", "-1", "-3", "-5", "20", "x",
                                    "-9223372036854775808", "9223372036854775807"]))
            if rng.random() < 0.5:
                argv.append(rng.choice(["WITHSCORES", "WITHSCORES", "withscores", "foo"]))
        return argv
    if c == 12:
        return ["ZREMRANGEBYLEX", k, l1, l2]
    if c == 13:
        extra = []
        if rng.random() < 0.3:
            extra += ["LIMIT", str(rng.randint(-1, 3)), str(rng.randint(-1, 4))]
        return ["ZREVRANGEBYLEX", k, l1, l2] + extra
    if c == 14:
        return ["ZRANGE", rng.choice(["z1", "z2", "z3"]), "0", "-1", "WITHSCORES"]
    return ["ZRANGE", k, l1, l2, "BYLEX", "REV"]


def check_random_reply(test, sim, argv, want, got, where):
    """ZRANDMEMBER draws differently from Redis: same shape, drawn from the same set."""
    if isinstance(want, tuple) or want is None or isinstance(want, bytes):
        if isinstance(want, bytes):  # one member: any member of the set
            test.assertIsInstance(got, bytes, where)
            test.assertIsNotNone(run(sim, ["ZSCORE", argv[1], got]), where)
            return
        test.assertEqual(got, want, where)
        return
    members = run(sim, ["ZRANGE", argv[1], "0", "-1", "WITHSCORES"])
    scores = dict(zip(members[0::2], members[1::2]))
    test.assertEqual(len(got), len(want), where)
    step = 2 if len(argv) == 4 else 1
    names = got[0::step]
    for i, name in enumerate(names):
        test.assertIn(name, scores, where)
        if step == 2:
            test.assertEqual(got[2 * i + 1], scores[name], where)
    if int(argv[2]) > 0:
        test.assertEqual(len(set(names)), len(names), where)
        if int(argv[2]) >= len(scores):
            test.assertEqual(got, want, where)  # the whole set, from the highest rank


GEO_KEYS = ["g1", "g1", "g1", "g1", "g1", "g2", "g2", "str"]
EDGE_LONS = ["180", "-180", "0", "179.999999", "-179.9999999", "0.000001", "-0"]
EDGE_LATS = ["85.05112878", "-85.05112878", "0", "85.05112877", "-85.0511287", "0.0000001"]
BAD_COORDS = [("180.0000001", "0"), ("0", "85.05112879"), ("-181", "10"), ("0", "-90"),
              ("nan", "0"), ("abc", "1"), ("inf", "0"), ("1", ""), ("1e400", "0")]
UNITS = ["m", "km", "ft", "mi", "KM", "Mi", "yd"]


def geo_points(rng, n):
    """n distinct positions: edges of the Mercator range first, then random ones."""
    points = [(lon, lat) for lon in EDGE_LONS[:3] for lat in EDGE_LATS[:3]]
    points += [(lon, lat) for lon in EDGE_LONS[3:] for lat in EDGE_LATS[3:]
               if rng.random() < 0.3]
    seen = set((float(lon), float(lat)) for lon, lat in points)
    while len(points) < n:
        p = ("%.*f" % (rng.randint(0, 7), rng.uniform(-180, 180)),
             "%.*f" % (rng.randint(0, 7), rng.uniform(-85.05112878, 85.05112878)))
        if (float(p[0]), float(p[1])) not in seen:
            seen.add((float(p[0]), float(p[1])))
            points.append(p)
    rng.shuffle(points)
    return points[:n]


def geo_command(rng, points):
    """One geo (or related sorted-set) command over members m0..mN, member i always at
    points[i] or points[i + N] (distinct positions, so no two members tie on a distance
    unless a search is centred between them)."""
    n = len(points) // 2
    k = rng.choice(GEO_KEYS)
    idx = rng.randrange(n)
    member = "m%d" % idx

    def point(i):
        if rng.random() < 0.05:
            return list(rng.choice(BAD_COORDS))
        return list(points[i + rng.choice([0, n])])

    def center():
        r = rng.random()
        if r < 0.5:
            return ["FROMMEMBER", "m%d" % rng.randrange(n + 1)]
        if r < 0.55:
            return ["FROMLONLAT"] + list(rng.choice(BAD_COORDS))
        return ["FROMLONLAT", "%.4f" % rng.uniform(-180, 180),
                "%.4f" % rng.uniform(-85.05, 85.05)]

    def shape():
        unit = rng.choice(UNITS[:6] if rng.random() > 0.03 else UNITS)
        size = lambda: rng.choice(["0", "1", "50", "5000", "-1", "x", "2.5e4"]) \
            if rng.random() < 0.1 else "%.3f" % (10 ** rng.uniform(0, 7.3))  # noqa: E731
        if rng.random() < 0.5:
            return ["BYRADIUS", size(), unit]
        return ["BYBOX", size(), size(), unit]

    def options(store):
        out = []
        if rng.random() < 0.5:
            out.append(rng.choice(["ASC", "DESC"]))
        if rng.random() < 0.4:
            out += ["COUNT", rng.choice(["1", "2", "3", "5", "0", "-1", "x"])]
            if rng.random() < 0.3:
                out.append("ANY")
        if not store or rng.random() < 0.03:
            out += [o for o in ["WITHDIST", "WITHCOORD", "WITHHASH"] if rng.random() < 0.4]
        return out

    c = rng.randrange(20)
    if c < 6:
        flags = [f for f in ["NX", "XX", "CH"] if rng.random() < 0.2]
        if rng.random() < 0.02:
            flags.append("GT")
        args = []
        for _ in range(rng.choice([1, 1, 2, 3])):
            i = rng.randrange(n)
            args += point(i) + ["m%d" % i]
        return ["GEOADD", k] + flags + args
    if c == 6:
        return ["GEOPOS", k] + ["m%d" % rng.randrange(n + 2) for _ in range(rng.randint(1, 3))]
    if c == 7:
        return ["GEODIST", k, member, "m%d" % rng.randrange(n + 1)] + (
            [rng.choice(UNITS)] if rng.random() < 0.7 else [])
    if c == 8:
        return ["GEOHASH", k] + ["m%d" % rng.randrange(n + 2) for _ in range(rng.randint(1, 3))]
    if c in (9, 10, 11, 12):
        parts = [center(), shape()]
        rng.shuffle(parts)
        if rng.random() < 0.03:
            parts = parts[:1]
        return ["GEOSEARCH", k] + parts[0] + (parts[1] if len(parts) > 1 else []) + options(False)
    if c == 13:
        return ["GEOSEARCHSTORE", "g3", k] + center() + shape() + options(True) + (
            ["STOREDIST"] if rng.random() < 0.5 else [])
    if c == 14:
        radius = shape()
        if radius[0] == "BYBOX":
            radius = ["BYRADIUS", radius[1], radius[3]]
        lead = ([rng.choice(["GEORADIUS", "GEORADIUS_RO"]), k] + center()[-2:]
                if rng.random() < 0.5 else
                [rng.choice(["GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER_RO"]), k,
                 "m%d" % rng.randrange(n + 1)])
        extra = options(False)
        if rng.random() < 0.2:
            extra = [o for o in extra if not o.startswith("WITH")]
            extra += [rng.choice(["STORE", "STOREDIST"]), "g3"]
        return lead + radius[1:] + extra
    if c == 15:
        return ["ZRANGE", "g3", "0", "-1", "WITHSCORES"]
    if c == 16:
        return ["ZREM", k, member]
    if c == 17:
        return ["ZADD", k, rng.choice(["-1", "1e20", "4503599627370496", "9007199254740993",
                                       "-inf", "0"]), "odd%d" % rng.randrange(2)]
    if c == 18:
        return ["SET", "str", "v"]
    return ["DEL", rng.choice(["g1", "g2", "g3"])]


def normalize(reply):
    if isinstance(reply, redis.ResponseError):
        return ("error", str(reply))
    if isinstance(reply, list):
        return [normalize(x) for x in reply]
    return reply


def run(client, argv):
    try:
        return normalize(client.execute_command(*argv))
    except redis.ResponseError as e:
        return normalize(e)


class ZsetAgainstRedis(unittest.TestCase):
    def setUp(self):
        server = shutil.which("redis-server")
        if server is None:
            if os.environ.get("CI") == "true":
                self.fail("redis-server not found")
            self.skipTest("redis-server not found")
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        port = free_port()
        self.redis_proc = subprocess.Popen(
            [server, "--port", str(port), "--save", "", "--appendonly", "no",
             "--dir", self.dir.name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self.redis_proc.wait)
        self.addCleanup(self.redis_proc.kill)
        self.real = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
        for _ in range(100):
            try:
                self.real.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        path = os.path.join(self.dir.name, "one.yaml")
        with open(path, "w") as f:
            f.write("name: one region\nregions: [A]\n")
        self.aasim_proc = subprocess.Popen([AASIM, "serve", path], stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True)
        self.addCleanup(self.aasim_proc.stderr.close)
        self.addCleanup(self.aasim_proc.stdout.close)
        self.addCleanup(self.aasim_proc.wait)
        self.addCleanup(self.aasim_proc.kill)
        line = self.aasim_proc.stdout.readline()
        if not line:
            raise AssertionError("aasim serve exited: " + self.aasim_proc.stderr.read())
        self.sim = redis.Redis(host="127.0.0.1", port=int(line.split()[1].rsplit(":", 1)[1]),
                               socket_timeout=10)

        for client in (self.real, self.sim):  # raw replies: no redis-py conversions
            client.response_callbacks.clear()

    def seeds(self):
        env = os.environ.get("AASIM_SEED")
        return tuple(int(s) for s in env.split(",")) if env else DEFAULT_SEEDS

    def test_seeded_sequences(self):
        for seed in self.seeds():
            rng = random.Random(seed)
            self.real.flushall()
            self.sim.execute_command("DEL", *KEYS, "z3", "h3")
            for step in range(STEPS):
                argv = command(rng)
                want, got = run(self.real, argv), run(self.sim, argv)
                self.assertEqual(got, want, "seed=%d step=%d %s" % (seed, step, argv))

    def test_more_commands_seeded_sequences(self):
        for seed in self.seeds():
            rng = random.Random(seed)
            self.real.flushall()
            self.sim.execute_command("DEL", *KEYS, "z3", "h3")
            for step in range(STEPS):
                argv = more_command(rng)
                want, got = run(self.real, argv), run(self.sim, argv)
                where = "seed=%d step=%d %s" % (seed, step, argv)
                if argv[0] == "ZRANDMEMBER":
                    check_random_reply(self, self.sim, argv, want, got, where)
                else:
                    self.assertEqual(got, want, where)

    def test_blocking_pops_wake_on_writes(self):
        """BZPOPMIN and BZMPOP park the connection until another client writes the key."""
        for client in (self.real, self.sim):
            port = client.connection_pool.connection_kwargs["port"]
            waiter = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
            waiter.response_callbacks.clear()
            client.delete("bz1", "bz2")
            results = []
            import threading
            t = threading.Thread(target=lambda: results.append(
                waiter.execute_command("BZPOPMIN", "bz1", "bz2", "5")))
            t.start()
            time.sleep(0.2)
            client.execute_command("ZADD", "bz2", "3", "x", "1", "y")
            t.join(10)
            self.assertEqual(results, [[b"bz2", b"y", b"1"]])
            t = threading.Thread(target=lambda: results.append(
                waiter.execute_command("BZMPOP", "5", "1", "bz1", "MAX", "COUNT", "3")))
            t.start()
            time.sleep(0.2)
            client.execute_command("ZUNIONSTORE", "bz1", "1", "bz2")
            t.join(10)
            self.assertEqual(results[1], [b"bz1", [[b"x", b"3"]]])
            waiter.close()

    def test_geo_seeded_sequences(self):
        for seed in self.seeds():
            rng = random.Random(seed)
            points = geo_points(rng, 2 * rng.choice([6, 20, 60]))
            self.real.flushall()
            self.sim.execute_command("DEL", "g1", "g2", "g3", "str")
            start = ["GEOADD", "g1"]  # most members present, so searches find some
            for i in range(0, len(points) // 2, 2):
                start += list(points[i]) + ["m%d" % i]
            self.assertEqual(run(self.sim, start), run(self.real, start))
            for step in range(STEPS * 2):
                argv = geo_command(rng, points)
                want, got = run(self.real, argv), run(self.sim, argv)
                self.assertEqual(got, want, "seed=%d step=%d %s" % (seed, step, argv))

    def test_geo_many_points(self):
        """Two thousand random points (and the edges), then searches of every size from
        many centres: same members, distances, hashes and coordinates."""
        rng = random.Random(7)
        points = geo_points(rng, 2000)
        for client in (self.real, self.sim):
            client.execute_command("DEL", "many")
            for i in range(0, len(points), 200):
                args = []
                for j, (lon, lat) in enumerate(points[i:i + 200]):
                    args += [lon, lat, "p%d" % (i + j)]
                self.assertEqual(run(client, ["GEOADD", "many"] + args), 200)
        for step in range(300):
            argv = ["GEOSEARCH", "many"]
            if step % 3 == 0:
                argv += ["FROMMEMBER", "p%d" % rng.randrange(len(points))]
            else:
                argv += ["FROMLONLAT", "%.5f" % rng.uniform(-180, 180),
                         "%.5f" % rng.uniform(-85.05, 85.05)]
            size = "%.2f" % (10 ** rng.uniform(3, 7.3))
            argv += (["BYRADIUS", size, "m"] if step % 2 else ["BYBOX", size, size, "m"])
            argv += ["ASC", "WITHDIST", "WITHHASH", "WITHCOORD"]
            self.assertEqual(run(self.sim, argv), run(self.real, argv), argv)
        argv = ["GEOPOS", "many"] + ["p%d" % i for i in range(len(points))]
        self.assertEqual(run(self.sim, argv), run(self.real, argv))
        argv = ["GEOHASH", "many"] + ["p%d" % i for i in range(len(points))]
        self.assertEqual(run(self.sim, argv), run(self.real, argv))

    def test_aggregate_nan_rules(self):
        """NaN weighted scores (0 * inf) and sums (inf + -inf): inputs taken from the
        smallest, NaN as 0 where Redis makes it 0, ignored by a later MIN / MAX."""
        setup = [["ZADD", "na", "0", "m", "2", "x", "3", "y"], ["ZADD", "nb", "-1", "m", "4", "x"],
                 ["ZADD", "n1", "inf", "m"], ["ZADD", "n2", "-inf", "m", "1", "q"],
                 ["ZADD", "n3", "5", "m", "1", "n", "2", "o"]]
        for argv in setup:
            self.assertEqual(run(self.sim, argv), run(self.real, argv), argv)
        for store in (["ZINTERSTORE", "out", "2", "nb", "na", "WEIGHTS", "-1", "inf"],
                      ["ZINTERSTORE", "out", "2", "na", "nb", "WEIGHTS", "inf", "-1"],
                      ["ZUNIONSTORE", "out", "3", "n3", "n1", "n2"],
                      ["ZUNIONSTORE", "out", "3", "n1", "n2", "n3"],
                      ["ZINTERSTORE", "out", "3", "n3", "n1", "n2"]):
            for aggregate in ("SUM", "MIN", "MAX"):
                argv = store + ["AGGREGATE", aggregate]
                self.assertEqual(run(self.sim, argv), run(self.real, argv), argv)
                argv = ["ZRANGE", "out", "0", "-1", "WITHSCORES"]
                self.assertEqual(run(self.sim, argv), run(self.real, argv), store + [aggregate])

    def test_score_formatting(self):
        scores = ["0.1", "1e-5", "1e20", "1.5e300", "-0", "123456789012345678", "4.9e-324",
                  "1e16", "0.30000000000000004", "-2.5", "inf", "-inf", "3", "1e400", " 1",
                  "(1", "0x10", "infinity"]
        for i, score in enumerate(scores):
            argv = ["ZADD", "fmt", score, "m%d" % i]
            self.assertEqual(run(self.sim, argv), run(self.real, argv), argv)
        for argv in (["ZRANGE", "fmt", "0", "-1", "WITHSCORES"],
                     ["ZINCRBY", "fmt", "0.2", "m0"], ["ZRANGEBYSCORE", "fmt", " 1", "1e400"]):
            self.assertEqual(run(self.sim, argv), run(self.real, argv), argv)

    def test_hll_counts_match_on_many_elements(self):
        for n in (0, 1, 10, 100, 1000, 20000):
            self.real.delete("hll")
            self.sim.delete("hll")
            for start in range(0, n, 500):
                batch = ["e%d" % i for i in range(start, min(n, start + 500))]
                self.assertEqual(run(self.sim, ["PFADD", "hll"] + batch),
                                 run(self.real, ["PFADD", "hll"] + batch))
            self.assertEqual(run(self.sim, ["PFCOUNT", "hll"]), run(self.real, ["PFCOUNT", "hll"]),
                             "n=%d" % n)


if __name__ == "__main__":
    unittest.main()
