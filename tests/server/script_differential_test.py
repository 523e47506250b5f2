#!/usr/bin/python3
"""Differential test of Lua scripting: the same EVAL / EVALSHA / SCRIPT command lines go to
a plain redis-server (started here on a free port) and to region A of `aasim serve`, over
raw RESP (so error texts are compared byte for byte, not as a client library rewrites
them). Every reply must be equal.

The cases cover the conversions both ways, KEYS/ARGV, the sandbox, redis.call/pcall
errors, error_reply/status_reply, sha1hex, cjson and bit, the script cache commands,
EVALSHA inside MULTI, and EVAL_RO. (Cases where Redis 7.0 itself misbehaves, e.g.
`error({})`, which crashes 7.0.15, are left out.) AASIM names the binary."""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from pubsub_test import Raw
from ports import free_port

AASIM = os.environ.get("AASIM", "aasim")

# Each case: a list of command lines (lists of arguments) run in order on a fresh keyspace.
CASES = [
    # Lua -> Redis conversions
    [["EVAL", "return 3.9", "0"]],
    [["EVAL", "return -3.9", "0"]],
    [["EVAL", "return 2^63", "0"]],
    [["EVAL", "return 0/0", "0"]],
    [["EVAL", "return 'x'", "0"]],
    [["EVAL", "return true", "0"]],
    [["EVAL", "return false", "0"]],
    [["EVAL", "return nil", "0"]],
    [["EVAL", "return {}", "0"]],
    [["EVAL", "return {1,'a',{2,{3}},false,true}", "0"]],
    [["EVAL", "return {1,nil,3}", "0"]],
    [["EVAL", "return {ok='fine'}", "0"]],
    [["EVAL", "return {err='MY bad'}", "0"]],
    [["EVAL", "return {err='noprefix'}", "0"]],
    [["EVAL", "return {ok=5}", "0"]],
    [["EVAL", "return {a=1}", "0"]],
    [["EVAL", "return redis.status_reply('A B')", "0"]],
    [["EVAL", "return redis.error_reply('oops')", "0"]],
    [["EVAL", "return redis.error_reply('-X y')", "0"]],
    [["EVAL", "return redis.error_reply('MY err')", "0"]],
    [["EVAL", "return redis.error_reply('my err')", "0"]],
    [["EVAL", "return redis.error_reply('')", "0"]],
    [["EVAL", "return tostring(1e20)", "0"]],
    [["EVAL", "return tostring(3.7)", "0"]],
    # Redis -> Lua conversions
    [["SET", "s", "v"], ["EVAL", "return redis.call('GET', KEYS[1])", "1", "s"]],
    [["EVAL", "return redis.call('GET', 'nokey') == false", "0"]],
    [["EVAL", "return type(redis.call('INCR', 'n'))", "0"]],
    [["EVAL", "return redis.call('SET', 'x', 1)", "0"]],
    [["EVAL", "return redis.call('SET', 'x', 1).ok", "0"]],
    [["EVAL", "redis.call('SET', 'f', 1.5) return redis.call('GET', 'f')", "0"]],
    [["EVAL", "redis.call('SET', 'f', 10) return redis.call('GET', 'f')", "0"]],
    [["EVAL", "return redis.call('ECHO', 7)", "0"]],
    [["EVAL", "return redis.call('PING')", "0"]],
    [["SADD", "t", "b", "a", "c"], ["EVAL", "return #redis.call('SMEMBERS', 't')", "0"]],
    [["HSET", "h", "f", "1"], ["EVAL", "return redis.call('HGET', 'h', 'f')", "0"]],
    [["SET", "s", "v"], ["EVAL", "return redis.pcall('INCR', 's')", "0"]],
    [["SET", "s", "v"], ["EVAL", "return redis.pcall('INCR', 's').err", "0"]],
    [["SET", "s", "v"], ["EVAL", "return redis.pcall('SADD', 's', 'm')", "0"]],
    # KEYS and ARGV
    [["EVAL", "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}", "2", "k1", "k2",
      "a1", "a2"]],
    [["EVAL", "return 1", "-1"]],
    [["EVAL", "return 1", "2", "a"]],
    [["EVAL", "return 1", "x"]],
    [["EVAL", "return 1"]],
    [["EVALSHA", "abc"]],
    # Sandbox
    [["EVAL", "x = 1", "0"]],
    [["EVAL", "return x", "0"]],
    [["EVAL", "return os", "0"]],
    [["EVAL", "return io", "0"]],
    [["EVAL", "return loadfile", "0"]],
    [["EVAL", "return dofile", "0"]],
    [["EVAL", "return require", "0"]],
    [["EVAL", "redis.call = nil", "0"]],
    [["EVAL", "function f() end", "0"]],
    [["EVAL", "local t = {} t.x = 1 return t.x", "0"]],
    [["EVAL", "return type(_G)", "0"]],
    [["EVAL", "return type(loadstring)", "0"]],
    [["EVAL", "return unpack({1,2})", "0"]],
    # Errors
    [["EVAL", "return redis.call('nosuch')", "0"]],
    [["EVAL", "return redis.call('get')", "0"]],
    [["EVAL", "return redis.call('get', 'a', 'b')", "0"]],
    [["EVAL", "return redis.call()", "0"]],
    [["EVAL", "return redis.call('get', {})", "0"]],
    [["EVAL", "return redis.call('multi')", "0"]],
    [["EVAL", "return redis.call('eval', 'return 1', 0)", "0"]],
    [["EVAL", "return redis.call('script', 'load', 'return 1')", "0"]],
    [["EVAL", "error('boom')", "0"]],
    [["EVAL", "\n\nerror('boom')", "0"]],
    [["EVAL", "error({err='MY custom'})", "0"]],
    [["EVAL", "error(nil)", "0"]],
    [["EVAL", "error(5)", "0"]],
    [["EVAL", "local a = nil return a.b", "0"]],
    [["SET", "s", "v"], ["EVAL", "return redis.call('INCR', 's')", "0"]],
    [["SET", "s", "v"], ["EVAL", "return redis.call('SADD', 's', 'x')", "0"]],
    [["EVAL", "local ok, e = pcall(redis.call, 'nosuch') return e", "0"]],
    [["EVAL", "return redis.pcall('nosuch')", "0"]],
    [["EVAL", "return redis.pcall('get')", "0"]],
    [["EVAL", "syntax error here", "0"]],
    [["EVAL", "return redis.call('xreadgroup', 'group', 'g', 'c', 'block', '0', 'streams', "
      "'s', '>')", "0"]],
    # The refusal names the command as the script wrote it.
    [["EVAL", "return redis.call('XReadGroup', 'group', 'g', 'c', 'block', '0', 'streams', "
      "'s', '>')", "0"]],
    [["EVAL", "return redis.pcall('XREAD', 'BLOCK', '0', 'STREAMS', 's', '$')", "0"]],
    [["EVAL_RO", "return redis.call('set', KEYS[1], 'v')", "1", "k"]],
    [["SET", "k", "v"], ["EVAL_RO", "return redis.call('get', KEYS[1])", "1", "k"]],
    [["EVAL", "return redis.sha1hex()", "0"]],
    # Libraries
    [["EVAL", "return redis.sha1hex('')", "0"]],
    [["EVAL", "return redis.sha1hex(5)", "0"]],
    [["EVAL", "return cjson.encode({1,2,3})", "0"]],
    [["EVAL", "return cjson.encode({a={1,2}})", "0"]],
    [["EVAL", "return cjson.decode('[1,2,null]')", "0"]],
    [["EVAL", "return cjson.decode('{\"a\":[5,6]}').a[2]", "0"]],
    [["EVAL", "return bit.band(7, 3)", "0"]],
    [["EVAL", "return bit.bor(1, 2, 4)", "0"]],
    [["EVAL", "return bit.tohex(255)", "0"]],
    [["EVAL", "return string.format('%d-%s', 5, 'x')", "0"]],
    [["EVAL", "math.randomseed(0) return {math.random(10), math.random(10), math.random(5, 9)}",
      "0"]],
    [["EVAL", "return redis.log(redis.LOG_WARNING, 'hi')", "0"]],
    [["EVAL", "return redis.LOG_NOTICE", "0"]],
    # The script cache
    [["SCRIPT", "LOAD", "return 1"],
     ["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
     ["EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"],
     ["EVALSHA_RO", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
     ["SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "abc"],
     ["SCRIPT", "FLUSH"],
     ["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
     ["SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"]],
    [["EVAL", "return 2", "0"], ["SCRIPT", "EXISTS", "7f923f79fe76194c868d7e1d0820de36700eb649"]],
    [["EVALSHA", "0123456789012345678901234567890123456789", "0"]],
    [["SCRIPT", "LOAD", "x ="]],
    [["SCRIPT", "FOO"]],
    [["SCRIPT", "LOAD"]],
    [["SCRIPT", "FLUSH", "X"]],
    [["SCRIPT", "FLUSH", "ASYNC"]],
    [["SCRIPT", "KILL"]],
    [["SCRIPT"]],
    # SCRIPT DEBUG NO (any case) is OK; a wrong count is SCRIPT DEBUG's arity error
    [["SCRIPT", "DEBUG", "no"], ["SCRIPT", "DEBUG", "No"]],
    [["SCRIPT", "DEBUG"]],
    [["SCRIPT", "DEBUG", "a", "b"]],
    [["SCRIPT", "DEBUG", "maybe"]],
    [["SCRIPT", "EXISTS"]],
    # Transactions
    [["SCRIPT", "LOAD", "return redis.call('INCR', KEYS[1])"],
     ["MULTI"],
     ["EVALSHA", "61636018f4e6b5817b89791bbed242f93fa089e3", "1", "n"],
     ["SET", "m", "x"],
     ["EVALSHA", "61636018f4e6b5817b89791bbed242f93fa089e3", "1", "n"],
     ["EVALSHA", "0000000000000000000000000000000000000000", "0"],
     ["EXEC"]],
    [["MULTI"], ["EVAL", "return 1"], ["EXEC"]],
    [["SET", "w", "1"], ["WATCH", "w"], ["EVAL", "return redis.call('SET', 'w', '2')", "0"],
     ["MULTI"], ["GET", "w"], ["EXEC"]],
    # redis.setresp: RESP3 replies to Lua (null nil, map, set, double, pairs), RESP3 values
    # returned (a RESP2 client reads a map flat, a double as a bulk, a boolean as 1 or 0)
    [["EVAL", "redis.setresp(3) return redis.call('GET', 'nokey') == nil", "0"]],
    [["EVAL", "redis.setresp(3) return redis.call('GET', 'nokey')", "0"]],
    [["EVAL", "redis.setresp(2) return redis.call('GET', 'nokey') == false", "0"]],
    [["EVAL", "redis.setresp(3) return false", "0"]],
    [["EVAL", "redis.setresp(3) return true", "0"]],
    [["EVAL", "redis.setresp(2) return false", "0"]],
    [["EVAL", "redis.setresp(3) return 1", "0"], ["EVAL", "return redis.call('GET', 'x')", "0"]],
    [["HSET", "h", "f", "v"], ["EVAL", "redis.setresp(3) return redis.call('HGETALL', 'h').map.f",
                               "0"]],
    [["HSET", "h", "f", "v"], ["EVAL", "redis.setresp(3) return redis.call('HGETALL', 'h')", "0"]],
    [["HSET", "h", "f", "v"], ["EVAL", "redis.setresp(2) return redis.call('HGETALL', 'h')", "0"]],
    [["EVAL", "redis.setresp(3) return type(next(redis.call('HGETALL', 'h').map))", "0"]],
    [["SADD", "s", "a"], ["EVAL", "redis.setresp(3) return redis.call('SMEMBERS', 's')", "0"]],
    [["SADD", "s", "a"], ["EVAL", "redis.setresp(3) return redis.call('SMEMBERS', 's').set.a",
                          "0"]],
    [["ZADD", "m", "1.5", "a", "2", "b"],
     ["EVAL", "redis.setresp(3) return redis.call('ZSCORE', 'm', 'a')", "0"],
     ["EVAL", "redis.setresp(3) return tostring(redis.call('ZSCORE', 'm', 'a').double)", "0"],
     ["EVAL", "redis.setresp(3) return redis.call('ZSCORE', 'm', 'nope') == nil", "0"],
     ["EVAL", "redis.setresp(3) local r = redis.call('ZRANGE', 'm', 0, -1, 'WITHSCORES') "
      "return {#r, r[1][1], tostring(r[2][2].double)}", "0"],
     ["EVAL", "redis.setresp(3) return redis.call('ZRANGE', 'm', 0, -1, 'WITHSCORES')", "0"],
     ["EVAL", "redis.setresp(3) return redis.call('ZPOPMIN', 'm')", "0"],
     ["EVAL", "redis.setresp(3) return redis.call('ZMSCORE', 'm', 'b', 'zz')", "0"]],
    [["SET", "x", "1"],
     ["EVAL", "redis.setresp(3) local r = redis.call('MGET', 'nokey', 'x') "
      "return {r[1] == nil, r[2]}", "0"]],
    [["EVAL", "redis.setresp(3) return redis.call('SET', 'x', 'y')", "0"]],
    [["EVAL", "redis.setresp(3) return redis.pcall('INCR', 'nokey', 'extra')", "0"]],
    [["EVAL", "return {double=3.5}", "0"]],
    [["EVAL", "return {double=0.1}", "0"]],
    [["EVAL", "return {double=1/0}", "0"]],
    [["EVAL", "return {double=-1/0}", "0"]],
    [["EVAL", "return {double=1e300}", "0"]],
    [["EVAL", "return {map={a=1}}", "0"]],
    [["EVAL", "return {set={x=true}}", "0"]],
    [["EVAL", "return {map={a={double=2.5}}}", "0"]],
    [["EVAL", "return {big_number='123456789012345678901234567890'}", "0"]],
    [["EVAL", "return {verbatim_string={format='txt', string='hi'}}", "0"]],
    [["EVAL", "return {1, {double=2}, {ok='x'}}", "0"]],
    [["EVAL", "redis.setresp(4)", "0"]],
    [["EVAL", "redis.setresp(1)", "0"]],
    [["EVAL", "redis.setresp('x')", "0"]],
    [["EVAL", "redis.setresp()", "0"]],
    [["EVAL", "redis.setresp(2, 3)", "0"]],
    [["EVAL", "return redis.pcall(redis.setresp, 5)", "0"]],
    [["EVAL", "redis.setresp(3.9) return redis.call('GET', 'nokey') == nil", "0"]],
]

# Scripts answering a RESP3 client (HELLO 3), compared as raw bytes: maps, sets, doubles and
# booleans a script returns, and what redis.setresp(3) gives it to return.
RESP3_CASES = [
    [["EVAL", "return {map={a=1}}", "0"]],
    [["EVAL", "return {set={x=true}}", "0"]],
    [["EVAL", "return {double=3.5}", "0"]],
    [["EVAL", "return {double=0.1}", "0"]],
    [["EVAL", "return {double=1/0}", "0"]],
    [["EVAL", "return {double=-2}", "0"]],
    [["EVAL", "return {1, {map={k={double=2}}}, {set={}}}", "0"]],
    [["EVAL", "redis.setresp(3) return true", "0"]],
    [["EVAL", "redis.setresp(3) return false", "0"]],
    [["EVAL", "redis.setresp(3) return {true, false, 1}", "0"]],
    [["EVAL", "return true", "0"]],
    [["EVAL", "return false", "0"]],
    [["EVAL", "return nil", "0"]],
    [["EVAL", "return redis.call('GET', 'nokey')", "0"]],
    [["EVAL", "redis.setresp(3) return redis.call('GET', 'nokey')", "0"]],
    [["HSET", "h", "f", "v"],
     ["EVAL", "redis.setresp(3) return redis.call('HGETALL', 'h')", "0"],
     ["EVAL", "redis.setresp(2) return redis.call('HGETALL', 'h')", "0"],
     ["EVAL", "return redis.call('HGETALL', 'h')", "0"]],
    [["SADD", "s", "a"], ["EVAL", "redis.setresp(3) return redis.call('SMEMBERS', 's')", "0"]],
    [["ZADD", "m", "1.5", "a", "2", "b"],
     ["EVAL", "redis.setresp(3) return redis.call('ZSCORE', 'm', 'a')", "0"],
     ["EVAL", "redis.setresp(3) return redis.call('ZRANGE', 'm', 0, -1, 'WITHSCORES')", "0"],
     ["EVAL", "redis.setresp(3) return redis.call('ZPOPMAX', 'm')", "0"],
     ["EVAL", "redis.setresp(3) return redis.call('ZMPOP', 1, 'm', 'MIN')", "0"]],
    [["MULTI"], ["EVAL", "return {map={a={double=1.25}}}", "0"], ["GET", "nokey"], ["EXEC"]],
    [["EVAL", "return redis.setresp(7)", "0"]],
]


class Resp:
    """A minimal RESP2 client: sends a command, returns the reply as Python values, with
    errors as ("error", text) and statuses as ("status", text)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def close(self):
        self.sock.close()

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf.split(b"\r\n", 1)
        return out

    def exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n + 2:]
        return out

    def reply(self):
        head = self.line()
        kind, rest = head[:1], head[1:]
        if kind == b"+":
            return ("status", rest)
        if kind == b"-":
            return ("error", rest)
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError("bad reply " + repr(head))

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.reply()


def wait_port(port, proc, what):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(what + " exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(what + " did not start")


class ScriptsVsRedis(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="aasim-scripts-")
        cls.redis_port = free_port()
        cls.redis = subprocess.Popen(
            ["redis-server", "--port", str(cls.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", cls.dir], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            cls.start_serve()
            wait_port(cls.redis_port, cls.redis, "redis-server")
        except BaseException:
            cls.redis.kill()
            cls.redis.wait()
            raise

    @classmethod
    def start_serve(cls):
        path = os.path.join(cls.dir, "one.yaml")
        with open(path, "w") as f:
            f.write("name: one region\nregions: [A]\n")
        cls.serve = subprocess.Popen([AASIM, "serve", path], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = cls.serve.stdout.readline()
        if not line:
            raise AssertionError("aasim serve exited: " + cls.serve.stderr.read())
        cls.aasim_port = int(line.split()[1].rsplit(":", 1)[1])

    @classmethod
    def tearDownClass(cls):
        for p in (cls.redis, cls.serve):
            p.kill()
            p.wait()
        cls.serve.stdout.close()
        cls.serve.stderr.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def reset(self, c):
        """What each case starts from on both servers."""
        c.call("SCRIPT", "FLUSH")
        for k in ("s", "n", "x", "f", "t", "h", "k", "m", "w", "k1", "k2"):
            c.call("DEL", k)

    def check(self, cases):
        for i, case in enumerate(cases):
            with self.subTest(case=i, first=case[0][:2]):
                replies = []
                for port in (self.redis_port, self.aasim_port):
                    c = Resp(port)
                    try:
                        self.reset(c)
                        replies.append([c.call(*argv) for argv in case])
                    finally:
                        c.close()
                self.assertEqual(replies[0], replies[1], "redis-server vs aasim for %r" % case)

    def test_every_case_gives_the_same_replies(self):
        self.check(CASES)

    def test_resp3_clients_get_the_same_bytes(self):
        for i, case in enumerate(RESP3_CASES):
            with self.subTest(case=i, first=case[0][:2]):
                replies = []
                for port in (self.redis_port, self.aasim_port):
                    c = Raw(port)
                    try:
                        self.assertTrue(c.call("HELLO", "3").startswith(b"%"))
                        for argv in (["SCRIPT", "FLUSH"], ["DEL", "h", "s", "m"]):
                            c.call(*argv)
                        replies.append([c.call(*argv) for argv in case])
                    finally:
                        c.close()
                self.assertEqual(replies[0], replies[1], "redis-server vs aasim for %r" % case)

    def test_script_debug_yes_and_sync_are_refused(self):
        # aasim has no Lua debugger (Redis answers OK and debugs the next EVAL).
        c = Resp(self.aasim_port)
        try:
            for mode in ("yes", "SYNC"):
                self.assertEqual(
                    c.call("SCRIPT", "DEBUG", mode),
                    ("error", b"ERR SCRIPT DEBUG %s is not supported by aasim (it has no Lua "
                     b"debugger)" % mode.upper().encode()))
        finally:
            c.close()


if __name__ == "__main__":
    unittest.main()
