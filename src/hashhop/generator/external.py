"""External samples: HashHop problems another tool wrote as text, scored without a recipe.

Owns `ScoringContext` (what the scorer asks of a problem: its spec, its queries and where a hash
lives; `Problem` and `ExternalContext` both implement it), `PromptTable` (a prompt's `KEY = VALUE`
lines read once, with line numbers and collisions), `ExternalContext` (the scoring context of that
table), `ExternalSample` (a foreign sample after its chains were recovered: its prompt is its only
recipe, so its stored form always carries it), and `context_of` / `sample_from_dict`, the one place
that tells a generated sample from an external one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from hashhop.core.errors import DatasetError
from hashhop.generator.build import problem_of
from hashhop.generator.lines import split_line
from hashhop.generator.niah import Haystack
from hashhop.generator.problem import HashLocation
from hashhop.generator.sample import Query, Sample, render_completion
from hashhop.generator.spec import FORMAT_VERSION, Spec

EXTERNAL_KEY = "external"  # the key that marks an external sample in hashhop's JSONL form


class ScoringContext(Protocol):
    """What scoring and diagnostics need of a problem, generated or external."""

    @property
    def spec(self) -> Spec: ...

    @property
    def queries(self) -> tuple[Query, ...]: ...

    def locate_hash(self, s: str) -> HashLocation | None: ...

    def chain_number(self, query_index: int) -> int: ...


@dataclass(frozen=True)
class PromptTable:
    """The `KEY = VALUE` lines of a prompt (0-based line numbers); other lines are ignored."""

    next: dict[str, str]  # key -> value
    prev: dict[str, str]  # value -> key
    key_line: dict[str, int]
    value_line: dict[str, int]
    n_lines: int
    faults: tuple[str, ...]  # collisions: a key or a value written twice (1-based prompt lines)

    def head_of(self, s: str) -> tuple[str, int]:
        """The first hash of the chain through `s`, and how many links `s` is after it."""
        head, link = s, 0
        while head in self.prev and link <= len(self.prev):  # the bound stops a cycle
            head, link = self.prev[head], link + 1
        return head, link

    def chain_from(self, head: str) -> tuple[str, ...]:
        """Every hash from `head` to the end of its chain."""
        out = [head]
        while out[-1] in self.next and len(out) <= len(self.next):
            out.append(self.next[out[-1]])
        return tuple(out)


def read_table(prompt: str) -> PromptTable:
    """The table of a prompt; a repeated key or value is a fault (the chains it touches are ambiguous)."""
    nxt: dict[str, str] = {}
    prev: dict[str, str] = {}
    key_line: dict[str, int] = {}
    value_line: dict[str, int] = {}
    faults: list[str] = []
    lines = prompt.split("\n")
    for number, line in enumerate(lines):
        pair = split_line(line)
        if pair is None:
            continue
        key, value = pair
        if key in key_line:
            faults.append(f"key {key} appears twice (prompt lines {key_line[key] + 1} and {number + 1})")
        if value in value_line:
            faults.append(f"value {value} appears twice (prompt lines {value_line[value] + 1} and {number + 1})")
        nxt[key], prev[value] = value, key
        key_line.setdefault(key, number)
        value_line.setdefault(value, number)
    return PromptTable(nxt, prev, key_line, value_line, len(lines), tuple(faults))


class ExternalContext:
    """The scoring context of an external prompt: hashes are located in its table."""

    def __init__(self, spec: Spec, table: PromptTable, queries: tuple[Query, ...]) -> None:
        self._spec, self.table, self._queries = spec, table, queries

    @property
    def spec(self) -> Spec:
        return self._spec

    @property
    def queries(self) -> tuple[Query, ...]:
        return self._queries

    def locate_hash(self, s: str) -> HashLocation | None:
        """A hash of the prompt as a link of its chain (numbered by its head's line), else None."""
        key_line, value_line = self.table.key_line.get(s), self.table.value_line.get(s)
        if key_line is None and value_line is None:
            return None
        head, link = self.table.head_of(s)
        return HashLocation("chain", self.table.key_line.get(head), link, key_line, value_line)

    def chain_number(self, query_index: int) -> int:
        """The chain a query walks, numbered as locate_hash numbers chains (its head's prompt line)."""
        return self.table.key_line[self._queries[query_index].chain[0]]


@dataclass(frozen=True)
class ExternalSample:
    """A sample read from another tool's file: its prompt as given, its queries recovered from it."""

    source: str  # the input format: magic, answer or hops (foreign.FORMATS)
    prompt: str = field(repr=False)
    queries: tuple[Query, ...]
    spec: Spec  # derived from the prompt: hash shape, hops, mode; size in characters
    version: int = FORMAT_VERSION

    @cached_property
    def n_chars(self) -> int:
        return len(self.prompt)

    @property
    def n_tokens(self) -> int:
        return self.n_chars  # the spec's tokenizer is `chars`

    @cached_property
    def n_lines(self) -> int:
        return self.prompt.count("\n") + 1

    @cached_property
    def prompt_sha256(self) -> str:
        return hashlib.sha256(self.prompt.encode()).hexdigest()

    @cached_property
    def completion(self) -> str:
        return render_completion(self.spec.format, self.queries, self.spec.hops, self.spec.cot)

    @property
    def targets(self) -> dict[str, str]:
        return {q.start: q.target for q in self.queries}

    @cached_property
    def id(self) -> str:
        """Content hash, like a generated sample's, with its own prefix."""
        mode = "|cot" if self.spec.cot else ""
        blob = f"{self.version}|{self.prompt_sha256}|{self.completion}{mode}".encode()
        return "ext-" + hashlib.sha256(blob).hexdigest()[:16]

    @cached_property
    def context(self) -> ExternalContext:
        return ExternalContext(self.spec, read_table(self.prompt), self.queries)

    def to_dict(self, with_prompt: bool = True) -> dict[str, Any]:
        """hashhop's JSONL form. The prompt is always written: nothing else can rebuild it."""
        return {
            "id": self.id,
            EXTERNAL_KEY: self.source,
            "version": self.version,
            "spec": self.spec.to_dict(),
            "n_lines": self.n_lines,
            "n_chars": self.n_chars,
            "prompt_sha256": self.prompt_sha256,
            "completion": self.completion,
            "queries": [q.to_dict() for q in self.queries],
            "prompt": self.prompt,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ExternalSample:
        return cls(
            source=str(d[EXTERNAL_KEY]),
            prompt=str(d["prompt"]),
            queries=tuple(Query.from_dict(q) for q in d["queries"]),
            spec=Spec.from_dict(d["spec"]),
            version=int(d.get("version", FORMAT_VERSION)),
        )


AnySample = Sample | ExternalSample
# What a sample is scored against: a HashHop Problem or external table (ScoringContext), or a NIAH haystack.
AnyContext = ScoringContext | Haystack


def context_of(sample: AnySample) -> AnyContext:
    """The scoring context of a sample: its table when external, else the Problem its recipe rebuilds."""
    if isinstance(sample, ExternalSample):
        return sample.context
    return problem_of(sample)


def sample_from_dict(d: Mapping[str, Any]) -> AnySample:
    """A stored sample (samples.jsonl's `sample`, a dataset row) in whichever form it was written."""
    return external_from_dict(d) if EXTERNAL_KEY in d else Sample.from_dict(d)


def external_from_dict(d: Mapping[str, Any]) -> ExternalSample:
    """An external sample in hashhop's JSONL form, its id checked against its content."""
    sample = ExternalSample.from_dict(d)
    if "id" in d and sample.id != d["id"]:
        raise DatasetError(f"external sample {d['id']} does not match its content: the file was edited")
    return sample
