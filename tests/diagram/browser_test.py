#!/usr/bin/env python3
"""`aasim run --html` in a real browser: headless Chromium loads each page from disk, with
no console error or script exception; a screenshot is not blank; clicking a table row
highlights its mark in the diagram, clicking a mark highlights its row, and Enter on a
focused row selects it. Speaks the DevTools protocol over a WebSocket with the standard
library only.

Usage: browser_test.py AASIM OUT_DIR SCENARIO...
Exit 77 (skipped) when chromium is missing and CI is not set.
"""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import zlib


class WebSocket:
    """A minimal RFC 6455 client: text frames, client masking, fragmented replies."""

    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("handshake closed")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(head.decode(errors="replace"))

    def _exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def send(self, text):
        payload = text.encode()
        n = len(payload)
        header = bytes([0x81])
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            payload = self._exact(n)
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise ConnectionError("closed by the browser")
            if opcode in (0x0, 0x1, 0x2):
                message += payload
                if b0 & 0x80:
                    return message.decode()


class Page:
    def __init__(self, ws_url):
        self.ws = WebSocket(ws_url)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, method, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for e in self.events:
                if e.get("method") == method:
                    self.events.remove(e)
                    return e
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(method)

    def eval(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def click(self, x, y):
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                      clickCount=1)

    def errors(self):
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append(p["exceptionDetails"].get("text", "exception"))
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(json.dumps(p.get("args")))
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(p["entry"].get("text"))
        return out


def not_blank(png):
    """True when the PNG has real content: some rows differ from white (decoded per row)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, bpp = 8, b"", 0, 0, 4
    while pos < len(png):
        n, kind = struct.unpack(">I4s", png[pos:pos + 8])
        data = png[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", data[:10])
            bpp = {2: 3, 6: 4, 0: 1, 4: 2}[color] * depth // 8
        elif kind == b"IDAT":
            idat += data
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    dark = 0
    for row in range(height):
        f = raw[row * (stride + 1)]
        line = bytearray(raw[row * (stride + 1) + 1:(row + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        dark += sum(1 for i in range(0, stride, bpp) if line[i] < 128)
        prev = line
    return dark > width * height // 500, dark


def main():
    aasim, out_dir, scenarios = sys.argv[1], sys.argv[2], sys.argv[3:]
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        if os.environ.get("CI"):
            print("chromium not found (scripts/setup.sh installs it)")
            return 1
        print("chromium not found: skipped")
        return 77
    os.makedirs(out_dir, exist_ok=True)
    profile = tempfile.mkdtemp()
    proc = subprocess.Popen([browser, "--headless", "--no-sandbox", "--disable-gpu",
                             "--no-first-run", "--hide-scrollbars", "--remote-debugging-port=0",
                             f"--user-data-dir={profile}", "--window-size=1280,900",
                             "about:blank"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    failed = passed = 0
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.time() + 60
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if time.time() > deadline or proc.poll() is not None:
                print("chromium did not start")
                return 1
            time.sleep(0.2)
        port = int(open(port_file).read().split()[0])
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = Page(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
        for method in ("Page.enable", "Runtime.enable", "Log.enable"):
            page.call(method)
        for scenario in scenarios:
            name = os.path.splitext(os.path.basename(scenario))[0]
            html = os.path.abspath(os.path.join(out_dir, name + ".html"))
            subprocess.run([aasim, "run", scenario, "--html", html], check=False,
                           stdout=subprocess.DEVNULL)
            page.events.clear()
            page.call("Page.navigate", url="file://" + html)
            page.wait_event("Page.loadEventFired")
            problems = []
            shot = base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"])
            with open(os.path.join(out_dir, name + ".png"), "wb") as f:
                f.write(shot)
            content, dark = not_blank(shot)
            if not content:
                problems.append(f"screenshot is blank ({dark} dark pixels)")
            # The first step with a mark on a lane (a command): click its row.
            n = page.eval("(() => { const m = [...document.querySelectorAll("
                          "'.aasim-diagram .step')].find(g => g.querySelector('circle'));"
                          " return m ? m.getAttribute('data-step') : null; })()")
            if n is None:
                problems.append("no command mark in the diagram")
            else:
                box = page.eval(f"(() => {{ const r = document.getElementById('row-{n}');"
                                " r.scrollIntoView({block: 'center'});"
                                " const b = r.getBoundingClientRect();"
                                " return [b.left + 12, b.top + b.height / 2]; })()")
                page.click(*box)
                state = page.eval(f"[document.getElementById('step-{n}').classList.contains('hl'),"
                                  f" document.getElementById('row-{n}').classList.contains('hl'),"
                                  " document.body.getAttribute('data-selected')]")
                if state != [True, True, n]:
                    problems.append(f"click on row {n}: mark/row/selected = {state}")
                # Click the last step's mark in the diagram: its row lights up.
                last = page.eval("(() => { const s = document.querySelectorAll("
                                 "'.aasim-diagram .step'); const g = s[s.length - 1];"
                                 " g.scrollIntoView({block: 'center'});"
                                 " const t = g.querySelector('text:nth-of-type(3)') ||"
                                 " g.querySelector('text'); const b = t.getBoundingClientRect();"
                                 " return [g.getAttribute('data-step'), b.left + 4,"
                                 " b.top + b.height / 2]; })()")
                page.click(last[1], last[2])
                lit = page.eval(f"document.getElementById('row-{last[0]}').classList.contains('hl')")
                if not lit:
                    problems.append(f"click on mark {last[0]}: its row is not highlighted")
                # Keyboard: focus row n, press Enter.
                page.eval(f"document.getElementById('row-{n}').focus()")
                for kind in ("keyDown", "keyUp"):
                    page.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter",
                              windowsVirtualKeyCode=13, text="\r" if kind == "keyDown" else "")
                if page.eval("document.body.getAttribute('data-selected')") != n:
                    problems.append("Enter on a focused row did not select it")
            problems += [f"console: {e}" for e in page.errors()]
            if problems:
                failed += 1
                print(f"FAIL {name}: " + "; ".join(problems))
            else:
                passed += 1
                print(f"ok {name}: {dark} dark pixels, click and keyboard highlight")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
