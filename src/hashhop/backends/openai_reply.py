"""Reading an OpenAI-compatible server's answers: the completion with its usage, and error messages.

Owns `read_completion` (text, token counts with the reasoning tokens, finish reason) and
`error_message`, used by the `openai` backend (backends/openai.py); Retry-After is read by
backends/http.py (`retry_after`). A body that is not what the API documents is a TransientError
(retried like a dropped connection).
"""

from __future__ import annotations

import json

from hashhop.backends.base import Completion
from hashhop.core import fastjson
from hashhop.core.errors import TransientError


def _text(content) -> str:
    """The answer text: a string, null (nothing), or a list of parts `{"type": "text", "text": ...}`.
    Anything else (a number, an object) is a malformed body: TypeError, retried like one."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list) and all(isinstance(p, dict) and isinstance(p.get("text", ""), str) for p in content):
        return "".join(p.get("text", "") for p in content)
    raise TypeError(f"content of type {type(content).__name__}")


def _count(value) -> int | None:
    """A token count as reported, or None when it is not a whole number >= 0 (cost stays computable)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def error_message(body: bytes) -> str:
    """The server's error message, on one short line."""
    try:
        data = json.loads(body)
        err = data.get("error", data.get("detail", data)) if isinstance(data, dict) else data
        text = err.get("message", str(err)) if isinstance(err, dict) else str(err)
    except ValueError:
        text = body.decode("utf-8", "replace")
    return " ".join(text.split())[:200] or "(empty body)"


def _reasoning(usage: dict) -> int | None:
    """`usage.completion_tokens_details.reasoning_tokens` (OpenAI, vLLM), or None where not reported."""
    details = usage.get("completion_tokens_details")
    return _count(details.get("reasoning_tokens")) if isinstance(details, dict) else None


def read_completion(body: bytes, latency: float, chat: bool, base_url: str) -> Completion:
    """The Completion of a chat or completions response body."""
    try:
        data = fastjson.loads(body)
        choice = data["choices"][0]
        text = _text(choice["message"]["content"] if chat else choice["text"])
        usage = data.get("usage") or {}
        prompt_tokens, completion_tokens = _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
        reasoning = _reasoning(usage)
        details = usage.get("prompt_tokens_details")  # OpenAI's automatic prompt caching (vLLM reports it too)
        cached_tokens = _count(details.get("cached_tokens")) if isinstance(details, dict) else None
        finish_reason, model = choice.get("finish_reason"), data.get("model")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise TransientError(f"malformed response from {base_url}: {body[:80]!r}") from None
    return Completion(
        text=text,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        latency_s=latency,
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
        model=model if isinstance(model, str) else None,
        reasoning_tokens=reasoning,
        cached_tokens=cached_tokens,
    )
