"""A real, scriptable OpenAI-compatible HTTP server for tests (127.0.0.1 only).

It speaks HTTP/1.1 on a raw asyncio socket (keep-alive, Content-Length or chunked), so it can
misbehave the ways real servers do: 429 with or without Retry-After, 500/502/503, stalls,
connection resets mid-body, truncated or malformed JSON, empty choices, gigantic bodies.
Endpoints: /v1/chat/completions, /v1/completions, /v1/models, /extras/tokenize/count
(llama-cpp-python), /tokenize (llama.cpp native), /props (optional), and the Batch API (/v1/files,
/v1/batches: tests/batch_stub.py). It bills like a provider: `billing.billed` is the running total
at `price_in`/`price_out`/`price_cached` USD per million tokens, batch requests at `batch_discount`
(GET /billing).

With `caching=True` it caches prompts like OpenAI: automatically, for prompts of 1,024 tokens or
more, in 128-token blocks of a prefix seen before, reported as `usage.prompt_tokens_details.
cached_tokens` and billed at `price_cached`. Batch requests are cached the same way, in the order
they come in the batch (Anthropic documents that its cache and batch discounts stack; the stub bills
OpenAI batches alike).

By default it answers like the oracle (it parses the context and walks the chain), so the whole
path can be checked for correct scoring. `script(...)` queues one action per request, in order;
when the queue is empty the default answer is given. Run it alone with
`python tests/stub_server.py --port N [--delay S]` (benchmarks).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import re
import threading

from batch_stub import Batches, Billing, OpenAIBatchAPI

QUESTION = re.compile(r"Start at (\w+) and follow (\d+) link")
LINE = re.compile(r"^(\w+) = '?(\w+)'?$", re.M)
TOKEN = re.compile(r"\w{1,4}|[^\w\s]")
CACHE_MIN, CACHE_BLOCK = 1024, 128  # OpenAI: prompts of 1,024+ tokens, cached in 128-token steps
REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def count(text: str) -> int:
    """The stub's tokenizer: runs of up to 4 word characters, and each punctuation mark."""
    return len(TOKEN.findall(text))


def oracle_answer(prompt: str) -> str:
    """What a perfect model says: walk the chain named by the question."""
    q = QUESTION.search(prompt)
    if not q:
        return "I do not know."
    table = dict(LINE.findall(prompt))
    h, out = q.group(1), []
    for _ in range(int(q.group(2))):
        if h not in table:
            break
        h = table[h]
        out.append(h)
    cot = "Write every hash" in prompt
    return " = ".join(out) if cot else (out[-1] if out else "")


class StubServer:
    def __init__(
        self,
        models=("stub",),
        answer="oracle",
        delay: float = 0.0,
        require_key: str | None = None,
        context_window: int | None = None,
        tokenize: str | None = "llama-cpp-python",
        props: bool = False,
        price_in: float = 0.0,
        price_out: float = 0.0,
        batch_discount: float = 0.5,
        batch_delay: float = 0.0,
        caching: bool = False,
        price_cached: float | None = None,
    ):
        self.models, self.answer, self.delay = tuple(models), answer, delay
        self.require_key, self.context_window = require_key, context_window
        self.tokenize, self.props = tokenize, props
        self.requests: list[dict] = []
        self.caching = caching
        self._blocks: set[str] = set()  # chained digests of every 128-token prefix block seen
        self.billing = Billing(price_in, price_out, batch_discount, price_cached)
        self.batches = Batches(self.billing, batch_delay)  # .script, .created: the tests' controls
        self._batch_api = OpenAIBatchAPI(self.batches)
        self._script: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._loop = self._server = self._thread = self._error = None
        self.port = 0

    # -- control --------------------------------------------------------------------------
    def script(self, *actions: dict) -> StubServer:
        """Queue actions for the next generation requests: status/retry_after/message, stall,
        reset, truncated, malformed, empty_choices, huge (+chunked), text, prompt_tokens,
        finish_reason (default stop), reasoning_tokens (reported in usage.completion_tokens_details
        and counted in completion_tokens, as OpenAI does)."""
        with self._lock:
            self._script.extend(actions)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def generations(self) -> list[dict]:
        return [r for r in self.requests if r["path"].endswith("completions")]

    @property
    def queries(self) -> list[dict]:
        """Generations that ask for an answer (a one-token request is a calibration probe)."""
        return [
            r
            for r in self.generations
            if r["json"].get("max_tokens", 0) > 1 or r["json"].get("max_completion_tokens", 0) > 1
        ]

    def start(self) -> StubServer:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("stub server did not start")
        if self._error is not None:
            raise RuntimeError(f"stub server did not start: {self._error}")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _serve(self, ready: threading.Event, port: int = 0):
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._connection, "127.0.0.1", port or self.port, backlog=1024)
            )
        except OSError as exc:  # e.g. the port is taken
            self._error = exc
            ready.set()
            return
        self._loop = loop
        self.port = self._server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()
        self._server.close()
        self._loop.close()

    # -- HTTP -----------------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                method, path, _ = line.decode().split(" ", 2)
                headers = {}
                while (h := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    k, _, v = h.decode().partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                if not await self._handle(method, path, headers, body, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    async def _send(self, writer, status: int, obj=None, raw: bytes | None = None, headers: dict | None = None):
        body = raw if raw is not None else json.dumps(obj).encode()
        head = [
            f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
        ] + [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()
        return True

    async def _handle(self, method, path, headers, body, writer) -> bool:
        multipart = headers.get("content-type", "").startswith("multipart/")
        data = json.loads(body) if body and not multipart else {}
        self.requests.append({"method": method, "path": path, "headers": headers, "json": data})
        if self.require_key and headers.get("authorization") != f"Bearer {self.require_key}":
            return await self._send(writer, 401, {"error": {"message": "Incorrect API key provided"}})
        if path.startswith(("/v1/files", "/v1/batches")):
            status, out = self._batch_api.handle(method, path, headers, body, self._batch_answer)
            raw = out if isinstance(out, bytes) else None
            return await self._send(writer, status, None if raw is not None else out, raw=raw)
        if path == "/billing":  # what it billed so far, for a benchmark that runs it as a process
            billed = {"billed_usd": self.billing.billed, "probe_usd": self.billing.probe, **self.billing.tally}
            return await self._send(writer, 200, {**billed, "batches": self.batches.created})
        if path == "/v1/models":
            return await self._send(writer, 200, {"object": "list", "data": [{"id": m} for m in self.models]})
        if path == "/extras/tokenize/count" and self.tokenize == "llama-cpp-python":
            return await self._send(writer, 200, {"count": count(data["input"])})
        if path == "/tokenize" and self.tokenize == "llamacpp":
            return await self._send(writer, 200, {"tokens": list(range(count(data["content"])))})
        if path == "/props" and self.props and self.context_window:
            return await self._send(writer, 200, {"default_generation_settings": {"n_ctx": self.context_window}})
        if path in ("/v1/chat/completions", "/v1/completions"):
            return await self._generate(path, data, writer)
        return await self._send(writer, 404, {"error": {"message": f"no route {path}"}})

    async def _generate(self, path: str, data: dict, writer) -> bool:
        chat = path.endswith("chat/completions")
        if data.get("model") not in self.models:
            return await self._send(writer, 404, {"error": {"message": f"model {data.get('model')!r} not found"}})
        prompt = "\n".join(m["content"] for m in data["messages"]) if chat else data["prompt"]
        n_prompt = count(prompt) + (4 * len(data["messages"]) + 3 if chat else 0)
        with self._lock:
            action = self._script.popleft() if self._script else {}
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.context_window and n_prompt + data.get("max_tokens", 0) > self.context_window:
            return await self._send(
                writer,
                400,
                {
                    "error": {
                        "message": f"This model's maximum context length is "
                        f"{self.context_window} tokens, you requested {n_prompt}"
                    }
                },
            )
        if data.get("max_tokens", 0) <= 1:  # the backend's calibration probe: billed, and counted apart
            action = {**action, "probe": True}
        return await self._act(action, chat, prompt, n_prompt, writer)

    async def _act(self, a: dict, chat: bool, prompt: str, n_prompt: int, writer) -> bool:
        if "stall" in a:
            await asyncio.sleep(a["stall"])
        if "status" in a:
            extra = {"Retry-After": a["retry_after"]} if "retry_after" in a else {}
            return await self._send(
                writer, a["status"], {"error": {"message": a.get("message", "scripted")}}, headers=extra
            )
        if a.get("reset"):
            writer.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"id":')
            await writer.drain()
            writer.transport.abort()  # RST mid-body
            return False
        if a.get("truncated"):
            writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{"choices": [{"mess')
            await writer.drain()
            return False  # closed cleanly before the announced length
        if a.get("malformed"):
            return await self._send(writer, 200, raw=b'{"choices": [{"message": {"content": "x"}')
        if a.get("empty_choices"):
            return await self._send(writer, 200, {"id": "x", "choices": [], "usage": {}})
        if "huge" in a:
            return await self._huge(writer, a["huge"], a.get("chunked", False))
        text = a.get("text") if "text" in a else self._answer(prompt)
        body = self._completion(chat, text, a.get("prompt_tokens", n_prompt), a.get("finish_reason", "stop"))
        if "reasoning_tokens" in a:
            usage = body["usage"]
            usage["completion_tokens"] += a["reasoning_tokens"]
            usage["completion_tokens_details"] = {"reasoning_tokens": a["reasoning_tokens"]}
        cached = self._cache_usage(body["usage"], prompt)
        self.billing.bill(
            body["usage"]["prompt_tokens"],
            body["usage"]["completion_tokens"],
            cached=cached,
            probe=a.get("probe", False),
        )
        return await self._send(writer, 200, body)

    def _cache_usage(self, usage: dict, prompt: str) -> int:
        """With caching, the cached tokens of `prompt`, reported in `usage` as OpenAI does; else 0."""
        if not self.caching:
            return 0
        cached = min(self._cached(prompt), usage["prompt_tokens"])
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
        return cached

    def _cached(self, prompt: str) -> int:
        """Tokens of `prompt` served from the cache: the leading 128-token blocks seen before (a block's
        digest chains every block before it, so only a repeated prefix matches). Remembers this prompt."""
        tokens = TOKEN.findall(prompt)
        if len(tokens) < CACHE_MIN:
            return 0
        digest, blocks = hashlib.sha256(), []
        for start in range(0, len(tokens) - CACHE_BLOCK + 1, CACHE_BLOCK):
            digest.update("\x00".join(tokens[start : start + CACHE_BLOCK]).encode())
            blocks.append(digest.hexdigest())
        hits = next((i for i, b in enumerate(blocks) if b not in self._blocks), len(blocks))
        self._blocks.update(blocks)
        return hits * CACHE_BLOCK

    def _batch_answer(self, data: dict) -> tuple[int, int, dict]:
        """A batch request's answer, as the synchronous endpoint gives it: (prompt tokens, completion
        tokens, response body)."""
        chat = "messages" in data
        prompt = "\n".join(m["content"] for m in data["messages"]) if chat else data["prompt"]
        n_prompt = count(prompt) + (4 * len(data["messages"]) + 3 if chat else 0)
        text = self._answer(prompt)
        body = self._completion(chat, text, n_prompt)
        return n_prompt, count(text), body, self._cache_usage(body["usage"], prompt), 0

    def _answer(self, prompt: str) -> str:
        if callable(self.answer):
            return self.answer(prompt)
        return oracle_answer(prompt) if self.answer == "oracle" else self.answer

    def _completion(self, chat: bool, text: str, n_prompt: int, finish_reason: str = "stop") -> dict:
        choice = {"index": 0, "finish_reason": finish_reason}
        choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
        return {
            "id": "cmpl-stub",
            "object": "chat.completion" if chat else "text_completion",
            "model": self.models[0],
            "choices": [choice],
            "usage": {
                "prompt_tokens": n_prompt,
                "completion_tokens": count(text),
                "total_tokens": n_prompt + count(text),
            },
        }

    async def _huge(self, writer, size: int, chunked: bool) -> bool:
        piece = b"x" * 65536
        if not chunked:
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        sent = 0
        try:
            while sent < size:
                part = piece[: min(len(piece), size - sent)]
                writer.write(part if not chunked else f"{len(part):x}\r\n".encode() + part + b"\r\n")
                await writer.drain()
                sent += len(part)
            if chunked:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except ConnectionError:
            return False
        return True


def main():
    import argparse
    import time

    p = argparse.ArgumentParser(description="Run the stub OpenAI-compatible server.")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--model", default="stub")
    p.add_argument("--price-in", type=float, default=0.0, help="USD per million prompt tokens billed")
    p.add_argument("--price-out", type=float, default=0.0, help="USD per million completion tokens billed")
    p.add_argument("--batch-discount", type=float, default=0.5)
    p.add_argument("--batch-delay", type=float, default=0.0, help="seconds before a batch completes")
    args = p.parse_args()
    server = StubServer(
        models=(args.model,),
        delay=args.delay,
        price_in=args.price_in,
        price_out=args.price_out,
        batch_discount=args.batch_discount,
        batch_delay=args.batch_delay,
    )
    server.port = args.port
    server.start()
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
