"""The HTTP transport (backends/http.py, on aiohttp) on the wire: keep-alive, framing, limits, TLS.

The failure mapping the openai backend builds on it (status codes, timeouts, resets) is tested in
test_backend_openai.py; here, what the transport itself must get right, against a raw socket server
that answers each connection with scripted bytes.
"""

import asyncio
import gzip
import shutil
import socket
import ssl
import subprocess
import threading

import pytest

pytest.importorskip("aiohttp")

from hashhop.backends.http import Transport
from hashhop.core.errors import BackendError, TransientError


class RawServer:
    """127.0.0.1 server: for each request, sends the next scripted reply (bytes), then closes the
    connection if the reply says so (`close`); records each request head it read. With `tls` (a
    server SSLContext) it speaks https."""

    def __init__(self, replies, tls: ssl.SSLContext | None = None):
        self.replies, self.heads, self.connections, self.tls = list(replies), [], 0, tls
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while self.replies:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn):
        if self.tls:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                return  # the client refused our certificate
        with conn:
            buf = b""
            while self.replies:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                length = int(dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:]).get(b"Content-Length", 0))
                while len(buf) < length:
                    buf += conn.recv(65536)
                buf = buf[length:]
                self.heads.append(head.decode())
                reply, close = self.replies.pop(0)
                conn.sendall(reply)
                if close:
                    return

    def close(self):
        self.sock.close()


def ok(body: bytes, extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


def run(server, *bodies, limit=2**20, timeout=5.0):
    async def go():
        transport = Transport({"Authorization": "Bearer k"}, timeout, limit)
        try:
            return [await transport.request("POST", server.url + "/v1/x", b) for b in bodies]
        finally:
            await transport.aclose()

    return asyncio.run(go())


def test_sequential_requests_reuse_one_keep_alive_connection():
    server = RawServer([(ok(b'{"a":1}'), False), (ok(b'{"a":2}'), False), (ok(b'{"a":3}'), False)])
    replies = run(server, {"n": 1}, {"n": 2}, {"n": 3})
    assert [r[2] for r in replies] == [b'{"a":1}', b'{"a":2}', b'{"a":3}']
    assert server.connections == 1
    head = server.heads[0]
    assert head.startswith("POST /v1/x HTTP/1.1") and "Authorization: Bearer k" in head
    assert "Content-Type: application/json" in head and "Accept: application/json" in head


def test_a_connection_the_server_closed_is_replaced_without_an_error():
    # The first reply asks to close; the second request goes out on a fresh connection.
    server = RawServer([(ok(b"1", "Connection: close\r\n"), True), (ok(b"2"), False)])
    assert [r[2] for r in run(server, {}, {})] == [b"1", b"2"]
    assert server.connections == 2


def test_a_stale_pooled_connection_is_retried_once_on_a_fresh_one():
    # Keep-alive was promised but the server hung up after the reply: the next request must not fail.
    server = RawServer([(ok(b"1"), True), (ok(b"2"), False)])
    assert [r[2] for r in run(server, {}, {})] == [b"1", b"2"]


def test_chunked_and_read_until_close_bodies_are_read_whole():
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n"
    until_close = b"HTTP/1.1 200 OK\r\n\r\nall of it"
    server = RawServer([(chunked, False), (until_close, True)])
    assert [r[2] for r in run(server, {}, {})] == [b"abcdefg", b"all of it"]


def test_headers_are_read_case_insensitively_and_gzip_is_undone():
    body = gzip.compress(b'{"ok":true}')
    server = RawServer([(ok(body, "Content-Encoding: gzip\r\nRetry-After: 3\r\n"), False)])
    status, headers, data = run(server, {})[0]
    assert (status, data, headers["retry-after"]) == (200, b'{"ok":true}', "3")


def test_a_gzip_bomb_is_cut_at_the_byte_limit():
    server = RawServer([(ok(gzip.compress(b"a" * 10**6), "Content-Encoding: gzip\r\n"), False)])
    with pytest.raises(TransientError, match="byte limit"):
        run(server, {}, limit=1000)


def test_broken_http_is_transient():
    server = RawServer([(b"NOT HTTP AT ALL\r\n\r\n", True)])
    with pytest.raises(TransientError, match="connection error"):
        run(server, {})


def test_a_refused_connection_is_transient():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def go():
        transport = Transport({}, 2.0, 1000)
        try:
            return await transport.request("GET", f"http://127.0.0.1:{port}/v1/models")
        finally:
            await transport.aclose()

    with pytest.raises(TransientError, match="connection error"):
        asyncio.run(go())


def test_a_line_break_in_a_header_is_refused_before_anything_is_sent():
    with pytest.raises(BackendError, match="line break"):
        Transport({"Authorization": "Bearer k\r\nX-Evil: 1"}, 2.0, 1000)


def test_the_timeout_the_runner_asks_for_cuts_a_stalled_answer():
    silent = socket.create_server(("127.0.0.1", 0))  # connections wait in its backlog, never answered

    async def go():
        transport = Transport({}, 30.0, 1000)
        transport.cap_timeout(0.3)
        try:
            return await transport.request("POST", f"http://127.0.0.1:{silent.getsockname()[1]}/", {})
        finally:
            await transport.aclose()

    with silent, pytest.raises(TransientError, match="timeout after 0.3 s"):
        asyncio.run(go())


def test_one_client_serves_successive_event_loops():
    # Connections and timeouts of a finished asyncio.run are dropped, not reused in the next loop.
    server = RawServer([(ok(b"1"), False), (ok(b"2"), False)])
    transport = Transport({}, 5.0, 1000)
    first = asyncio.run(transport.request("POST", server.url + "/", {}))
    second = asyncio.run(transport.request("POST", server.url + "/", {}))
    assert (first[2], second[2]) == (b"1", b"2")


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1 (openssl CLI), as (cert file, key file)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl CLI not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _tls_server(certificate, replies):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return RawServer(replies, tls=context)


def test_https_works_against_a_certificate_the_system_trusts(certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # what create_default_context trusts
    server = _tls_server(certificate, [(ok(b"1"), False), (ok(b"2"), False)])
    assert [r[2] for r in run(server, {}, {})] == [b"1", b"2"]
    assert server.connections == 1  # kept alive over TLS too


def test_https_refuses_a_certificate_nobody_trusts(certificate, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    server = _tls_server(certificate, [(ok(b"1"), False)])
    with pytest.raises(TransientError, match="connection error.*CERTIFICATE_VERIFY_FAILED"):
        run(server, {})
