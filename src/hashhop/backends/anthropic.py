"""The `anthropic` backend: Claude models through the Messages API, over httpx.

`--model anthropic:claude-sonnet-4-5 [-M base_url=URL] [-M api_key_env=NAME] [-M context_window=N]`.
The key is read from the environment variable named by `api_key_env` (default ANTHROPIC_API_KEY) and
lives only in the request headers: it is never stored, logged or put in an error message.
HTTP failures map onto the contract of backends/base.py; retrying is the runner's business.
"""

from __future__ import annotations

import functools
import os
import time

from hashhop.backends.anthropic_batch import AnthropicBatch
from hashhop.backends.base import Backend, BatchAPI, Completion, Request, check_options
from hashhop.backends.http import retry_after
from hashhop.core.errors import BackendError, OverLength, RateLimited, TransientError, require

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_CONTEXT_WINDOW = 200_000  # every current Claude model; override with -M context_window=N
_OVERLENGTH_HINTS = ("prompt is too long", "too many tokens", "context window", "context length")


def _parse_bool(value) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")


class AnthropicBackend(Backend):
    """One Messages API model. Options arrive as strings from `-M key=value`, so they are coerced."""

    chat = True  # the prompt sizer counts the message contents, as the API sees them

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str = "ANTHROPIC_API_KEY",
        context_window: int | str = DEFAULT_CONTEXT_WINDOW,
        timeout: float | str = 600.0,
        cache_prompt: bool | str = True,
        anthropic_version: str = API_VERSION,
        preflight: bool | str = True,
    ):
        if not model:
            raise BackendError("no model name: use --model anthropic:MODEL, e.g. anthropic:claude-sonnet-4-5")
        httpx = require("httpx", "anthropic")
        key = os.environ.get(api_key_env)
        if not key:
            raise BackendError(
                f"environment variable {api_key_env} is not set: export your Anthropic key in it, "
                f"or name another variable with -M api_key_env=NAME"
            )
        self.name = f"anthropic:{model}"
        self.model = model
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._window = int(context_window)
        self._key_env = api_key_env
        self._cache_prompt = _parse_bool(cache_prompt)
        self._preflight = _parse_bool(preflight)
        headers = {"x-api-key": key, "anthropic-version": anthropic_version, "content-type": "application/json"}
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=256)
        self._client = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=float(timeout), limits=limits)
        # count_tokens is synchronous in the contract (the prompt sizer calls it outside the event loop).
        self._sync = httpx.Client(base_url=self.base_url, headers=headers, timeout=float(timeout))
        self._httpx = httpx
        self._count_overhead: int | None = None
        self._count_supported = True

    @property
    def context_window(self) -> int | None:
        return self._window

    @property
    def chat_overhead(self) -> int:
        """The message framing count_tokens measured (0 until it has been measured)."""
        if self._count_overhead is None:
            self.count_tokens(".")
        return self._count_overhead or 0

    def options(self) -> dict:
        """What results.json records (the variable's name, never the key)."""
        return {
            "base_url": self.base_url,
            "api_key_env": self._key_env,
            "context_window": self._window,
            "cache_prompt": self._cache_prompt,
        }

    async def check(self) -> None:
        """Fail fast, once, before anything is sized or sent: unreachable server, refused key, unknown
        model (GET /v1/models/MODEL). Proxies without that endpoint: -M preflight=false."""
        if not self._preflight:
            return
        try:
            response = await self._client.get(f"/v1/models/{self.model}")
        except self._httpx.HTTPError as exc:
            raise BackendError(
                f"cannot reach {self.base_url} ({type(exc).__name__}): check the network or --base-url"
            ) from None
        if response.status_code in (401, 403, 404):
            _raise_for_status(response, self.base_url, self.model)
        # 429/5xx here say nothing about the run: the requests retry on their own.

    # -- generation ----------------------------------------------------------------------
    async def generate(self, request: Request) -> Completion:
        body = self._body(request)
        started = time.perf_counter()
        try:
            response = await self._client.post("/v1/messages", json=body)
        except self._httpx.TimeoutException as exc:
            raise TransientError(f"timeout talking to {self.base_url}") from exc
        except self._httpx.TransportError as exc:  # connection refused/reset, DNS, protocol errors
            raise TransientError(f"cannot reach {self.base_url}: {type(exc).__name__}") from exc
        latency = time.perf_counter() - started
        _raise_for_status(response, self.base_url, self.model)
        return _completion(response, latency)

    def _body(self, request: Request) -> dict:
        system = [m["content"] for m in request.messages if m["role"] == "system"]
        messages = [{"role": m["role"], "content": m["content"]} for m in request.messages if m["role"] != "system"]
        if self._cache_prompt and request.context:
            messages = _mark_cacheable(messages, request.context)
        body = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "messages": messages,
            "temperature": request.temperature,
        }
        if system:
            body["system"] = "\n\n".join(system)
        # The API rejects whitespace-only stop sequences; the parser copes with the extra text.
        stops = [s for s in request.stop if s.strip()]
        if stops:
            body["stop_sequences"] = stops
        return body

    # -- token counting ------------------------------------------------------------------
    def count_tokens(self, text: str) -> int | None:
        """Tokens of `text` through /v1/messages/count_tokens, less the message framing; None if the
        endpoint is unavailable (e.g. a proxy without it)."""
        if not self._count_supported:
            return None
        if self._count_overhead is None:
            # The endpoint counts a whole message; a one-token message measures the framing around it.
            probe = self._count_message(".")
            if probe is None:
                return None
            self._count_overhead = probe - 1
        total = self._count_message(text)
        return None if total is None else max(total - self._count_overhead, 0)

    def _count_message(self, text: str) -> int | None:
        body = {"model": self.model, "messages": [{"role": "user", "content": text}]}
        try:
            response = self._sync.post("/v1/messages/count_tokens", json=body)
        except self._httpx.HTTPError:
            self._count_supported = False
            return None
        if response.status_code in (404, 405, 501):
            self._count_supported = False
            return None
        _raise_for_status(response, self.base_url, self.model)
        try:
            return int(response.json()["input_tokens"])
        except (ValueError, KeyError, TypeError) as exc:
            raise TransientError("malformed count_tokens response") from exc

    def batch_api(self) -> BatchAPI:
        """Message Batches (backends/anthropic_batch.py), on this backend's client and parsing."""
        raise_for_status = functools.partial(_raise_for_status, base_url=self.base_url, model=self.model)
        return AnthropicBatch(self._client, self._httpx, self._body, _completion, raise_for_status)

    async def aclose(self) -> None:
        await self._client.aclose()
        self._sync.close()


def _mark_cacheable(messages: list[dict], context: str) -> list[dict]:
    """Split the message holding the context after it and mark that prefix as cacheable, so the
    several queries sent about one context reuse it (prompt caching)."""
    out, marked = [], False
    for m in messages:
        content = m["content"]
        cut = content.find(context) if isinstance(content, str) and not marked else -1
        if cut < 0:
            out.append(m)
            continue
        end, marked = cut + len(context), True
        blocks = [{"type": "text", "text": content[:end], "cache_control": {"type": "ephemeral"}}]
        if content[end:]:
            blocks.append({"type": "text", "text": content[end:]})
        out.append({"role": m["role"], "content": blocks})
    return out


def _error_message(response) -> str:
    try:
        error = response.json().get("error") or {}
        return str(error.get("message") or error.get("type") or "")[:300]
    except (ValueError, AttributeError):
        return response.text[:300]


def _raise_for_status(response, base_url: str, model: str) -> None:
    status = response.status_code
    if status < 400:
        return
    message = _error_message(response)
    if status in (401, 403):
        raise BackendError(f"{base_url} refused the key ({status}): check the variable named by -M api_key_env")
    if status == 404:
        raise BackendError(
            f"model {model!r} or endpoint not found at {base_url} (404): check the model name and --base-url"
        )
    if status == 413 or (status == 400 and any(h in message.lower() for h in _OVERLENGTH_HINTS)):
        raise OverLength(message or f"prompt too long ({status})")
    if status == 429:
        raise RateLimited(f"rate limited (429): {message}", retry_after(response.headers))
    if status == 529 or status >= 500 or status == 408:
        raise TransientError(f"server error {status}: {message}")
    raise BackendError(f"{base_url} rejected the request ({status}): {message}")


def _count(value) -> int | None:
    """A reported token count, or None when it is not a whole number >= 0 (a server's odd usage)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _completion(response, latency: float) -> Completion:
    try:
        data = response.json()
        text = "".join(b.get("text", "") for b in data["content"] if b.get("type") == "text")
        usage = data.get("usage") or {}
        if not isinstance(usage, dict):
            raise TypeError("usage is not an object")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TransientError("malformed Messages API response (no content list)") from exc
    cache_write = _count(usage.get("cache_creation_input_tokens")) or 0
    cache_read = _count(usage.get("cache_read_input_tokens")) or 0
    fresh = _count(usage.get("input_tokens"))
    # input_tokens excludes cached tokens: the prompt size is the sum of all three.
    prompt_tokens = None if fresh is None else fresh + cache_write + cache_read
    return Completion(
        text=text,
        prompt_tokens=prompt_tokens,
        completion_tokens=_count(usage.get("output_tokens")),
        latency_s=latency,
        finish_reason=data.get("stop_reason"),
        model=data.get("model"),
        extra={"cache_creation_input_tokens": cache_write, "cache_read_input_tokens": cache_read},
    )


def create(model: str, **options) -> AnthropicBackend:
    """Entry point used by `hashhop.backends.get_backend("anthropic:MODEL", **options)`."""
    known = {"base_url", "api_key_env", "context_window", "timeout", "cache_prompt", "anthropic_version", "preflight"}
    check_options("anthropic", options, known)
    return AnthropicBackend(model, **{k: v for k, v in options.items() if v is not None})
