"""Anthropic Message Batches for the `anthropic` backend, on that backend's httpx client.

Protocol (docs.anthropic.com, Message Batches): `POST /v1/messages/batches` with `requests:
[{custom_id, params}]` (params: a Messages API body), `GET /v1/messages/batches/{id}` until
`processing_status` is `ended`, then the JSONL at `results_url`: `{custom_id, result: {type:
succeeded|errored|canceled|expired, message | error}}`. A succeeded message is parsed exactly as a
synchronous answer is; an errored one maps onto the same typed errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from hashhop.backends.base import BatchAPI, BatchStatus, Completion, Request
from hashhop.core.errors import BackendError, HashhopError, TransientError

PATH = "/v1/messages/batches"
# The status an error type stands for, so the backend's own mapping types it.
ERROR_STATUS = {"invalid_request_error": 400, "rate_limit_error": 429, "overloaded_error": 529}


class AnthropicBatch(BatchAPI):
    max_requests = 100_000
    max_bytes = 256 * 2**20

    def __init__(
        self,
        client,
        httpx,
        body: Callable[[Request], dict],
        completion: Callable[[object, float], Completion],
        raise_for_status: Callable[[object], None],
    ):
        self.client, self.httpx = client, httpx  # the backend's httpx.AsyncClient and module
        self.body, self.completion, self.raise_for_status = body, completion, raise_for_status

    def line(self, custom_id: str, request: Request) -> dict:
        return {"custom_id": custom_id, "params": self.body(request)}

    async def _call(self, method: str, url: str, body: dict | None = None):
        try:
            response = await self.client.request(method, url, json=body)
        except self.httpx.HTTPError as exc:
            raise TransientError(f"cannot reach the batch API: {type(exc).__name__}") from None
        self.raise_for_status(response)
        return response

    async def submit(self, lines: list[dict]) -> str:
        data = _object(await self._call("POST", PATH, {"requests": lines}))
        if not isinstance(data.get("id"), str):
            raise TransientError("malformed message batch: no id")
        return data["id"]

    async def poll(self, batch_id: str) -> BatchStatus:
        data = _object(await self._call("GET", f"{PATH}/{batch_id}"))
        state = str(data.get("processing_status"))
        return BatchStatus(state, state == "ended")

    async def results(self, batch_id: str) -> dict[str, Completion | Exception]:
        data = _object(await self._call("GET", f"{PATH}/{batch_id}"))
        url = data.get("results_url") or f"{PATH}/{batch_id}/results"
        response = await self._call("GET", url)
        out: dict[str, Completion | Exception] = {}
        for text in response.text.splitlines():
            if text.strip():
                custom_id, outcome = self._outcome(text)
                out[custom_id] = outcome
        return out

    def _outcome(self, text: str) -> tuple[str, Completion | Exception]:
        try:
            line = json.loads(text)
            custom_id, result = line["custom_id"], line["result"]
            kind = result["type"]
        except (ValueError, KeyError, TypeError):
            raise TransientError(f"malformed message batch result: {text[:80]!r}") from None
        try:
            if kind == "succeeded":
                return custom_id, self.completion(self.httpx.Response(200, json=result.get("message")), 0.0)
            if kind == "errored":
                error = (result.get("error") or {}).get("error") or result.get("error") or {}
                status = ERROR_STATUS.get(str(error.get("type")), 500)
                self.raise_for_status(self.httpx.Response(status, json={"type": "error", "error": error}))
                raise BackendError(f"batch request errored: {error}"[:200])
        except HashhopError as exc:  # the typed error of this one request, recorded like a synchronous one
            return custom_id, exc
        return custom_id, TransientError(f"batch request {kind}")  # canceled, expired: worth another batch


def _object(response) -> dict:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise TransientError("malformed message batch response")
    return data
