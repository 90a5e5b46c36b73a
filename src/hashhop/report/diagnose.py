"""Chain diagrams for failed queries: the true chain, the hop where the answer left it, and where
the model's wrong hash sits in the context.

Locations come from the run's sample recipes (`context_of(sample).locate_hash`, O(1) memory even
for huge contexts; an external sample's stored prompt); without recipes the record's own `answer_position` is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hashhop.generator.external import context_of, sample_from_dict
from hashhop.prompt.cell import Cell

DIAGRAM_KINDS = ("other_chain", "went_too_far", "stopped_early", "hallucinated", "partial_hash", "no_answer")
_SPLIT = re.compile(r"[\s=,'\"`\->]+")


@dataclass(frozen=True)
class ChainDiagram:
    """What one failed query's diagram shows."""

    series: str
    tokens: int
    hops: int
    cot: bool
    kind: str
    path: tuple[str, ...]  # true hashes, start first
    broke_at: int | None  # 1-based hop where the answer left the chain
    wrong: str | None  # the model's hash at that hop (None: it gave none)
    where: str  # where `wrong` sits, in words
    answer_line: int | None  # prompt line of `wrong`, if it is in the context
    link_lines: tuple[int, ...]  # prompt lines of the true chain's asked links
    n_lines: int | None  # lines in the context (None: no recipe stored)
    completion: str
    sample_id: str = ""
    query_index: int = 0


def wrong_hash(record: dict) -> str | None:
    """The hash where the answer left the chain: the first wrong one (cot) or the answer (skip)."""
    tokens = [t for t in _SPLIT.split(record.get("answer") or "") if t]
    if not tokens:
        return None
    broke = record.get("broke_at")
    if Cell.from_dict(record.get("cell")).cot and broke:
        return tokens[broke - 1] if len(tokens) >= broke else None
    return tokens[-1]


def _where(problem, query_index: int, wrong: str) -> tuple[str, int | None]:
    loc = problem.locate_hash(wrong)
    if loc is None:
        return "appears nowhere in the context", None
    line = loc.value_line if loc.value_line is not None else loc.key_line
    if loc.role == "chain" and loc.chain == problem.chain_number(query_index):
        return f"is on the queried chain (link {loc.link}), line {line}", line
    if loc.role == "chain":
        return f"is on another chain (chain {loc.chain}, link {loc.link}), line {line}", line
    if loc.role == "decoy_key":
        return f"is a decoy key (a near-copy of a queried hash), line {line}", line
    return f"is a filler hash ({loc.role.replace('_', ' ')}), line {line}", line


def _from_record(line: int | None) -> str:
    return f"is at line {line} of the context" if line is not None else "appears nowhere in the context"


def diagram(series: str, record: dict, recipe: dict | None) -> ChainDiagram:
    """The diagram of one failed record, located through its sample recipe when there is one."""
    cell, wrong = Cell.from_dict(record.get("cell")), wrong_hash(record)
    where, line, n_lines = "", record.get("answer_position"), None
    links: tuple[int, ...] = ()
    qi = int(record.get("query_index") or 0)
    if recipe is not None and qi < len(recipe.get("queries") or ()):
        sample = sample_from_dict(recipe)
        links, n_lines = sample.queries[qi].positions, sample.n_lines
        problem = context_of(sample) if wrong is not None else None
        # A recipe only rebuilds its problem under the generator that wrote it: check before trusting it.
        if problem is not None and wrong is not None and problem.queries[qi].path == tuple(record.get("path") or ()):
            where, line = _where(problem, qi, wrong)
        elif problem is not None:
            where = _from_record(line) + " (its stored sample does not rebuild with this hashhop version)"
    elif wrong is not None:
        where = _from_record(line)
    if wrong is None:
        where = "the answer gave no hash for this hop"
    return ChainDiagram(
        series,
        cell.tokens,
        cell.hops or len(record["path"]) - 1,
        cell.cot,
        record.get("kind", "?"),
        tuple(record.get("path") or ()),
        record.get("broke_at"),
        wrong,
        where,
        line,
        tuple(links),
        n_lines,
        record.get("completion") or "",
        str(record.get("sample_id", "")),
        int(record.get("query_index") or 0),
    )


def pick_failures(runs_series, samples_by_run: dict, limit: int = 6) -> list[ChainDiagram]:
    """Up to `limit` failed queries: one per failure kind first, then one per series, then any."""
    chosen: list[tuple[Any, dict]] = []  # (series, record)
    seen: set[tuple] = set()
    passes = (lambda s, r: r.get("kind"), lambda s, r: s.label, None)
    for distinct in passes:
        taken = {distinct(*pick) for pick in chosen} if distinct else set()
        for s, rows in runs_series:
            for r in rows:
                key = (s.label, r.get("sample_id"), r.get("query_index"))
                if len(chosen) >= limit or key in seen or r.get("kind") not in DIAGRAM_KINDS:
                    continue
                if distinct and distinct(s, r) in taken:
                    continue
                seen.add(key)
                chosen.append((s, r))
                if distinct:
                    taken.add(distinct(s, r))
    return [diagram(s.label, r, samples_by_run.get(s.run, {}).get(r.get("sample_id"))) for s, r in chosen]
