#!/usr/bin/python3
"""RESP request framing, byte for byte against a real redis-server: a table of raw requests,
malformed in every way a length, a header line or an inline line can be (leading zeros,
signs, empty or overlong numbers, counts and lengths past Redis's limits, a missing `$`,
NUL bytes, lines without an end), goes on fresh connections to a redis-server this test
starts on a free port and to one region of `aasim serve`. What each server answers, and
whether it then closes the connection, must be equal. The same for a client that has not
yet authenticated (`requirepass`), where Redis's limits are tighter.

AASIM names the binary. Without a redis-server in PATH the test is skipped (a failure under
CI=true)."""
import os
import selectors
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from ports import free_port

AASIM = os.environ.get("AASIM", "aasim")
WAIT = 1.0  # seconds a server gets to answer (and maybe close) after the request is sent

PING = b"*1\r\n$4\r\nPING\r\n"
ECHO = b"*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n"

# Requests whose framing Redis judges (every one on its own connection).
CASES = [
    # well formed, for reference
    PING, ECHO, b"PING\r\n", b"PING\n", b"ECHO \"a b\"\r\n", b"\r\n" + PING, b"*0\r\n" + PING,
    b"*-1\r\n" + PING, b"*-5\r\n" + PING, b"*1\r\n$0\r\n\r\n" + PING,
    # counts
    b"*01\r\n", b"*00\r\n", b"*+1\r\n", b"*-0\r\n", b"*-\r\n", b"*\r\n", b"* 1\r\n",
    b"*1 \r\n", b"*1x\r\n", b"*abc\r\n", b"*0x1\r\n", b"*1.0\r\n", b"*1e3\r\n",
    b"*2147483647\r\n", b"*2147483648\r\n", b"*1073741825\r\n", b"*4294967296\r\n",
    b"*9223372036854775807\r\n", b"*9223372036854775808\r\n", b"*-9223372036854775808\r\n",
    b"*123456789012345678901\r\n", b"*00000000000000000001\r\n",
    # bulk lengths
    b"*1\r\n$01\r\nx\r\n", b"*1\r\n$004\r\nPING\r\n", b"*1\r\n$00\r\n\r\n", b"*1\r\n$+4\r\nPING\r\n",
    b"*1\r\n$-0\r\n", b"*1\r\n$-1\r\n", b"*1\r\n$-5\r\n", b"*1\r\n$\r\n", b"*1\r\n$ 4\r\nPING\r\n",
    b"*1\r\n$4 \r\nPING\r\n", b"*1\r\n$4x\r\nPING\r\n", b"*1\r\n$x\r\n",
    b"*1\r\n$536870912\r\n", b"*1\r\n$536870913\r\n", b"*1\r\n$99999999999\r\n",
    b"*1\r\n$9223372036854775808\r\n", b"*1\r\n$-9223372036854775808\r\n",
    b"*1\r\n$123456789012345678901\r\n",
    # the type byte of an argument
    b"*1\r\n+PING\r\n", b"*1\r\n:4\r\n", b"*1\r\n*1\r\n", b"*1\r\nPING\r\n", b"*1\r\n\r\n",
    b"*1\r\n\xff4\r\n", b"*1\r\nx", b"*2\r\n$4\r\nECHO\r\n-1\r\n",
    # line ends: a CR ends a header whatever follows it; the two bytes after an argument
    # are skipped unread
    b"*1\rX$4\rYPING\r\n", b"*1\r\n$4\r\nPINGxx" + PING, b"*1\r\n$4\r\nPING", b"*1\n$4\nPING\n",
    b"*1\r\n$4\r\nPING\r", b"*1\r\n$4\rPING\r\n",
    # NUL bytes hide a line's end from Redis
    b"*1\x00\r\n$4\r\nPING\r\n", b"*1\r\n$4\x00\r\nPING\r\n", b"PING\x00\r\n", b"\x00PING\r\n",
    b"*2\r\n$4\r\nECHO\r\n$3\r\na\x00b\r\n",
    # an error text quotes a name or argument only up to its NUL (Redis's "%.128s")
    b"*3\r\n$4\r\nFO\x00O\r\n$3\r\na\x00b\r\n$1\r\nc\r\n", b"*1\r\n$3\r\n\x00xy\r\n",
    b"*2\r\n$6\r\nCLIENT\r\n$8\r\nNO\x00SUCH\r\n", b"*2\r\n$6\r\nCONFIG\r\n$3\r\nX\x00Y\r\n",
    b"*2\r\n$6\r\nSCRIPT\r\n$3\r\nX\x00Y\r\n", b"*2\r\n$6\r\nPUBSUB\r\n$3\r\nX\x00Y\r\n",
    # the endpoint's own commands with too few arguments: Redis's arity error, then the
    # next command (a bare PUBSUB crashed the server; a bare SUBSCRIBE got no reply)
    b"*1\r\n$6\r\nPUBSUB\r\n" + PING, b"*1\r\n$9\r\nSUBSCRIBE\r\n" + PING,
    b"*1\r\n$10\r\nPSUBSCRIBE\r\n" + PING, b"*1\r\n$6\r\nCLIENT\r\n" + PING,
    b"*1\r\n$6\r\nCONFIG\r\n" + PING, b"*2\r\n$5\r\nRESET\r\n$1\r\nx\r\n" + PING,
    b"*3\r\n$6\r\nOBJECT\r\n$3\r\nX\x00Y\r\n$1\r\nk\r\n", b"*2\r\n$6\r\nXGROUP\r\n$3\r\nX\x00Y\r\n",
    b"*2\r\n$7\r\nCOMMAND\r\n$3\r\nX\x00Y\r\n",
    b"*3\r\n$5\r\nHELLO\r\n$1\r\n2\r\n$3\r\nX\x00Y\r\n",
    b"*7\r\n$10\r\nXREADGROUP\r\n$5\r\nGROUP\r\n$3\r\ng\x00h\r\n$1\r\nc\r\n$7\r\nSTREAMS\r\n"
    b"$3\r\nk\x00x\r\n$1\r\n>\r\n",
    b"*6\r\n$6\r\nXGROUP\r\n$6\r\nCREATE\r\n$3\r\ns\x00t\r\n$1\r\ng\r\n$1\r\n$\r\n$8\r\nMKSTREAM\r\n"
    b"*5\r\n$6\r\nXGROUP\r\n$14\r\nCREATECONSUMER\r\n$3\r\ns\x00t\r\n$3\r\nh\x00i\r\n$1\r\nc\r\n",
    # inline lines
    b"ECHO \"a\r\n", b"ECHO 'a\r\n", b"ECHO \"a\"b\r\n", b"PING\r\nECHO \"x\r\n",
    b"\r\n\r\n\n" + PING, b"   \r\n" + PING,
    # lines that never end, past Redis's 64KB
    b"PING" + b"x" * 70000, b"*" + b"1" * 70000, b"*1\r\n$" + b"1" * 70000,
    b"*1\r\n+" + b"x" * 70000, b"PING\x00\n" + b"x" * 70000,
    # pipelined: what comes before the error is answered
    PING + b"*01\r\n", b"PING\r\n*1\r\n$01\r\nx\r\n" + PING, ECHO + b"*1\r\n$-1\r\n" + PING,
]

# Before AUTH with requirepass set: at most 10 arguments of 16KB.
AUTH_CASES = [
    b"*10\r\n", b"*11\r\n", b"*1\r\n$16384\r\n", b"*1\r\n$16385\r\n",
    b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*11\r\n",
    b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*1\r\n$16385\r\n",
    b"*2\r\n$4\r\nAUTH\r\n$5\r\nwrong\r\n*11\r\n",
    b"*1\r\n$-1\r\n", b"*01\r\n",
    # AUTH <user> <password> and HELLO AUTH: the one check (only "default", its password)
    b"*3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$2\r\npw\r\n" + PING,
    b"*3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$1\r\nx\r\n" + PING,
    b"*3\r\n$4\r\nAUTH\r\n$3\r\nbob\r\n$2\r\npw\r\n" + PING,
    b"*4\r\n$4\r\nAUTH\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n" + PING,
    b"*5\r\n$5\r\nHELLO\r\n$1\r\n2\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$1\r\nx\r\n" + PING,
    b"*5\r\n$5\r\nHELLO\r\n$1\r\n2\r\n$4\r\nAUTH\r\n$3\r\nbob\r\n$2\r\npw\r\n" + PING,
]


def exchange(port, cases):
    """Sends each case on its own connection to 127.0.0.1:port; returns, for each, the bytes
    received within WAIT seconds and whether the server closed the connection."""
    socks = []
    for data in cases:
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(data)
        s.setblocking(False)
        socks.append(s)
    got = [[b"", False] for _ in cases]
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, i)
    deadline = time.monotonic() + WAIT
    open_count = len(socks)
    while open_count and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=max(0.0, deadline - time.monotonic())):
            i = key.data
            try:
                chunk = socks[i].recv(1 << 16)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                chunk = b""
            if chunk:
                got[i][0] += chunk
            else:
                got[i][1] = True
                sel.unregister(socks[i])
                open_count -= 1
    sel.close()
    for s in socks:
        s.close()
    return [tuple(g) for g in got]


class ProtocolAgainstRedis(unittest.TestCase):
    def start(self, *args):
        """A redis-server and `aasim serve` (one region), both with `args`; their ports."""
        server = shutil.which("redis-server")
        if server is None:
            if os.environ.get("CI") == "true":
                self.fail("redis-server not found")
            self.skipTest("redis-server not found")
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        port = free_port()
        proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save",
                                 "", "--appendonly", "no", "--dir", tmp.name] + list(args),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.kill)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
        path = os.path.join(tmp.name, "one.yaml")
        with open(path, "w") as f:
            f.write("name: one region\nregions: [A]\n")
        sim = subprocess.Popen([AASIM, "serve", path] + list(args), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        self.addCleanup(sim.stderr.close)
        self.addCleanup(sim.stdout.close)
        self.addCleanup(sim.wait)
        self.addCleanup(sim.kill)
        line = sim.stdout.readline()
        if not line:
            raise AssertionError("aasim serve exited: " + sim.stderr.read())
        return port, int(line.split()[1].rsplit(":", 1)[1])

    def compare(self, cases, *args):
        real_port, sim_port = self.start(*args)
        want = exchange(real_port, cases)
        got = exchange(sim_port, cases)
        mismatches = []
        for data, w, g in zip(cases, want, got):
            if w != g:
                mismatches.append("%r:\n  redis: %r closed=%s\n  aasim: %r closed=%s" %
                                  (data[:60], w[0][:200], w[1], g[0][:200], g[1]))
        self.assertEqual(mismatches, [], "\n".join(mismatches))
        # Every case that Redis answers with a protocol error is one.
        self.assertTrue(any(b"Protocol error" in w[0] for w in want))

    def test_malformed_requests(self):
        self.compare(CASES)

    def test_before_auth(self):
        self.compare(AUTH_CASES, "--requirepass", "pw")


if __name__ == "__main__":
    unittest.main()
