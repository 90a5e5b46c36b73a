"""The OpenAI-compatible wire format of `hashhop serve`: request bodies in, typed requests out.

This module owns what a client may send and what it is told when that is wrong: the body (size,
UTF-8, JSON object), the fields of `/v1/chat/completions`, `/v1/completions` and `/tokenize`,
and the OpenAI-shaped error (`{"error": {"message", "type", "param", "code"}}`, a 4xx status).
It knows nothing of the model: the prompt text is built exactly as the `ltm` backend builds it
for in-process runs (`backend.prompt_text`), so a served answer equals an in-process one.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from hashhop.backends.base import Request

_DRAIN_FACTOR = 4  # bodies up to 4x the limit are read to the end before the 413


class ApiError(Exception):
    """An error the client caused (4xx) or the server met (5xx), sent as OpenAI's error object."""

    def __init__(self, status: int, message: str, code: str, param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param

    def body(self) -> dict:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}


@dataclass(frozen=True)
class Generation:
    """One generation asked for: the prompt as the model reads it, and how to end the answer."""

    request: Request  # messages (chat) or prompt (completions), as the ltm backend takes them
    model: str | None  # the model the client named, if any
    max_tokens: int | None  # in the model's own units (segments); None: no limit
    stop: tuple[str, ...]
    stream: bool


async def read_json(chunks, content_length: str | None, limit: int) -> dict:
    """The request body as a JSON object, read from `chunks` (an async iterator of bytes) up to
    `limit` bytes; anything else is an ApiError naming what is wrong."""
    if content_length is not None:
        if not content_length.isdigit():
            raise ApiError(400, f"Content-Length {content_length!r} is not a number of bytes", "invalid_body")
        if int(content_length) > limit:
            await _drain(chunks, int(content_length), limit)
            raise ApiError(413, _too_big(int(content_length), limit), "body_too_large")
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            await _drain(chunks, len(body), limit)
            raise ApiError(413, _too_big(len(body), limit), "body_too_large")
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400, f"the request body is not UTF-8 (byte {exc.start}): send JSON in UTF-8", "invalid_body"
        ) from None
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"the request body is not valid JSON ({exc}): send a JSON object", "invalid_json") from None
    if not isinstance(obj, dict):
        raise ApiError(
            400, f"the request body is a JSON {type(obj).__name__}: send a JSON object", "invalid_json"
        ) from None
    return obj


async def _drain(chunks, size: int, limit: int) -> None:
    """Read (and drop) the rest of a body a little over the limit, so the client, still sending, gets
    the 413 instead of a reset connection; a body far over it is cut off unread."""
    if size <= _DRAIN_FACTOR * limit:
        async for _ in chunks:
            pass


def _too_big(size: int, limit: int) -> str:
    return f"the request body has {size} bytes, over the server's limit of {limit} (hashhop serve --max-body-mb)"


def chat_generation(body: dict) -> Generation:
    """A `/v1/chat/completions` body -> Generation; the messages' contents are the prompt."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(
            400,
            "'messages' is missing or empty: send a list of {role, content} objects",
            "invalid_messages",
            "messages",
        )
    parsed = tuple({"role": _role(m, i), "content": _content(m, i)} for i, m in enumerate(messages))
    return _generation(body, Request("serve", 0, parsed, "", 0))


def completion_generations(body: dict) -> list[Generation]:
    """A `/v1/completions` body -> one Generation per prompt (a string, or a list of strings)."""
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise ApiError(
            400, "'prompt' must be a string or a list of strings (token ids are not taken)", "invalid_prompt", "prompt"
        )
    return [_generation(body, Request("serve", i, (), p, 0)) for i, p in enumerate(prompts)]


def _role(message, i: int) -> str:
    if not isinstance(message, dict):
        raise ApiError(400, f"messages[{i}] is not an object: send {{role, content}}", "invalid_messages", "messages")
    role = message.get("role", "user")
    if not isinstance(role, str):
        raise ApiError(400, f"messages[{i}].role is not a string", "invalid_messages", "messages")
    return role


def _content(message: dict, i: int) -> str:
    """A message's text: a string, or the text parts of a content list (OpenAI's content parts)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "".join(str(p.get("text", "")) for p in content)
    raise ApiError(
        400, f"messages[{i}].content must be a string or a list of text parts", "invalid_messages", "messages"
    )


def _generation(body: dict, request: Request) -> Generation:
    if body.get("n") not in (None, 1):
        raise ApiError(
            400, "'n' must be 1: the model answers greedily, so every choice would be the same", "invalid_n", "n"
        )
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise ApiError(400, "'model' must be a string", "invalid_model", "model")
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ApiError(
            400, f"'max_tokens' must be a positive integer, not {limit!r}", "invalid_max_tokens", "max_tokens"
        )
    return Generation(request, model, limit, _stops(body.get("stop")), bool(body.get("stream", False)))


def _stops(stop) -> tuple[str, ...]:
    if stop is None:
        return ()
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise ApiError(400, "'stop' must be a non-empty string or a list of them", "invalid_stop", "stop")
    return tuple(stops)


def tokenize_text(body: dict) -> str:
    """The text a `/tokenize` body asks to count: `content` (llama.cpp), `prompt` (vLLM), `text`,
    or `messages` (read as the chat endpoint reads them)."""
    from .backend import prompt_text

    for field in ("content", "prompt", "text"):
        if isinstance(body.get(field), str):
            return body[field]
    if "messages" in body:
        return prompt_text(chat_generation(body).request)
    raise ApiError(
        400, "send the text to count as 'content' (or 'prompt', 'text', 'messages')", "invalid_tokenize", "content"
    )


def json_bytes(obj: dict) -> bytes:
    return orjson.dumps(obj)
