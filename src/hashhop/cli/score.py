"""`hashhop score runs/NAME`: rescore stored completions (pure) and refresh results.json.

Scoring is a pure function of (sample recipe, query, completion), so a parser or scorer fix
applies to old runs without calling any model. Records are replaced atomically, under the run
lock, with the same keys and completions; only the score fields change.
"""

from __future__ import annotations

import dataclasses
import os
import sys

from hashhop.core.errors import StoreError
from hashhop.evaluate.score import score_query
from hashhop.evaluate.store import Record, RunStore, now_iso, read_records, read_results, read_samples
from hashhop.evaluate.summary import metrics
from hashhop.generator.external import context_of, sample_from_dict
from hashhop.prompt.template import Template


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "score",
        help="rescore a run's stored completions",
        description="Rescore the stored completions of a run and refresh results.json.",
    )
    p.add_argument("run", help="run folder, e.g. runs/NAME")
    p.add_argument("--dry", action="store_true", help="print the new summary; change nothing")
    p.set_defaults(func=main)


def rescore(run_dir: str) -> tuple[list[Record], int]:
    """The run's records with fresh scores, and how many changed."""
    records = read_records(run_dir)
    if not records:
        raise StoreError(f"no records in {run_dir}: run `hashhop eval ... -o {run_dir}` first")
    samples = {e["sample_id"]: e["sample"] for e in read_samples(run_dir)}
    prefill = _prefill(run_dir)
    problems: dict = {}
    out, changed = [], 0
    for r in records:
        if r.status != "ok":
            out.append(r)
            continue
        if r.sample_id not in samples:
            raise StoreError(f"{run_dir}/samples.jsonl lacks sample {r.sample_id}: the run folder is incomplete")
        if r.sample_id not in problems:
            sample = sample_from_dict(samples[r.sample_id])
            problems[r.sample_id] = (sample, context_of(sample))
        sample, problem = problems[r.sample_id]
        query = sample.queries[r.query_index]
        fresh = score_query(problem, query, r.completion, prefill=prefill, finish_reason=r.finish_reason).to_dict()
        new = dataclasses.replace(r, **fresh)
        changed += new != r
        out.append(new)
    return out, changed


def _prefill(run_dir: str) -> str:
    if not os.path.exists(os.path.join(run_dir, "results.json")):
        return ""
    return Template.from_dict(read_results(run_dir).get("template") or {}).prefill


def _rate(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def print_summary(results: dict, file=None) -> None:
    """One line per cell: size, hops, accuracy (strict, the headline) with its 95% interval, credit, errors
    apart, then exact and lenient accuracy."""
    file = file or sys.stdout
    m = results.get("metrics", {})
    print(
        f"{'tokens':>8} {'hops':>4} {'cot':>5} {'depth':>5} {'n':>5} {'strict':>6} {'ci95':>13} "
        f"{'credit':>6} {'err':>4} {'over':>4} {'cut':>4} {'exact':>6} {'lenient':>7}",
        file=file,
    )
    for c in m.get("cells", []) + [{"cell": {"tokens": "all"}, **m.get("overall", {})}]:
        cell = c["cell"]
        acc = "-" if c.get("accuracy") is None else f"{c['accuracy']:.3f}"
        ci = "-" if not c.get("accuracy_ci95") else "{:.3f}-{:.3f}".format(*c["accuracy_ci95"])
        credit = "-" if c.get("mean_credit") is None else f"{c['mean_credit']:.3f}"
        depth = "-" if cell.get("depth") is None else f"{cell['depth']:g}"
        print(
            f"{cell.get('tokens', ''):>8} {cell.get('hops', ''):>4} {str(cell.get('cot', '')):>5} {depth:>5} "
            f"{c.get('n', 0):>5} {acc:>6} {ci:>13} {credit:>6} {c.get('n_errors', 0):>4} "
            f"{c.get('n_over_length', 0):>4} {(c.get('kinds') or {}).get('cut_off', 0):>4} "
            f"{_rate(c.get('accuracy_exact')):>6} {_rate(c.get('accuracy_lenient')):>7}"
            + (f" {cell['task']}" if cell.get("task") else ""),  # niah cells
            file=file,
        )
    legacy = m.get("overall", {}).get("n_strict_from_exact")
    if legacy:
        print(
            f"{legacy} scored records predate strict scoring: counted by exact; `hashhop score RUN` rescores", file=file
        )
    if results.get("partial"):
        print("partial run: run the same eval command again to resume", file=file)


def main(args) -> int:
    if not os.path.isdir(args.run):
        raise StoreError(f"no run folder {args.run!r}: pass a folder written by `hashhop eval -o`")
    records, changed = rescore(args.run)
    results = read_results(args.run) if os.path.exists(os.path.join(args.run, "results.json")) else {}
    samples = {e["sample_id"]: e for e in read_samples(args.run)}
    results = {**results, "metrics": metrics(records, samples), "rescored": now_iso()}
    if not args.dry:
        with RunStore(args.run) as store:  # the lock: no runner may append meanwhile
            if changed:
                store.rewrite_records(records)
            store.write_results(results)
    print(f"{len(records)} records, {changed} changed by rescoring", file=sys.stderr)
    print_summary(results)
    return 0
