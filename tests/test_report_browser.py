"""A real browser opens the report: headless Chromium (Debian package `chromium`) driven over the
DevTools protocol. The page loads with no console error, every figure decodes, the screenshot is
taken, and the `<script>`/`onerror=` planted in a model's answer never runs. A control page with
the same payload unescaped proves the harness does see scripts that run and errors that happen.

Skips only when no chromium binary exists (CI installs it). The websocket is a few lines of stdlib
(`MiniSocket`), so the test needs no extra package.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
from test_report_runs import XSS, runs  # noqa: F401  (the fixture)

from hashhop.cli import main
from hashhop.report.browser import chromium_command, find_chromium

pytestmark = pytest.mark.slow
CHROMIUM = find_chromium()
if CHROMIUM is None:
    pytest.skip(
        "no chromium binary on PATH: apt-get install chromium (or set HASHHOP_CHROMIUM)", allow_module_level=True
    )

PROBE = (
    "JSON.stringify({title: document.title, pwned: window.__hh_pwned === undefined ? null : window.__hh_pwned,"
    " images: document.images.length,"
    " decoded: Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length,"
    " width: document.documentElement.scrollWidth})"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MiniSocket:
    """The client half of RFC 6455, enough for DevTools: masked text frames out, whole frames in."""

    def __init__(self, url: str, timeout: float = 60.0):
        u = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def _exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            assert chunk, "chromium closed the websocket"
            buf += chunk
        return buf

    def send(self, text: str) -> None:
        data, mask = text.encode(), os.urandom(4)
        n = len(data)
        size = (
            bytes([0x80 | n])
            if n < 126
            else (bytes([0xFE]) + struct.pack(">H", n) if n < 65536 else bytes([0xFF]) + struct.pack(">Q", n))
        )
        self.sock.sendall(b"\x81" + size + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self) -> str:
        message = b""
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            n = (
                struct.unpack(">H", self._exact(2))[0]
                if n == 126
                else (struct.unpack(">Q", self._exact(8))[0] if n == 127 else n)
            )
            payload = self._exact(n)
            if b0 & 0x0F in (0x9, 0xA):  # ping/pong: not a message
                continue
            message += payload
            if b0 & 0x80:  # FIN: the message is whole
                return message.decode()

    def close(self) -> None:
        self.sock.close()


class DevTools:
    """A page of a headless Chromium, driven over its DevTools websocket (127.0.0.1 only)."""

    def __init__(self, profile):
        self.port = _free_port()
        cmd = chromium_command(
            CHROMIUM,
            str(profile),
            f"--remote-debugging-port={self.port}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-allow-origins=*",
            "about:blank",
        )
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.events, self.next_id = [], 0
        self.ws = MiniSocket(self._page_url())
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable")

    def _page_url(self) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=2) as r:
                    pages = [t for t in json.load(r) if t.get("type") == "page"]
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
            except OSError:
                pass
            if self.proc.poll() is not None:
                pytest.fail(f"chromium exited with {self.proc.returncode}")
            time.sleep(0.2)
        pytest.fail("chromium's DevTools endpoint did not answer within 60 s")

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                assert "error" not in msg, msg
                return msg.get("result", {})
            self.events.append(msg)

    def open(self, url: str) -> dict:
        """Navigate, wait for the load event and a settle, and return the page probe."""
        self.events.clear()
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + 60
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            assert time.monotonic() < deadline, "the page did not finish loading in 60 s"
            self.events.append(json.loads(self.ws.recv()))
        time.sleep(0.5)  # let late errors (failed image loads) arrive
        result = self.call("Runtime.evaluate", expression=PROBE, returnByValue=True)
        return json.loads(result["result"]["value"])

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and browser log errors seen since the last open()."""
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(f"console: {p.get('args')}")
            elif m == "Runtime.exceptionThrown":
                out.append(f"exception: {p.get('exceptionDetails', {}).get('text')}")
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(f"log: {p['entry'].get('text')}")
        return out

    def screenshot(self, width: int = 1400, height: int = 2000) -> bytes:
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])

    def close(self):
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    tools = DevTools(tmp_path_factory.mktemp("chromium-profile"))
    yield tools
    tools.close()


@pytest.fixture(scope="module")
def page(runs, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("browser-report") / "report.html"
    names = ("oracle", "stub", "partial", "hostile")
    assert main(["report", *[str(runs[n][0]) for n in names], "-o", str(out), "--anchors", "--diagrams", "12"]) == 0
    assert "&lt;script&gt;" in out.read_text()  # the payload is on the page, escaped
    return out


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def test_the_harness_sees_a_script_that_runs_and_an_error(browser, tmp_path):
    control = tmp_path / "control.html"
    control.write_text(f"<!DOCTYPE html><html><head><title>control</title></head><body>{XSS}</body></html>")
    probe = browser.open(control.as_uri())
    assert probe["title"] == "PWNED" and probe["pwned"] == 2  # both the script and the onerror ran
    assert any("log:" in e for e in browser.errors())  # the broken image is reported


def test_report_opens_without_console_errors_and_the_injected_script_never_runs(browser, page):
    probe = browser.open(page.as_uri())
    assert browser.errors() == []
    assert probe["title"] == "HashHop report" and probe["pwned"] is None
    assert probe["images"] >= 8 and probe["decoded"] == probe["images"]  # every inline figure decodes
    assert probe["width"] <= 1400  # no horizontal scrolling at a desktop width


def test_report_screenshot(browser, page, tmp_path):
    browser.open(page.as_uri())
    png = browser.screenshot()
    assert _png_size(png) == (1400, 2000) and len(png) > 50_000


def test_report_command_takes_its_own_screenshot(runs, tmp_path):  # noqa: F811
    shot = tmp_path / "report.png"
    assert (
        main(
            [
                "report",
                str(runs["oracle"][0]),
                str(runs["stub"][0]),
                "-o",
                str(tmp_path / "r.html"),
                "--screenshot",
                str(shot),
                "--screenshot-size",
                "1200x900",
            ]
        )
        == 0
    )
    assert _png_size(shot.read_bytes()) == (1200, 900)
