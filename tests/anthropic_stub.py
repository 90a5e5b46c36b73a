"""A stub Anthropic Messages API server on 127.0.0.1, scripted or a perfect HashHop solver.

Used by tests/test_backend_anthropic.py and by the packaging test of the anthropic extra. Message
Batches (tests/batch_stub.py) answer each request as POST /v1/messages would; `server.billing.billed`
is what the stub billed at `server.billing` prices (batches at its discount).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from batch_stub import Batches, Billing, anthropic_batch, anthropic_results

FRAMING = 7  # tokens the stub's count_tokens adds around a message


class StubMessages(BaseHTTPRequestHandler):
    """Scripted Messages API: each POST /v1/messages pops the next (status, headers, body) from
    `server.script`; an empty script answers with an echo of the last user message."""

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        self.server.seen.append({"path": self.path, "headers": dict(self.headers), "body": None})
        if self.server.get_status != 200:
            return self._send(self.server.get_status, {}, error_body("authentication_error", "invalid x-api-key"))
        if self.path.startswith("/v1/messages/batches/"):
            return self._batch_get(self.path.split("/")[4:])
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
        if self.path == "/v1/messages/batches":
            requests = [(r["custom_id"], r["params"]) for r in body["requests"]]
            batch_id = self.server.batches.create(requests, _answer)
            return self._send(200, {}, anthropic_batch(self.server.batches, self._base, batch_id))
        if self.path != "/v1/messages":
            return self._send(404, {}, {"type": "error", "error": {"type": "not_found_error", "message": "no"}})
        if self.server.script:
            status, headers, payload = self.server.script.pop(0)
            if payload == "stall":
                time.sleep(2.0)
                payload = message_body("late")
            return self._send(status, headers, payload)
        seen, output, message = _answer(body)
        self.server.billing.bill(seen, output)
        return self._send(200, {}, message)

    @property
    def _base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def _batch_get(self, parts: list[str]):
        batches = self.server.batches
        if not parts or parts[0] not in batches.items:
            return self._send(404, {}, error_body("not_found_error", "no such batch"))
        if parts[1:] == ["results"] and batches.ended(parts[0]):
            return self._send(200, {}, anthropic_results(batches, parts[0]))
        return self._send(200, {}, anthropic_batch(batches, self._base, parts[0]))

    def _send(self, status, headers, payload):
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)


def _answer(body: dict) -> tuple[int, int, dict]:
    """(input tokens, output tokens, message) of one Messages API request: one token per character plus
    the framing, as the stub's count_tokens says."""
    texts = [
        m["content"] if isinstance(m["content"], str) else "".join(b["text"] for b in m["content"])
        for m in body["messages"]
    ]
    seen = FRAMING + len("\n".join(([body["system"]] if "system" in body else []) + texts))
    message = message_body(_solve(texts[-1]) or f"echo: {texts[-1][-20:]}", input_tokens=seen)
    return seen, message["usage"]["output_tokens"], message


def _solve(text: str) -> str | None:
    """Follow the chain the question asks about (the stub is a perfect model)."""
    ask = re.search(r"Start at (\w+) and follow (\d+) link", text)
    if not ask:
        return None
    links = dict(re.findall(r"^(\w+) = '?(\w+)'?$", text, re.M))
    h = ask.group(1)
    for _ in range(int(ask.group(2))):
        h = links.get(h, "?")
    return f"The answer is {h}."


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
    server.billing = Billing()
    server.batches = Batches(server.billing)  # .script, .created, .delay: the tests' controls
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
