"""The batch endpoints of the test servers: OpenAI's Files + Batches API and Anthropic's Message Batches.

Both process a batch at once with the stub's own synchronous answer for each request, and let it out
after `delay` seconds (in_progress until then), as the providers do within their window. `script`
holds what happens to the next requests batched, one entry each, in order (None: answered):
"expired" (OpenAI: the batch expires, that request lands in the error file; Anthropic: result type
expired), "failed" (a 500 for that request / an api_error), or "invalid" (a 400 / invalid_request_error).
Billing is the provider's: each answered request at the synchronous prices times `discount`, added to
`billed` when the batch ends; `created` counts batches made (a resumed run must not add one).
"""

from __future__ import annotations

import itertools
import json
import threading
import time


class Billing:
    """USD per million prompt/completion tokens, and the running total billed."""

    def __init__(self, price_in: float = 0.0, price_out: float = 0.0, discount: float = 0.5):
        self.price_in, self.price_out, self.discount = price_in, price_out, discount
        self.billed = 0.0
        self._lock = threading.Lock()

    def bill(self, prompt_tokens: int, completion_tokens: int, batch: bool = False) -> None:
        cost = (prompt_tokens * self.price_in + completion_tokens * self.price_out) / 1e6
        with self._lock:
            self.billed += cost * (self.discount if batch else 1.0)


class Batches:
    """The batches of one stub: what was submitted, when each is ready, and its result lines."""

    def __init__(self, billing: Billing, delay: float = 0.0):
        self.billing, self.delay = billing, delay
        self.script: list[str | None] = []
        self.created = 0
        self.items: dict[str, dict] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def new_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}{next(self._ids)}"

    def create(self, requests: list[tuple[str, dict]], answer) -> str:
        """A batch of (custom_id, request body); `answer(body) -> (prompt_tokens, completion_tokens,
        result)` is the stub's synchronous answer. Returns the batch id."""
        batch_id = self.new_id("batch_")
        done = []
        for custom_id, body in requests:
            fault = self.script.pop(0) if self.script else None
            done.append((custom_id, fault, None if fault else answer(body)))
        with self._lock:
            self.created += 1
            self.items[batch_id] = {"ready": time.monotonic() + self.delay, "lines": done, "billed": False}
        return batch_id

    def ended(self, batch_id: str) -> bool:
        """Whether the batch is done; the first time it is seen done, its answers are billed."""
        item = self.items[batch_id]
        if time.monotonic() < item["ready"]:
            return False
        with self._lock:
            if not item["billed"]:
                item["billed"] = True
                for _, fault, result in item["lines"]:
                    if fault is None:
                        self.billing.bill(result[0], result[1], batch=True)
        return True


def multipart_file(headers: dict, body: bytes) -> tuple[dict, bytes]:
    """(form fields, file content) of a multipart/form-data body with one file."""
    boundary = headers["content-type"].split("boundary=", 1)[1].strip('"').encode()
    fields, content = {}, b""
    for part in body.split(b"--" + boundary)[1:-1]:
        head, _, value = part.strip(b"\r\n").partition(b"\r\n\r\n")
        name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode()
        if b"filename=" in head:
            content = value
        else:
            fields[name] = value.decode()
    return fields, content


# -- OpenAI ------------------------------------------------------------------------------------
ERROR_LINE = {
    "expired": (None, {"code": "batch_expired", "message": "This request could not be executed before the window"}),
    "failed": (500, None),
    "invalid": (400, None),
}


class OpenAIBatchAPI:
    """POST /v1/files, GET /v1/files/{id}/content, POST /v1/batches, GET /v1/batches/{id}."""

    def __init__(self, batches: Batches):
        self.batches, self.files = batches, {}

    def handle(self, method: str, path: str, headers: dict, body: bytes, answer) -> tuple[int, object]:
        """(status, JSON object or raw bytes) of one request to the files or batches endpoints."""
        parts = path.strip("/").split("/")[1:]  # after v1
        if method == "POST" and parts == ["files"]:
            fields, content = multipart_file(headers, body)
            file_id = self.batches.new_id("file-")
            self.files[file_id] = content
            return 200, {"id": file_id, "object": "file", "purpose": fields.get("purpose"), "bytes": len(content)}
        if method == "GET" and len(parts) == 3 and parts[0] == "files" and parts[2] == "content":
            return (200, self.files[parts[1]]) if parts[1] in self.files else (404, _err("no such file"))
        if method == "POST" and parts == ["batches"]:
            return self._create(json.loads(body), answer)
        if method == "GET" and len(parts) == 2 and parts[0] == "batches" and parts[1] in self.batches.items:
            return 200, self._status(parts[1])
        return 404, _err(f"no route {method} {path}")

    def _create(self, data: dict, answer) -> tuple[int, object]:
        if data.get("input_file_id") not in self.files or data.get("completion_window") != "24h":
            return 400, _err("input_file_id must name an uploaded file; completion_window must be 24h")
        lines = [json.loads(x) for x in self.files[data["input_file_id"]].splitlines() if x.strip()]
        if any(line.get("url") != data.get("endpoint") for line in lines):
            return 400, _err("every line's url must be the batch's endpoint")
        batch_id = self.batches.create([(line["custom_id"], line["body"]) for line in lines], answer)
        return 200, self._status(batch_id)

    def _status(self, batch_id: str) -> dict:
        out = {"id": batch_id, "object": "batch", "status": "in_progress", "completion_window": "24h"}
        if not self.batches.ended(batch_id):
            return out
        lines = self.batches.items[batch_id]["lines"]
        good = [_ok_line(cid, result[2]) for cid, fault, result in lines if fault is None]
        bad = [_error_line(cid, fault) for cid, fault, _ in lines if fault is not None]
        expired = any(fault == "expired" for _, fault, _ in lines)
        for key, rows in (("output_file_id", good), ("error_file_id", bad)):
            if rows:
                self.files[f"{batch_id}-{key}"] = b"".join(json.dumps(r).encode() + b"\n" for r in rows)
                out[key] = f"{batch_id}-{key}"
        counts = {"total": len(lines), "completed": len(good), "failed": len(bad)}
        return {**out, "status": "expired" if expired else "completed", "request_counts": counts}


def _err(message: str) -> dict:
    return {"error": {"message": message, "type": "invalid_request_error"}}


def _ok_line(custom_id: str, body: dict) -> dict:
    return {"id": f"req-{custom_id}", "custom_id": custom_id, "response": {"status_code": 200, "body": body}}


def _error_line(custom_id: str, fault: str) -> dict:
    status, error = ERROR_LINE[fault]
    response = None if status is None else {"status_code": status, "body": _err(f"scripted {fault}")}
    return {"id": f"req-{custom_id}", "custom_id": custom_id, "response": response, "error": error}


# -- Anthropic ---------------------------------------------------------------------------------
ANTHROPIC_FAULT = {
    "expired": {"type": "expired"},
    "failed": {"type": "errored", "error": {"type": "error", "error": {"type": "api_error", "message": "scripted"}}},
    "invalid": {
        "type": "errored",
        "error": {"type": "error", "error": {"type": "invalid_request_error", "message": "scripted"}},
    },
}


def anthropic_batch(batches: Batches, base_url: str, batch_id: str) -> dict:
    ended = batches.ended(batch_id)
    return {
        "id": batch_id,
        "type": "message_batch",
        "processing_status": "ended" if ended else "in_progress",
        "results_url": f"{base_url}/v1/messages/batches/{batch_id}/results" if ended else None,
    }


def anthropic_results(batches: Batches, batch_id: str) -> bytes:
    rows = []
    for cid, fault, result in batches.items[batch_id]["lines"]:
        outcome = ANTHROPIC_FAULT[fault] if fault else {"type": "succeeded", "message": result[2]}
        rows.append(json.dumps({"custom_id": cid, "result": outcome}).encode() + b"\n")
    return b"".join(rows)
