"""aasim latency on the command line: --jobs gives the same bytes as one thread, and the
progress line appears only when stderr is a terminal (absent on a pipe, present under a
pty, cleared at the end). Usage: latency_cli_test.py AASIM SCENARIO_DIR"""
import os
import pty
import subprocess
import sys
import threading
import time
import unittest

AASIM = SCENARIOS = None


def run(args, **kw):
    return subprocess.run([AASIM, "latency", *args], capture_output=True, **kw)


class Jobs(unittest.TestCase):
    def test_jobs_give_the_same_output(self):
        for name in ("latency-three-regions.yaml", "latency-failover.yaml"):
            f = os.path.join(SCENARIOS, name)
            for extra in ([], ["--json"], ["--csv"], ["--seed", "5", "-q"]):
                outs = [run([f, "--jobs", str(j), *extra]) for j in (1, 2, 3)]
                for o in outs:
                    self.assertEqual(o.stderr, b"")
                self.assertEqual(outs[0].stdout, outs[1].stdout, (name, extra))
                self.assertEqual(outs[0].stdout, outs[2].stdout, (name, extra))
                self.assertEqual({o.returncode for o in outs}, {outs[0].returncode})


# A run of a few seconds: long enough for the progress line (after one second).
LONG = ["--rate", "10000", "--duration", "4min", "--deployment", "active-active", "-q"]


class Progress(unittest.TestCase):
    def test_no_progress_on_a_pipe_and_a_cleared_line_on_a_terminal(self):
        f = os.path.join(SCENARIOS, "latency-three-regions.yaml")
        piped = run([f, *LONG])
        self.assertEqual(piped.returncode, 0, piped.stderr)
        self.assertEqual(piped.stderr, b"")  # stderr is a pipe: silent

        master, slave = pty.openpty()
        start = time.monotonic()
        p = subprocess.Popen([AASIM, "latency", f, *LONG], stdout=subprocess.PIPE,
                             stderr=slave)
        os.close(slave)
        chunks = []

        def read_tty():
            while True:
                try:
                    data = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    return
                if not data:
                    return
                chunks.append(data)

        reader = threading.Thread(target=read_tty)
        reader.start()
        out, _ = p.communicate()
        reader.join()
        os.close(master)
        elapsed = time.monotonic() - start
        self.assertEqual(p.returncode, 0)
        self.assertEqual(out, piped.stdout)  # the progress line never reaches stdout
        tty = b"".join(chunks)
        if elapsed < 1.5:
            self.skipTest(f"the run took {elapsed:.1f}s: too fast for a progress line")
        self.assertIn(b"\raasim latency: virtual time ", tty)
        self.assertIn(b"events/s, ETA ", tty)
        self.assertTrue(tty.endswith(b"\r\x1b[K"), tty[-80:])  # cleared at the end


if __name__ == "__main__":
    AASIM, SCENARIOS = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0], "-v"])
