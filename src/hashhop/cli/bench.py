"""`hashhop bench`: the main job. Grid (a suite or a sweep file) -> evaluate -> score -> HTML report.

Wires suites/sweep files to the executors (local or Ray) and the report package. Every model gets
its own run folder under -o (`runs/NAME/<model>/`), the report goes to `runs/NAME/report.html`, and
`runs/NAME/bench.json` records what grid the folder holds. Running the same command again resumes.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from hashhop.backends import parse_options
from hashhop.bench.executors import EXECUTORS, Job, run
from hashhop.bench.job import entry_prices
from hashhop.bench.model_entry import ModelEntry
from hashhop.bench.suites import FALLBACK_TOKENIZER, get_suite, list_suites
from hashhop.bench.sweep import Sweep, load_sweep
from hashhop.cli.costing import cache_price_flags, dry_run
from hashhop.cli.evaluate import batch_flags
from hashhop.core.errors import HashhopError, StoreError
from hashhop.evaluate.cost import check_budget
from hashhop.evaluate.coverage import BENCH_MIN_COVERAGE, COVERAGE_EXIT, check_fraction, run_shortfalls
from hashhop.evaluate.store import now_iso, read_results, write_json_atomic
from hashhop.prompt.template import DEFAULT_TEMPLATE, Template

DEFAULT_MODEL = "ltm:builtin"
DEFAULT_SUITE = "quick"
MANIFEST = "bench.json"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench",
        help="the main job: evaluate, score and report a suite or sweep",
        description="Evaluate a model on a suite (default quick) or a sweep file, score it and "
        "write runs/NAME/report.html. Run the same command again to resume.",
    )
    _model_flags(p)
    _grid_flags(p)
    _run_flags(p)
    p.add_argument("-o", "--output", help="run folder, e.g. runs/quick")
    p.set_defaults(func=main)


def _model_flags(p: argparse.ArgumentParser) -> None:
    """The model --model adds (or puts in place of a sweep file's), and its limits."""
    p.add_argument(
        "--model",
        help=f"BACKEND:MODEL (default {DEFAULT_MODEL}, the built-in trained model); "
        "replaces the models of a sweep file",
    )
    p.add_argument(
        "-M",
        "--model-arg",
        dest="model_args",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="backend option for --model (repeatable), e.g. -M api_key_env=MY_KEY",
    )
    p.add_argument("--base-url", help="server URL for --model, e.g. http://127.0.0.1:8080/v1")
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight for --model (default 8)")
    p.add_argument("--price-in", type=float, help="USD per million prompt tokens for --model")
    p.add_argument("--price-out", type=float, help="USD per million completion tokens for --model")
    cache_price_flags(p)
    p.add_argument(
        "--max-cost",
        type=float,
        metavar="USD",
        help="per model: send nothing that could take its run folder's spend past this (resumed runs "
        "count); replaces max_cost in a sweep file",
    )
    batch_flags(p)  # for every model: sets batch (and batch_discount) of a sweep file's models too


def _grid_flags(p: argparse.ArgumentParser) -> None:
    """What is asked: a suite or a sweep file, sized in which tokenizer, through which template."""
    grid = p.add_mutually_exclusive_group()
    grid.add_argument("--suite", help="shipped suite: quick (default), standard, magic, extreme")
    grid.add_argument("--sweep", metavar="FILE", help="sweep file (TOML, or YAML with PyYAML): see docs/bench.md")
    p.add_argument("--list-suites", action="store_true", help="print the shipped suites and exit")
    p.add_argument(
        "--tokenizer",
        help=f"size prompts in this tokenizer (default: the model's own if it can count, else {FALLBACK_TOKENIZER})",
    )
    p.add_argument("--template", help="`magic` or a JSON file of template fields (see docs/evaluation.md)")
    p.add_argument(
        "--share-contexts",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="one context for the cells that differ only in hops and mode (default: on for suites, "
        "a sweep file's share_contexts, else off)",
    )


def _run_flags(p: argparse.ArgumentParser) -> None:
    """Where and how it runs, and what the report shows."""
    p.add_argument("--executor", choices=EXECUTORS, default="local", help="where to run (default local)")
    p.add_argument("--address", help="Ray cluster to join, e.g. auto or 10.0.0.1:6379 (default: start a local one)")
    p.add_argument("--workers", type=int, help="Ray workers per model (default: the cluster's CPUs)")
    p.add_argument("--dry-run", action="store_true", help="list the cells, token counts and cost; call nothing")
    p.add_argument("--threshold", type=float, default=0.9, help="effective length threshold (default 0.9)")
    p.add_argument(
        "--min-coverage",
        type=float,
        metavar="FRACTION",
        help=f"exit {COVERAGE_EXIT} when a model scored fewer than this share of its queries (default: the sweep "
        f"file's min_coverage, else {BENCH_MIN_COVERAGE})",
    )
    p.add_argument("--no-figures", action="store_true", help="report tables only (no matplotlib needed)")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal; local executor)",
    )


def _cli_model(args) -> ModelEntry:
    options = parse_options(args.model_args)
    if args.base_url:
        options["base_url"] = args.base_url
    if args.concurrency < 1:
        raise HashhopError("--concurrency must be at least 1")
    return ModelEntry(
        model=args.model or DEFAULT_MODEL,
        options=options,
        concurrency=args.concurrency,
        price_in=args.price_in,
        price_out=args.price_out,
        price_cached=args.price_cached,
        price_cache_read=args.price_cache_read,
        price_cache_write=args.price_cache_write,
    )


DENSE_TWIN_SEGMENTS = 4096


def _default_models(args) -> tuple[ModelEntry, ...]:
    """No --model: the built-in model and its dense twin (same weights), linear against quadratic cost.
    The twin reads up to DENSE_TWIN_SEGMENTS segments (16K tokens): past that, every query re-reads its
    context quadratically (18 s a query at 64K on 2 cores) and the two-minute budget would be gone; it
    records those prompts as over_length, with the reason."""
    sparse = _cli_model(args)
    options = {**sparse.options, "attention": "dense", "max_dense_segments": DENSE_TWIN_SEGMENTS}
    # Its over_length records are the limit above, by design: they do not fail the run's coverage.
    dense = dataclasses.replace(sparse, options=options, name=f"{sparse.folder}-dense", min_coverage=0.0)
    return (sparse, dense)


def resolve(args) -> Sweep:
    """The grid and models of this run: a sweep file or a suite, with --model replacing the models."""
    if args.sweep:
        sweep = load_sweep(args.sweep)
    else:
        suite = get_suite(args.suite or DEFAULT_SUITE)
        sweep = Sweep(suite.name, suite.tag, suite.grid, (), share_contexts=suite.share_contexts)
    if args.model or not sweep.models:
        models = (_cli_model(args),) if args.model or args.sweep else _default_models(args)
        sweep = dataclasses.replace(sweep, models=models)  # keeps the file's min_coverage
    replace = {"max_cost": args.max_cost, "batch": args.batch or None, "batch_discount": args.batch_discount}
    replace = {k: v for k, v in replace.items() if v is not None}
    if replace:
        sweep = dataclasses.replace(sweep, models=tuple(dataclasses.replace(m, **replace) for m in sweep.models))
    if args.share_contexts is not None:
        sweep = dataclasses.replace(sweep, share_contexts=args.share_contexts)
    for m in sweep.models:
        check_budget(m.max_cost, entry_prices(m), m.model)
    return sweep


def jobs_of(sweep: Sweep, out: str, args) -> list[Job]:
    template = Template.load(args.template) if args.template else DEFAULT_TEMPLATE
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    return [
        Job(
            entry=m,
            grid=sweep.grid,
            tag=sweep.tag,
            run_dir=os.path.join(out, m.folder),
            template=template,
            progress=progress and len(sweep.models) == 1,
            tokenizer=args.tokenizer,
            share_contexts=sweep.share_contexts,
        )
        for m in sweep.models
    ]


# -- the run folder ------------------------------------------------------------------------------
def _manifest(out: str, sweep: Sweep, jobs: list[Job], executor: str) -> None:
    """bench.json: what this folder holds; a rerun on another grid must choose another -o."""
    path = os.path.join(out, MANIFEST)
    old = {}
    if os.path.exists(path):
        import json

        try:
            with open(path, encoding="utf-8") as f:
                old = json.load(f)
        except ValueError:
            old = {}
        if old.get("suite") and old["suite"] != sweep.tag:
            raise StoreError(f"{out} holds a bench of {old['suite']}, not {sweep.tag}: choose another -o")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {out!r}: {exc.strerror}; choose another -o") from exc
    runs = dict(old.get("runs", {}))
    runs.update({j.entry.name or j.entry.model: os.path.basename(j.run_dir) for j in jobs})
    write_json_atomic(
        path,
        {
            "suite": sweep.tag,
            "name": sweep.name,
            "grid": sweep.grid.to_dict(),
            "runs": runs,
            "executor": executor,
            "created": old.get("created") or now_iso(),
            "updated": now_iso(),
        },
    )


# -- report and headline -----------------------------------------------------------------------
def report(jobs: list[Job], out: str, threshold: float, figures: bool, title: str) -> tuple[str, str]:
    """Write out/report.html (tables only when matplotlib is missing); (its path, the headline text)."""
    from hashhop.core.errors import MissingExtraError
    from hashhop.report import ReportOptions, collect, write_report
    from hashhop.report.console import console_headline

    runs = [j.run_dir for j in jobs if os.path.exists(os.path.join(j.run_dir, "records.jsonl"))]
    if not runs:
        raise HashhopError(f"no records under {out}: nothing was evaluated")
    options = ReportOptions(threshold=threshold, title=title)
    path = os.path.join(out, "report.html")
    try:
        write_report(runs, path, options, figures=figures)
    except MissingExtraError as exc:
        print(f"note: {exc} for figures; the report has tables only", file=sys.stderr)
        write_report(runs, path, options, figures=False)
    return path, console_headline(collect(runs, options))


def _minimum(job: Job, flag: float | None, from_file: float | None) -> float:
    """A job's coverage minimum: --min-coverage, else its model's, else the sweep file's, else bench's."""
    for value in (flag, job.entry.min_coverage, from_file):
        if value is not None:
            return value
    return BENCH_MIN_COVERAGE


def main(args) -> int:
    if args.list_suites:
        print(list_suites())
        return 0
    sweep = resolve(args)
    flag = check_fraction(args.min_coverage)
    if args.dry_run:
        return dry_run(sweep, args.tokenizer)
    if not args.output:
        raise HashhopError("bench needs -o runs/NAME: the folder for its runs and report")
    for option in ("address", "workers"):
        if args.executor != "ray" and getattr(args, option):
            raise HashhopError(f"--{option} is for --executor ray: add --executor ray, or drop --{option}")
    sweep.check_env()
    jobs = jobs_of(sweep, args.output, args)
    _manifest(args.output, sweep, jobs, args.executor)
    print(f"bench {sweep.tag}: {sweep.grid.describe()}; {len(jobs)} model(s) -> {args.output}", file=sys.stderr)
    run(jobs, args.executor, args.address, args.workers)
    for job in jobs:
        stopped = os.path.exists(os.path.join(job.run_dir, "results.json")) and read_results(job.run_dir).get("stopped")
        if stopped:
            print(
                f"{job.entry.model} stopped: {stopped}; raise the limit and run the same command to resume",
                file=sys.stderr,
            )
    path, text = report(jobs, args.output, args.threshold, not args.no_figures, f"HashHop bench: {sweep.tag}")
    print(text)
    print(f"report: {path}")
    minimums = {job.run_dir: _minimum(job, flag, sweep.min_coverage) for job in jobs}
    short = [line for job in jobs for line in run_shortfalls({job.entry.model: job.run_dir}, minimums[job.run_dir])]
    for line in short:  # results.json and the report are written: the runs stay resumable and reportable
        print(f"error: {line}", file=sys.stderr)
    return COVERAGE_EXIT if short else 0
