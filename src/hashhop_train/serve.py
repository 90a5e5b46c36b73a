"""`hashhop serve`: an `ltm` model behind an OpenAI-compatible HTTP API (FastAPI on uvicorn).

Endpoints: `GET /v1/models`, `POST /v1/chat/completions`, `POST /v1/completions` (usage in the
model's own tokens, its segments, and `finish_reason`), `POST /tokenize` and `/v1/tokenize`
(`{"count", "tokens", "max_model_len"}`: the tokens are the segments' texts, so a harness sizes
prompts in the model's units), `GET /health` (with the reader cache's counters).

Every generation goes through the same `LtmBackend.generate` as an in-process `ltm` run, so the
answers are equal. The backend keeps the keys of recent prompts (a byte-bounded cache): a second
question on the same context reuses its keys. One generation runs at a time; others wait in a
bounded queue (503 when it is full). Bad input gets an OpenAI-style JSON error with a 4xx status
and the server keeps serving; uvicorn shuts down cleanly on SIGTERM.
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations at definition.
import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass

from hashhop.core.errors import HashhopError, OverLength, require

from .serve_protocol import ApiError, Generation, chat_generation, completion_generations, json_bytes, read_json


@dataclass(frozen=True)
class ServeConfig:
    """What `hashhop serve` was started with."""

    model: str = "ltm:builtin"  # the backend spec: ltm:builtin or ltm:PATH
    name: str = "ltm"  # the id /v1/models lists; requests may name it or `model`
    max_body_bytes: int = 1 << 30
    max_context_tokens: int = 0  # segments; 0: no limit but the body's
    max_queue: int = 64  # generations waiting; more get 503


class Service:
    """The backend, its queue and the limits: what the HTTP handlers call."""

    def __init__(self, backend, config: ServeConfig):
        self.backend, self.config = backend, config
        self.names = {config.name, config.model, backend.name}
        self._turn = asyncio.Lock()  # one generation at a time: memory stays that of one context
        self._waiting = 0

    def check_model(self, model: str | None) -> None:
        if model is not None and model not in self.names:
            raise ApiError(
                404,
                f"model {model!r} is not served here; this server serves {self.config.name!r}",
                "model_not_found",
                "model",
            )

    def count(self, text: str) -> int:
        return int(self.backend.count_tokens(text))

    def check_context(self, n_tokens: int) -> None:
        limit = self.config.max_context_tokens
        if limit and n_tokens > limit:
            raise ApiError(
                400,
                f"this model's maximum context length is {limit} tokens, but the prompt has {n_tokens} "
                f"(hashhop serve --max-context-tokens)",
                "context_length_exceeded",
                "messages",
            )

    async def generate(self, gen: Generation) -> dict:
        """One choice: {text, finish_reason, prompt_tokens, completion_tokens}."""
        from .backend import prompt_text

        self.check_model(gen.model)
        text = prompt_text(gen.request)
        n_prompt = self.count(text)
        self.check_context(n_prompt)
        if self._waiting >= self.config.max_queue:
            raise ApiError(503, f"{self._waiting} requests are already waiting: retry later", "server_busy")
        self._waiting += 1
        try:
            async with self._turn:
                completion = await self.backend.generate(gen.request)
        except OverLength as exc:
            raise ApiError(400, f"the prompt exceeds what the model reads: {exc}", "context_length_exceeded") from None
        except HashhopError as exc:
            raise ApiError(500, f"the model failed: {exc}", "model_error") from None
        finally:
            self._waiting -= 1
        answer, reason = self._end(completion.text, gen)
        return {
            "text": answer,
            "finish_reason": reason,
            "prompt_tokens": n_prompt,
            "completion_tokens": self.count(answer),
        }

    def _end(self, text: str, gen: Generation) -> tuple[str, str]:
        """The answer cut at the first stop string, then at `max_tokens` segments."""
        from .segments import segment_starts

        cuts = [text.find(s) for s in gen.stop if s in text]
        if cuts:
            return text[: min(cuts)], "stop"
        starts = segment_starts(text)
        if gen.max_tokens is not None and len(starts) > gen.max_tokens:
            return text.encode("utf-8")[: starts[gen.max_tokens]].decode("utf-8").rstrip(), "length"
        return text, "stop"

    def health(self) -> dict:
        cache = self.backend.readers
        return {
            "status": "ok",
            "model": self.config.name,
            "waiting": self._waiting,
            "cache": {"readers": len(cache), "bytes": cache.nbytes, "max_bytes": cache.max_bytes,
                      "hits": cache.hits, "reuses": cache.reuses, "misses": cache.misses},
        }  # fmt: skip


def _usage(choices: list[dict]) -> dict:
    p = sum(c["prompt_tokens"] for c in choices)
    c = sum(c["completion_tokens"] for c in choices)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def chat_body(choice: dict, name: str) -> dict:
    message = {"role": "assistant", "content": choice["text"]}
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()), "model": name,
        "choices": [{"index": 0, "message": message, "finish_reason": choice["finish_reason"], "logprobs": None}],
        "usage": _usage([choice]),
    }  # fmt: skip


def completion_body(choices: list[dict], name: str) -> dict:
    listed = [
        {"index": i, "text": c["text"], "finish_reason": c["finish_reason"], "logprobs": None}
        for i, c in enumerate(choices)
    ]
    return {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()),
            "model": name, "choices": listed, "usage": _usage(choices)}  # fmt: skip


def chat_stream(body: dict):
    """The chat completion as server-sent events: the whole answer in one delta, then [DONE]."""
    choice = body["choices"][0]
    base = {k: body[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    first = {"index": 0, "delta": {"role": "assistant", "content": choice["message"]["content"]}, "finish_reason": None}
    last = {"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}
    for chunk in ({**base, "choices": [first]}, {**base, "choices": [last], "usage": body["usage"]}):
        yield b"data: " + json_bytes(chunk) + b"\n\n"
    yield b"data: [DONE]\n\n"


def create_app(service: Service):
    """The FastAPI application around `service`."""
    fastapi = require("fastapi", "serve")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await service.backend.aclose()  # after the last request in flight (SIGTERM, SIGINT)
        print("hashhop serve: stopped cleanly", flush=True)

    app = fastapi.FastAPI(title="hashhop serve", docs_url=None, redoc_url=None, lifespan=lifespan)
    _error_handlers(app)
    _info_routes(app, service)
    _generation_routes(app, service)
    return app


def reply(obj: dict, status: int = 200):
    from fastapi.responses import Response

    return Response(json_bytes(obj), status_code=status, media_type="application/json")


def _error_handlers(app) -> None:
    """Every error is OpenAI's error object: the client's (4xx) and the server's own (500)."""

    @app.exception_handler(ApiError)
    async def api_error(request, exc: ApiError):
        return reply(exc.body(), exc.status)

    @app.exception_handler(Exception)
    async def server_error(request, exc: Exception):  # a bug: say so as JSON, keep serving
        return reply(ApiError(500, f"internal error ({type(exc).__name__}: {exc})", "internal_error").body(), 500)

    @app.exception_handler(404)
    async def not_found(request, exc):
        return reply(ApiError(404, f"no endpoint {request.method} {request.url.path}", "not_found").body(), 404)

    @app.exception_handler(405)
    async def bad_method(request, exc):
        message = f"{request.method} is not allowed on {request.url.path}"
        return reply(ApiError(405, message, "method_not_allowed").body(), 405)


async def _body(service: Service, request) -> dict:
    return await read_json(request.stream(), request.headers.get("content-length"), service.config.max_body_bytes)


def _info_routes(app, service: Service) -> None:
    """/health, /v1/models, /tokenize and /v1/tokenize."""
    from fastapi import Request as HttpRequest

    from .segments import segment_pieces
    from .serve_protocol import tokenize_text

    limit = service.config.max_context_tokens or None

    @app.get("/health")
    async def health():
        return reply(service.health())

    @app.get("/v1/models")
    async def models():
        entry = {
            "id": service.config.name,
            "object": "model",
            "created": 0,
            "owned_by": "hashhop",
            "max_model_len": limit,
        }
        return reply({"object": "list", "data": [entry]})

    @app.post("/tokenize")
    @app.post("/v1/tokenize")
    async def tokenize(request: HttpRequest):
        body = await _body(service, request)
        service.check_model(body.get("model") if isinstance(body.get("model"), str) else None)
        pieces = segment_pieces(tokenize_text(body))
        return reply({"count": len(pieces), "tokens": pieces, "max_model_len": limit})


def _generation_routes(app, service: Service) -> None:
    """/v1/chat/completions (streamed on request) and /v1/completions."""
    from fastapi import Request as HttpRequest
    from fastapi.responses import StreamingResponse

    @app.post("/v1/chat/completions")
    async def chat(request: HttpRequest):
        gen = chat_generation(await _body(service, request))
        body = chat_body(await service.generate(gen), service.config.name)
        return StreamingResponse(chat_stream(body), media_type="text/event-stream") if gen.stream else reply(body)

    @app.post("/v1/completions")
    async def completions(request: HttpRequest):
        gens = completion_generations(await _body(service, request))
        if any(g.stream for g in gens):
            raise ApiError(400, "'stream' is taken by /v1/chat/completions only", "invalid_stream", "stream")
        return reply(completion_body([await service.generate(g) for g in gens], service.config.name))


def run(config: ServeConfig, host: str, port: int, options: dict) -> None:
    """Load the model, then serve until SIGINT or SIGTERM (uvicorn finishes requests in flight)."""
    uvicorn = require("uvicorn", "serve")
    require("fastapi", "serve")
    from .backend import create

    spec = config.model.removeprefix("ltm:")
    service = Service(create(spec, **options), config)
    print(f"hashhop serve: {service.backend.name} as {config.name!r} on http://{host}:{port}/v1", flush=True)
    uvicorn.run(create_app(service), host=host, port=port, log_level="warning", timeout_graceful_shutdown=30)
