"""The OpenAI Batch API for the `openai` backend: JSONL upload, batch, polling, result files.

Protocol (platform.openai.com/docs/guides/batch): `POST /v1/files` (multipart, purpose `batch`, one
request a line: `{custom_id, method, url, body}`), `POST /v1/batches` (`input_file_id`, `endpoint`,
`completion_window` 24h), `GET /v1/batches/{id}` (validating, in_progress, finalizing, cancelling:
still going; completed, failed, expired, cancelled: ended), then `GET /v1/files/{id}/content` of the
`output_file_id` and `error_file_id`. Output lines carry `{custom_id, response: {status_code, body},
error}`; a body is parsed exactly as a synchronous answer is, and an error status maps onto the same
typed errors (the backend's own `raise_for_status`).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from hashhop.backends.base import BatchAPI, BatchStatus, Completion, Request
from hashhop.backends.http import Transport
from hashhop.core import fastjson
from hashhop.core.errors import HashhopError, TransientError

GOING = ("validating", "in_progress", "finalizing", "cancelling")
BATCH_BYTES = 200 * 2**20  # the provider's limit on an input file, and the most a result file is read


class OpenAIBatch(BatchAPI):
    max_requests = 50_000
    max_bytes = BATCH_BYTES

    def __init__(
        self,
        http: Transport,
        base_url: str,
        api: str,
        body: Callable[[Request], dict],
        completion: Callable[[bytes, float], Completion],
        raise_for_status: Callable[[int, object, bytes], None],
    ):
        self.http, self.base_url = http, base_url
        self.endpoint = "/v1/chat/completions" if api == "chat" else "/v1/completions"
        self.body, self.completion, self.raise_for_status = body, completion, raise_for_status

    def line(self, custom_id: str, request: Request) -> dict:
        return {"custom_id": custom_id, "method": "POST", "url": self.endpoint, "body": self.body(request)}

    async def _json(self, method: str, path: str, body: dict | None = None) -> dict:
        status, headers, raw = await self.http.request(method, f"{self.base_url}{path}", body)
        self.raise_for_status(status, headers, raw)
        return _object(raw, self.base_url)

    async def submit(self, lines: list[dict]) -> str:
        content = b"".join(fastjson.dumps(line) + b"\n" for line in lines)
        status, headers, raw = await self.http.upload(
            f"{self.base_url}/files", {"purpose": "batch"}, "hashhop-batch.jsonl", content
        )
        self.raise_for_status(status, headers, raw)
        file_id = _object(raw, self.base_url).get("id")
        batch = await self._json(
            "POST", "/batches", {"input_file_id": file_id, "endpoint": self.endpoint, "completion_window": "24h"}
        )
        if not isinstance(batch.get("id"), str):
            raise TransientError(f"malformed batch from {self.base_url}: no id")
        return batch["id"]

    async def poll(self, batch_id: str) -> BatchStatus:
        batch = await self._json("GET", f"/batches/{batch_id}")
        state = str(batch.get("status"))
        errors = (batch.get("errors") or {}).get("data") or []
        detail = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict))[:200]
        return BatchStatus(state, state not in GOING, detail)

    async def results(self, batch_id: str) -> dict[str, Completion | Exception]:
        batch = await self._json("GET", f"/batches/{batch_id}")
        out: dict[str, Completion | Exception] = {}
        for file_id in (batch.get("output_file_id"), batch.get("error_file_id")):
            if isinstance(file_id, str) and file_id:
                url = f"{self.base_url}/files/{file_id}/content"
                status, headers, raw = await self.http.request("GET", url, limit=BATCH_BYTES)
                self.raise_for_status(status, headers, raw)
                for text in raw.splitlines():
                    if text.strip():
                        custom_id, outcome = self._outcome(text)
                        out[custom_id] = outcome
        return out

    def _outcome(self, text: bytes) -> tuple[str, Completion | Exception]:
        """One result line: (its custom_id, the Completion or the typed error it stands for)."""
        try:
            line = json.loads(text)
            custom_id, response, error = line["custom_id"], line.get("response") or {}, line.get("error")
        except (ValueError, KeyError, TypeError):
            raise TransientError(f"malformed batch result line from {self.base_url}: {text[:80]!r}") from None
        if error:  # expired, or not run: worth another batch
            return custom_id, TransientError(f"batch request {error.get('code')}: {error.get('message')}"[:200])
        status, body = response.get("status_code", 0), fastjson.dumps(response.get("body") or {})
        try:
            self.raise_for_status(status, {}, body)
            return custom_id, self.completion(body, 0.0)
        except HashhopError as exc:  # the typed error of this one request, recorded like a synchronous one
            return custom_id, exc


def _object(raw: bytes, base_url: str) -> dict:
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise TransientError(f"malformed response from {base_url}: {raw[:80]!r}")
    return data
