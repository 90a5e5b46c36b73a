"""The `openai` backend: any OpenAI-compatible server (OpenAI, vLLM, llama.cpp, SGLang, Ollama).

Options (`-M key=value`): base_url, api=chat|completions, api_key_env (the NAME of the variable
holding the key; the key itself is only ever put in a request header), timeout, context_window,
max_response_bytes, cache_prompt, tokenize=auto|none, chat_overhead,
max_completion_tokens (sent in place of max_tokens: reasoning models count their reasoning in it),
reasoning_effort=none|minimal|low|medium|high (passed through). Reasoning tokens are read from
`usage.completion_tokens_details.reasoning_tokens`; a reply the budget ended has finish_reason `length`.
Requests go through the one HTTP transport (backends/http.py, on aiohttp).
Errors map onto the runner's contract: 401/403/404/other 4xx -> BackendError (never retried),
429 -> RateLimited, 5xx/timeouts/connection errors/malformed bodies -> TransientError,
context-length errors -> OverLength.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time

from hashhop.backends.base import Backend, BatchAPI, Completion, Request, check_options
from hashhop.backends.http import Transport, post_json, retry_after
from hashhop.backends.openai_batch import OpenAIBatch
from hashhop.backends.openai_reply import error_message, read_completion
from hashhop.core.errors import BackendError, OverLength, RateLimited, TransientError

OPENAI_URL = "https://api.openai.com/v1"
MAX_RESPONSE_BYTES = 4 * 2**20
_OVER_LENGTH = re.compile(r"context|too long|too many tokens|maximum.*tokens|exceed", re.I)
_CONNECTION = {"base_url", "api", "api_key_env", "timeout", "context_window", "max_response_bytes"}
OPTIONS = _CONNECTION | {"cache_prompt", "tokenize", "chat_overhead", "max_completion_tokens", "reasoning_effort"}
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high")


def _reasoning_options(max_completion_tokens, reasoning_effort) -> tuple[int | None, str | None]:
    """-M max_completion_tokens (a whole number >= 1) and -M reasoning_effort (one of REASONING_EFFORTS)."""
    limit = None
    if max_completion_tokens not in (None, ""):
        try:
            limit = int(max_completion_tokens)
        except (TypeError, ValueError):
            limit = 0
        if limit < 1:
            raise BackendError(
                f"bad max_completion_tokens {max_completion_tokens!r}: use -M max_completion_tokens=N, N >= 1"
            )
    if reasoning_effort not in (None, "") and reasoning_effort not in REASONING_EFFORTS:
        raise BackendError(f"bad reasoning_effort {reasoning_effort!r}: use one of {', '.join(REASONING_EFFORTS)}")
    return limit, reasoning_effort or None


class OpenAIBackend(Backend):
    chat_overhead: int = 0  # an attribute (the contract's is a property): set here, measured by check()

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api: str = "chat",
        api_key_env: str | None = None,
        timeout: float = 600.0,
        context_window: int | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        cache_prompt: bool | None = None,
        tokenize: str = "auto",
        chat_overhead: int | None = None,
        max_completion_tokens: int | None = None,
        reasoning_effort: str | None = None,
    ):
        if not model:
            raise BackendError("no model name: use --model openai:MODEL")
        if api not in ("chat", "completions"):
            raise BackendError(f"unknown api {api!r}: use -M api=chat or -M api=completions")
        self.model, self.api, self.name = model, api, f"openai:{model}"
        self.chat = api == "chat"
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL).rstrip("/")
        self.root = re.sub(r"/v1$", "", self.base_url)
        self.official = self.base_url.startswith(OPENAI_URL)
        self.max_bytes = int(max_response_bytes)
        self.cache_prompt = (not self.official) if cache_prompt is None else bool(cache_prompt)
        self.tokenize = tokenize
        # Chat templates add role tokens the text counter cannot see: measured by check() on servers
        # that count, else about 4 per message.
        self._calibrate = chat_overhead is None and api == "chat"
        self.chat_overhead = (12 if api == "chat" else 0) if chat_overhead is None else int(chat_overhead)
        self._window = int(context_window) if context_window else None
        self.max_completion_tokens, self.reasoning_effort = _reasoning_options(max_completion_tokens, reasoning_effort)
        self._headers, self._timeout = self._auth(api_key_env), float(timeout)
        self._http = Transport(self._headers, self._timeout, self.max_bytes)
        self._counter = None  # resolved on first count_tokens
        self._checked = False

    def _auth(self, api_key_env: str | None) -> dict:
        env = api_key_env or "OPENAI_API_KEY"
        key = os.environ.get(env)
        if not key:
            if self.official or api_key_env:
                raise BackendError(
                    f"no API key in ${env}: export {env}=... or name another variable with -M api_key_env=NAME"
                )
            return {}  # a local server without authentication
        return {"Authorization": f"Bearer {key}"}

    @property
    def context_window(self) -> int | None:
        return self._window

    def options(self) -> dict:
        """What is recorded in results.json (never the key)."""
        return {
            "base_url": self.base_url,
            "api": self.api,
            "cache_prompt": self.cache_prompt,
            "context_window": self._window,
            "chat_overhead": self.chat_overhead,
            **({"max_completion_tokens": self.max_completion_tokens} if self.max_completion_tokens else {}),
            **({"reasoning_effort": self.reasoning_effort} if self.reasoning_effort else {}),
        }

    def cap_timeout(self, seconds: float) -> bool:
        """Enforce the runner's per-request timeout in the transport: True, the runner need not wrap
        each request in a timer of its own."""
        self._http.cap_timeout(seconds)
        return True

    # -- preflight ------------------------------------------------------------------------
    async def check(self) -> None:
        """Fail fast, once, on an unreachable server or a bad key; learn the context window."""
        if self._checked:
            return
        try:
            status, _, body = await self._http.request("GET", f"{self.base_url}/models")
        except TransientError as exc:
            raise BackendError(f"cannot reach {self.base_url} ({exc}): start the server or fix --base-url") from None
        if status in (401, 403):
            raise BackendError(
                f"the server at {self.base_url} refused the key ({status}): check the variable named by -M api_key_env"
            )
        if status == 200 and self._window is None:
            self._window = self._window_from_models(body) or await self._window_from_props()
        if self._calibrate and not self.official:
            await self._measure_chat_overhead()
        self._checked = True

    async def _measure_chat_overhead(self) -> None:
        """One tiny request: the server's prompt count minus the counter's count of the contents."""
        messages = ({"role": "system", "content": "Answer."}, {"role": "user", "content": "a = b"})
        counted = await asyncio.to_thread(self.count_tokens, "Answer.\na = b")
        if counted is None:
            return
        probe = Request(sample_id="", query_index=0, messages=messages, prompt="", max_tokens=1)
        try:
            reported = (await self.generate(probe)).prompt_tokens
        except (TransientError, OverLength):
            return  # keep the estimate; real errors surface on the first query
        if reported is not None and reported >= counted:
            self.chat_overhead = reported - counted

    def _window_from_models(self, body: bytes) -> int | None:
        try:
            for m in json.loads(body).get("data", []):
                if m.get("id") == self.model and m.get("max_model_len"):
                    return int(m["max_model_len"])  # vLLM
        except (ValueError, AttributeError, TypeError):
            pass
        return None

    async def _window_from_props(self) -> int | None:
        try:
            _, _, body = await self._http.request("GET", f"{self.root}/props")
            return int(json.loads(body)["default_generation_settings"]["n_ctx"])  # llama.cpp native
        except Exception:  # optional endpoint: any failure means unknown
            return None

    # -- generation -----------------------------------------------------------------------
    def _body(self, r: Request) -> dict:
        body: dict = {"model": self.model, "temperature": r.temperature}
        if self.max_completion_tokens:  # reasoning models: the budget covers reasoning and answer
            body["max_completion_tokens"] = self.max_completion_tokens
        else:
            body["max_tokens"] = r.max_tokens
        if self.reasoning_effort:
            body["reasoning_effort"] = self.reasoning_effort
        if self.api == "chat":
            body["messages"] = list(r.messages)
        else:
            body["prompt"] = r.prompt
        if r.stop:
            body["stop"] = list(r.stop)
        if self.cache_prompt:
            body["cache_prompt"] = True  # llama.cpp: reuse the shared context prefix
        return body

    async def generate(self, request: Request) -> Completion:
        url = f"{self.base_url}/{'chat/completions' if self.api == 'chat' else 'completions'}"
        t0 = time.perf_counter()
        status, headers, body = await self._http.request("POST", url, self._body(request))
        latency = time.perf_counter() - t0
        self._raise_for_status(status, headers, body)
        return self._completion(body, latency)

    def _completion(self, body: bytes, latency: float) -> Completion:
        """A chat or completions body read (backends/openai_reply.py); batch results are read the same way."""
        return read_completion(body, latency, self.chat, self.base_url)

    def _raise_for_status(self, status: int, headers, body: bytes) -> None:
        if status < 400:
            return
        message = error_message(body)
        if status == 429:
            raise RateLimited(f"rate limited (429): {message}", retry_after(headers))
        if status >= 500:
            raise TransientError(f"server error {status}: {message}")
        if status in (401, 403):
            raise BackendError(
                f"the server refused the key ({status}: {message}): check the variable named by -M api_key_env"
            )
        if status == 404:
            raise BackendError(
                f"model {self.model!r} or endpoint not found at {self.base_url} (404: {message}): "
                f"check --model and --base-url"
            )
        if status in (400, 413, 422) and _OVER_LENGTH.search(message):
            raise OverLength(f"prompt too long for the model ({status}: {message})")
        raise BackendError(f"the server rejected the request ({status}: {message})")

    # -- token counting -------------------------------------------------------------------
    def count_tokens(self, text: str) -> int | None:
        """The server's own count (tokenize endpoint), tiktoken for OpenAI models, else None."""
        if self.tokenize == "none":
            return None
        if self._counter is None:
            self._counter = self._resolve_counter()
        return self._counter(text) if self._counter else None

    def _resolve_counter(self):
        for probe in (self._count_llama_cpp_python, self._count_tokenize):
            try:
                probe("probe")
                return probe
            except Exception:  # not this server's endpoint: try the next
                continue
        if self.official:
            return self._tiktoken_counter()
        return False

    def _post_sync(self, url: str, obj: dict) -> dict:
        """A blocking POST (sizing runs in a worker thread); raises on any HTTP or network error."""
        return post_json(url, obj, self._headers, self._timeout, self.max_bytes)

    def _count_llama_cpp_python(self, text: str) -> int:
        return int(self._post_sync(f"{self.root}/extras/tokenize/count", {"input": text})["count"])

    def _count_tokenize(self, text: str) -> int:
        # llama.cpp native reads `content`, vLLM reads `prompt`; both answer with a token list.
        data = self._post_sync(
            f"{self.root}/tokenize", {"content": text, "prompt": text, "model": self.model, "add_special_tokens": False}
        )
        return int(data["count"]) if "count" in data else len(data["tokens"])

    def _tiktoken_counter(self):
        from hashhop.generator.tokenizers import get_tokenizer

        encoding = "o200k_base" if re.match(r"(gpt-4o|gpt-4\.1|gpt-5|o\d)", self.model) else "cl100k_base"
        return get_tokenizer(f"tiktoken:{encoding}").count

    def batch_api(self) -> BatchAPI:
        """This server's Batch API (backends/openai_batch.py), on this backend's transport and parsing."""
        return OpenAIBatch(self._http, self.base_url, self.api, self._body, self._completion, self._raise_for_status)

    async def aclose(self) -> None:
        await self._http.aclose()


def create(model: str, **options) -> OpenAIBackend:
    check_options("openai", options, OPTIONS)
    return OpenAIBackend(model, **options)
