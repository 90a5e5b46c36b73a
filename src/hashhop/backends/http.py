"""HTTP transports for API backends: `request(method, url, body) -> (status, headers, bytes)`.

`native` (backends/wire.py: asyncio + httptools, the fastest) for plain http:// URLs that no proxy
covers, else aiohttp when installed (far faster than httpx under concurrency), else httpx. All raise
TransientError for timeouts and connection errors, and cut a response body at a byte limit (a stream
that never ends cannot exhaust memory).
"""

from __future__ import annotations

import asyncio
import json

from hashhop.core.errors import BackendError, TransientError, require


async def _read_limited(headers, chunks, limit: int) -> bytes:
    length = headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise TransientError(f"response of {length} bytes exceeds the {limit}-byte limit")
    buf = bytearray()
    async for chunk in chunks:
        buf += chunk
        if len(buf) > limit:
            raise TransientError(f"response exceeds the {limit}-byte limit")
    return bytes(buf)


class _Aiohttp:
    name = "aiohttp"

    def __init__(self, headers: dict, timeout: float, limit: int):
        self.aiohttp, self.headers, self.timeout, self.limit = require("aiohttp", "openai"), headers, timeout, limit
        self.session = None  # created inside the running event loop, on first use

    async def request(self, method: str, url: str, body: dict | None = None):
        aiohttp = self.aiohttp
        if self.session is None:
            self.session = aiohttp.ClientSession(
                headers=self.headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=0),
            )
        data = None if body is None else json.dumps(body).encode()
        try:
            async with self.session.request(
                method, url, data=data, headers={"Content-Type": "application/json"}
            ) as resp:
                return (
                    resp.status,
                    resp.headers,
                    await _read_limited(resp.headers, resp.content.iter_chunked(65536), self.limit),
                )
        except asyncio.TimeoutError:
            raise TransientError(f"timeout from {url}") from None
        except aiohttp.ClientError as exc:
            raise TransientError(f"connection error ({type(exc).__name__}: {exc})"[:200]) from None

    async def aclose(self):
        if self.session is not None:
            await self.session.close()


class _Httpx:
    name = "httpx"

    def __init__(self, headers: dict, timeout: float, limit: int):
        self.httpx, self.limit = require("httpx", "openai"), limit
        self.client = self.httpx.AsyncClient(
            headers=headers,
            timeout=timeout,
            limits=self.httpx.Limits(max_connections=None, max_keepalive_connections=256),
        )

    async def request(self, method: str, url: str, body: dict | None = None):
        try:
            async with self.client.stream(method, url, json=body) as resp:
                return resp.status_code, resp.headers, await _read_limited(resp.headers, resp.aiter_bytes(), self.limit)
        except self.httpx.TimeoutException:
            raise TransientError(f"timeout from {url}") from None
        except self.httpx.HTTPError as exc:
            raise TransientError(f"connection error ({type(exc).__name__}: {exc})"[:200]) from None

    async def aclose(self):
        await self.client.aclose()


KINDS = ("auto", "native", "aiohttp", "httpx")


def _auto(url: str) -> str:
    """native for a plain http:// URL no proxy variable covers (it speaks no proxy protocol), else
    aiohttp, else httpx: whichever is installed first."""
    import importlib.util
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    proxied = "http" in urllib.request.getproxies() and not urllib.request.proxy_bypass(parts.hostname or "")
    if parts.scheme == "http" and not proxied and importlib.util.find_spec("httptools"):
        return "native"
    return "aiohttp" if importlib.util.find_spec("aiohttp") else "httpx"


def make_transport(kind: str, headers: dict, timeout: float, limit: int, url: str = ""):
    """The HTTP client named by `kind` (`auto`: see _auto) for requests to `url`."""
    if kind not in KINDS:
        raise BackendError(f"unknown http client {kind!r}: use -M http=native, http=aiohttp, http=httpx or http=auto")
    kind = _auto(url) if kind == "auto" else kind
    if kind == "native":
        from hashhop.backends.wire import Wire

        return Wire(headers, timeout, limit)
    return (_Aiohttp if kind == "aiohttp" else _Httpx)(headers, timeout, limit)
