"""`hashhop eval`: evaluate a model on a grid of HashHop cells (or a dataset file), resumably.

Wires the stages: backend (registry) -> planner (sized samples, stored as recipes) -> runner
(asyncio, retries, rate limits) -> store (records.jsonl, results.json). Running the same command
again resumes: recorded queries are skipped, stored samples are rebuilt from their recipes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time

from hashhop import __version__
from hashhop.backends import get_backend, parse_options
from hashhop.cli.score import print_summary
from hashhop.core.errors import DatasetError, HashhopError, StoreError
from hashhop.evaluate.cost import check_budget, estimate, load_prices
from hashhop.evaluate.lmeval_fields import lm_eval_results
from hashhop.evaluate.runner import RunConfig, Runner, max_tokens_for
from hashhop.evaluate.store import RunStore, now_iso, read_results
from hashhop.evaluate.summary import git_hash, metrics, prefix_cache, token_check, versions
from hashhop.generate.sample import Query, Sample
from hashhop.generate.spec import parse_size
from hashhop.generate.tokenizers import get_tokenizer
from hashhop.prompt.planner import Planner, make_cell
from hashhop.prompt.template import DEFAULT_TEMPLATE, Template


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval",
        help="evaluate a model (resumable; see docs/evaluation.md)",
        description="Evaluate a model on HashHop. Run the same command again to resume.",
    )
    p.add_argument("--model", required=True, help="BACKEND:MODEL, e.g. openai:gpt-4o-mini, oracle, random")
    p.add_argument(
        "-M",
        "--model-arg",
        dest="model_args",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="backend option (repeatable), e.g. -M api=completions -M api_key_env=MY_KEY",
    )
    p.add_argument("--base-url", help="server URL for API backends, e.g. http://127.0.0.1:8080/v1")
    p.add_argument("--tokens", default="1K", help="whole-prompt sizes, comma-separated (default 1K)")
    p.add_argument("--hops", default="1", help="hop counts, comma-separated (default 1)")
    p.add_argument("--cot", action="store_true", help="chain of thought: ask for every hash on the way")
    p.add_argument("--samples", type=int, default=1, help="contexts per cell (default 1)")
    p.add_argument("--queries", type=int, default=1, help="queries per context (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--depth", help="depths of the queried chains, comma-separated fractions, e.g. 0.1,0.5")
    p.add_argument("--hash-len", type=int, default=16)
    p.add_argument("--alphabet", default="letters")
    p.add_argument("--format", default="plain", choices=("plain", "magic"))
    p.add_argument(
        "--tokenizer",
        help="size prompts in this tokenizer (default: the model's own if the backend can count, else chars)",
    )
    p.add_argument("--template", help="JSON file of template fields (system, user, question_cot, ...)")
    p.add_argument("--dataset", help="evaluate the samples of this hashhop JSONL file instead of a grid")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per request (default 300)")
    p.add_argument("--retries", type=int, default=4, help="retries after a transient failure (default 4)")
    p.add_argument("--backoff", type=float, default=1.0, help="first retry wait in seconds (doubles, jittered)")
    p.add_argument("--max-tokens", type=int, help="completion budget per query (default: room for the answer)")
    p.add_argument("--on-over-length", choices=("record", "stop"), default="record")
    p.add_argument("--dry-run", action="store_true", help="print the token and cost estimate; call nothing")
    p.add_argument("--max-cost", type=float, help="stop before the spend could cross this many USD")
    p.add_argument("--price-in", type=float, help="USD per million prompt tokens")
    p.add_argument("--price-out", type=float, help="USD per million completion tokens")
    p.add_argument("--pricing", help="pricing file (TOML or JSON): model -> {input, output}")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    p.add_argument("-o", "--output", required=True, help="run folder, e.g. runs/NAME")
    p.set_defaults(func=main)


def _list(text: str | None, kind, what: str) -> list:
    if text is None:
        return [None]
    try:
        return [kind(x) for x in text.split(",") if x.strip()]
    except (ValueError, HashhopError) as exc:
        raise HashhopError(f"bad --{what} {text!r}: use comma-separated values, e.g. --{what} 1,2") from exc


def _cells(args, tokenizer_name: str) -> list[dict]:
    tokens, hops = _list(args.tokens, parse_size, "tokens"), _list(args.hops, int, "hops")
    depths = _list(args.depth, float, "depth")
    return [
        make_cell(t, h, args.cot, d, args.seed, tokenizer_name, args.hash_len, args.alphabet, args.format)
        for t in tokens
        for h in hops
        for d in depths
    ]


def read_dataset(path: str) -> list[Sample]:
    """Samples of a hashhop JSONL or Parquet file; anything else is a DatasetError naming the line."""
    from hashhop.generate.dataset import read_samples

    samples = list(read_samples(path))
    if not samples:
        raise DatasetError(f"{path} holds no samples: generate one with `hashhop generate`")
    return samples


def _dry_run(args, template: Template) -> int:
    prices = load_prices(args.model, args.price_in, args.price_out, args.pricing)
    rows = []
    if args.dataset:
        for s in read_dataset(args.dataset):
            rows.append(
                (
                    s.n_tokens,
                    len(s.queries),
                    max(max_tokens_for(q, s.spec.hash_len, args.max_tokens) for q in s.queries),
                )
            )
    else:
        for cell in _cells(args, args.tokenizer or "model"):
            q = Query(0, ("a",) * (cell["hops"] + 1), 0, cell["hops"], cell["cot"])
            rows.append(
                (cell["tokens"], args.queries * args.samples, max_tokens_for(q, cell["hash_len"], args.max_tokens))
            )
    print(f"dry run, nothing called: {estimate(rows, prices).line()}")
    return 0


_SECRET = ("key", "token", "secret", "password")


def _redact(options: dict) -> dict:
    """Options as recorded: anything that looks like a credential is masked (names of env vars stay)."""
    return {
        k: ("<redacted>" if any(s in k.lower() for s in _SECRET) and not k.endswith("_env") else v)
        for k, v in options.items()
    }


def _config(args, backend, template: Template, tokenizer_name: str) -> dict:
    options = _redact(backend.options() if hasattr(backend, "options") else parse_options(args.model_args))
    keep = (
        "tokens",
        "hops",
        "cot",
        "samples",
        "queries",
        "seed",
        "depth",
        "hash_len",
        "alphabet",
        "format",
        "dataset",
        "concurrency",
        "timeout",
        "retries",
        "max_tokens",
        "on_over_length",
        "max_cost",
        "price_in",
        "price_out",
        "pricing",
    )
    return {
        "model": backend.name,
        "model_spec": args.model,
        "options": options,
        "tokenizer": tokenizer_name,
        "model_args": ",".join(f"{k}={v}" for k, v in options.items()),
        **{k: getattr(args, k) for k in keep},
    }


def _check_same_run(run_dir: str, model: str, tokenizer: str) -> None:
    """A resumed run must be the same model, sized in the same tokens (else cells would mix)."""
    if not os.path.exists(os.path.join(run_dir, "results.json")):
        return
    config = read_results(run_dir).get("config", {})
    if config.get("model") and config["model"] != model:
        raise StoreError(f"{run_dir} holds a run of {config['model']}, not {model}: choose another -o")
    if config.get("tokenizer") and config["tokenizer"] != tokenizer:
        raise StoreError(
            f"{run_dir} sized prompts in {config['tokenizer']}, this run in {tokenizer}: pass "
            f"--tokenizer {config['tokenizer']} (or restore the server's tokenize endpoint) "
            f"or choose another -o"
        )


def _counter(args, backend):
    """(tokenizer name, tokenizer, model counter, overhead): the model's own tokens when it can count."""
    if args.tokenizer:
        return args.tokenizer, get_tokenizer(args.tokenizer), None, 0
    if backend.count_tokens("a = b") is not None:
        return f"model:{backend.name}", None, backend.count_tokens, int(getattr(backend, "chat_overhead", 0) or 0)
    return "chars", get_tokenizer("chars"), None, 0


def _is_chat(backend) -> bool:
    """Whether the backend sends chat messages (their contents are what its tokenizer sees)."""
    return getattr(backend, "api", None) == "chat" or getattr(backend, "chat", None) is True


def _open_backend(args):
    options = parse_options(args.model_args)
    if args.base_url:
        options["base_url"] = args.base_url
    return get_backend(args.model, **options)


async def _prepare(args, backend) -> tuple:
    """Preflight (a one-line error before anything is sized or written), then how prompts are sized:
    (tokenizer name, tokenizer, model counter, chat overhead)."""
    check = getattr(backend, "check", None)
    if check is not None:
        await check()
    return await asyncio.to_thread(_counter, args, backend)


def _build_run(args, template: Template, store, backend, sizing: tuple):
    """(runner, plans, queries in the grid or dataset)."""
    name, tokenizer, count, overhead = sizing
    prices = load_prices(args.model, args.price_in, args.price_out, args.pricing)
    run_config = RunConfig(
        concurrency=max(1, args.concurrency),
        timeout=args.timeout,
        retries=args.retries,
        backoff=args.backoff,
        max_tokens=args.max_tokens,
        on_over_length=args.on_over_length,
        max_cost=args.max_cost,
        prices=prices,
        template=template,
        progress=sys.stderr.isatty() if args.progress is None else args.progress,
        seed=args.seed,
    )
    runner = Runner(backend, store, run_config, model_counted=count is not None)
    planner = Planner(store, template, args.queries, tokenizer, count, overhead, _is_chat(backend))
    if args.dataset:
        samples = read_dataset(args.dataset)
        plans = (p for i, s in enumerate(samples) if (p := planner.plan_sample(s, i)) is not None)
        total = sum(len(s.queries) for s in samples)
    else:
        cells = _cells(args, name)
        plans = planner.plans(cells, args.samples)
        total = len(cells) * args.samples * args.queries
    return runner, plans, total


async def _evaluate(args, template: Template, store: RunStore) -> int:
    backend = _open_backend(args)
    started, t0 = now_iso(), time.monotonic()
    runner = None
    try:
        sizing = await _prepare(args, backend)
        _check_same_run(store.dir, backend.name, sizing[0])
        config = _config(args, backend, template, sizing[0])
        runner, plans, total = _build_run(args, template, store, backend, sizing)
        _write_results(store, config, template, started, t0, runner, partial=True)
        await runner.run(plans, max(0, total - len(store.done)), check=False)
        # Every plan ran to the end unless the run stopped (budget): then some queries were not sent.
        _write_results(store, config, template, started, t0, runner, partial=bool(runner.stopped))
        if runner.stopped:
            print(f"stopped: {runner.stopped}; raise the limit and run the same command to resume", file=sys.stderr)
        return 0
    except BaseException:
        if runner is not None:
            # Best effort: when the disk is full this fails too, and the first error is the one to show.
            with contextlib.suppress(OSError, HashhopError):
                _write_results(store, config, template, started, t0, runner, partial=True)
        raise
    finally:
        await backend.aclose()


def _write_results(
    store: RunStore, config: dict, template: Template, started: str, t0: float, runner: Runner, partial: bool
) -> None:
    records = store.records
    wall = time.monotonic() - t0
    store.write_results(
        {
            "config": config,
            "versions": versions(),
            "git_hash": git_hash(),
            "tokenizer": config["tokenizer"],
            "template": template.to_dict(),
            "timing": {
                "started": started,
                "updated": now_iso(),
                "wall_s": round(wall, 3),
                "requests": runner.requests,
                "requests_per_s": round(runner.requests / wall, 3) if wall else None,
                "prefix_cache": prefix_cache(records),
            },
            "concurrency": {
                "max": runner.config.concurrency,
                "min_reached": runner.limiter.min_seen if runner.limiter else runner.config.concurrency,
                "rate_limit_cuts": runner.limiter.cuts if runner.limiter else 0,
            },
            "cost": {
                "usd": round(sum(r.cost_usd or 0.0 for r in records), 6),
                "prompt_tokens": sum(r.prompt_tokens or 0 for r in records),
                "completion_tokens": sum(r.completion_tokens or 0 for r in records),
            },
            "token_check": token_check(records, store.samples),
            "metrics": metrics(records),
            "partial": partial,
            "stopped": runner.stopped,
            # lm-evaluation-harness field names, where they overlap:
            **lm_eval_results(records),
            "model_name": config["model"],
            "hashhop_version": __version__,
            "total_evaluation_time_seconds": str(round(wall, 3)),
        }
    )


def main(args) -> int:
    template = Template.load(args.template) if args.template else DEFAULT_TEMPLATE
    check_budget(args.max_cost, load_prices(args.model, args.price_in, args.price_out, args.pricing), args.model)
    if args.dry_run:
        return _dry_run(args, template)
    if args.samples < 1 or args.queries < 1 or args.concurrency < 1:
        raise HashhopError("--samples, --queries and --concurrency must be at least 1")
    with RunStore(args.output) as store:
        code = asyncio.run(_evaluate(args, template, store))
        print_summary(read_results(store.dir), file=sys.stdout)
    return code
