"""The planner: grid cells -> sized samples (`Plan`s), each sized once and stored as a recipe, so
a resumed run rebuilds a context from its recipe instead of re-sizing it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Container, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from hashhop.generator.external import AnyContext, AnySample, context_of
from hashhop.generator.problem import Problem
from hashhop.generator.sample import Query, Sample
from hashhop.generator.tokenizers import Tokenizer
from hashhop.prompt.cell import Cell
from hashhop.prompt.fit import sized_sample
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
    ) -> None:
        self.store, self.template, self.queries = store, template, queries
        self.tokenizer, self.count, self.overhead, self.chat = tokenizer, count, overhead, chat

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

    async def plans(self, cells: list[Cell], samples: int) -> AsyncIterator[Plan]:
        """Plans in grid order; sizing runs in a thread so requests keep flowing meanwhile."""
        for cell in cells:
            for index in range(samples):
                plan = await asyncio.to_thread(self.plan, cell, index)
                if plan is not None:
                    yield plan
