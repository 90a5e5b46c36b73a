"""The `hf` backend: a local transformers causal LM, greedy decoding, its chat template applied.

`--model hf:PATH_OR_NAME [-M device=cpu] [-M dtype=float32] [-M chat=auto|true|false]
[-M context_window=N] [-M threads=N] [-M trust_remote_code=false]`.
Generation is blocking torch code: it runs in a worker thread, one call at a time (a lock), so the
asyncio runner keeps its event loop free and one model is never driven by two threads at once.
Prompts that do not fit the context window raise OverLength: nothing is ever truncated.
"""

from __future__ import annotations

import asyncio
import threading
import time

from hashhop.backends.base import Backend, Completion, Request, check_options
from hashhop.core.errors import BackendError, OverLength, require

_WINDOW_FIELDS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "n_ctx")


def _parse_bool(value) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")


class HFBackend(Backend):
    in_process = True  # computes in this process: a process (or GPU actor) of its own

    def __init__(
        self,
        model: str,
        device: str = "cpu",
        dtype: str | None = None,
        chat: str | bool = "auto",
        context_window: int | str | None = None,
        threads: int | str | None = None,
        trust_remote_code: bool | str = False,
        local_files_only: bool | str = False,
    ):
        transformers = require("transformers", "hf")
        self.torch = require("torch", "hf")
        if threads:
            self.torch.set_num_threads(int(threads))
        self.name = f"hf:{model}"
        self.device = device
        trust = _parse_bool(trust_remote_code)
        try:
            kwargs = {"trust_remote_code": trust, "local_files_only": _parse_bool(local_files_only)}
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(model, **kwargs)
            if dtype:
                # transformers renamed torch_dtype to dtype in 4.56.
                new = tuple(int(x) for x in transformers.__version__.split(".")[:2]) >= (4, 56)
                kwargs["dtype" if new else "torch_dtype"] = getattr(self.torch, dtype)
            self.model = transformers.AutoModelForCausalLM.from_pretrained(model, **kwargs).to(device).eval()
        except (OSError, ValueError, AttributeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BackendError(
                f"cannot load Hugging Face model {model!r} ({first[:200]}): pass a local folder "
                f"holding config.json and a tokenizer, or a hub name you can download"
            ) from exc
        has_template = getattr(self.tokenizer, "chat_template", None) is not None
        self.chat = has_template if chat == "auto" else _parse_bool(chat)
        if self.chat and not has_template:
            raise BackendError(f"{model!r} has no chat template: use -M chat=false for plain prompts")
        self._window = int(context_window) if context_window else _window_of(self.model.config, self.tokenizer)
        self._lock = threading.Lock()
        self._options = {"device": device, "dtype": dtype, "chat": self.chat, "context_window": self._window}

    @property
    def context_window(self) -> int | None:
        return self._window

    def options(self) -> dict:
        """What results.json records about this model."""
        return dict(self._options)

    @property
    def chat_overhead(self) -> int:
        """Tokens the chat template adds around the message contents (role markers, generation
        prompt): the prompt sizer adds them to its count of the contents."""
        if not self.chat:
            return 0
        probe = ({"role": "system", "content": "x"}, {"role": "user", "content": "y"})
        ids = self.prompt_ids(Request(sample_id="", query_index=0, messages=probe, prompt="", max_tokens=1))
        return len(ids) - self.count_tokens("x\ny")

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def prompt_ids(self, request: Request) -> list[int]:
        """The exact token ids the model is fed: the chat template (with the generation prompt) or
        the plain prompt with the tokenizer's usual special tokens."""
        if self.chat:
            text = self.tokenizer.apply_chat_template(
                list(request.messages), add_generation_prompt=True, tokenize=False
            )
            return self.tokenizer.encode(text, add_special_tokens=False)  # the template holds BOS already
        return self.tokenizer.encode(request.prompt, add_special_tokens=True)

    async def generate(self, request: Request) -> Completion:
        return await asyncio.to_thread(self._generate_locked, request)

    def _generate_locked(self, request: Request) -> Completion:
        with self._lock:
            return self._generate(request)

    def _generate(self, request: Request) -> Completion:
        ids = self.prompt_ids(request)
        room = self._window - len(ids) if self._window else request.max_tokens
        if room <= 0:
            raise OverLength(f"prompt of {len(ids)} tokens does not fit the context window of {self._window}")
        max_new = min(request.max_tokens, room)  # like llama.cpp: never generate past the window
        started = time.perf_counter()
        inputs = self.torch.tensor([ids], device=self.device)
        with self.torch.inference_mode():
            out = self.model.generate(
                inputs,
                attention_mask=self.torch.ones_like(inputs),
                max_new_tokens=max_new,
                do_sample=False,
                pad_token_id=self._pad_id(),
            )
        new = out[0, len(ids) :].tolist()
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        text, stopped = _cut_at_stop(text, request.stop)
        finish = "stop" if stopped or len(new) < max_new else "length"
        return Completion(
            text=text,
            prompt_tokens=len(ids),
            completion_tokens=len(new),
            latency_s=time.perf_counter() - started,
            finish_reason=finish,
            model=self.name,
            extra={"max_tokens_capped": max_new < request.max_tokens},
        )

    def _pad_id(self) -> int | None:
        tok = self.tokenizer
        return tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    async def aclose(self) -> None:
        return None


def _window_of(config, tokenizer) -> int | None:
    """The context window from the model config, else from the tokenizer when it is a real limit."""
    for name in _WINDOW_FIELDS:
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 10**8 else None  # HF uses 1e30 for "unknown"


def _cut_at_stop(text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    """Cut the text at the first stop sequence (generation is not stopped early: greedy output up to
    it is identical either way)."""
    cuts = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


def create(model: str, **options) -> HFBackend:
    """Entry point used by `hashhop.backends.get_backend("hf:PATH", **options)`."""
    if not model:
        raise BackendError("no model given: use --model hf:PATH_OR_NAME")
    known = {"device", "dtype", "chat", "context_window", "threads", "trust_remote_code", "local_files_only"}
    check_options("hf", options, known)
    return HFBackend(model, **{k: v for k, v in options.items() if v is not None})
