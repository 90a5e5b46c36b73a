"""The `llamacpp` backend: a GGUF model in-process through llama-cpp-python.

`--model llamacpp:path/to/file.gguf [-M n_ctx=4096] [-M chat=true|false] [-M n_threads=N]
[-M n_gpu_layers=0] [-M seed=0] [-M chat_format=NAME]`.
Chat requests go through the model's own chat template (from the GGUF metadata); decoding is greedy
(temperature 0). One Llama instance is not thread-safe, so calls run in a worker thread under a lock.
A prompt that does not fit n_ctx raises OverLength; nothing is ever truncated.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time

from hashhop.backends.base import Backend, Completion, Request, check_options
from hashhop.core.errors import BackendError, OverLength, TransientError, require


def _parse_bool(value) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")


def _load(llama_cpp, path: str, model: str, **settings):
    """The llama.cpp model at `path`, or a BackendError that says what to check."""
    try:
        return llama_cpp.Llama(model_path=path, verbose=False, **settings)
    except (ValueError, RuntimeError) as exc:
        raise BackendError(
            f"llama.cpp cannot load {model!r} ({str(exc)[:200]}): check that it is a GGUF "
            f"file and that -M n_ctx fits in memory"
        ) from exc


class LlamaCppBackend(Backend):
    in_process = True  # computes in this process: a process (or GPU actor) of its own

    def __init__(
        self,
        model: str,
        n_ctx: int | str = 0,
        chat: bool | str = True,
        n_threads: int | str | None = None,
        n_gpu_layers: int | str = 0,
        seed: int | str = 0,
        chat_format: str | None = None,
        n_batch: int | str = 512,
    ):
        llama_cpp = require("llama_cpp", "llamacpp")
        path = os.path.expanduser(model)
        if not os.path.isfile(path):
            raise BackendError(f"no GGUF file at {model!r}: use --model llamacpp:path/to/file.gguf")
        self.name = f"llamacpp:{model}"
        self.chat = _parse_bool(chat)
        self.llm = _load(
            llama_cpp,
            path,
            model,
            n_ctx=int(n_ctx),  # 0: the model's training context, as in llama.cpp itself
            n_threads=int(n_threads) if n_threads else None,
            n_gpu_layers=int(n_gpu_layers),
            seed=int(seed),
            chat_format=chat_format,
            n_batch=int(n_batch),
        )
        self._lock = threading.Lock()
        self._chat_overhead: int | None = None
        self._options = {
            "n_ctx": self.llm.n_ctx(),
            "chat": self.chat,
            "chat_format": self.llm.chat_format,
            "n_gpu_layers": int(n_gpu_layers),
            "seed": int(seed),
        }

    @property
    def context_window(self) -> int | None:
        return self.llm.n_ctx()

    def options(self) -> dict:
        """What results.json records about this model."""
        return dict(self._options)

    @property
    def chat_overhead(self) -> int:
        """Tokens the chat template adds around the message contents (role markers, generation
        prompt), measured once by sending a two-message probe: the prompt sizer adds them."""
        if not self.chat:
            return 0
        if self._chat_overhead is None:
            probe = ({"role": "system", "content": "x"}, {"role": "user", "content": "y"})
            with self._lock:
                usage = self.llm.create_chat_completion(messages=list(probe), max_tokens=1, temperature=0.0)["usage"]
            self._chat_overhead = usage["prompt_tokens"] - self.count_tokens("x\ny")
        return self._chat_overhead

    def count_tokens(self, text: str) -> int | None:
        # No BOS: a piece of text is counted as it sits inside a prompt.
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    async def generate(self, request: Request) -> Completion:
        return await asyncio.to_thread(self._generate_locked, request)

    def _generate_locked(self, request: Request) -> Completion:
        with self._lock:
            started = time.perf_counter()
            try:
                result = self._call(request)
            except ValueError as exc:
                if "exceed context window" in str(exc):
                    raise OverLength(str(exc)) from exc
                raise
            return _completion(result, time.perf_counter() - started, self.chat, self.name)

    def _call(self, request: Request) -> dict:
        # temperature 0 makes llama.cpp sample greedily; seed fixed for anything stochastic left.
        common = {"max_tokens": request.max_tokens, "temperature": 0.0, "top_k": 1, "stop": list(request.stop) or None}
        if self.chat:
            return self.llm.create_chat_completion(messages=list(request.messages), **common)
        return self.llm.create_completion(prompt=request.prompt, **common)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._close_locked)

    def _close_locked(self) -> None:
        with self._lock:  # never while a generation holds the model
            self.llm.close()


def _completion(result: dict, latency: float, chat: bool, name: str) -> Completion:
    try:
        choice = result["choices"][0]
        text = choice["message"]["content"] if chat else choice["text"]
        usage = result.get("usage") or {}
    except (KeyError, IndexError, TypeError) as exc:
        raise TransientError("llama.cpp returned no choice") from exc
    return Completion(
        text=text or "",
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
        latency_s=latency,
        finish_reason=choice.get("finish_reason"),
        model=name,
    )


def create(model: str, **options) -> LlamaCppBackend:
    """Entry point used by `hashhop.backends.get_backend("llamacpp:FILE.gguf", **options)`."""
    known = {"n_ctx", "chat", "n_threads", "n_gpu_layers", "seed", "chat_format", "n_batch"}
    check_options("llamacpp", options, known)
    return LlamaCppBackend(model, **{k: v for k, v in options.items() if v is not None})
