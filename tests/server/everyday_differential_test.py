#!/usr/bin/python3
"""Differential test of the everyday commands (GETSET ... HINCRBYFLOAT, expiry options,
RENAME/COPY of every type, OBJECT, SCAN family errors, PUBLISH arity): the same command lines
go to a plain redis-server (started here on a free port) and to region A of `aasim serve`
over raw RESP, so error texts are compared byte for byte. Every reply must be equal.

Left out on purpose, as documented in README ("The everyday commands"): replies in Redis's
hash order (SMEMBERS, SINTER, ...), random draws of more than one item, OBJECT IDLETIME,
absolute expiry times under `aasim serve` (its clock starts at 0), COPY ... DB n (one
database), WAIT with timeout 0 (Redis blocks; a region answers 0), SETBIT and DUMP (not
provided). AASIM names the binary."""
import unittest

import script_differential_test as scripts

CASES = [
    # GETSET
    [["GETSET","k","v"],["GETSET","k","w"],["GET","k"]],
    [["SADD","s","a"],["GETSET","s","v"]],
    [["GETSET","k"]],
    [["SET","k","1","EX","100"],["GETSET","k","2"],["TTL","k"]],
    # GETDEL
    [["SET","k","v"],["GETDEL","k"],["GETDEL","k"],["EXISTS","k"]],
    [["SADD","s","a"],["GETDEL","s"]],
    [["INCR","n"],["GETDEL","n"]],
    # APPEND
    [["APPEND","k","ab"],["APPEND","k","cd"],["GET","k"],["APPEND","k",""]],
    [["INCR","n"],["APPEND","n","5"],["GET","n"],["INCR","n"]],
    [["SADD","s","a"],["APPEND","s","x"]],
    [["SET","k","1","EX","100"],["APPEND","k","2"],["TTL","k"]],
    # SETRANGE
    [["SETRANGE","k","0","abc"],["SETRANGE","k","5","x"],["GET","k"],["STRLEN","k"]],
    [["SETRANGE","k","-1","x"]],
    [["SETRANGE","k","x","x"]],
    [["SETRANGE","k","536870912","x"]],
    [["SETRANGE","k","3",""],["EXISTS","k"]],
    [["SET","k","hello"],["SETRANGE","k","1",""],["SETRANGE","k","100",""],["GET","k"]],
    [["SADD","s","a"],["SETRANGE","s","0","x"]],
    [["INCR","n"],["SETRANGE","n","1","2"],["GET","n"],["INCR","n"]],
    # GETRANGE / SUBSTR
    [["SET","k","Hello World"],["GETRANGE","k","0","4"],["GETRANGE","k","-5","-1"],["GETRANGE","k","5","2"],["GETRANGE","k","-100","100"],["GETRANGE","k","20","30"],["SUBSTR","k","0","-1"],["GETRANGE","k","-1","-5"],["GETRANGE","k","0","-100"]],
    [["GETRANGE","nokey","0","-1"]],
    [["GETRANGE","k","a","1"]],
    [["SET","n","12345"],["INCR","n"],["GETRANGE","n","1","3"]],
    [["SADD","s","a"],["GETRANGE","s","0","1"]],
    [["SET","k",""],["GETRANGE","k","0","-1"]],
    # MSETNX
    [["MSETNX","a","1","b","2"],["MSETNX","b","3","c","4"],["MGET","a","b","c"]],
    [["MSETNX","a","1","b"]],
    [["MSETNX","a","1","a","2"],["GET","a"]],
    [["SADD","s","x"],["MSETNX","s","1"]],
    # INCRBYFLOAT
    [["INCRBYFLOAT","f","10.5"],["INCRBYFLOAT","f","0.1"],["INCRBYFLOAT","f","-5"],["INCRBYFLOAT","f","5.0e3"],["GET","f"]],
    [["SET","f","abc"],["INCRBYFLOAT","f","1"]],
    [["INCRBYFLOAT","f","inf"]],
    [["INCRBYFLOAT","f","nan"]],
    [["INCRBYFLOAT","f","1e4932"],["INCRBYFLOAT","f","1e4932"]],
    [["INCRBYFLOAT","f"," 1"]],
    [["INCRBYFLOAT","f","0x10"]],
    [["INCRBYFLOAT","f","1e20"]],
    [["INCRBYFLOAT","f","-0"]],
    [["SET","f","1.5 "],["INCRBYFLOAT","f","1"]],
    [["SADD","s","a"],["INCRBYFLOAT","s","1"]],
    [["SET","f","3.0"],["INCRBYFLOAT","f","0"],["GET","f"]],
    [["SET","f","1","EX","100"],["INCRBYFLOAT","f","1"],["TTL","f"]],
    # HINCRBYFLOAT
    [["HINCRBYFLOAT","h","f","10.5"],["HINCRBYFLOAT","h","f","0.1"],["HINCRBYFLOAT","h","f","-5"],["HINCRBYFLOAT","h","f","5.0e3"],["HGET","h","f"],["HGETALL","h"],["HSTRLEN","h","f"],["HLEN","h"],["HEXISTS","h","f"],["HVALS","h"]],
    [["HSET","h","f","abc"],["HINCRBYFLOAT","h","f","1"]],
    [["HSET","h","f","1.0"],["HINCRBYFLOAT","h","f","1.5"],["HGET","h","f"]],
    [["HINCRBYFLOAT","h","f","inf"]],
    [["HINCRBYFLOAT","h","f","-inf"]],
    [["HINCRBYFLOAT","h","f","nan"]],
    [["HINCRBYFLOAT","h","f","x"]],
    [["HINCRBYFLOAT","h","f","1e4932"],["HINCRBYFLOAT","h","f","1e4932"]],
    [["HINCRBYFLOAT","h","f","1e400"]],
    [["HINCRBYFLOAT","h","f"," 1"]],
    [["HINCRBYFLOAT","h","f","1e20"],["HINCRBYFLOAT","h","g","1e-20"],["HINCRBYFLOAT","h","z","0"],["HGETALL","h"]],
    [["SET","s","x"],["HINCRBYFLOAT","s","f","1"]],
    [["SET","s","x"],["HINCRBYFLOAT","s","f","x"]],
    [["HINCRBYFLOAT","h","f"]],
    [["HSET","h","f","5"],["HINCRBY","h","f","2"],["HINCRBYFLOAT","h","f","0.5"],["HINCRBY","h","f","1"],["HINCRBYFLOAT","h","f","0.5"],["HINCRBY","h","f","1"],["HGET","h","f"]],
    [["HINCRBYFLOAT","h","f","1.5"],["HDEL","h","f"],["HEXISTS","h","f"],["EXISTS","h"]],
    [["HINCRBYFLOAT","h","f","1.5"],["HSETNX","h","f","9"],["HSET","h","f","2"],["HINCRBYFLOAT","h","f","0.25"]],
    [["HINCRBYFLOAT","h","f","1.5"],["HRANDFIELD","h"],["HRANDFIELD","h","1","WITHVALUES"],["HSCAN","h","0"],["HKEYS","h"],["HMGET","h","f","g"],["TYPE","h"],["OBJECT","ENCODING","h"]],
    [["HINCRBYFLOAT","h","f","3.0"],["HINCRBY","h","f","1"]],
    [["HINCRBYFLOAT","h","f","2.5"],["HINCRBY","h","f","1"]],
    # SET options
    [["SET","k","v","EX","100"],["TTL","k"],["SET","k","v","KEEPTTL"],["TTL","k"],["SET","k","v"],["TTL","k"]],
    [["SET","k","v","EX","0"]],
    [["SET","k","v","EX","-1"]],
    [["SET","k","v","PX","0"]],
    [["SET","k","v","EX","x"]],
    [["SET","k","v","EX","100","PX","100"]],
    [["SET","k","v","EX","100","KEEPTTL"]],
    [["SET","k","v","NX","XX"]],
    [["SET","k","v","EXAT","4000000000"],["EXPIRETIME","k"],["PEXPIRETIME","k"]],
    [["SET","k","v","PXAT","4000000000000"],["PEXPIRETIME","k"]],
    [["SET","k","v","EX","9223372036854775807"]],
    [["SET","k","v","EX","9223372036854775"]],
    [["SET","k","v","PX","9223372036854775807"]],
    [["SET","k","v","GET"],["SET","k","w","GET"],["SET","k","x","NX","GET"],["SET","k","y","XX","GET"],["GET","k"]],
    [["SADD","s","a"],["SET","s","v","GET"]],
    [["SET","k","v","EX"]],
    [["SET","k","v","FOO"]],
    [["SET","k","v","ex","10","nx"],["TTL","k"]],
    # SETEX / PSETEX
    [["SETEX","k","100","v"],["TTL","k"],["GET","k"]],
    [["SETEX","k","0","v"]],
    [["SETEX","k","-5","v"]],
    [["SETEX","k","x","v"]],
    [["PSETEX","k","100000","v"],["TTL","k"]],
    [["PSETEX","k","0","v"]],
    [["SETEX","k","9223372036854775807","v"]],
    # GETEX
    [["SET","k","v"],["GETEX","k","EX","100"],["TTL","k"],["GETEX","k","PERSIST"],["TTL","k"],["GETEX","k"],["GETEX","k","PX","100000"],["TTL","k"]],
    [["GETEX","nokey","EX","100"]],
    [["SET","k","v"],["GETEX","k","EX","0"]],
    [["SET","k","v"],["GETEX","k","EX","100","PX","100"]],
    [["SET","k","v"],["GETEX","k","FOO"]],
    [["SET","k","v"],["GETEX","k","EXAT","4000000000"],["EXPIRETIME","k"]],
    [["SADD","s","a"],["GETEX","s"]],
    [["SET","k","v"],["GETEX","k","PERSIST","EX","10"]],
    [["SET","k","v"],["GETEX","k","EX"]],
    # EXPIRE family
    [["SET","k","v"],["EXPIRE","k","100"],["TTL","k"],["EXPIRE","k","50","GT"],["EXPIRE","k","200","GT"],["TTL","k"],["EXPIRE","k","300","LT"],["EXPIRE","k","100","LT"],["TTL","k"],["EXPIRE","k","10","NX"],["EXPIRE","k","10","XX"],["TTL","k"]],
    [["SET","k","v"],["EXPIRE","k","10","XX"],["EXPIRE","k","10","GT"],["EXPIRE","k","10","LT"],["TTL","k"]],
    [["EXPIRE","nokey","10"]],
    [["SET","k","v"],["EXPIRE","k","10","NX","XX"]],
    [["SET","k","v"],["EXPIRE","k","10","GT","LT"]],
    [["SET","k","v"],["EXPIRE","k","10","NX","GT"]],
    [["SET","k","v"],["EXPIRE","k","10","FOO"]],
    [["SET","k","v"],["EXPIRE","k","x"]],
    [["SET","k","v"],["EXPIRE","k","9223372036854775807"]],
    [["SET","k","v"],["EXPIRE","k","-1"],["EXISTS","k"]],
    [["SET","k","v"],["EXPIRE","k","0"],["EXISTS","k"]],
    [["SET","k","v"],["PEXPIRE","k","100000"],["TTL","k"],["PEXPIRE","k","-5"],["EXISTS","k"]],
    [["SET","k","v"],["EXPIREAT","k","4000000000"],["EXPIRETIME","k"],["PEXPIREAT","k","4000000001000"],["EXPIRETIME","k"],["PEXPIRETIME","k"]],
    [["SET","k","v"],["EXPIREAT","k","4000000000","LT"],["EXPIRETIME","k"]],
    [["SET","k","v"],["PEXPIREAT","k","x"]],
    [["SET","k","v"],["EXPIRE","k"]],
    [["TTL","nokey"],["PTTL","nokey"],["EXPIRETIME","nokey"],["PEXPIRETIME","nokey"],["PERSIST","nokey"]],
    [["SET","k","v"],["TTL","k"],["PTTL","k"],["EXPIRETIME","k"],["PEXPIRETIME","k"],["PERSIST","k"]],
    [["SET","k","v","EX","100"],["PERSIST","k"],["TTL","k"],["PERSIST","k"]],
    [["SADD","s","a"],["EXPIRE","s","100"],["TTL","s"],["HSET","h","f","v"],["EXPIRE","h","100"],["TTL","h"]],
    [["SET","k","v"],["EXPIRE","k","100","gt"],["EXPIRE","k","100","nx"],["TTL","k"]],
    # RENAME / RENAMENX
    [["SET","a","1"],["RENAME","a","b"],["GET","a"],["GET","b"]],
    [["RENAME","nokey","b"]],
    [["RENAMENX","nokey","b"]],
    [["SET","a","1"],["RENAME","a","a"],["RENAMENX","a","a"]],
    [["SET","a","1"],["SET","b","2"],["RENAMENX","a","b"],["RENAME","a","b"],["GET","b"],["EXISTS","a"]],
    [["SET","a","1","EX","100"],["RENAME","a","b"],["TTL","b"]],
    [["SET","a","1"],["SET","b","2","EX","100"],["RENAME","a","b"],["TTL","b"]],
    [["SADD","a","x","y"],["RENAME","a","b"],["SCARD","b"],["TYPE","b"]],
    [["HSET","a","f","1"],["HINCRBYFLOAT","a","g","1.5"],["RENAME","a","b"],["HGETALL","b"]],
    [["INCR","a"],["RENAME","a","b"],["INCR","b"]],
    [["SET","a","1"],["SADD","b","x"],["RENAME","a","b"],["TYPE","b"]],
    [["SET","a","1","EX","100"],["RENAMENX","a","b"],["TTL","b"]],
    [["RPUSH","a","x","y"],["RENAME","a","b"],["LRANGE","b","0","-1"]],
    [["ZADD","a","1","x"],["RENAME","a","b"],["ZRANGE","b","0","-1","WITHSCORES"]],
    # COPY
    [["SET","a","1"],["COPY","a","b"],["GET","b"],["COPY","a","b"],["COPY","a","b","REPLACE"]],
    [["COPY","nokey","b"]],
    [["SET","a","1"],["COPY","a","b","DB","0"]],
    [["SET","a","1"],["COPY","a","b","DB","x"]],
    [["SET","a","1"],["COPY","a","b","FOO"]],
    [["SET","a","1"],["COPY","a","a"]],
    [["SET","a","1","EX","100"],["COPY","a","b"],["TTL","b"]],
    [["SADD","a","x"],["COPY","a","b"],["SMEMBERS","b"]],
    [["RPUSH","a","x","y"],["COPY","a","b"],["LRANGE","b","0","-1"]],
    [["ZADD","a","1","x"],["COPY","a","b"],["ZRANGE","b","0","-1","WITHSCORES"]],
    [["PFADD","a","x"],["COPY","a","b"],["PFCOUNT","b"]],
    [["SET","a","1"],["COPY","a","b","REPLACE","DB","0"]],
    [["SET","a","1"],["COPY","a","b","DB"]],
    # UNLINK
    [["SET","a","1"],["SADD","b","x"],["UNLINK","a","b","c"],["UNLINK","a"]],
    [["UNLINK"]],
    # FLUSHDB / FLUSHALL
    [["SET","a","1"],["FLUSHDB"],["DBSIZE"]],
    [["SET","a","1"],["FLUSHALL","ASYNC"],["DBSIZE"]],
    [["FLUSHALL","SYNC"]],
    [["FLUSHALL","FOO"]],
    [["FLUSHDB","ASYNC","SYNC"]],
    [["FLUSHDB","async"]],
    # RANDOMKEY
    [["RANDOMKEY"]],
    [["SET","a","1"],["RANDOMKEY"]],
    [["RANDOMKEY","x"]],
    # SCAN family
    [["SCAN","0"]],
    [["SET","a","1"],["SCAN","0","COUNT","100"]],
    [["SCAN","x"]],
    [["SCAN","-1"]],
    [["SCAN","0","COUNT","0"]],
    [["SCAN","0","COUNT","-1"]],
    [["SCAN","0","COUNT","x"]],
    [["SCAN","0","MATCH"]],
    [["SCAN","0","FOO","x"]],
    [["SET","a","1"],["SADD","b","x"],["SCAN","0","TYPE","set","COUNT","100"]],
    [["SET","a","1"],["SCAN","0","TYPE","nosuchtype"]],
    [["SET","a","1"],["SCAN","0","MATCH","a*","COUNT","100"]],
    [["SCAN","18446744073709551615"]],
    [["SCAN","18446744073709551616"]],
    [["SADD","s","a"],["SSCAN","s","0"],["SSCAN","s","x"],["SSCAN","nokey","0"],["SSCAN","s","0","TYPE","string"]],
    [["SET","k","v"],["SSCAN","k","0"],["HSCAN","k","0"],["SSCAN","k","x"]],
    [["HSET","h","f","1"],["HSCAN","h","0"],["HSCAN","h","0","MATCH","f*"],["HSCAN","h","0","COUNT","0"],["HSCAN","nokey","0"],["HSCAN","h","0","NOVALUES"]],
    # Set algebra
    [["SADD","a","1","2","3"],["SADD","b","2","3","4"],["SINTERCARD","2","a","b"],["SINTERSTORE","d","a","b"],["SUNIONSTORE","e","a","b"],["SDIFFSTORE","f","a","b"],["SCARD","d"]],
    [["SADD","a","1"],["SINTER","a","nokey"],["SUNION","nokey"],["SDIFF","nokey","a"],["SINTERSTORE","d","a","nokey"],["EXISTS","d"]],
    [["SADD","a","1"],["SET","k","v"],["SINTER","a","k"],["SUNIONSTORE","d","a","k"],["SDIFF","k"],["SINTER","nokey","k"]],
    [["SET","d","v"],["SADD","a","1"],["SINTERSTORE","d","a"],["TYPE","d"]],
    [["SET","d","v"],["SINTERSTORE","d","nokey"],["EXISTS","d"]],
    [["SET","d","v","EX","100"],["SADD","a","1"],["SUNIONSTORE","d","a"],["TTL","d"]],
    [["SINTER"]],
    [["SINTERSTORE","d"]],
    [["SADD","a","1","2"],["SADD","b","2"],["SINTERCARD","2","a","b"],["SINTERCARD","2","a","b","LIMIT","1"],["SINTERCARD","0","a"],["SINTERCARD","3","a","b"],["SINTERCARD","x","a"],["SINTERCARD","1","a","LIMIT","-1"],["SINTERCARD","1","a","FOO"]],
    # SRANDMEMBER / SMISMEMBER
    [["SRANDMEMBER","nokey"],["SRANDMEMBER","nokey","3"],["SRANDMEMBER","nokey","-3"],["SRANDMEMBER","nokey","0"]],
    [["SADD","s","a"],["SRANDMEMBER","s"],["SRANDMEMBER","s","0"],["SRANDMEMBER","s","5"],["SRANDMEMBER","s","-2"],["SRANDMEMBER","s","x"],["SRANDMEMBER","s","1","2"]],
    [["SADD","s","a"],["SRANDMEMBER","s","-9223372036854775808"]],
    [["SET","k","v"],["SRANDMEMBER","k"],["SMISMEMBER","k","a"]],
    [["SADD","s","a","b"],["SMISMEMBER","s","a","c","b"],["SMISMEMBER","nokey","a"],["SMISMEMBER","s"]],
    # HSTRLEN / HRANDFIELD
    [["HSET","h","f","hello"],["HSTRLEN","h","f"],["HSTRLEN","h","g"],["HSTRLEN","nokey","f"]],
    [["SET","k","v"],["HSTRLEN","k","f"],["HRANDFIELD","k"]],
    [["HRANDFIELD","nokey"],["HRANDFIELD","nokey","2"],["HRANDFIELD","nokey","2","WITHVALUES"]],
    [["HSET","h","f","1"],["HRANDFIELD","h"],["HRANDFIELD","h","0"],["HRANDFIELD","h","5"],["HRANDFIELD","h","-2"],["HRANDFIELD","h","-2","WITHVALUES"],["HRANDFIELD","h","1","FOO"],["HRANDFIELD","h","x"],["HRANDFIELD","h","1","WITHVALUES","x"]],
    [["HSET","h","f","1"],["HRANDFIELD","h","-9223372036854775808","WITHVALUES"]],
    [["HSET","h","f","1"],["HRANDFIELD","h","-4611686018427387905","WITHVALUES"]],
    # TIME / WAIT / TYPE / OBJECT / PUBLISH
    [["TIME","x"]],
    [["WAIT","0","0"],["WAIT","x","0"],["WAIT","0","x"],["WAIT","0","-1"]],
    [["SET","a","1"],["SADD","b","x"],["HSET","c","f","v"],["RPUSH","d","x"],["ZADD","e","1","x"],["PFADD","f","x"],["TYPE","a"],["TYPE","b"],["TYPE","c"],["TYPE","d"],["TYPE","e"],["TYPE","f"],["TYPE","nokey"]],
    [["SET","a","12"],["SET","b","hello"],["SET","c","x"*45],["SADD","d","1","2"],["SADD","e","a"],["HSET","f","a","b"],["RPUSH","g","x"],["ZADD","h","1","x"],["OBJECT","ENCODING","a"],["OBJECT","ENCODING","b"],["OBJECT","ENCODING","c"],["OBJECT","ENCODING","d"],["OBJECT","ENCODING","e"],["OBJECT","ENCODING","f"],["OBJECT","ENCODING","g"],["OBJECT","ENCODING","h"],["OBJECT","ENCODING","nokey"]],
    [["SET","a","-1"],["OBJECT","ENCODING","a"],["SET","a","01"],["OBJECT","ENCODING","a"],["SET","a","9223372036854775807"],["OBJECT","ENCODING","a"],["INCRBYFLOAT","z","1.5"],["OBJECT","ENCODING","z"]],
    [["SET","a","1"],["OBJECT","REFCOUNT","a"],["OBJECT","FREQ","a"],["OBJECT","FOO","a"],["OBJECT","ENCODING"],["OBJECT"]],
    [["PUBLISH","ch","msg"],["PUBLISH","ch"]],
    [["SETNX","k","1"],["SETNX","k","2"],["GET","k"]],
    [["SADD","s","a"],["SETNX","s","1"]],
    # unknown
    [["FOO","a","b"]],
    [["OBJECT","HELP"]],
]


class EverydayVsRedis(scripts.ScriptsVsRedis):
    def test_every_case_gives_the_same_replies(self):
        for i, case in enumerate(CASES):
            with self.subTest(case=i, first=case[0][:2]):
                replies = []
                for port in (self.redis_port, self.aasim_port):
                    c = scripts.Resp(port)
                    try:
                        c.call("FLUSHALL")
                        replies.append([c.call(*argv) for argv in case])
                    finally:
                        c.close()
                self.assertEqual(replies[0], replies[1], "redis-server vs aasim for %r" % case)


if __name__ == "__main__":
    unittest.main()
