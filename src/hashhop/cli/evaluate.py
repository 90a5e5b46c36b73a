"""`hashhop eval`: evaluate one model on a grid of HashHop cells (or a dataset file), resumably.

Its flags make a one-model `Job`, which the local executor runs exactly as `hashhop bench` runs
each of its models (backend -> planner -> runner -> store -> results.json). Running the same
command again resumes: recorded queries are skipped, stored samples are rebuilt from their recipes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from hashhop.backends import parse_options
from hashhop.bench.executors import local
from hashhop.bench.executors.local import read_dataset
from hashhop.bench.job import Job
from hashhop.bench.model_entry import ModelEntry
from hashhop.bench.suites import FALLBACK_TOKENIZER, Grid
from hashhop.cli.costing import cache_price_flags, forecast_lines
from hashhop.cli.score import print_summary
from hashhop.core.errors import HashhopError
from hashhop.evaluate.cost import check_budget, estimate
from hashhop.evaluate.coverage import COVERAGE_EXIT, check_fraction, shortfall
from hashhop.evaluate.runner import answer_budget
from hashhop.evaluate.store import read_results
from hashhop.generator.spec import DEFAULT_ORDER, parse_size
from hashhop.prompt.template import DEFAULT_TEMPLATE, Template


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval",
        help="evaluate a model (resumable; see docs/evaluation.md)",
        description="Evaluate a model on HashHop. Run the same command again to resume.",
    )
    _model_flags(p)
    _grid_flags(p)
    _run_flags(p)
    _cost_flags(p)
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    p.add_argument("-o", "--output", required=True, help="run folder, e.g. runs/NAME")
    p.set_defaults(func=main)


def _model_flags(p: argparse.ArgumentParser) -> None:
    """The model and how to reach it."""
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


def _grid_flags(p: argparse.ArgumentParser) -> None:
    """The cells asked (or a dataset file instead), how they are sized and the template around them."""
    p.add_argument("--tokens", default="1K", help="whole-prompt sizes, comma-separated (default 1K)")
    p.add_argument("--hops", default="1", help="hop counts, comma-separated (default 1)")
    p.add_argument("--cot", action="store_true", help="chain of thought: ask for every hash on the way")
    p.add_argument("--samples", type=int, default=1, help="contexts per cell (default 1)")
    p.add_argument("--queries", type=int, default=1, help="queries per context (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--depth", help="depths of the queried chains, comma-separated fractions, e.g. 0.1,0.5")
    p.add_argument("--order", help="link orders, comma-separated: shuffled (default), forward, backward")
    p.add_argument("--hash-len", type=int, default=16)
    p.add_argument("--alphabet", default="letters")
    p.add_argument("--format", default="plain", choices=("plain", "magic"))
    p.add_argument("--task", default="hashhop", help="hashhop, niah or niah-multikey; comma-separated for several")
    p.add_argument(
        "--tokenizer",
        help=f"size prompts in this tokenizer (default: the model's own if the backend can count, else "
        f"{FALLBACK_TOKENIZER})",
    )
    p.add_argument(
        "--template", help="`magic` (Magic's completion layout) or a JSON file of template fields (system, user, ...)"
    )
    p.add_argument(
        "--dataset",
        help="evaluate the samples of this file instead of a grid: hashhop JSONL/Parquet, Magic's reference "
        "JSONL (prompt, completion, targets), or {prompt, answer} / {prompt, start, hops, answer} JSONL",
    )
    p.add_argument(
        "--skip-invalid",
        action="store_true",
        help="evaluate a dataset's valid samples and count the invalid ones (default: refuse the file)",
    )


def _run_flags(p: argparse.ArgumentParser) -> None:
    """How requests are sent: concurrency, timeouts, retries, the answer budget, over-length prompts."""
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per request (default 300)")
    p.add_argument("--retries", type=int, default=4, help="retries after a transient failure (default 4)")
    p.add_argument("--backoff", type=float, default=1.0, help="first retry wait in seconds (doubles, jittered)")
    p.add_argument("--max-tokens", type=int, help="completion budget per query (default: room for the answer)")
    p.add_argument("--on-over-length", choices=("record", "stop"), default="record")
    p.add_argument(
        "--min-coverage",
        type=float,
        metavar="FRACTION",
        help=f"exit {COVERAGE_EXIT} when fewer than this share of the queries were scored (default: no minimum)",
    )
    p.add_argument("--batch-poll", type=float, default=5.0, help="--batch: first wait between polls, s (default 5)")


def _cost_flags(p: argparse.ArgumentParser) -> None:
    """The estimate (--dry-run) and the spend limit with the prices it is computed from."""
    p.add_argument("--dry-run", action="store_true", help="print the token and cost estimate; call nothing")
    p.add_argument("--max-cost", type=float, help="stop before the spend could cross this many USD")
    p.add_argument("--price-in", type=float, help="USD per million prompt tokens")
    p.add_argument("--price-out", type=float, help="USD per million completion tokens")
    p.add_argument(
        "--pricing", help="pricing file (TOML or JSON): model -> {input, output, cached, cache_write, batch_discount}"
    )
    cache_price_flags(p)
    p.add_argument(
        "--share-contexts",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="one context for the hop counts and modes asked (default off: each cell its own contexts)",
    )
    batch_flags(p)


def batch_flags(p: argparse.ArgumentParser) -> None:
    """--batch and its price (shared by eval and bench)."""
    p.add_argument(
        "--batch",
        action="store_true",
        help="send the queries through the provider's batch API (openai, anthropic): about half the price, "
        "answers within 24 h; a killed run resumes its batches",
    )
    p.add_argument(
        "--batch-discount",
        type=float,
        metavar="FRACTION",
        help="batch price / synchronous price (default: the pricing file's batch_discount, else 0.5)",
    )


def _list(text: str | None, kind: Callable[[str], Any], what: str) -> tuple[Any, ...]:
    if text is None:
        return (None,)
    try:
        return tuple(kind(x) for x in text.split(",") if x.strip())
    except (ValueError, HashhopError) as exc:
        raise HashhopError(f"bad --{what} {text!r}: use comma-separated values, e.g. --{what} 1,2") from exc


def _grid(args) -> Grid:
    """The eval's grid: the bench vocabulary with one mode, seed, hash length and alphabet."""
    return Grid(
        lengths=_list(args.tokens, parse_size, "tokens"),
        hops=_list(args.hops, int, "hops"),
        cot=(args.cot,),
        depths=_list(args.depth, float, "depth"),
        orders=tuple(_list(args.order, str, "order")) if args.order else (DEFAULT_ORDER,),
        seeds=(args.seed,),
        hash_lens=(args.hash_len,),
        alphabets=(args.alphabet,),
        format=args.format,
        samples=args.samples,
        queries=args.queries,
        tasks=tuple(_list(args.task, str, "task")),
    )


def _job(args, template: Template) -> Job:
    """`hashhop eval` is a one-model Job, run like any bench job by the local executor."""
    options = parse_options(args.model_args)
    if args.base_url:
        options["base_url"] = args.base_url
    entry = ModelEntry(
        model=args.model,
        options=options,
        concurrency=args.concurrency,
        price_in=args.price_in,
        price_out=args.price_out,
        price_cached=args.price_cached,
        price_cache_read=args.price_cache_read,
        price_cache_write=args.price_cache_write,
        max_cost=args.max_cost,
        timeout=args.timeout,
        retries=args.retries,
        max_tokens=args.max_tokens,
        backoff=args.backoff,
        pricing=args.pricing,
        batch=args.batch,
        batch_discount=args.batch_discount,
        batch_poll=args.batch_poll,
    )
    return Job(
        entry=entry,
        grid=_grid(args),
        tag=None,
        run_dir=args.output,
        template=template,
        progress=sys.stderr.isatty() if args.progress is None else args.progress,
        tokenizer=args.tokenizer,
        dataset=args.dataset,
        skip_invalid=args.skip_invalid,
        on_over_length=args.on_over_length,
        share_contexts=args.share_contexts,
    )


def _dry_run(job: Job) -> int:
    """Print the token and cost estimate of the job's grid or dataset. Calls nothing."""
    configured = job.entry.max_tokens
    if job.dataset:
        rows = [
            (
                s.n_tokens,
                len(s.queries),
                max(answer_budget(q.hops, q.cot, s.spec.hash_len, configured) for q in s.queries),
            )
            for s in read_dataset(job.dataset, job.skip_invalid)[0]
        ]
    else:
        per_cell = job.grid.samples * job.grid.queries
        rows = [
            (c.tokens, per_cell, answer_budget(c.hops, c.cot, c.hash_len, configured))
            for c in job.cells(job.tokenizer or "model")
        ]
    batch = " at batch prices" if job.entry.batch else ""
    print(f"dry run, nothing called: {estimate(rows, job.prices).line()}{batch}")
    if not job.dataset:
        cells = job.cells(job.tokenizer or "model")
        for line in forecast_lines(cells, job.grid.samples, job.grid.queries, job.entry, job.share_contexts):
            print(line)
    return 0


def main(args) -> int:
    template = Template.load(args.template) if args.template else DEFAULT_TEMPLATE
    job = _job(args, template)
    check_budget(args.max_cost, job.prices, args.model)
    check_fraction(args.min_coverage)
    if not args.dry_run and (args.samples < 1 or args.queries < 1 or args.concurrency < 1):
        raise HashhopError("--samples, --queries and --concurrency must be at least 1")
    if args.dry_run:
        return _dry_run(job)
    local.run([job])
    results = read_results(job.run_dir)
    if results.get("stopped"):
        print(f"stopped: {results['stopped']}; raise the limit and run the same command to resume", file=sys.stderr)
    print_summary(results, file=sys.stdout)
    short = shortfall(results.get("metrics") or {}, args.min_coverage)
    if short:  # results.json is written: the run stays resumable and reportable
        print(f"error: {short}", file=sys.stderr)
        return COVERAGE_EXIT
    return 0
