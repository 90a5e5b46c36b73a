"""A lean HTTP/1.1 client for API backends: asyncio protocols, httptools (llhttp) parsing, keep-alive.

Why it exists: aiohttp spends over 100 us of CPU per request in its session machinery, which caps one
event loop near 7K requests/s against a local server (docs/benchmarks.md, Harness); this client does
the same exchange in about 20 us. Its scope is what an OpenAI-compatible API needs and no more: one
request at a time per connection (no pipelining), responses framed by Content-Length, chunked
encoding or the end of the connection, optional TLS. No proxies, redirects or cookies, so `auto`
picks it only for plain http:// URLs that no proxy variable covers (backends/http.py).

Same contract as the other transports: `request(method, url, body) -> (status, headers, bytes)`,
headers a dict with lower-case names; timeouts and connection failures raise TransientError, and a
body past the byte limit is cut (TransientError) before it is held in memory.
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
import urllib.parse
import zlib

from hashhop.core import fastjson
from hashhop.core.errors import BackendError, TransientError, require

USER_AGENT = "hashhop"


class _Exchange(asyncio.Protocol):
    """One connection: writes a request, parses its response, resolves `waiter` with it."""

    def __init__(self, limit: int):
        self.limit = limit
        self.parser = _httptools().HttpResponseParser(self)
        self.transport = None
        self.waiter: asyncio.Future | None = None
        self.closed = False
        self.stale = False  # the server closed the connection before answering at all
        self._reset()

    def _reset(self):
        self.received = False  # any byte of the current response came
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.size, self.framed, self.headers_done = 0, False, False

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes):
        self.received = True
        try:
            self.parser.feed_data(data)
        except Exception as exc:  # httptools.HttpParserError & co: the server spoke broken HTTP
            self.fail(TransientError(f"malformed HTTP response ({type(exc).__name__})"))

    def connection_lost(self, exc):
        self.closed = True
        if self.waiter is None or self.waiter.done():
            return
        if self.headers_done and not self.framed:  # the body ran to the end of the connection
            self._complete()
        else:
            # Nothing of the response came: a kept-alive connection the server had dropped (stale).
            self.stale = not self.received
            self.fail(TransientError("connection closed by the server" + (f" ({exc})" if exc else "")))

    # -- httptools callbacks ---------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes):
        key, text = name.decode("latin-1").lower(), value.decode("latin-1")
        self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text

    def on_headers_complete(self):
        self.headers_done = True
        length = self.headers.get("content-length", "")
        self.framed = (
            length.isdigit()
            or "chunked" in self.headers.get("transfer-encoding", "").lower()
            or self.status in (204, 304)
        )
        if length.isdigit() and int(length) > self.limit:
            self.fail(TransientError(f"response of {length} bytes exceeds the {self.limit}-byte limit"))

    def on_body(self, chunk: bytes):
        if self.waiter is None or self.waiter.done():
            return  # failed already (limit, timeout): drop the rest
        self.size += len(chunk)
        if self.size > self.limit:
            self.fail(TransientError(f"response exceeds the {self.limit}-byte limit"))
        else:
            self.body.append(chunk)

    def on_message_complete(self):
        self._complete()

    # -- outcome ---------------------------------------------------------------------------
    @property
    def status(self) -> int:
        return self.parser.get_status_code()

    def _complete(self):
        if self.waiter is None or self.waiter.done():
            return
        try:
            body = _decode(b"".join(self.body), self.headers.get("content-encoding", ""), self.limit)
        except TransientError as exc:
            return self.fail(exc)
        reusable = not self.closed and self.parser.should_keep_alive()
        self.waiter.set_result((self.status, self.headers, body, reusable))

    def fail(self, exc: Exception):
        """The exchange is over and the connection unusable: close it, wake the caller with `exc`."""
        self.close()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def close(self):
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def send(self, data: bytes) -> asyncio.Future:
        self._reset()
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter


def _decode(body: bytes, encoding: str, limit: int) -> bytes:
    """Undo gzip/deflate (we ask for identity, but a server may compress anyway), bounded by `limit`."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise TransientError(f"unsupported content-encoding {encoding!r}")
    inflater = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise TransientError(f"corrupt {encoding} body ({exc})") from None
    if len(out) > limit:
        raise TransientError(f"response exceeds the {limit}-byte limit")
    return out


def _httptools():
    return require("httptools", "openai")


class _Origin:
    """scheme://host:port: where connections go, the request head every request to it shares."""

    def __init__(self, url: str, headers: dict):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BackendError(f"cannot use URL {url!r}: give an http:// or https:// base URL")
        self.tls = parts.scheme == "https"
        self.host, self.port = parts.hostname, parts.port or (443 if self.tls else 80)
        default = self.port == (443 if self.tls else 80)
        fixed = {
            "Host": parts.hostname if default else f"{parts.hostname}:{self.port}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": "identity",
            **headers,
        }
        for name, value in fixed.items():
            if any(c in f"{name}{value}" for c in "\r\n\0"):  # a key with a newline would inject headers
                raise BackendError(f"header {name} holds a line break: fix the value (an API key variable?)")
        self.head = "".join(f"{k}: {v}\r\n" for k, v in fixed.items())


class Wire:
    """The keep-alive connection pool and request loop (one per backend, inside one event loop)."""

    name = "native"

    def __init__(self, headers: dict, timeout: float, limit: int):
        _httptools()  # fail at construction with the install hint, not on the first request
        self.headers, self.timeout, self.limit = headers, timeout, limit
        self._origins: dict[str, tuple[_Origin, str]] = {}  # url -> (origin, path)
        self._idle: dict[tuple, list[_Exchange]] = {}
        self._ssl: _ssl.SSLContext | None = None
        self._inflight: dict[_Exchange, tuple[float, str]] = {}  # -> (deadline in loop time, host)
        self._sweeper: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def cap_timeout(self, seconds: float) -> None:
        """Lower the per-request timeout to `seconds` (the runner's --timeout, enforced here for free)."""
        self.timeout = min(self.timeout, seconds)

    @property
    def _tick(self) -> float:
        """How late a timeout may fire: the sweep's period."""
        return min(1.0, max(0.01, self.timeout / 10))

    def _target(self, url: str) -> tuple[_Origin, str]:
        found = self._origins.get(url)
        if found is None:
            parts = urllib.parse.urlsplit(url)
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            found = self._origins[url] = (_Origin(url, self.headers), path)
        return found

    def _adopt_loop(self):
        """Connections and the sweep belong to one event loop: a new loop (another asyncio.run) starts afresh."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._idle, self._inflight, self._sweeper = loop, {}, {}, None

    async def request(self, method: str, url: str, body: dict | None = None):
        self._adopt_loop()
        origin, path = self._target(url)
        data = b"" if body is None else fastjson.dumps(body)
        head = f"{method} {path} HTTP/1.1\r\n{origin.head}"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        message = (head + f"Content-Length: {len(data)}\r\n\r\n").encode("latin-1") + data
        for _ in range(2):  # a pooled connection the server closed meanwhile is retried once, fresh
            exchange, reused = await self._connection(origin)
            try:
                return await self._exchange(exchange, origin, message)
            except TransientError:
                if not (reused and exchange.stale):  # a timeout or a broken answer is the server's
                    raise
        raise TransientError(f"connection to {origin.host}:{origin.port} keeps closing")

    async def _exchange(self, exchange: _Exchange, origin: _Origin, message: bytes):
        self._watch(exchange, origin)
        try:
            status, headers, body, reusable = await exchange.send(message)
        except BaseException:  # cancelled or failed: the response may still come, so never reuse it
            exchange.close()
            raise
        finally:
            del self._inflight[exchange]
        if reusable:
            self._idle.setdefault((origin.host, origin.port, origin.tls), []).append(exchange)
        else:
            exchange.close()
        return status, headers, body

    # Timeouts: one sweep every tick over the exchanges in flight, rather than a timer per request
    # (a timer is a heap push and a cancelled entry left behind: a real cost at 10K+ requests/s).
    def _watch(self, exchange: _Exchange, origin: _Origin):
        loop = asyncio.get_running_loop()
        self._inflight[exchange] = (loop.time() + self.timeout, origin.host)
        if self._sweeper is None:
            self._sweeper = loop.call_later(self._tick, self._sweep)

    def _sweep(self):
        loop = asyncio.get_running_loop()
        now = loop.time()
        for exchange, (deadline, host) in list(self._inflight.items()):
            if deadline <= now:
                exchange.fail(TransientError(f"timeout after {self.timeout:g} s from {host}"))
        self._sweeper = loop.call_later(self._tick, self._sweep) if self._inflight else None

    async def _connection(self, origin: _Origin) -> tuple[_Exchange, bool]:
        idle = self._idle.get((origin.host, origin.port, origin.tls))
        while idle:
            exchange = idle.pop()
            if not exchange.closed:
                return exchange, True
        loop = asyncio.get_running_loop()
        try:
            _, exchange = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Exchange(self.limit),
                    origin.host,
                    origin.port,
                    ssl=self._context() if origin.tls else None,
                    server_hostname=origin.host if origin.tls else None,
                ),
                self.timeout,
            )
        except asyncio.TimeoutError:
            raise TransientError(f"timeout connecting to {origin.host}:{origin.port}") from None
        except (OSError, _ssl.SSLError) as exc:
            raise TransientError(f"connection error ({type(exc).__name__}: {exc})"[:200]) from None
        return exchange, False

    def _context(self) -> _ssl.SSLContext:
        if self._ssl is None:
            self._ssl = _ssl.create_default_context()
        return self._ssl

    async def aclose(self):
        self._adopt_loop()  # connections of an earlier, closed loop are dropped, not closed
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for pool in self._idle.values():
            for exchange in pool:
                exchange.close()
        self._idle.clear()
