"""Summaries of a run for results.json: metrics per cell (scores, coverage, noise floor), the
prefix-cache saving (latency, and the provider's cached tokens with the money they saved), the check of
planned against reported prompt tokens, and the provenance (versions, git commit)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from hashhop.evaluate.cost import Prices
from hashhop.evaluate.coverage import cell_noise_floor, coverage
from hashhop.evaluate.score import summarize
from hashhop.evaluate.store import Record
from hashhop.prompt.cell import cell_key


def git_hash() -> str | None:
    """The commit of the hashhop source tree, when it is a git checkout."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=os.path.dirname(os.path.abspath(__file__)),
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def versions() -> dict:
    import platform
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("hashhop", "numpy", "aiohttp", "httpx", "tiktoken", "transformers", "llama_cpp_python"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


HEADLINE = "strict"  # the score `accuracy` is: reports lead with it (docs/scoring.md); exact and lenient beside


def metrics(records: list[Record], samples: Mapping[str, Mapping] | None = None) -> dict:
    """Overall and per-cell summaries (accuracy = strict, exact and lenient with Wilson CIs, credit, failure
    kinds, coverage); per cell also the noise floor, from the stored recipes in `samples` (samples.jsonl
    entries by sample id; without them it is null)."""
    rows = [r.to_dict() for r in records]
    cells: dict[str, list[dict]] = {}
    for row in rows:
        cells.setdefault(cell_key(row["cell"] or {}), []).append(row)
    return {
        "headline": HEADLINE,
        "overall": {**summarize(rows), "coverage": coverage(rows)},
        "cells": [
            {
                "cell": group[0]["cell"],
                **summarize(group),
                "coverage": coverage(group),
                "noise_floor": cell_noise_floor(group, samples or {}),
            }
            for _, group in sorted(cells.items(), key=_cell_order)
        ],
    }


def _cell_order(item: tuple[str, list[dict]]) -> tuple:
    """Cells by length, hops and mode, then their written form: the same order whatever order the
    records finished in (concurrent queries finish in any order)."""
    key, rows = item
    cell = rows[0]["cell"] or {}
    return (int(cell.get("tokens") or 0), int(cell.get("hops") or 0), bool(cell.get("cot")), key)


def prefix_cache(records: list[Record]) -> dict:
    """Latency of each context's first query (cold) against its later ones (prefix cached)."""
    by_sample: dict[str, list[Record]] = {}
    for r in records:
        if r.status == "ok" and r.latency_s:
            by_sample.setdefault(r.sample_id, []).append(r)
    first: list[float] = []
    later: list[float] = []
    for group in by_sample.values():
        if len(group) > 1:
            group.sort(key=lambda r: r.query_index)
            first.append(group[0].latency_s)
            later.extend(r.latency_s for r in group[1:])
    if not first:
        return {"contexts": 0, "first_latency_s": None, "later_latency_s": None, "saving": None}
    f, later_mean = sum(first) / len(first), sum(later) / len(later)
    return {
        "contexts": len(first),
        "first_latency_s": round(f, 6),
        "later_latency_s": round(later_mean, 6),
        "saving": round(1 - later_mean / f, 4) if f > 0 else None,
    }


def token_check(records: list[Record], samples: dict) -> dict:
    """Prompt tokens we measured before sending against what the backend reported reading."""
    expected = {e["sample_id"]: e.get("prompt_tokens") for e in samples.values()}
    diffs = [
        r.prompt_tokens - expected[r.sample_id]
        for r in records
        if r.prompt_tokens is not None and expected.get(r.sample_id)
    ]
    if not diffs:
        return {"compared": 0}
    return {
        "compared": len(diffs),
        "mean_diff": round(sum(diffs) / len(diffs), 2),
        "max_abs_diff": max(abs(d) for d in diffs),
    }


def provider_cache(records: list[Record], prices: Prices | None) -> dict | None:
    """Cached share of the input tokens and the money the cache saved against uncached prices; None
    when no record reports cached tokens (a backend without caching: results.json stays as before)."""
    reported = [r for r in records if r.cached_tokens is not None or r.cache_write_tokens is not None]
    if not reported:
        return None
    prompt = sum(r.prompt_tokens or 0 for r in reported)
    cached = sum(r.cached_tokens or 0 for r in reported)
    out: dict = {
        "records": len(reported),
        "cached_tokens": cached,
        "cache_write_tokens": sum(r.cache_write_tokens or 0 for r in reported),
        "cached_share": round(cached / prompt, 4) if prompt else None,
    }
    if prices is not None:
        uncached = sum(prices.cost(r.prompt_tokens, r.completion_tokens) for r in reported)
        out["uncached_usd"] = round(uncached, 6)
        out["saved_usd"] = round(uncached - sum(r.cost_usd or 0.0 for r in reported), 6)
    return out
