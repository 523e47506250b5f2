#!/usr/bin/python3
"""Redis's two nulls, byte for byte against a plain redis-server.

Clients (redis-py, hiredis in RESP2) and Lua read the null bulk string (`$-1`) and the
null array (`*-1`) alike, so the other differential tests cannot tell them apart; the wire
can. The same commands go to a redis-server started here and to region A of `aasim serve`,
in RESP2 and in RESP3 (where both are `_`), and the raw replies must be equal.
AASIM names the binary (ctest sets it)."""
import unittest

from pubsub_test import Raw, RedisServer
from serve_test import Served

COMMANDS = [
    ("RPUSH", "list", "a"),
    ("LPOP", "nolist"),  # null bulk
    ("LPOP", "nolist", "2"),  # null array
    ("RPOP", "nolist", "2"),
    ("LPOP", "list", "0"),
    ("LMPOP", "1", "nolist", "LEFT"),
    ("LMPOP", "2", "nolist", "list", "RIGHT", "COUNT", "3"),
    ("LPOS", "list", "zz"),
    ("LPOS", "list", "zz", "COUNT", "0"),
    ("MULTI",),
    ("BLPOP", "nolist", "0"),  # inside MULTI a blocking pop answers at once
    ("BRPOP", "nolist", "0"),
    ("EXEC",),
    ("GEOADD", "geo", "13.361389", "38.115556", "Palermo"),
    ("GEOPOS", "geo", "Palermo", "nowhere"),
    ("GEOPOS", "nogeo", "a", "b"),
    ("GEODIST", "geo", "Palermo", "nowhere"),
    ("GET", "nokey"),
    ("MGET", "nokey", "list"),
    ("SPOP", "noset", "2"),
    ("SRANDMEMBER", "noset", "2"),
    ("HRANDFIELD", "nohash", "2"),
    ("XADD", "st", "1", "f", "v"),
    ("XREAD", "STREAMS", "st", "$"),  # null array: nothing new
    ("XRANGE", "st", "-", "+", "COUNT", "0"),
    ("XGROUP", "CREATE", "st", "g", "$"),
    ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "st", ">"),
    ("XPENDING", "st", "g"),  # no consumers: a null array
    ("WATCH", "w"),
    ("SET", "w", "1"),
    ("MULTI",),
    ("GET", "w"),
    ("EXEC",),  # aborted by WATCH: a null array
    ("MULTI",),
    ("ZMPOP", "1", "noz", "MIN"),
    ("LMPOP", "1", "nolist", "LEFT"),
    ("XREAD", "STREAMS", "st", "$"),
    ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "st", ">"),
    ("BZPOPMIN", "noz", "0"),
    ("EXEC",),
    ("EVAL", "return redis.call('XREAD', 'STREAMS', 'st', '$')", "0"),
]


class NullReplies(unittest.TestCase):
    def exchange(self, port, protocol):
        c = Raw(port)
        if protocol == 3:
            c.call("HELLO", "3")
        out = [(argv, c.call(*argv)) for argv in COMMANDS]
        # XADD's id is not compared: a replicated stream's sequence part names the region.
        out = [(argv, r[:1] if argv[0] == "XADD" else r) for argv, r in out]
        c.call("FLUSHALL")
        c.close()
        return out

    def test_same_bytes_as_redis(self):
        real = RedisServer(self)
        s = Served(self, "name: one\nregions: [A]\nstreams: { replicate: true }\n", regions=("A",))
        for protocol in (2, 3):
            want = self.exchange(real.port, protocol)
            got = self.exchange(s.ports["A"], protocol)
            for w, g in zip(want, got):
                self.assertEqual(w, g, "RESP%d" % protocol)
            self.assertEqual(len(want), len(got))


if __name__ == "__main__":
    unittest.main()
