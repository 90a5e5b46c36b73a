"""`hashhop serve [MODEL]`: serve an `ltm` model over an OpenAI-compatible API (extra `serve`).

`hashhop serve` serves the built-in model (`ltm:builtin`) at http://127.0.0.1:8000/v1; MODEL may
be `ltm:PATH` (a checkpoint folder). `-M key=value` passes the ltm backend's options
(`attention=dense`, `top_k=N`, `threads=N`). See serve.py for the endpoints.

A command plugin (entry point group `hashhop.commands`), like `train`: this module imports neither
torch nor FastAPI, so the command is listed without the extra and names it when run.
"""

from __future__ import annotations

from hashhop.core.errors import HashhopError, require

_MB = 1 << 20


def _handler(args) -> int:
    require("fastapi", "serve")
    require("uvicorn", "serve")
    require("torch", "serve")
    from .serve import ServeConfig, run

    if not args.model.startswith("ltm:"):
        raise HashhopError(f"hashhop serve serves ltm models: MODEL is ltm:builtin or ltm:PATH, not {args.model!r}")
    for flag, value in (("--port", args.port), ("--max-body-mb", args.max_body_mb), ("--max-queue", args.max_queue)):
        if value < 1 or (flag == "--port" and value > 65535):
            raise HashhopError(f"{flag} {value} is out of range: give a positive number (a port up to 65535)")
    if args.max_context_tokens < 0 or args.cache_mb < 0:
        raise HashhopError("--max-context-tokens and --cache-mb take 0 or more")
    from hashhop.backends import parse_options

    options = parse_options(args.model_option)  # the same parsing as `hashhop eval -M`
    options.setdefault("cache_bytes", args.cache_mb * _MB)
    config = ServeConfig(args.model, args.name, args.max_body_mb * _MB, args.max_context_tokens, args.max_queue)
    run(config, args.host, args.port, options)
    return 0


def register(subparsers):
    """Add `serve` to the hashhop CLI (the entry point of group hashhop.commands)."""
    p = subparsers.add_parser(
        "serve",
        help="serve an ltm model over an OpenAI-compatible API (needs hashhop[serve])",
        description=__doc__.split("\n\n")[1],
    )
    p.add_argument("model", nargs="?", default="ltm:builtin", help="ltm:builtin (default) or ltm:PATH")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--name", default="ltm", help="the model id clients name (default ltm)")
    p.add_argument("--max-body-mb", type=int, default=1024, help="largest request body, in MiB (default 1024)")
    p.add_argument(
        "--max-context-tokens", type=int, default=0, help="largest prompt in the model's tokens (0: no limit)"
    )
    p.add_argument("--max-queue", type=int, default=64, help="requests that may wait for the model (more get 503)")
    p.add_argument("--cache-mb", type=int, default=2048, help="bytes of recently read prompts' keys kept, in MiB")
    p.add_argument(
        "-M", dest="model_option", action="append", default=[], metavar="KEY=VALUE", help="ltm backend option"
    )
    p.set_defaults(func=_handler)
    return p
