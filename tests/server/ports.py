#!/usr/bin/python3
"""Free loopback ports for tests that start servers, chosen below the kernel's ephemeral range.

A port from bind(("127.0.0.1", 0)) lies inside the ephemeral range, which is where the kernel
also takes the source port of every outgoing connection. Between the test closing its probe
socket and the server binding the port, any connect() on the machine (a node retrying a peer
that is not up yet, redis-benchmark in a parallel test, a hiredis client) can take it as its
source port, and the server fails with "Address already in use". A node that connects to a
peer's port while nothing listens there can even connect to itself (TCP simultaneous open)
when the kernel picks the destination port as the source. Ports below the ephemeral range are
never handed out that way, so only another test choosing the same port can collide; picking
at random from ~10,000 ports makes that rare, and tests that start several servers retry on
fresh ports when it happens (PortTaken).

Run as a script, it prints one port (for shell scripts)."""
import random
import socket

_rng = random.SystemRandom()
_given = set()


class PortTaken(Exception):
    """A server could not bind the port it was given; the caller starts again on new ones."""


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port():
    """A loopback port nothing is bound to, outside the ephemeral range when it can be, and
    never one this process handed out before."""
    high = _ephemeral_low()
    low = max(1024, high - 10000)
    if high - low >= 1000:
        for _ in range(200):
            port = _rng.randrange(low, high)
            if port not in _given and _bindable(port):
                _given.add(port)
                return port
    while True:  # a machine whose ephemeral range starts too low to leave room below it
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _given:
            _given.add(port)
            return port


if __name__ == "__main__":
    print(free_port())
