#!/usr/bin/python3
"""A small real service, run unmodified against a plain redis-server and against region A
of `aasim serve`: it must print the same output on both. Then it runs in two regions at
once, and shows an Active/Active anomaly a single Redis cannot show.

The service sells the tickets of a show (python3-redis for requests, python3-aioredis
1.3.1 for the mailer, as Debian packages them):
  - at start-up it loads its Lua script with SCRIPT LOAD;
  - a booking WATCHes the ticket counter and runs the script with EVALSHA inside
    MULTI/EXEC (the script refuses when no ticket is left, else takes one);
  - it then claims the lowest free seat with SETNX, a claim that EXPIREs after the show;
  - and appends the booking to a stream, which a mailer (aioredis, a consumer group,
    XREADGROUP BLOCK) reads and acknowledges;
  - at the end of the day it lists the bookings with SCAN MATCH (a cursor loop).
The anomaly: with one ticket left, a booking in region A and one in region B at the same
moment both succeed (each region saw one ticket), both are promised seat 1 (SETNX
succeeded in each region), and once the regions have exchanged their writes the counter
reads -1 (the two decrements add up) and seat 1 has one holder: one of the two customers
was told a lie. A single Redis serialises the two bookings: the second is refused.
AASIM names the binary."""
import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import aioredis
import redis
from ports import free_port

AASIM = os.environ.get("AASIM", "aasim")

BOOK = """
local left = tonumber(redis.call('GET', KEYS[1]) or '0')
if left <= 0 then return redis.error_reply('SOLDOUT no ticket left') end
redis.call('DECRBY', KEYS[1], 1)
redis.call('SET', KEYS[2], ARGV[1])
return left - 1
"""


class TicketService:
    """The service. `prefix` keeps two runs on one server apart."""

    def __init__(self, port, prefix):
        self.port = port
        self.r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
        self.p = prefix
        self.sha = self.r.script_load(BOOK)  # at start-up, as real services do

    def key(self, name):
        return self.p + name

    def open_show(self, tickets):
        self.r.incrby(self.key("tickets"), tickets)
        try:
            self.r.xgroup_create(self.key("bookings"), "mailer", id="0", mkstream=True)
        except redis.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise

    def book(self, user):
        """Returns the seat booked, or the refusal."""
        with self.r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(self.key("tickets"))
                    pipe.multi()
                    pipe.evalsha(self.sha, 2, self.key("tickets"), self.key("booking:" + user),
                                 user)
                    left = pipe.execute()[0]
                    break
                except redis.WatchError:
                    continue
                except redis.ResponseError as e:
                    return "refused (%s)" % ("SOLDOUT" if "SOLDOUT" in str(e) else e)
        seat = 1
        while not self.r.setnx(self.key("seat:%d" % seat), user):
            seat += 1
        self.r.expire(self.key("seat:%d" % seat), 86400)  # the claim ends after the show
        self.r.xadd(self.key("bookings"), {"user": user, "seat": seat})
        return "seat %d (%d left)" % (seat, left)

    async def mail(self, want):
        """The mailer: reads `want` bookings from the stream's consumer group."""
        conn = await aioredis.create_redis(("127.0.0.1", self.port))
        out = []
        try:
            while len(out) < want:
                got = await conn.xread_group("mailer", "m1", [self.key("bookings")],
                                             timeout=2000, count=10, latest_ids=[">"])
                for stream, msg_id, fields in got:
                    out.append("mail to %s: seat %s" % (fields[b"user"].decode(),
                                                        fields[b"seat"].decode()))
                    await conn.xack(stream, "mailer", msg_id)
        finally:
            conn.close()
            await conn.wait_closed()
        return out

    def holder(self, seat):
        v = self.r.get(self.key("seat:%d" % seat))
        return v.decode() if v else None

    def bookers(self):
        """Every booking, found with SCAN MATCH (small COUNT: several cursor rounds)."""
        keys = self.r.scan_iter(match=self.key("booking:*"), count=2)
        return sorted(k.decode()[len(self.key("booking:")):] for k in keys)

    def tickets(self):
        return int(self.r.get(self.key("tickets")))


def run_service(port, prefix):
    """One day of the service against the server at `port`; returns its output."""
    s = TicketService(port, prefix)
    out = ["script " + s.sha]
    s.open_show(3)
    for user in ("alice", "bob", "carol", "dave"):
        out.append("%s: %s" % (user, s.book(user)))
    out += asyncio.run(s.mail(3))
    out.append("tickets left: %d" % s.tickets())
    out.append("seat 2 holder: %s" % s.holder(2))
    ttl = s.r.ttl(s.key("seat:2"))
    out.append("seat 2 claim expires within a day: %s" % (0 < ttl <= 86400))
    out.append("bookings: " + ", ".join(s.bookers()))
    return out


class Servers:
    def __init__(self, test):
        self.dir = tempfile.mkdtemp(prefix="aasim-service-")
        test.addCleanup(shutil.rmtree, self.dir, True)
        self.procs = []
        test.addCleanup(self.stop)

    def stop(self):
        for p in self.procs:
            p.kill()
            p.wait()
            for f in (p.stdout, p.stderr):
                if f:
                    f.close()

    def redis_server(self):
        port = free_port()
        p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", self.dir],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return port
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def serve(self, latency):
        path = os.path.join(self.dir, "two.yaml")
        with open(path, "w") as f:
            f.write("name: two regions\nregions: [A, B]\nlinks:\n  default: { latency: %s }\n"
                    % latency)
        p = subprocess.Popen([AASIM, "serve", path], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        ports = {}
        while len(ports) < 2:
            line = p.stdout.readline()
            if not line:
                raise AssertionError("aasim serve exited: " + p.stderr.read())
            name, addr = line.split()
            ports[name] = int(addr.rsplit(":", 1)[1])
        return ports


class RealService(unittest.TestCase):
    def test_same_output_on_redis_and_on_region_a(self):
        servers = Servers(self)
        on_redis = run_service(servers.redis_server(), "svc:")
        on_aasim = run_service(servers.serve("50ms")["A"], "svc:")
        print("\n".join(on_redis))
        self.assertEqual(on_redis, on_aasim)
        self.assertIn("dave: refused (SOLDOUT)", on_redis)

    def test_two_regions_sell_the_last_ticket_twice(self):
        servers = Servers(self)
        # A single Redis: the second booking of the last ticket is refused.
        single = TicketService(servers.redis_server(), "last:")
        single.open_show(1)
        self.assertEqual(single.book("eve"), "seat 1 (0 left)")
        self.assertEqual(single.book("frank"), "refused (SOLDOUT)")
        self.assertEqual(single.tickets(), 0)

        ports = servers.serve("300ms")
        a, b = TicketService(ports["A"], "last:"), TicketService(ports["B"], "last:")
        a.open_show(1)
        b.open_show(0)  # B's own stream and group (streams are region-local)
        deadline = time.monotonic() + 10
        while b.r.get(b.key("tickets")) != b"1":  # the show reached B
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        t0 = time.monotonic()
        in_a, in_b = a.book("eve"), b.book("frank")
        if time.monotonic() - t0 > 0.25:
            self.skipTest("machine too slow: the bookings were not concurrent")
        print("\nregion A: eve: %s\nregion B: frank: %s" % (in_a, in_b))
        self.assertEqual(in_a, "seat 1 (0 left)")
        self.assertEqual(in_b, "seat 1 (0 left)")
        deadline = time.monotonic() + 10
        while (a.tickets(), b.tickets()) != (-1, -1) or a.holder(1) != b.holder(1):
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        print("after replication: tickets %d, seat 1 held by %s in both regions" %
              (a.tickets(), a.holder(1)))
        self.assertIn(a.holder(1), ("eve", "frank"))


if __name__ == "__main__":
    unittest.main()
