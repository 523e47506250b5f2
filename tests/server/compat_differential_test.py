#!/usr/bin/python3
"""What real applications do, through a real client library: the same redis-py calls
(python3-redis, as Debian packages it) go to a plain redis-server and to region A of
`aasim serve`, each case on an empty keyspace, and their results must be equal: values as
redis-py returns them, and errors as the exception class and text it raises (applications
show them).

The cases follow an application's life: the connection handshake (CLIENT SETNAME and
friends, SELECT, INFO, CONFIG GET, COMMAND), pipelines and transactions (WATCH, DISCARD,
errors inside EXEC), register_script (EVALSHA falling back to EVAL on NOSCRIPT), the scan
iterators, every SET option, expiry, every data type's common commands, blocking pops
that time out, streams with consumer groups, pub/sub, and error replies.

Where aasim answers differently on purpose, the case asserts aasim's documented reply
(AA_CASES below, each naming its rule; docs/active-active.md lists them under "Other
commands"). What differs by nature (ids, clocks, versions, Redis's hash order and random
draws) is compared by shape only.

Debian's redis-py (4.3.4) sends no HELLO and no CLIENT SETINFO at connect time and has no
protocol=3; RESP3 is compared byte for byte by pubsub_test.py, null_reply_test.py and
script_differential_test.py. AASIM names the binary."""
import threading
import time
import types
import unittest

import redis

from pubsub_test import Raw, RedisServer
from serve_test import Served

# Liberal ids: open-source Redis's XADD id rules, so that explicit ids are accepted as a
# plain Redis accepts them (README, "Streams").
ONE_REGION = "name: one region\nregions: [A]\nstreams: { replicate: true, id_mode: liberal }\n"


def plain(value):
    """A result with redis-py's exception objects (pipelines that do not raise) turned
    into comparable tuples."""
    if isinstance(value, Exception):
        return ("raised", type(value).__name__, str(value))
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def outcome(case, r):
    try:
        return plain(case(r))
    except redis.RedisError as e:
        return ("raised", type(e).__name__, str(e))


def raised(result):
    """True if a case's whole outcome is one exception: nothing after the raising call was
    compared (a case that means to show an error wraps that call in attempt())."""
    return isinstance(result, tuple) and len(result) == 3 and result[0] == "raised"


def attempt(r, *argv):
    """A command whose error is part of the result: its reply, or the exception as a tuple."""
    try:
        return r.execute_command(*argv)
    except redis.RedisError as x:
        return ("raised", type(x).__name__, str(x))


# ---------------------------------------------------------------------------------------
# The cases: each takes a redis.Redis (decode_responses=True) and returns what to compare.

def handshake(r):
    c = redis.Redis(host="127.0.0.1", port=r.connection_pool.connection_kwargs["port"],
                    client_name="app", db=0, decode_responses=True)
    try:
        info = c.client_info()
        return [c.client_getname(), c.ping(), c.echo("hi"), c.execute_command("SELECT", "0"),
                isinstance(c.client_id(), int), info["name"], info["db"], info["cmd"],
                c.client_setname("other"), c.client_getname(),
                sorted(k for k in ("redis_version", "redis_mode", "role", "connected_clients",
                                   "used_memory", "uptime_in_seconds", "tcp_port")
                       if k not in c.info() or k not in c.info("all")),
                "redis_version" in c.info("server"), "role" in c.info("replication"),
                "used_memory" in c.info("memory"), "connected_clients" in c.info("clients"),
                c.info("keyspace")]
    finally:
        c.close()


def hello_auth(r):
    """What a client configured with a password sends to a server without one (node-redis,
    redis-py 5 with protocol=3): HELLO AUTH as the default user, whose password is then
    any (nopass); another user does not exist."""
    def e(*argv):
        try:
            reply = r.execute_command(*argv)
            return {k: reply[i + 1] for i, k in enumerate(reply) if i % 2 == 0
                    and k in ("server", "proto", "mode", "role", "modules")}
        except redis.RedisError as x:
            return ("raised", type(x).__name__, str(x))
    def auth(*argv):
        try:
            return r.execute_command("AUTH", *argv)
        except redis.RedisError as x:
            return ("raised", type(x).__name__, str(x))
    # AUTH's two-argument form is HELLO AUTH's check; only AUTH <password> is refused
    # without a password configured.
    return [e("HELLO", "2", "AUTH", "default", "anything"), e("HELLO", "2", "AUTH", "bob", "x"),
            e("HELLO", "2", "AUTH", "default"), e("HELLO", "2", "SETNAME", "app", "AUTH",
                                                   "default", "pw"),
            auth("default", "x"), auth("bob", "x"), auth("a", "b", "c"), auth("x"), auth()]


def client_commands(r):
    me = r.client_id()
    listed = [c for c in r.client_list() if int(c["id"]) == me]
    other = redis.Redis(host="127.0.0.1", port=r.connection_pool.connection_kwargs["port"],
                        decode_responses=True)
    try:
        them = other.client_id()
        other.object("encoding", "nokey")
        cmds = [[c["cmd"] for c in r.client_list(client_id=[str(them)])]]
        try:
            other.execute_command("OBJECT", "NOSUCH", "k")
        except redis.RedisError:
            pass
        cmds.append([c["cmd"] for c in r.client_list(client_id=[str(them)])])
        try:
            other.execute_command("NOSUCHCMD")
        except redis.RedisError:
            pass
        cmds.append([c["cmd"] for c in r.client_list(client_id=[str(them)])])
        other.execute_command("CLIENT", "NO-EVICT", "on")
        flags = [c["flags"] for c in r.client_list(client_id=[str(them)])]
        other.execute_command("RESET")  # Redis's RESET keeps NO-EVICT on
        flags += [c["flags"] for c in r.client_list(client_id=[str(them)])]
        # ID: in argument order, a repeated one again
        ids = [str(them), str(me), str(them)]
        lines = r.execute_command("CLIENT", "LIST", "ID", *ids).splitlines()
        order = [line.split(" ")[0] for line in lines] == ["id=" + i for i in ids]
    finally:
        other.close()
    return [len(listed), cmds, flags, order, r.client_setname("w1"), r.client_getname(),
            r.execute_command("CLIENT", "NO-EVICT", "on"),
            r.execute_command("CLIENT", "INFO").split(" ")[0].startswith("id="),
            sorted(r.client_info()), sorted(r.client_list()[0]),
            r.client_list(_type="pubsub"), len(r.client_list(client_id=[str(me)]))]


def config_get(r):
    out = []
    for name in ("maxmemory", "maxmemory-policy", "timeout", "save", "appendonly",
                 "notify-keyspace-events", "proto-max-bulk-len", "cluster-enabled",
                 "maxclients", "nosuchparam"):
        out.append(r.config_get(name))
    return out


# What cluster clients and redis-cli read of COMMAND: a command's arity and key positions.
COMMON = ("get", "set", "mget", "mset", "del", "exists", "expire", "incr", "hset", "hgetall",
          "sadd", "smembers", "zadd", "zrange", "lpush", "blpop", "xadd", "xreadgroup", "eval",
          "evalsha", "publish", "subscribe", "multi", "exec", "watch", "ping", "info", "scan")


def command_info(r):
    table = r.command()
    return [r.command_count() > 150,
            [(name, table[name]["arity"], table[name]["first_key_pos"],
              table[name]["last_key_pos"], table[name]["step_count"]) if name in table else
             (name, "missing") for name in COMMON],
            r.command_getkeys("MSET", "a", "1", "b", "2"),
]


def pipeline_plain(r):
    p = r.pipeline(transaction=False)
    p.set("a", 1).incr("a").get("a").lpush("a", "x").get("nokey").mget("a", "nokey")
    return p.execute(raise_on_error=False)


def pipeline_transaction(r):
    p = r.pipeline()
    p.set("a", 1).incr("a").incrby("a", 5).get("a").sadd("s", "x").smembers("s")
    return p.execute()


def transaction_error_inside_exec(r):
    r.set("s", "text")
    p = r.pipeline()
    p.incr("s").set("b", 1).get("b")
    return [p.execute(raise_on_error=False), r.get("b")]


def transaction_error_before_exec(r):
    p = r.pipeline()
    p.set("a", 1).execute_command("SET", "b")
    try:
        p.execute()
    except redis.RedisError as e:
        return [type(e).__name__, str(e), r.exists("a")]
    return "no error"


def watch_then_conflict(r, other):
    r.set("bal", 10)
    with r.pipeline() as p:
        p.watch("bal")
        before = int(p.get("bal"))
        other.set("bal", 99)
        p.multi()
        p.set("bal", before - 1)
        try:
            p.execute()
            return "committed"
        except redis.WatchError:
            return ["aborted", r.get("bal")]


def watch_transaction_helper(r):
    r.set("n", 5)

    def body(p):
        v = int(p.get("n"))
        p.multi()
        p.set("n", v * 2)
    return [r.transaction(body, "n"), r.get("n")]


def unwatch_discard(r):
    return [r.execute_command("WATCH", "a"), r.execute_command("UNWATCH"),
            r.execute_command("MULTI"), r.execute_command("SET", "a", "1"),
            r.execute_command("DISCARD"), r.get("a")]


def raw_multi_errors(port):
    c = Raw(port)
    try:
        return [c.call(*argv) for argv in (
            ("EXEC",), ("DISCARD",), ("MULTI",), ("MULTI",), ("WATCH", "x"), ("SET", "a", "1"),
            ("NOSUCH",), ("EXEC",), ("MULTI",), ("SET", "a"), ("GET", "a"), ("EXEC",),
            ("MULTI",), ("PING",), ("ECHO", "x"), ("EXEC",))]
    finally:
        c.close()


def client_list_fields(port):
    """CLIENT LIST's fields Redis defines for a RESP3 subscriber inside MULTI, as another
    client sees them (all, and with TYPE pubsub)."""
    c, d = Raw(port), Raw(port)
    try:
        ours = {c.call("CLIENT", "ID")[1:-2], d.call("CLIENT", "ID")[1:-2]}
        for argv in (("HELLO", "3"), ("SUBSCRIBE", "ch"), ("MULTI",), ("SET", "a", "1")):
            c.call(*argv)
        out = []
        for argv in (("CLIENT", "LIST"), ("CLIENT", "LIST", "TYPE", "pubsub"),
                     ("CLIENT", "LIST", "TYPE", "normal")):
            reply = d.call(*argv)
            lines = reply.split(b"\r\n", 1)[1].split(b"\n")
            for line in lines:
                fields = dict(f.split(b"=", 1) for f in line.split(b" ") if b"=" in f)
                if fields.get(b"id") in ours:
                    out.append([argv[-1]] + [fields[k] for k in (
                        b"flags", b"db", b"sub", b"psub", b"multi", b"cmd", b"resp")])
        return sorted(out)
    finally:
        c.close()
        d.close()


SCRIPT = "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('INCR', KEYS[2])"


def register_script(r):
    s = r.register_script(SCRIPT)
    first = s(keys=["k", "n"], args=["v"])  # EVALSHA, NOSCRIPT, then SCRIPT LOAD + EVALSHA
    exists = r.script_exists(s.sha)
    second = s(keys=["k", "n"], args=["w"])
    flushed = r.script_flush()
    third = s(keys=["k", "n"], args=["x"])
    p = r.pipeline()
    s(keys=["k", "n"], args=["y"], client=p)
    piped = p.execute()
    return [first, exists, second, flushed, third, piped, r.get("k"),
            r.script_load("return 1") == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
            r.script_exists("e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "ab")]


def scans(r):
    for i in range(40):
        r.set("user:%d" % i, i)
        r.sadd("tags", "t%d" % i)
        r.hset("h", "f%d" % i, i)
        r.zadd("z", {"m%d" % i: i})
    r.sadd("user:set", "x")
    return [sorted(r.scan_iter(match="user:1*", count=7)),
            sorted(r.scan_iter(match="user:*", _type="set")),
            sorted(r.scan_iter(_type="hash")), len(list(r.scan_iter(count=1000))),
            sorted(r.sscan_iter("tags", match="t3*", count=5)),
            sorted(r.hscan_iter("h", match="f1*", count=3)),
            sorted(r.zscan_iter("z", match="m2*", count=4)),
            list(r.sscan_iter("nokey")), list(r.zscan_iter("nokey")),
            r.zscan("z", 0, count=1000)[0], r.hscan("nokey", 0)]


def set_options(r):
    return [r.set("k", "v", nx=True), r.set("k", "w", nx=True), r.set("k", "x", xx=True),
            r.set("nokey", "x", xx=True), r.set("k", "y", get=True), r.get("k"),
            r.set("k", "z", ex=100), r.ttl("k"), r.set("k", "z2", keepttl=True), r.ttl("k"),
            r.set("k", "p", px=200000), r.ttl("k"), r.set("k", "q"), r.ttl("k"),
            r.set("k", "g", xx=True, get=True), r.set("n2", "g", nx=True, get=True),
            r.set("k2", "v", ex=10, nx=True), r.ttl("k2")]


def set_option_errors(r):
    out = []
    for kw in ({"ex": 0}, {"px": -1}, {"ex": 1, "keepttl": True}):
        try:
            out.append(r.set("k", "v", **kw))
        except redis.RedisError as e:
            out.append(("raised", type(e).__name__, str(e)))
    return out


def set_absolute(r):
    # aasim serve's clock starts at 0 (README, "The everyday commands"): only what an
    # absolute time reads back is compared.
    return [r.set("k", "v", exat=4000000000), r.expiretime("k"),
            r.set("k", "v", pxat=4000000000123), r.pexpiretime("k"), r.expiretime("k")]


def strings(r):
    return [r.setnx("a", 1), r.setnx("a", 2), r.setex("b", 100, "x"), r.ttl("b"),
            r.psetex("c", 100000, "y"), r.ttl("c"), r.mset({"d": 1, "e": 2}),
            r.msetnx({"e": 3, "f": 4}), r.msetnx({"f": 4, "g": 5}), r.mget("d", "e", "f", "g"),
            r.append("d", "23"), r.strlen("d"), r.setrange("d", 1, "ZZ"), r.get("d"),
            r.getrange("d", 0, 1), r.getset("d", "new"), r.getdel("d"), r.getdel("d"),
            r.incrbyfloat("fl", 1.5), r.incrbyfloat("fl", "2.25"), r.incrby("i", 7),
            r.decrby("i", 3), r.decr("i"), r.getex("a", ex=50), r.ttl("a"),
            r.getex("a", persist=True), r.ttl("a"), r.getex("a", px=70000), r.ttl("a"),
            r.getex("nokey", ex=5), r.substr("fl", 0, 1)]


def expiry(r):
    r.set("k", "v")
    return [r.expire("k", 100, xx=True), r.expire("k", 100, nx=True), r.ttl("k"),
            r.expire("k", 50, gt=True), r.expire("k", 200, gt=True), r.ttl("k"),
            r.expire("k", 300, lt=True), r.pexpire("k", 10000, lt=True), r.pttl("k") > 9000,
            r.persist("k"), r.persist("k"), r.ttl("k"), r.pttl("k"), r.ttl("nokey"),
            r.pttl("nokey"), r.expiretime("k"), r.expiretime("nokey"),
            r.expire("k", -1), r.exists("k")]


def keys_commands(r):
    r.set("a", 1)
    r.sadd("b", "x")
    r.hset("c", "f", "v")
    r.rpush("d", "x")
    r.zadd("e", {"x": 1})
    r.pfadd("f", "x")
    r.xadd("g", {"f": "v"}, id="1-1")
    return [r.type("a"), r.type("b"), r.type("c"), r.type("d"), r.type("e"), r.type("f"),
            r.type("g"), r.type("nokey"), r.exists("a", "a", "nokey", "b"), r.dbsize(),
            sorted(r.keys()), sorted(r.keys("[ab]")), sorted(r.keys("?")), r.keys("x*"),
            r.randomkey() in ("a", "b", "c", "d", "e", "f", "g"),
            r.rename("a", "a2"), r.renamenx("a2", "b"), r.copy("b", "b2"),
            r.copy("b", "b2"), r.copy("b", "b2", replace=True), r.smembers("b2"),
            r.object("encoding", "b"), r.object("encoding", "a2"), r.object("encoding", "c"),
            r.object("encoding", "d"), r.object("encoding", "e"), r.object("encoding", "g"),
            r.delete("a2", "nokey", "b"), r.unlink("c", "d"), r.dbsize(), r.touch("e", "x")]


def hashes(r):
    return [r.hset("h", mapping={"a": 1, "b": "two"}), r.hset("h", "c", 3),
            r.hset("h", "a", 5, mapping={"d": 4}), r.hgetall("h"), r.hincrby("h", "a", 2),
            r.hincrbyfloat("h", "f", 1.25), r.hsetnx("h", "a", 0), r.hsetnx("h", "z", 0),
            r.hget("h", "a"), r.hmget("h", ["a", "nope", "b"]), r.hlen("h"),
            sorted(r.hkeys("h")), sorted(r.hvals("h")), r.hexists("h", "b"), r.hdel("h", "b", "x"),
            r.hstrlen("h", "f"), r.hrandfield("h") in ("a", "c", "d", "f", "z"),
            sorted(r.hrandfield("h", 10)), len(r.hrandfield("h", -7)),
            sorted(r.hrandfield("h", 10, withvalues=True)), r.hgetall("nokey"),
            r.hrandfield("nokey")]


def sets(r):
    r.sadd("a", 1, 2, 3, 4)
    r.sadd("b", 3, 4, 5)
    return [r.sadd("a", 4, 6), sorted(r.smembers("a")), sorted(r.sinter("a", "b")),
            sorted(r.sunion("a", "b")), sorted(r.sdiff("a", "b")), r.sinterstore("i", "a", "b"),
            r.sunionstore("u", ["a", "b"]), r.sdiffstore("d", "a", "b"), sorted(r.smembers("d")),
            r.smismember("a", [1, 9, 3]), r.sismember("a", 2), r.scard("u"),
            r.smove("a", "b", 1), r.srem("a", 2, 99), r.spop("nokey"), r.spop("nokey", 3),
            r.srandmember("nokey"), len(r.srandmember("u", 3)), len(r.srandmember("u", -9)),
            sorted(r.srandmember("b", 100)), len(r.spop("u", 2)), r.scard("u"),
            sorted(r.spop("i", 10)), r.exists("i"), r.sintercard(2, ["a", "b"]),
            r.smembers("nokey")]


def sorted_sets(r):
    return [r.zadd("z", {"a": 1, "b": 2, "c": 3}), r.zadd("z", {"a": 5, "d": 4}, nx=True),
            r.zadd("z", {"a": 0.5, "e": 9}, xx=True, ch=True), r.zadd("z", {"b": 1}, gt=True),
            r.zadd("z", {"b": 1.5}, lt=True, ch=True), r.zadd("z", {"c": 2}, incr=True),
            r.zadd("z", {"c": 2}, xx=True, incr=True, gt=True),
            r.zrange("z", 0, -1, withscores=True),
            r.zrange("z", 2, 4, byscore=True), r.zrange("z", "(1", "+inf", byscore=True,
                                                       offset=1, num=2, withscores=True),
            r.zrange("z", 0, 1, desc=True), r.zrange("z", "+inf", "-inf", byscore=True,
                                                      desc=True),
            r.zadd("lex", {"a": 0, "b": 0, "c": 0, "d": 0}),
            r.zrange("lex", "[b", "+", bylex=True), r.zrange("lex", "+", "(b", bylex=True,
                                                              desc=True),
            r.zrange("lex", "-", "+", bylex=True, offset=1, num=1),
            r.zrangestore("dst", "z", 0, 1), r.zrange("dst", 0, -1, withscores=True),
            r.zincrby("z", 2.5, "a"), r.zscore("z", "a"), r.zscore("z", "nope"),
            r.zmscore("z", ["a", "nope", "d"]), r.zrank("z", "d"), r.zrevrank("z", "d"),
            attempt(r, "ZRANK", "z", "d", "WITHSCORE"), r.zcard("z"),  # Redis 7.2's
            r.zcount("z", 1, 3), r.zpopmin("z"), r.zpopmax("z", 2), r.zpopmin("nokey"),
            r.zrangebyscore("z", "-inf", "+inf", withscores=True),
            r.zrevrangebyscore("z", 10, 0, start=0, num=1), r.zrem("z", "d", "nope"),
            r.zrange("nokey", 0, -1)]


def lists(r):
    return [r.lpush("l", "a", "b"), r.rpush("l", "c", "a"), r.lrange("l", 0, -1),
            r.lpos("l", "a"), r.lpos("l", "a", rank=-1), r.lpos("l", "a", count=0),
            r.lpos("l", "zz"), r.linsert("l", "before", "c", "X"),
            r.linsert("l", "AFTER", "nope", "Y"), r.lmove("l", "m", "LEFT", "RIGHT"),
            r.lmove("l", "m"), r.lrange("m", 0, -1), r.ltrim("l", 1, -1), r.lrange("l", 0, -1),
            r.llen("l"), r.lindex("l", 0), r.lset("l", 0, "S"), r.lrem("l", 0, "a"),
            r.lpop("l"), r.rpop("m", 5), r.lpop("nokey"), r.lpop("nokey", 2),
            r.rpoplpush("l", "l"), r.lpushx("nokey", "x"), r.rpushx("l", "t"),
            r.lrange("l", 0, -1)]


def blocking_pops(r):
    t0 = time.monotonic()
    out = [r.blpop("empty", timeout=1), r.brpop(["empty", "empty2"], timeout=1),
           r.blmove("empty", "dst", 0.2, "LEFT", "RIGHT"), r.brpoplpush("empty", "d", 1)]
    r.rpush("full", "x", "y")
    out += [r.blpop(["empty", "full"], timeout=1), r.brpop("full", 1),
            r.bzpopmin("nokey", 1), r.bzpopmax("nokey", 1)]
    out.append(time.monotonic() - t0 > 0.9)
    return out


def untimed(pending):
    """XPENDING's extended form without the milliseconds since delivery (a clock's)."""
    return [{k: v for k, v in p.items() if k != "time_since_delivered"} for p in pending]


def streams(r):
    out = [r.xadd("s", {"f": "1"}, id="1-1"), r.xadd("s", {"f": "2"}, id="2-1"),
           r.xadd("s", {"f": "3"}, id="3-1", maxlen=2, approximate=False),
           r.xlen("s"), r.xrange("s"), r.xrevrange("s", count=1),
           r.xadd("s", {"f": "4"}, id="4-1", minid="3-0", approximate=False),
           r.xrange("s", "-", "+"), r.xgroup_create("s", "g", id="0"),
           r.xgroup_create("new", "g", id="$", mkstream=True), r.xlen("new"),
           r.xreadgroup("g", "alice", {"s": ">"}, count=1),
           r.xreadgroup("g", "bob", {"s": ">"}), r.xreadgroup("g", "bob", {"s": "0"}),
           r.xpending("s", "g"),
           untimed(r.xpending_range("s", "g", "-", "+", 10)),
           untimed(r.xpending_range("s", "g", "-", "+", 10, consumername="bob")),
           r.xack("s", "g", "3-1", "9-9"), r.xpending("s", "g"),
           r.xread({"s": "3-1"}), r.xread({"s": "$"}), r.xdel("s", "3-1"), r.xtrim("s", 5)]
    return out


def stream_blocking_reads(r):
    """The loop of a stream consumer: XREAD BLOCK times out on nothing new, and is served
    by an XADD another client makes while it waits ('$': after the last entry when the
    read began)."""
    port = r.connection_pool.connection_kwargs["port"]
    r.xadd("s", {"f": "old"}, id="1-1")
    t0 = time.monotonic()
    out = [r.xread({"s": "$"}, block=300), time.monotonic() - t0 > 0.25,
           r.xread({"nostream": "$"}, block=100)]
    writer = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)

    def once_blocked(fields, entry_id):
        # Writes only once the reader waits (INFO's blocked_clients), however slow the
        # machine: the entry must arrive during the block, not before it.
        def run():
            deadline = time.monotonic() + 10
            while (writer.info("clients")["blocked_clients"] != 1 and
                   time.monotonic() < deadline):
                time.sleep(0.01)
            writer.xadd("s", fields, id=entry_id)
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    t = once_blocked({"f": "new"}, "7-1")
    try:
        out.append(r.xread({"s": "$"}, block=5000))
        t.join()
        r.xgroup_create("s", "g", id="$")
        t = once_blocked({"f": "newer"}, "8-1")
        out.append(r.xreadgroup("g", "c", {"s": ">"}, block=5000))
    finally:
        t.join()
        writer.close()
    return out


def stream_history(r):
    """A consumer reads its pending entries again (after a crash, say): each read counts
    as one more delivery."""
    r.xadd("s", {"f": "1"}, id="1-1")
    r.xadd("s", {"f": "2"}, id="2-1")
    return [r.xgroup_create("s", "g", id="0"), r.xreadgroup("g", "bob", {"s": ">"}),
            r.xreadgroup("g", "bob", {"s": "0"}, count=1), r.xreadgroup("g", "bob", {"s": "0"}),
            untimed(r.xpending_range("s", "g", "-", "+", 10)), r.xpending("s", "g")]


def stream_claims(r):
    r.xadd("s", {"f": "1"}, id="1-1")
    r.xadd("s", {"f": "2"}, id="2-1")
    r.xgroup_create("s", "g", id="0")
    r.xreadgroup("g", "alice", {"s": ">"})
    return [r.xclaim("s", "g", "bob", 0, ["1-1"]),
            r.xclaim("s", "g", "bob", 0, ["2-1"], justid=True),
            r.xautoclaim("s", "g", "carol", 0, "0-0", count=1),
            r.xautoclaim("s", "g", "carol", 0, "0-0", justid=True)]


def stream_info(r):
    r.xadd("s", {"f": "1"}, id="1-1")
    r.xgroup_create("s", "g", id="0")
    r.xreadgroup("g", "alice", {"s": ">"})
    info = r.xinfo_stream("s")
    groups = r.xinfo_groups("s")
    consumers = r.xinfo_consumers("s", "g")
    return [info["length"], info["first-entry"], info["last-entry"],
            info["last-generated-id"], info["groups"],
            [(g["name"], g["consumers"], g["pending"], g["last-delivered-id"]) for g in groups],
            [(c["name"], c["pending"]) for c in consumers]]


def bitmaps(r):
    return [r.setbit("b", 7, 1), r.setbit("b", 7, 0), r.setbit("b", 100, 1), r.getbit("b", 100),
            r.bitcount("b"), r.bitcount("b", 0, 0), r.bitpos("b", 1), r.get("b"),
            r.set("x", "foobar"), r.bitcount("x"), r.bitop("AND", "dst", "x", "b"),
            r.bitfield("bf").set("u8", 0, 200).incrby("u8", 0, 100).get("u8", 0).execute()]


def hyperloglog(r):
    return [r.pfadd("h", "a", "b", "c"), r.pfadd("h", "a"), r.pfcount("h"),
            r.pfadd("h2", "c", "d"), r.pfcount("h", "h2"), r.pfmerge("m", "h", "h2"),
            r.pfcount("m"), r.type("m")]


def pubsub(r):
    p = r.pubsub()
    p.subscribe("news")
    p.psubscribe("n*")
    got = []
    deadline = time.monotonic() + 5
    while len(got) < 2 and time.monotonic() < deadline:
        m = p.get_message(timeout=0.2)
        if m:
            got.append((m["type"], m["channel"], m["data"]))
    published = r.publish("news", "hello")
    while len(got) < 4 and time.monotonic() < deadline:
        m = p.get_message(timeout=0.2)
        if m:
            got.append((m["type"], m["channel"], m["data"], m.get("pattern")))
    numsub = r.pubsub_numsub("news")
    channels = r.pubsub_channels()
    numpat = r.pubsub_numpat()
    p.close()
    return [got, published, numsub, channels, numpat]


def help_texts(r):
    """HELP of the commands with subcommands: Redis's form (status lines, the first naming
    the command, HELP's own two last); the lines between are aasim's own (what it provides)."""
    c = Raw(r.connection_pool.connection_kwargs["port"])
    try:
        out = []
        for argv in (("CLIENT", "HELP"), ("config", "help"), ("COMMAND", "HELP"),
                     ("PUBSUB", "HELP"), ("XGROUP", "HELP"), ("OBJECT", "HELP"),
                     ("SCRIPT", "HELP")):
            lines = c.call(*argv).split(b"\r\n")
            out.append([lines[0][:1], lines[1], lines[-3], lines[-2]])
        return out
    finally:
        c.close()


def errors(r):
    def e(*argv):
        try:
            return r.execute_command(*argv)
        except redis.RedisError as x:
            return ("raised", type(x).__name__, str(x))
    r.set("str", "v")
    r.sadd("set", "m")
    return [e("LPUSH", "str", "x"), e("GET", "set"), e("INCR", "str"), e("GET"),
            e("SET", "k"), e("SET", "k", "v", "BADOPT"), e("NOSUCHCMD", "a"),
            e("CLIENT", "NOSUCH"), e("CONFIG", "NOSUCH"), e("OBJECT", "NOSUCH", "k"),
            e("SCRIPT", "NOSUCH"), e("XGROUP", "NOSUCH"), e("PUBSUB", "NOSUCH"),
            e("CLIENT", "SETNAME"), e("CLIENT", "LIST", "TYPE", "nosuch"),
            e("PUBSUB", "NUMPAT", "x"), e("XGROUP", "CREATE", "s", "g", "$", "BAD"),
            e("EXPIRE", "str", "x"), e("ZADD", "z", "x", "m"), e("ZADD", "z", "NX", "GT", "1", "m"),
            e("HSET", "h", "f"), e("LRANGE", "l", "a", "b"), e("SELECT", "16"),
            e("SELECT", "x"), e("INCRBYFLOAT", "str", "1"), e("SPOP", "set", "-1"),
            e("EVALSHA", "0" * 40, "0"), e("XADD", "s", "bad", "f", "v"),
            e("XREADGROUP", "GROUP", "g", "c", "STREAMS", "nostream", ">"),
            e("GETEX", "str", "EX", "-1"), e("BLPOP", "l", "-1"), e("BLPOP", "l", "x"),
            # a subcommand with the wrong count: Redis's arity error for 'cmd|sub'
            e("CONFIG", "HELP", "x"), e("COMMAND", "HELP", "x"), e("XGROUP", "HELP", "x"),
            e("CLIENT", "HELP", "x"), e("PUBSUB", "HELP", "x"), e("COMMAND", "COUNT", "x"),
            e("CONFIG", "RESETSTAT", "x"), e("CONFIG", "SET", "timeout"),
            e("CONFIG", "GET"), e("XGROUP", "CREATE", "s", "g"), e("XGROUP", "SETID", "s", "g"),
            e("COMMAND", "GETKEYS"), e("CLIENT", "KILL"), e("OBJECT", "HELP", "x"),
            e("COMMAND", "GETKEYS", "GET"), e("COMMAND", "GETKEYSANDFLAGS", "GET"),
            e("CLIENT", "LIST", "ID", "007"), e("CLIENT", "LIST", "ID", "-0"),
            e("OBJECT", "ENCODING"), e("OBJECT", "ENCODING", "a", "b"), e("OBJECT", "NOSUCH"),
            e("SCRIPT", "DEBUG", "no"), e("SCRIPT", "DEBUG", "a", "b"), e("SCRIPT", "LOAD"),
            # XGROUP CREATE's options: any count (MKSTREAM again is fine); an unknown one,
            # or ENTRIESREAD without its value, is Redis's syntax error for 'CREATE'
            e("XGROUP", "CREATE", "s2", "g", "$", "MKSTREAM", "foo"),
            e("XGROUP", "CREATE", "s2", "g", "$", "MKSTREAM", "MKSTREAM"),
            e("XGROUP", "CREATE", "s3", "g", "$", "MKSTREAM", "ENTRIESREAD"),
            # CLIENT LIST: TYPE alone or ID alone, as Redis 7.0 parses them
            e("CLIENT", "LIST", "ID", "0"), e("CLIENT", "LIST", "ID", "-5"),
            e("CLIENT", "LIST", "ID", "a"), e("CLIENT", "LIST", "TYPE"),
            e("CLIENT", "LIST", "TYPE", "normal", "ID", "1"),
            e("CLIENT", "LIST", "ID", "999999", "TYPE", "normal"), e("CLIENT", "LIST", "x")]


CASES = [hello_auth, client_commands, config_get, command_info, pipeline_plain,
         pipeline_transaction, transaction_error_inside_exec, transaction_error_before_exec,
         watch_transaction_helper, unwatch_discard, register_script, scans, set_options,
         set_option_errors, set_absolute, strings, expiry, keys_commands, hashes, sets,
         sorted_sets, lists, blocking_pops, streams, stream_history, stream_blocking_reads, bitmaps,
         hyperloglog, pubsub, help_texts, errors, handshake]

# The cases whose whole outcome is meant to be one exception (none yet): any other case
# that raises compared nothing after the raising call, and fails.
EXPECTED_TO_RAISE = set()


def group_entries_read(r):
    return r.execute_command("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM", "ENTRIESREAD", "3")


def select_other_db(r):
    return [r.execute_command("SELECT", "1"), r.config_get("databases")]


def config_databases(r):
    return r.config_get("databases")


def config_set(r):
    return r.config_set("timeout", "0")


def acl_whoami(r):
    return r.acl_whoami()


def function_list(r):
    return r.execute_command("FUNCTION", "LIST")


def unknown(name, *args):
    text = "unknown command '%s', with args beginning with: " % name
    return ("raised", "ResponseError", text + "".join("'%s' " % a for a in args))


# Where aasim answers differently on purpose: (case, aasim's reply, the rule).
AA_CASES = [
    # One database per region, as Redis Enterprise (README, "aasim serve": SELECT 0 only;
    # docs/active-active.md, "Other commands").
    (select_other_db, ("raised", "ResponseError", "DB index is out of range"), "one database"),
    (config_databases, {"databases": "1"}, "one database"),
    # Configuration comes from the scenario file and the command line.
    (config_set, ("raised", "ResponseError",
                  "CONFIG SET is not supported by aasim (use the scenario file or options)"),
     "no CONFIG SET"),
    # Not provided: XCLAIM, XAUTOCLAIM, XINFO (README, "Streams"): Redis's reply to a
    # command it does not know.
    (stream_claims, unknown("XCLAIM", "s", "g", "bob", "0", "1-1"), "not provided"),
    (stream_info, unknown("XINFO", "STREAM", "s"), "not provided"),
    # Groups keep no count of the entries read (no XINFO, so no lag to report).
    (group_entries_read, ("raised", "ResponseError",
                          "unsupported XGROUP CREATE option 'ENTRIESREAD': aasim's consumer "
                          "groups keep no count of the entries read"), "no ENTRIESREAD"),
    # Server administration and Redis 7 functions: not provided (docs/active-active.md).
    (acl_whoami, unknown("ACL", "WHOAMI"), "not provided"),
    (function_list, unknown("FUNCTION", "LIST"), "not provided"),
]


class CompatVsRedis(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        owner = types.SimpleNamespace(addCleanup=cls.addClassCleanup)
        cls.redis = RedisServer(owner)
        cls.served = Served(owner, ONE_REGION, regions=("A",))
        cls.ports = {"redis-server": cls.redis.port, "aasim": cls.served.ports["A"]}

    def client(self, port):
        r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10, decode_responses=True)
        self.addCleanup(r.close)
        return r

    def both(self, run):
        """run(port) on each server after FLUSHALL; returns {server: result}."""
        out = {}
        for name, port in self.ports.items():
            self.client(port).flushall()
            out[name] = run(port)
        return out

    def test_cases(self):
        for case in CASES:
            with self.subTest(case=case.__name__):
                got = self.both(lambda port: outcome(case, self.client(port)))
                self.assertEqual(got["redis-server"], got["aasim"])
                if case not in EXPECTED_TO_RAISE:
                    self.assertFalse(raised(got["redis-server"]),
                                     "the whole case raised: %r" % (got["redis-server"],))

    def test_documented_differences(self):
        for case, reply, rule in AA_CASES:
            with self.subTest(case=case.__name__, rule=rule):
                r = self.client(self.ports["aasim"])
                r.flushall()
                self.assertEqual(outcome(case, r), reply)

    def test_region_local_streams_too(self):
        # A file without `streams:` keeps the lending service's region-local streams
        # (README, "Streams"): the same consumer-group replies.
        local = Served(self, "name: local streams\nregions: [A]\n", regions=("A",))
        got = {}
        for name, port in (("redis-server", self.ports["redis-server"]), ("aasim", local.ports["A"])):
            r = self.client(port)
            r.flushall()
            got[name] = outcome(stream_history, r)
        self.assertEqual(got["redis-server"], got["aasim"])

    def test_watch_sees_another_clients_write(self):
        got = self.both(lambda port: outcome(
            lambda r: watch_then_conflict(r, self.client(port)), self.client(port)))
        self.assertEqual(got["redis-server"], got["aasim"])

    def test_client_list_fields(self):
        got = self.both(client_list_fields)
        self.assertEqual(got["redis-server"], got["aasim"])

    def test_multi_errors_as_raw_replies(self):
        got = self.both(raw_multi_errors)
        self.assertEqual(got["redis-server"], got["aasim"])


if __name__ == "__main__":
    unittest.main()
