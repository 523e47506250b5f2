#!/usr/bin/python3
"""Differential test against a real redis-server: seeded random sequences of bitmap
commands (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO; valid and invalid:
bad offsets, bits, types, ranges, units and overflow modes, wrong types), mixed with string
writes, go to one region of `aasim serve` and to a redis-server this test starts on a free
port; every reply must be equal, and so must the strings (GET). Then TOUCH, LCS and SORT,
and raw RESP bytes where nulls matter (a nil bulk, a null array and a nil inside an array
are all None to redis-py).

AASIM names the binary; AASIM_SEED=S (or S1,S2,...) replays those sequences. Without a
redis-server in PATH the test is skipped (a failure under CI=true)."""
import os
import random
import socket
import unittest

import zset_redis_test
from zset_redis_test import run

DEFAULT_SEEDS = tuple(range(1, 41))
STEPS = 200
KEYS = ["b1", "b1", "b1", "b2", "b2", "b3", "str", "z", "nokey"]
OFFSETS = ["0", "1", "7", "8", "9", "15", "16", "23", "31", "33", "63", "64", "100", "255"]
BAD_OFFSETS = ["-1", "x", "", "#1", "4294967296", "1.5", "+1"]
TYPES = ["u1", "u2", "u3", "u7", "u8", "u9", "u16", "u31", "u63", "i1", "i2", "i5", "i8",
         "i13", "i32", "i63", "i64"]
BAD_TYPES = ["u64", "i65", "i0", "u0", "x8", "", "u", "i-1", "U8", "u+8"]
VALUES = ["0", "1", "-1", "2", "-2", "5", "100", "-100", "127", "128", "255", "256", "-129",
          "65535", "9223372036854775807", "-9223372036854775808", "4611686018427387904"]


def small_index(rng):
    return str(rng.choice([0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 100, -1, -2, -3, -8, -9, -17,
                           -100]))


def command(rng):
    k = rng.choice(KEYS)
    off = rng.choice(OFFSETS) if rng.random() > 0.05 else rng.choice(BAD_OFFSETS)
    c = rng.randrange(20)
    if c < 5:
        bit = rng.choice(["0", "1", "1"]) if rng.random() > 0.05 else rng.choice(["2", "-1", "x"])
        return ["SETBIT", k, off, bit]
    if c == 5:
        return ["GETBIT", k, off]
    if c in (6, 7):
        argv = ["BITCOUNT", k]
        r = rng.random()
        if r < 0.7:
            argv += [small_index(rng), small_index(rng)]
            if rng.random() < 0.5:
                argv.append(rng.choice(["BIT", "BYTE", "bit", "byte", "bits"]))
        elif r < 0.75:
            argv += [small_index(rng)]
        return argv
    if c in (8, 9):
        argv = ["BITPOS", k, rng.choice(["0", "1", "1", "0", "2", "x"])]
        n = rng.choice([0, 1, 2, 3, 3])
        if n >= 1:
            argv.append(small_index(rng))
        if n >= 2:
            argv.append(small_index(rng))
        if n == 3:
            argv.append(rng.choice(["BIT", "BYTE", "bit", "nope"]))
        return argv
    if c == 10:
        op = rng.choice(["AND", "OR", "XOR", "NOT", "and", "xor", "NAND"])
        srcs = rng.sample(["b1", "b2", "b3", "nokey", "str", "z"][:5 if rng.random() < 0.9
                                                                  else 6], rng.randint(1, 3))
        return ["BITOP", op, rng.choice(["b3", "b2", "str"])] + srcs
    if c in (11, 12, 13):
        name = "BITFIELD" if rng.random() < 0.85 else "BITFIELD_RO"
        argv = [name, k]
        for _ in range(rng.randint(1, 4)):
            t = rng.choice(TYPES) if rng.random() > 0.04 else rng.choice(BAD_TYPES)
            o = rng.choice(OFFSETS + ["#0", "#1", "#3"]) if rng.random() > 0.04 else \
                rng.choice(BAD_OFFSETS)
            r = rng.random()
            if r < 0.2:
                argv += ["OVERFLOW", rng.choice(["WRAP", "SAT", "FAIL", "fail", "sat", "bad"])]
            elif r < 0.5:
                argv += ["GET", t, o]
            elif r < 0.75:
                argv += ["SET", t, o, rng.choice(VALUES + ["x"] if rng.random() < 0.05
                                                 else VALUES)]
            elif r < 0.98:
                argv += ["INCRBY", t, o, rng.choice(VALUES)]
            else:
                argv += [rng.choice(["GET", "SET", "FOO"])]
        return argv
    if c == 14:
        return ["SET", rng.choice(["b1", "b2", "str"]),
                rng.choice(["", "a", "foobar", "\xff\xf0\x00", "12345", "\x00\x00"])]
    if c == 15:
        return ["APPEND", rng.choice(["b1", "b2"]), rng.choice(["x", "\x00", "\xff"])]
    if c == 16:
        return ["DEL", rng.choice(["b1", "b2", "b3"])]
    if c == 17:
        return ["ZADD", "z", "1", "m"]
    if c == 18:
        return ["INCR", rng.choice(["b1", "b2"])]
    return ["GET", k]


class BitsAgainstRedis(unittest.TestCase):
    setUp = zset_redis_test.ZsetAgainstRedis.setUp

    def seeds(self):
        env = os.environ.get("AASIM_SEED")
        return tuple(int(s) for s in env.split(",")) if env else DEFAULT_SEEDS

    def both(self, argv):
        want, got = run(self.real, argv), run(self.sim, argv)
        self.assertEqual(got, want, argv)
        return got

    def test_seeded_sequences(self):
        for seed in self.seeds():
            rng = random.Random(seed)
            self.real.flushall()
            self.sim.execute_command("DEL", *set(KEYS))
            for step in range(STEPS):
                argv = command(rng)
                want, got = run(self.real, argv), run(self.sim, argv)
                self.assertEqual(got, want, "seed=%d step=%d %s" % (seed, step, argv))
            for key in sorted(set(KEYS)):
                argv = ["GET", key]
                self.assertEqual(run(self.sim, argv), run(self.real, argv), (seed, key))

    def test_bitmap_keeps_ttl(self):
        for argv in (["SET", "ttl", "a", "EX", "100"], ["SETBIT", "ttl", "100", "1"],
                     ["TTL", "ttl"], ["BITFIELD", "ttl", "SET", "u8", "200", "7"],
                     ["TTL", "ttl"], ["BITOP", "NOT", "ttl", "ttl"], ["TTL", "ttl"]):
            self.both(argv)

    def test_touch(self):
        for argv in (["SET", "t1", "v"], ["SADD", "t2", "m"], ["TOUCH", "t1"],
                     ["TOUCH", "t1", "t2", "nokey", "t1"], ["TOUCH", "nokey"], ["TOUCH"]):
            self.both(argv)

    def test_lcs(self):
        rng = random.Random(3)
        self.both(["SET", "l1", "ohmytext"])
        self.both(["SET", "l2", "mynewtext"])
        self.both(["SADD", "ls", "x"])
        for argv in (["LCS", "l1", "l2"], ["LCS", "l1", "l2", "LEN"], ["LCS", "l1", "l2", "IDX"],
                     ["LCS", "l1", "l2", "IDX", "MINMATCHLEN", "4"],
                     ["LCS", "l1", "l2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
                     ["LCS", "l1", "l2", "IDX", "WITHMATCHLEN"], ["LCS", "l1", "nokey"],
                     ["LCS", "nokey", "nokey2", "IDX"], ["LCS", "l1", "ls"],
                     ["LCS", "l1", "l2", "LEN", "IDX"], ["LCS", "l1", "l2", "FOO"],
                     ["LCS", "l1", "l2", "MINMATCHLEN", "x"], ["LCS", "l1", "l2", "MINMATCHLEN"],
                     ["LCS", "l1", "l2", "MINMATCHLEN", "-5", "IDX"], ["LCS", "l1", "l1", "IDX"],
                     ["lcs", "l1", "l2", "idx", "withmatchlen", "minmatchlen", "2"]):
            self.both(argv)
        for _ in range(200):
            a = "".join(rng.choice("abc") for _ in range(rng.randint(0, 12)))
            b = "".join(rng.choice("abc") for _ in range(rng.randint(0, 12)))
            self.both(["MSET", "la", a, "lb", b])
            for extra in ([], ["LEN"], ["IDX", "WITHMATCHLEN"],
                          ["IDX", "MINMATCHLEN", str(rng.randint(0, 3))]):
                self.both(["LCS", "la", "lb"] + extra)

    def test_sort(self):
        setup = [["RPUSH", "sl", "3", "1", "2", "10", "-1.5", "2"],
                 ["RPUSH", "sa", "b", "a", "C", "ab", "", "10"],
                 ["SADD", "ss", "5", "3", "9", "1"],
                 ["ZADD", "sz", "1", "c", "2", "a", "3", "b"], ["SET", "str", "x"]]
        for argv in setup:
            self.both(argv)
        for argv in (["SORT", "sl"], ["SORT", "sl", "DESC"], ["SORT", "sl", "LIMIT", "1", "3"],
                     ["SORT", "sl", "LIMIT", "-1", "2"], ["SORT", "sl", "LIMIT", "2", "-1"],
                     ["SORT", "sl", "LIMIT", "10", "2"], ["SORT", "sa"], ["SORT", "sa", "ALPHA"],
                     ["SORT", "sa", "ALPHA", "DESC", "LIMIT", "0", "3"], ["SORT", "ss"],
                     ["SORT", "sz"], ["SORT", "sz", "ALPHA"], ["SORT", "sz", "DESC"],
                     ["SORT", "nokey"], ["SORT", "str"], ["SORT", "sl", "STORE", "dst"],
                     ["LRANGE", "dst", "0", "-1"], ["SORT", "nokey", "STORE", "dst"],
                     ["EXISTS", "dst"], ["SORT_RO", "sl"], ["SORT_RO", "sa", "ALPHA", "DESC"],
                     ["SORT_RO", "sl", "STORE", "dst"], ["SORT", "sl", "FOO"],
                     ["SORT", "sl", "LIMIT", "x", "1"], ["SORT", "sl", "LIMIT", "1"],
                     ["sort", "sl", "asc", "alpha", "limit", "0", "2"],
                     ["SORT", "sl", "BY", "nosort"], ["SORT", "sl", "BY", "nosort", "DESC"],
                     ["SORT", "sz", "BY", "nosort", "DESC", "LIMIT", "1", "5"],
                     ["SORT", "ss", "BY", "nosort", "STORE", "dst"], ["LRANGE", "dst", "0", "-1"]):
            self.both(argv)
        # BY and GET patterns: weights and values in other keys (strings, hash fields).
        setup = [["RPUSH", "ids", "3", "1", "2", "4", "5"],
                 ["MSET", "w_1", "30", "w_2", "10", "w_3", "20", "w_4", "-1.5", "o_1", "one",
                  "o_2", "two", "o_3", "three", "a_1", "b", "a_2", "c", "a_3", "a", "a_4", "d"],
                 ["HSET", "obj_1", "w", "3", "name", "uno"], ["HSET", "obj_2", "w", "1"],
                 ["HSET", "obj_3", "w", "2", "name", "tres"], ["HSET", "obj_4", "w", "4"],
                 ["HSET", "obj_2", "name", "dos"], ["HSET", "obj_4", "name", "cuatro"],
                 ["SADD", "ids_s", "3", "1", "2"], ["ZADD", "ids_z", "1", "3", "2", "1", "3", "2"],
                 ["SADD", "o_5", "x"], ["SET", "w_x", "nan"], ["RPUSH", "xs", "x"]]
        for argv in setup:
            self.both(argv)
        for argv in (["SORT", "ids", "BY", "w_*"], ["SORT", "ids", "BY", "w_*", "DESC"],
                     ["SORT", "ids", "BY", "w_*", "LIMIT", "1", "2"],
                     ["SORT", "ids", "BY", "w_*", "GET", "#", "GET", "o_*"],
                     ["SORT", "ids", "BY", "a_*", "ALPHA"],
                     ["SORT", "ids", "BY", "a_*", "ALPHA", "DESC", "GET", "o_*"],
                     ["SORT", "ids", "BY", "obj_*->w"], ["SORT", "ids", "BY", "obj_*->w", "DESC"],
                     ["SORT", "ids", "BY", "obj_*->name", "ALPHA", "GET", "obj_*->name"],
                     ["SORT", "ids", "GET", "o_*"], ["SORT", "ids", "GET", "#"],
                     ["SORT", "ids", "GET", "obj_*->name", "GET", "#", "GET", "obj_*->w"],
                     ["SORT", "ids", "GET", "nostar"], ["SORT", "ids", "GET", "obj_*->"],
                     ["SORT", "ids", "GET", "o_*", "STORE", "dst"], ["LRANGE", "dst", "0", "-1"],
                     ["SORT", "ids", "BY", "w_*", "GET", "#", "GET", "a_*", "STORE", "dst"],
                     ["LRANGE", "dst", "0", "-1"],
                     ["SORT", "ids", "BY", "nosort", "GET", "o_*"],
                     ["SORT", "ids", "BY", "nosort", "GET", "o_*", "DESC", "LIMIT", "1", "2"],
                     ["SORT", "ids_s", "BY", "w_*", "GET", "o_*"],
                     ["SORT", "ids_z", "BY", "w_*"], ["SORT", "ids_z", "BY", "nosort", "GET", "#"],
                     ["SORT", "ids_s", "BY", "nosort", "GET", "o_*", "STORE", "dst"],
                     ["LRANGE", "dst", "0", "-1"],
                     ["SORT", "ids", "BY", "obj_*->w", "GET", "o_*", "LIMIT", "0", "3"],
                     ["SORT", "xs", "BY", "w_*"], ["SORT", "ids", "BY", "w_*", "BY", "nosort"],
                     ["SORT", "ids", "BY", "nosort", "BY", "w_*"],
                     ["SORT_RO", "ids", "BY", "w_*", "GET", "o_*"],
                     ["SORT", "ids", "GET"], ["SORT", "ids", "BY"],
                     ["SORT", "nokey", "BY", "w_*", "GET", "o_*"],
                     ["SORT", "ids", "BY", "w_*", "GET", "nostar", "STORE", "dst"],
                     ["LRANGE", "dst", "0", "-1"]):
            self.both(argv)
        # A weight that is not a number.
        for argv in (["SET", "w_5", "x"], ["SORT", "ids", "BY", "w_*"],
                     ["HSET", "obj_4", "w", "x"], ["SORT", "ids", "BY", "obj_*->w"]):
            self.both(argv)


def read_reply(sock_file):
    """The raw bytes of one RESP2 reply."""
    line = sock_file.readline()
    kind, rest = line[:1], line[1:-2]
    if kind in (b"+", b"-", b":"):
        return line
    if kind == b"$":
        n = int(rest)
        return line if n < 0 else line + sock_file.read(n + 2)
    if kind == b"*":
        n = int(rest)
        out = line
        for _ in range(max(n, 0)):
            out += read_reply(sock_file)
        return out
    raise AssertionError("bad reply %r" % line)


def raw(port, argvs):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        f = s.makefile("rb")
        out = []
        for argv in argvs:
            req = b"*%d\r\n" % len(argv)
            for a in argv:
                a = a.encode() if isinstance(a, str) else a
                req += b"$%d\r\n%s\r\n" % (len(a), a)
            s.sendall(req)
            out.append(read_reply(f))
        return out


class RawNullsAgainstRedis(unittest.TestCase):
    setUp = zset_redis_test.ZsetAgainstRedis.setUp

    def test_null_shapes(self):
        lines = [["DEL", "rz", "rb", "rs"], ["ZRANDMEMBER", "rz"], ["ZRANDMEMBER", "rz", "2"],
                 ["ZMPOP", "1", "rz", "MIN"], ["BZMPOP", "0.01", "1", "rz", "MAX"],
                 ["BZPOPMIN", "rz", "0.01"], ["BZPOPMAX", "rz", "rz2", "0.01"],
                 ["ZADD", "rz", "1", "a", "2", "b"], ["ZMPOP", "2", "nokey", "rz", "MAX"],
                 ["BZPOPMIN", "rz", "0"], ["ZRANDMEMBER", "rz", "5", "WITHSCORES"],
                 ["ZUNION", "1", "rz", "WITHSCORES"], ["ZINTERCARD", "1", "rz"],
                 ["BITFIELD", "rb", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "10", "GET", "u2",
                  "0"], ["GET", "rb"], ["BITFIELD", "rb"], ["BITFIELD_RO", "rb", "GET", "i8", "0"],
                 ["SETBIT", "rb", "13", "1"], ["GET", "rb"], ["BITPOS", "rb", "0", "0", "-1"],
                 ["SET", "rs", "\x00\xff"], ["BITOP", "NOT", "rs", "rs"], ["GET", "rs"],
                 ["LCS", "rs", "rb", "IDX"], ["SORT", "nokey"], ["LMPOP", "1", "nokey", "LEFT"]]
        want = raw(self.real.connection_pool.connection_kwargs["port"], lines)
        got = raw(self.sim.connection_pool.connection_kwargs["port"], lines)
        for argv, w, g in zip(lines, want, got):
            self.assertEqual(g, w, argv)


if __name__ == "__main__":
    unittest.main()
