"""The planner: grid cells -> sized samples (`Plan`s), each sized once and stored as a recipe, so
a resumed run rebuilds a context from its recipe instead of re-sizing it. With `share`, the cells
that differ only in hops and mode are planned on one shared context (prompt/share.py): one Plan per
context, the other cells' Plans its `siblings`, so the runner sends all their queries as one group."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable, Container, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from hashhop.generator.external import AnyContext, AnySample, context_of
from hashhop.generator.problem import Problem
from hashhop.generator.sample import Query, Sample
from hashhop.generator.tokenizers import Tokenizer
from hashhop.prompt.cell import Cell
from hashhop.prompt.fit import frame_tokens, sized_sample
from hashhop.prompt.share import group_cells, sizing_cell, variant
from hashhop.prompt.template import Template


@dataclass
class Plan:
    """One sample ready to query: its cell, problem, context and measured sizes."""

    cell: Cell
    sample: AnySample
    problem: AnyContext  # a generated sample's Problem or Haystack, or an external sample's parsed prompt
    context: str
    n_tokens: int  # context size in the cell's tokenizer
    prompt_tokens: int | None = None  # expected whole-prompt tokens in the model's own tokens
    queries: tuple[Query, ...] = ()  # those still to run
    siblings: tuple[Plan, ...] = ()  # other cells' plans on the same shared context, run with this one

    def asked(self) -> list[tuple[Plan, Query]]:
        """Every query still to run on this context: this plan's, then its siblings'."""
        return [(p, q) for p in (self, *self.siblings) for q in p.queries]


class SampleStore(Protocol):
    """What the planner reads and writes of a run store: declared here, so this stage does not import a
    later one (evaluate's RunStore and the Ray executor's unit store both have it)."""

    @property
    def samples(self) -> Mapping[tuple[str, int], dict[str, Any]]:
        """Stored sample entries by (cell key, index)."""
        ...

    @property
    def done(self) -> Container[tuple[str, int]]:
        """(sample id, query index) of every recorded query."""
        ...

    def add_sample(
        self, cell: Cell, index: int, sample: AnySample, n_tokens: int, prompt_tokens: int | None = None
    ) -> dict[str, Any]:
        """Store a sample's recipe once per (cell, index); returns the stored entry."""
        ...


class Planner:
    """Sized samples for grid cells, sized once: later runs rebuild them from the stored recipe.

    `store` is the run store: its `samples` {(cell_key, index): entry}, `done` keys and `add_sample(...)`.

    `count` is the model's own token counter (a server's tokenize endpoint), else `tokenizer`
    (a hashhop tokenizer) sizes the prompt; `overhead` adds the chat template's unseen tokens.
    """

    def __init__(
        self,
        store: SampleStore,
        template: Template,
        queries: int,
        tokenizer: Tokenizer | None = None,
        count: Callable[[str], int] | None = None,
        overhead: int = 0,
        chat: bool = False,
        share: bool = False,
    ) -> None:
        self.store, self.template, self.queries = store, template, queries
        self.tokenizer, self.count, self.overhead, self.chat = tokenizer, count, overhead, chat
        self.share = share  # one context for the cells that differ only in hops and mode

    def plan(self, cell: Cell, index: int) -> Plan | None:
        """The sample `index` of `cell` with the queries still to run, or None when all are recorded."""
        entry = self.store.samples.get((cell.key, index))
        if entry is None:
            sample, n_tokens, frame = sized_sample(
                cell.spec(self.queries),
                cell.tokens,
                index,
                self.template,
                self.tokenizer,
                self.count,
                self.overhead,
                self.chat,
            )
            entry = self.store.add_sample(cell, index, sample, n_tokens, n_tokens + frame)
            return self._plan(cell, entry, sample, sample.prompt)
        sample = Sample.from_dict(entry["sample"])
        return self._plan(cell, entry, sample, None)

    def _plan(self, cell: Cell, entry: dict[str, Any], sample: AnySample, context: str | None) -> Plan | None:
        todo = tuple(q for q in sample.queries if (sample.id, q.index) not in self.store.done)
        if not todo:
            return None
        problem = context_of(sample)
        if context is None:  # a stored recipe: its Problem renders it
            assert isinstance(problem, Problem)  # an external sample always comes with its prompt
            context = problem.prompt()
        return Plan(
            cell=cell,
            sample=sample,
            problem=problem,
            context=context,
            n_tokens=entry["n_tokens"],
            prompt_tokens=entry.get("prompt_tokens"),
            queries=todo,
        )

    def plan_sample(self, sample: AnySample, index: int) -> Plan | None:
        """A sample given as is (a dataset): its cell is its spec; it is stored once as a recipe (an
        external sample, which has none, is stored with its prompt)."""
        cell = Cell.of_spec(sample.spec)
        entry = self.store.samples.get((cell.key, index)) or self.store.add_sample(cell, index, sample, sample.n_tokens)
        return self._plan(cell, entry, sample, sample.prompt)

    def plan_shared(self, group: list[Cell], index: int) -> Plan | None:
        """Sample `index` of every cell of `group` on one context: sized once (or rebuilt from any
        stored recipe of the group), each cell's sample stored as its own recipe."""
        stored = [e for c in group if (e := self.store.samples.get((c.key, index))) is not None]
        if len(stored) == len(group) and all(self._finished(e) for e in stored):
            return None  # a resumed run: nothing left on this context, so it is not even rendered
        if stored:  # a resumed run: the stored recipe rebuilds the context, never re-sized
            base, n_tokens = Sample.from_dict(stored[0]["sample"]), int(stored[0]["n_tokens"])
            problem = context_of(base)
            assert isinstance(problem, Problem)  # shared contexts are generated HashHop samples
            context = problem.prompt()
        else:
            sizing = sizing_cell(group)
            base, n_tokens, _frame = sized_sample(
                sizing.spec(self.queries), sizing.tokens, index, self.template, *self._sizer()
            )
            assert base.prompt is not None  # sized samples come with their prompt
            context = base.prompt
        plans = [self._shared_cell(cell, index, base, n_tokens, context) for cell in group]
        todo = [p for p in plans if p is not None]
        return dataclasses.replace(todo[0], siblings=tuple(todo[1:])) if todo else None

    def _shared_cell(self, cell: Cell, index: int, base: Sample, n_tokens: int, context: str) -> Plan | None:
        entry = self.store.samples.get((cell.key, index))
        if entry is not None:
            return self._plan(cell, entry, Sample.from_dict(entry["sample"]), context)
        sample = variant(base, cell.hops, cell.cot)
        frame = frame_tokens(cell.spec(self.queries), cell.tokens, self.template, *self._sizer())
        entry = self.store.add_sample(cell, index, sample, n_tokens, n_tokens + frame)
        return self._plan(cell, entry, sample, context)

    def _finished(self, entry: dict[str, Any]) -> bool:
        sample = Sample.from_dict(entry["sample"])
        return all((sample.id, q.index) in self.store.done for q in sample.queries)

    def _sizer(self) -> tuple[Tokenizer | None, Callable[[str], int] | None, int, bool]:
        return self.tokenizer, self.count, self.overhead, self.chat

    async def plans(self, cells: list[Cell], samples: int) -> AsyncIterator[Plan]:
        """Plans in grid order (with `share`, grouped by context); sizing runs in a thread so requests
        keep flowing meanwhile."""
        groups = group_cells(cells) if self.share else [[cell] for cell in cells]
        for group in groups:
            for index in range(samples):
                if len(group) == 1:
                    plan = await asyncio.to_thread(self.plan, group[0], index)
                else:
                    plan = await asyncio.to_thread(self.plan_shared, group, index)
                if plan is not None:
                    yield plan
