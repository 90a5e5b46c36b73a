"""A stub Anthropic Messages API server on 127.0.0.1, scripted or a perfect HashHop solver.

Used by tests/test_backend_anthropic.py and by the packaging test of the anthropic extra.

It caches prompts like Anthropic: only at a `cache_control` breakpoint, for a prefix (system and the
blocks up to the marked one) of at least 1,024 tokens (Sonnet-class): the first request writes it
(`cache_creation_input_tokens`), later ones read it (`cache_read_input_tokens`); `input_tokens` counts
the rest. With `server.prices` ({"input", "cache_write", "cache_read", "output"} USD per million) it
bills every answer and keeps the running total in `server.billing`. One token per character.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FRAMING = 7  # tokens the stub's count_tokens adds around a message
CACHE_MIN = 1024  # the shortest cacheable prefix (Sonnet-class models)


class StubMessages(BaseHTTPRequestHandler):
    """Scripted Messages API: each POST /v1/messages pops the next (status, headers, body) from
    `server.script`; an empty script answers with an echo of the last user message."""

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        self.server.seen.append({"path": self.path, "headers": dict(self.headers), "body": None})
        if self.server.get_status != 200:
            return self._send(self.server.get_status, {}, error_body("authentication_error", "invalid x-api-key"))
        if self.path == "/v1/models/claude-stub":
            return self._send(200, {}, {"type": "model", "id": "claude-stub", "display_name": "Stub"})
        return self._send(404, {}, error_body("not_found_error", f"model: {self.path.rsplit('/', 1)[-1]}"))

    def do_POST(self):
        length = int(self.headers.get("content-length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if self.path == "/v1/messages/count_tokens":
            if not self.server.count_tokens:
                return self._send(404, {}, {"type": "error", "error": {"type": "not_found_error"}})
            text = body["messages"][0]["content"]
            return self._send(200, {}, {"input_tokens": FRAMING + len(text)})
        if self.path != "/v1/messages":
            return self._send(404, {}, {"type": "error", "error": {"type": "not_found_error", "message": "no"}})
        if self.server.script:
            status, headers, payload = self.server.script.pop(0)
            if payload == "stall":
                time.sleep(2.0)
                payload = message_body("late")
            return self._send(status, headers, payload)
        texts = [
            m["content"] if isinstance(m["content"], str) else "".join(b["text"] for b in m["content"])
            for m in body["messages"]
        ]
        # One token per character plus the framing, as the stub's count_tokens says.
        seen = FRAMING + len("\n".join(([body["system"]] if "system" in body else []) + texts))
        read, write = _cache(self.server, body)
        answer = _solve(texts[-1]) or f"echo: {texts[-1][-20:]}"
        reply = message_body(answer, seen - read - write, len(answer), cache_read=read, cache_write=write)
        _bill(self.server, reply["usage"])
        return self._send(200, {}, reply)

    def _send(self, status, headers, payload):
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)


def _solve(text: str) -> str | None:
    """Follow the chain the question asks about (the stub is a perfect model): every hash on the way
    when the question asks for them, else the last."""
    ask = re.search(r"Start at (\w+) and follow (\d+) link", text)
    if not ask:
        return None
    links = dict(re.findall(r"^(\w+) = '?(\w+)'?$", text, re.M))
    h, path = ask.group(1), []
    for _ in range(int(ask.group(2))):
        h = links.get(h, "?")
        path.append(h)
    return " = ".join(path) if "Write every hash" in text else f"The answer is {h}."


def _cache(server, body) -> tuple[int, int]:
    """(tokens read, tokens written) of the prompt cache: the prefix up to the last `cache_control`
    block, when it holds CACHE_MIN tokens or more."""
    prefix = [body.get("system", "")]
    marked = False
    for m in body["messages"]:
        for block in [m["content"]] if isinstance(m["content"], str) else m["content"]:
            text = block if isinstance(block, str) else block["text"]
            prefix.append(text)
            if isinstance(block, dict) and block.get("cache_control"):
                marked, end = True, len(prefix)
    if not marked:
        return 0, 0
    text = "\n".join(prefix[:end])
    if len(text) < CACHE_MIN:
        return 0, 0
    key = hashlib.sha256(text.encode()).hexdigest()
    with server.lock:
        hit = key in server.cache
        server.cache.add(key)
    return (len(text), 0) if hit else (0, len(text))


def _bill(server, usage: dict) -> None:
    p, b = server.prices or {}, server.billing
    with server.lock:
        for field in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens"):
            b[field] += usage[field]
        b["requests"] += 1
        b["usd"] += (
            usage["input_tokens"] * p.get("input", 0.0)
            + usage["cache_creation_input_tokens"] * p.get("cache_write", 0.0)
            + usage["cache_read_input_tokens"] * p.get("cache_read", 0.0)
            + usage["output_tokens"] * p.get("output", 0.0)
        ) / 1e6


def message_body(text, input_tokens=11, output_tokens=3, cache_read=0, cache_write=0):
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-stub",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_input_tokens": cache_read,
            "cache_creation_input_tokens": cache_write,
        },
    }


def error_body(kind, message):
    return {"type": "error", "error": {"type": kind, "message": message}}


@contextlib.contextmanager
def running_stub():
    """The stub serving on a free 127.0.0.1 port; `server.server_port`, `script`, `seen` and the
    `count_tokens` / `get_status` switches are the test's controls."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubMessages)
    server.script, server.seen, server.count_tokens, server.get_status = [], [], True, 200
    server.cache, server.lock, server.prices = set(), threading.Lock(), None
    server.billing = dict.fromkeys(
        ("requests", "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens"), 0
    )
    server.billing["usd"] = 0.0
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
