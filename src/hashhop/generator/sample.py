"""The sample vocabulary: Query and Sample, frozen, with their JSON form and completion text."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

from hashhop.generator.spec import DEFAULT_ORDER, FORMAT_VERSION, Spec

_Owner = TypeVar("_Owner")
_Value = TypeVar("_Value")


class cached_property(Generic[_Owner, _Value]):
    """functools.cached_property without its per-access lock (Python 3.11 takes one on every first
    read, a measurable cost when each query's fields are read once): values here are pure functions
    of frozen fields, so a race computes the same value twice at worst."""

    def __init__(self, func: Callable[[_Owner], _Value]) -> None:
        self.func, self.name, self.__doc__ = func, func.__name__, func.__doc__

    def __set_name__(self, owner: type[_Owner], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type[_Owner] | None = None) -> cached_property[_Owner, _Value]: ...
    @overload
    def __get__(self, obj: _Owner, owner: type[_Owner] | None = None) -> _Value: ...
    def __get__(
        self, obj: _Owner | None, owner: type[_Owner] | None = None
    ) -> cached_property[_Owner, _Value] | _Value:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.func(obj)
        return value


@dataclass(frozen=True)
class Query:
    """One question about a sample: start at `path[0]`, follow `hops` links."""

    index: int  # order of the query within its sample
    chain: tuple[str, ...]  # every hash of the queried chain, head first (recorded for scoring)
    offset: int  # where the query starts inside the chain (0: the head)
    hops: int  # links asked for
    cot: bool  # True: answer every hash on the way; False: only the final hash
    positions: tuple[int, ...] = ()  # prompt line (0-based) of each asked link
    n_lines: int = 0  # lines in the prompt, for depth

    # Derived values are cached: scoring and recording read them many times per query.
    @cached_property
    def path(self) -> tuple[str, ...]:
        """The hashes visited: start, then one per hop."""
        return self.chain[self.offset : self.offset + self.hops + 1]

    @cached_property
    def start(self) -> str:
        return self.path[0]

    @cached_property
    def answer(self) -> str:
        """The final hash, `hops` links from the start."""
        return self.path[-1]

    @cached_property
    def target(self) -> str:
        """What the query asks for: every hash on the way (cot) or the final one."""
        return " = ".join(self.path[1:]) if self.cot else self.answer

    @cached_property
    def depth(self) -> float:
        """Mean position of the asked links as a fraction of the context (0 = top)."""
        if not self.positions or self.n_lines <= 1:
            return 0.0
        return sum(self.positions) / len(self.positions) / (self.n_lines - 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "start": self.start,
            "hops": self.hops,
            "cot": self.cot,
            "target": self.target,
            "offset": self.offset,
            "chain": list(self.chain),
            "positions": list(self.positions),
            "n_lines": self.n_lines,
            "depth": round(self.depth, 6),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Query:
        return cls(
            index=int(d["index"]),
            chain=tuple(d["chain"]),
            offset=int(d["offset"]),
            hops=int(d["hops"]),
            cot=bool(d["cot"]),
            positions=tuple(d.get("positions", ())),
            n_lines=int(d.get("n_lines", 0)),
        )


def render_completion(fmt: str, queries: tuple[Query, ...], hops: int, cot: bool) -> str:
    """The completion a model is trained to produce (magic: the reference layout exactly)."""
    if fmt == "magic":
        lines = [f"{q.start} = '{q.target}'" for q in queries]
        return f"COMPLETION:\nHops={hops}\n\nCoT={cot}\n\n" + "".join(line + "\n" for line in lines)
    return "".join(f"{q.start} = {q.target}\n" for q in queries)


@dataclass(frozen=True)
class Sample:
    """A generated problem: its prompt (or None in a recipe), its queries and its sizes."""

    spec: Spec
    index: int
    n_chains: int
    n_fill: int
    fill_variant: int
    queries: tuple[Query, ...]
    n_lines: int
    n_chars: int
    n_tokens: int
    prompt_sha256: str
    prompt: str | None = field(default=None, repr=False)
    version: int = FORMAT_VERSION

    @cached_property
    def completion(self) -> str:
        return render_completion(self.spec.format, self.queries, self.spec.hops, self.spec.cot)

    @property
    def targets(self) -> dict[str, str]:
        return {q.start: q.target for q in self.queries}

    @cached_property
    def id(self) -> str:
        """Content hash: the same bytes always give the same id (computed once per object)."""
        mode = "|cot" if self.spec.cot else ""  # at 1 hop the bytes of cot and skip coincide
        # At 1 hop every order gives the same bytes too; shuffled adds nothing, so earlier ids stay as they were.
        order = "" if self.spec.order == DEFAULT_ORDER else f"|{self.spec.order}"
        blob = f"{self.version}|{self.prompt_sha256}|{self.completion}{mode}{order}".encode()
        return "hh-" + hashlib.sha256(blob).hexdigest()[:16]

    def to_dict(self, with_prompt: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "version": self.version,
            "spec": self.spec.to_dict(),
            "seed": self.spec.seed,
            "index": self.index,
            "shape": {"n_chains": self.n_chains, "n_fill": self.n_fill, "fill_variant": self.fill_variant},
            "n_lines": self.n_lines,
            "n_chars": self.n_chars,
            "n_tokens": self.n_tokens,
            "tokenizer": self.spec.tokenizer,
            "prompt_sha256": self.prompt_sha256,
            "completion": self.completion,
            "queries": [q.to_dict() for q in self.queries],
        }
        if with_prompt:
            d["prompt"] = self.prompt
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Sample:
        shape = d["shape"]
        return cls(
            spec=Spec.from_dict(d["spec"]),
            index=int(d["index"]),
            n_chains=int(shape["n_chains"]),
            n_fill=int(shape["n_fill"]),
            fill_variant=int(shape["fill_variant"]),
            queries=tuple(Query.from_dict(q) for q in d["queries"]),
            n_lines=int(d["n_lines"]),
            n_chars=int(d["n_chars"]),
            n_tokens=int(d["n_tokens"]),
            prompt_sha256=d["prompt_sha256"],
            prompt=d.get("prompt"),
            version=int(d.get("version", FORMAT_VERSION)),
        )
