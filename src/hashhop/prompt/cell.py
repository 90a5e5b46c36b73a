"""A grid cell: the coordinates one group of samples is generated at, as records store them.

`Cell` is what the planner, the executors, the store and the summaries pass around; its written
form (`to_dict`, the `cell` object of records.jsonl and samples.jsonl, docs/records.md) and its
`key` (the `cell_key` string of samples.jsonl) are byte-for-byte those of hashhop 0.1.0, so run
folders written before and after read the same. `Cell.from_dict` reads that form back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from hashhop.generator.spec import DEFAULT_ORDER, Spec


def cell_key(cell: dict[str, Any]) -> str:
    """A stable string for a cell's written form (its coordinates, sorted)."""
    return json.dumps(cell, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Cell:
    """Grid coordinates of docs/records.md; `filler`, `suite`, `task` and `order` are written only when not the default."""

    tokens: int  # whole-prompt size, in `tokenizer`
    tokenizer: str
    hops: int
    cot: bool
    depth: float | None = None  # None: chains placed anywhere
    seed: int = 0
    hash_len: int = 16
    alphabet: str = "letters"
    format: str = "plain"
    filler: bool = True  # False: whole chains only (Magic's reference layout)
    suite: str | None = None  # the bench grid's tag, e.g. quick@3
    task: str = "hashhop"  # or niah / niah-multikey (generator/niah.py); written only when not hashhop
    order: str = DEFAULT_ORDER  # link order within chains: shuffled (absent when written), forward, backward

    @cached_property
    def as_dict(self) -> dict[str, Any]:
        """The written form (computed once: every record of the cell carries it). Do not mutate."""
        out: dict[str, Any] = {
            "tokens": self.tokens,
            "tokenizer": self.tokenizer,
            "hops": self.hops,
            "cot": self.cot,
            "depth": self.depth,
            "seed": self.seed,
            "hash_len": self.hash_len,
            "alphabet": self.alphabet,
            "format": self.format,
        }
        if not self.filler:
            out["filler"] = False
        if self.suite:
            out["suite"] = self.suite
        if self.task != "hashhop":
            out["task"] = self.task
        if self.order != DEFAULT_ORDER:
            out["order"] = self.order
        return out

    def to_dict(self) -> dict[str, Any]:
        return dict(self.as_dict)

    @cached_property
    def key(self) -> str:
        return cell_key(self.as_dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Cell:
        """A cell as written (by any hashhop since 0.1.0); a missing coordinate takes its default."""
        d = d or {}
        return cls(
            tokens=int(d.get("tokens") or 0),
            tokenizer=str(d.get("tokenizer") or ""),
            hops=int(d.get("hops") or 0),
            cot=bool(d.get("cot")),
            depth=d.get("depth"),
            seed=int(d.get("seed") or 0),
            hash_len=int(d.get("hash_len") or 16),
            alphabet=str(d.get("alphabet") or "letters"),
            format=str(d.get("format") or "plain"),
            filler=d.get("filler", True) is not False,
            suite=d.get("suite"),
            task=str(d.get("task") or "hashhop"),
            order=str(d.get("order") or DEFAULT_ORDER),
        )

    def spec(self, queries: int) -> Spec:
        """The generator's spec for one sample of this cell."""
        return Spec(
            size=self.tokens,
            hops=self.hops,
            queries=queries,
            hash_len=self.hash_len,
            alphabet=self.alphabet,
            cot=self.cot,
            format=self.format,
            seed=self.seed,
            depth=self.depth,
            filler=self.filler,
            task=self.task,
            order=self.order,
        )

    @classmethod
    def of_spec(cls, spec: Spec) -> Cell:
        """The cell of a sample given as is (a dataset file): its spec's coordinates. `filler` is not
        carried, as in 0.1.0: a dataset sample's cell never held it. `order` is (written when not shuffled)."""
        return cls(
            spec.size,
            spec.tokenizer,
            spec.hops,
            spec.cot,
            spec.depth,
            spec.seed,
            spec.hash_len,
            spec.alphabet,
            spec.format,
            task=spec.task,
            order=spec.order,
        )
