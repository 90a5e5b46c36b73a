"""HTTP for the API backends: the one transport, on aiohttp (`Transport.request(method, url, body) ->
(status, headers, bytes)`, and `upload` for multipart file uploads, used by the openai backend), the Retry-After reading every backend shares,
and a blocking JSON POST for token counting outside the event loop.

aiohttp was chosen over httpx by measurement (docs/benchmarks.md, Harness): against the same stub it
sent 3.4x as many requests per second at concurrency 1 and 17x at 64. What the backend relies on:
- keep-alive: one session per event loop, its pool unbounded (the runner's limiter bounds it);
- a per-request timeout, which the runner may lower to its --timeout (`cap_timeout`);
- a byte limit on each response body, checked as it streams in (an endless body cannot exhaust memory);
- one retry on a kept-alive connection the server had dropped before answering;
- TransientError for timeouts, connection errors and broken HTTP; the status codes are the backend's.
Headers come back as a case-insensitive mapping.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import ssl
import time
import urllib.request

from hashhop.core import fastjson
from hashhop.core.errors import BackendError, TransientError, require

CHUNK = 65536
JSON = {"Content-Type": "application/json"}


class Transport:
    """Keep-alive HTTP requests from one event loop at a time (a new loop gets a new session)."""

    def __init__(self, headers: dict, timeout: float, limit: int):
        self.aiohttp = require("aiohttp", "openai")  # fail at construction with the install hint
        for name, value in headers.items():
            if any(c in f"{name}{value}" for c in "\r\n\0"):  # a key with a newline would inject headers
                raise BackendError(f"header {name} holds a line break: fix the value (an API key variable?)")
        self.headers, self.timeout, self.limit = headers, timeout, limit
        self._session = None  # created inside the running event loop, on first use
        self._loop: asyncio.AbstractEventLoop | None = None

    def cap_timeout(self, seconds: float) -> None:
        """Lower the per-request timeout to `seconds` (the runner's --timeout, enforced here)."""
        self.timeout = min(self.timeout, seconds)

    def _session_for_loop(self):
        loop = asyncio.get_running_loop()
        if self._session is None or loop is not self._loop:
            # A session belongs to the loop it was made in; one of an earlier asyncio.run is dropped.
            self._session, self._loop = (
                self.aiohttp.ClientSession(
                    headers={"Accept": "application/json", **self.headers},
                    # Its own TLS context: the trust store as the environment names it now (SSL_CERT_FILE).
                    connector=self.aiohttp.TCPConnector(limit=0, ssl=ssl.create_default_context()),
                ),
                loop,
            )
        return self._session

    async def request(self, method: str, url: str, body: dict | None = None, limit: int | None = None):
        """(status, headers, body bytes); `limit` raises the byte limit for this response (a batch's
        result file)."""
        data, headers = (None, None) if body is None else (fastjson.dumps(body), JSON)
        return await self._send(method, url, lambda: data, headers, limit)

    async def upload(self, url: str, fields: dict, filename: str, content: bytes):
        """POST a multipart form of `fields` and one file `file` (the OpenAI Files API)."""

        def form():  # a FormData is spent once sent: the stale-connection retry needs a fresh one
            data = self.aiohttp.FormData()
            for name, value in fields.items():
                data.add_field(name, value)
            data.add_field("file", content, filename=filename, content_type="application/jsonl")
            return data

        return await self._send("POST", url, form, None, None)

    async def _send(self, method: str, url: str, make_data, headers: dict | None, limit: int | None):
        session = self._session_for_loop()
        timeout = self.aiohttp.ClientTimeout(total=self.timeout)
        for last in (False, True):
            try:
                data = make_data()
                async with session.request(method, url, data=data, headers=headers, timeout=timeout) as resp:
                    return resp.status, resp.headers, await self._read(resp, limit or self.limit)
            except asyncio.TimeoutError:
                raise TransientError(f"timeout after {self.timeout:g} s from {url}") from None
            except self.aiohttp.ClientError as exc:
                if last or not self._stale(exc):
                    raise TransientError(f"connection error ({type(exc).__name__}: {exc})"[:200]) from None

    def _stale(self, exc: Exception) -> bool:
        """A pooled connection the server had closed (nothing of an answer came): worth one retry on a
        fresh connection, as servers drop idle keep-alive connections at will."""
        aiohttp = self.aiohttp
        lost = isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError))
        return lost and not isinstance(exc, aiohttp.ClientConnectorError)  # a refused connect is not stale

    async def _read(self, resp, limit: int) -> bytes:
        length = resp.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise TransientError(f"response of {length} bytes exceeds the {limit}-byte limit")
        buf = bytearray()
        async for chunk in resp.content.iter_chunked(CHUNK):
            buf += chunk
            if len(buf) > limit:
                raise TransientError(f"response exceeds the {limit}-byte limit")
        return bytes(buf)

    async def aclose(self) -> None:
        if self._session is not None and self._loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = self._loop = None


def retry_after(headers) -> float | None:
    """Seconds from `retry-after-ms`, or `Retry-After` (seconds or an HTTP date)."""
    if headers.get("retry-after-ms"):
        try:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def post_json(url: str, obj: dict, headers: dict, timeout: float, limit: int) -> dict:
    """A blocking JSON POST for code outside the event loop (token counting while sizing); raises on
    any HTTP or network error, reads at most `limit` bytes."""
    request = urllib.request.Request(
        url, data=json.dumps(obj).encode(), method="POST", headers={**headers, "Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read(limit))
