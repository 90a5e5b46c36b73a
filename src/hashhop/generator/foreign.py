"""Datasets from other tools: Magic's reference rows and plain `{prompt, answer}` files, read and checked.

Owns the format detection (by keys), `Invalid` (a row that cannot be scored, with its line number and
the reason) and `read_foreign`, which recovers each query's chain from the prompt text (the harness,
not the model, does this) into an `ExternalSample`. A row corrupted the way the reference generator
corrupts them (no collision check: a key or value written twice, a chain that does not take `hops`
steps) is `Invalid`, never scored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hashhop.core.errors import CorruptRowError, DatasetError, SpecError
from hashhop.generator.alphabets import ALPHABETS, alphabet_chars
from hashhop.generator.external import EXTERNAL_KEY, ExternalSample, PromptTable, external_from_dict, read_table
from hashhop.generator.lines import SEPARATOR, split_line, walk
from hashhop.generator.sample import Query
from hashhop.generator.spec import Spec

# Input formats by the keys that identify them, most specific first.
FORMATS: dict[str, tuple[str, ...]] = {
    "magic": ("prompt", "completion", "targets"),
    "hops": ("prompt", "start", "hops", "answer"),
    "answer": ("prompt", "answer"),
}
ACCEPTED = (
    "hashhop's own (id, spec, queries, ...), Magic's reference (prompt, completion, targets), "
    "{prompt, answer} or {prompt, start, hops, answer}"
)
_INFERRED_ALPHABETS = ("letters", "hex", "base32")  # tried in order; else the hashes' own symbols


@dataclass(frozen=True)
class Invalid:
    """An input row that cannot be scored: its 1-based line in the file and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class _Asked:
    """One query as the input states it: a start (None: the head of the chain ending at the answer),
    the hops (None: that chain's length) and the answer's hashes (one, or every hop with cot)."""

    start: str | None
    hops: int | None
    answer: tuple[str, ...]


def format_of(d: Mapping[str, Any]) -> str | None:
    """The foreign format a row's keys identify, None if none does."""
    return next((name for name, keys in FORMATS.items() if all(k in d for k in keys)), None)


def read_foreign(d: Any, path: str, number: int) -> ExternalSample | Invalid:
    """One foreign (or external hashhop) row; DatasetError when its keys match no accepted format."""
    if isinstance(d, dict) and EXTERNAL_KEY in d:
        try:
            return external_from_dict(d)
        except DatasetError as exc:
            raise DatasetError(f"{path}:{number}: {exc}") from None
    name = format_of(d) if isinstance(d, dict) else None
    if name is None:
        keys = ", ".join(sorted(_one_line(k) for k in d)[:8]) if isinstance(d, dict) else type(d).__name__
        raise DatasetError(f"{path}:{number}: unrecognised sample ({keys}): accepted formats are {ACCEPTED}")
    try:
        prompt = _text(d, "prompt")
        asked, others, cot = _magic(d) if name == "magic" else (_plain(d, name), [], _plain_cot(d))
        return _external(name, prompt, asked, others, cot)
    except CorruptRowError as exc:
        return Invalid(number, _one_line(str(exc)))


def _one_line(text: str, limit: int = 300) -> str:
    """Text from the input as one line (the CLI prints reasons and keys one per line)."""
    return " ".join(text.split())[:limit]


def _text(d: Mapping[str, Any], key: str) -> str:
    value = d[key]
    if not isinstance(value, str):
        raise CorruptRowError(f"`{key}` is not a string")
    return value


def _answer(text: str) -> tuple[str, ...]:
    hashes = tuple(h.strip().strip("'") for h in text.split(SEPARATOR))
    if not all(hashes):
        raise CorruptRowError(f"answer {text!r} is not a hash or a ' = '-joined chain of hashes")
    return hashes


def _plain(d: Mapping[str, Any], name: str) -> list[_Asked]:
    answer = _answer(_text(d, "answer"))
    if name == "answer":
        return [_Asked(None, None, answer)]
    hops = d["hops"]
    if not isinstance(hops, int) or isinstance(hops, bool) or hops < 1:
        raise CorruptRowError(f"hops {hops!r} is not a positive integer")
    return [_Asked(_text(d, "start"), hops, answer)]


def _plain_cot(d: Mapping[str, Any]) -> bool:
    """Chain of thought when the row says so, or when its answer is a chain of hashes."""
    return bool(d.get("cot")) or SEPARATOR in str(d["answer"])


def _magic(d: Mapping[str, Any]) -> tuple[list[_Asked], list[_Asked], bool]:
    """A reference row: its queries (the completion's `H1 = 'ANSWER'` lines, checked against `targets`),
    the other chains its targets name (checked, not queried: the reference's own test walks them all)
    and its mode."""
    completion, targets = _text(d, "completion"), d["targets"]
    params = d["params"] if isinstance(d.get("params"), dict) else {}
    hops_match, cot_match = re.search(r"^Hops=(\d+)$", completion, re.M), re.search(r"^CoT=(\w+)$", completion, re.M)
    hops = int(hops_match.group(1)) if hops_match else params.get("hops")
    cot = cot_match.group(1) == "True" if cot_match else params.get("chain_of_thought")
    if not isinstance(hops, int) or hops < 1 or not isinstance(cot, bool):
        raise CorruptRowError("the completion has no `Hops=` and `CoT=` header and `params` does not say them")
    if not isinstance(targets, dict):
        raise CorruptRowError("`targets` is not an object")
    asked = [_Asked(key, hops, _answer(value)) for key, value in _completion_pairs(completion)]
    if not asked:
        raise CorruptRowError("the completion names no query (`H1 = 'ANSWER'` lines)")
    for a in asked:
        if a.start not in targets or _answer(str(targets[a.start])) != a.answer:
            raise CorruptRowError(f"targets disagree with the completion about {a.start}")
    starts = {a.start for a in asked}
    others = [_Asked(str(k), hops, _answer(str(v))) for k, v in targets.items() if k not in starts]
    return asked, others, cot


def _completion_pairs(completion: str) -> list[tuple[str, str]]:
    return [pair for line in completion.split("\n") if (pair := split_line(line)) is not None]


def _external(source: str, prompt: str, asked: list[_Asked], others: list[_Asked], cot: bool) -> ExternalSample:
    """The sample of a row whose queries all walk as stated in a collision-free prompt."""
    table = read_table(prompt)
    if not table.next:
        raise CorruptRowError("the prompt holds no `KEY = VALUE` line")
    if table.faults:
        more = f" (and {len(table.faults) - 1} more)" if len(table.faults) > 1 else ""
        raise CorruptRowError(table.faults[0] + more)
    hash_len, alphabet = _hash_shape(table)
    strict = source == "magic"  # the reference layout: every chain is exactly `hops` pairs, head to end
    walks = [_walk(table, a, cot, strict) for a in asked]
    for a in others:
        _walk(table, a, cot, strict)
    queries = tuple(_query(table, i, start, hops, cot) for i, (start, hops) in enumerate(walks))
    spec = Spec(
        size=max(1, len(prompt)),
        hops=max(q.hops for q in queries),
        queries=len(queries),
        hash_len=hash_len,
        alphabet=alphabet,
        cot=cot,
        format="magic" if source == "magic" else "plain",
        filler=False,
    )
    return ExternalSample(source, prompt, queries, spec)


def _hash_shape(table: PromptTable) -> tuple[int, str]:
    """The hash length and alphabet of a prompt: one length, and a named alphabet when one fits."""
    hashes = table.key_line.keys() | table.value_line.keys()
    lengths = sorted({len(h) for h in hashes})
    if len(lengths) > 1:
        raise CorruptRowError(f"hashes of different lengths ({lengths[0]} to {lengths[-1]} symbols): hashhop needs one")
    symbols = set("".join(hashes))
    for name in _INFERRED_ALPHABETS:
        if symbols <= set(ALPHABETS[name]):
            return lengths[0], name
    custom = "custom:" + "".join(sorted(symbols))
    try:
        alphabet_chars(custom)
    except SpecError:
        raise CorruptRowError(f"hashes use symbols hashhop cannot read as an alphabet ({custom[7:27]!r})") from None
    return lengths[0], custom


def _walk(table: PromptTable, a: _Asked, cot: bool, strict: bool) -> tuple[str, int]:
    """(start, hops) of a query whose walk in the prompt gives its answer, else CorruptRowError saying why."""
    start, hops = (a.start, a.hops) if a.start is not None and a.hops is not None else _chain_ending_at(table, a)
    if start not in table.next:
        raise CorruptRowError(f"start {start} is not a key of the prompt")
    if table.head_of(start)[0] in table.prev:
        raise CorruptRowError(f"the chain through {start} is a cycle")
    path = walk(table.next, start, hops)
    if len(path) - 1 < hops:
        raise CorruptRowError(f"the chain from {start} ends after {len(path) - 1} hop(s), not {hops}")
    if tuple(path[1:] if cot else path[-1:]) != a.answer:
        raise CorruptRowError(f"{hops} hop(s) from {start} reach {path[-1]}, not the answer {a.answer[-1]}")
    if strict and start in table.prev:
        raise CorruptRowError(
            f"start {start} is also the value of prompt line {table.value_line[start] + 1}: chains collide"
        )
    if strict and path[-1] in table.next:
        line = table.key_line[path[-1]] + 1
        raise CorruptRowError(
            f"the chain from {start} does not end after {hops} hop(s): prompt line {line} continues it"
        )
    return start, hops


def _chain_ending_at(table: PromptTable, a: _Asked) -> tuple[str, int]:
    """The chain that ends at the answer (unique: no value repeats) as (its head, its length)."""
    answer = a.answer[-1]
    if answer not in table.prev:
        raise CorruptRowError(f"answer {answer} is not reachable: no prompt line has it as a value")
    if answer in table.next:
        raise CorruptRowError(
            f"answer {answer} does not end a chain: prompt line {table.key_line[answer] + 1} continues it"
        )
    return table.head_of(answer)


def _query(table: PromptTable, index: int, start: str, hops: int, cot: bool) -> Query:
    """The query with its whole chain (head to end) and the prompt line of each asked link."""
    head, offset = table.head_of(start)
    chain = table.chain_from(head)
    positions = tuple(table.key_line[h] for h in chain[offset : offset + hops])
    return Query(
        index=index, chain=chain, offset=offset, hops=hops, cot=cot, positions=positions, n_lines=table.n_lines
    )


def refuse_invalid(path: str, invalid: list[Invalid], shown: int = 3) -> None:
    """The one-line refusal of a file with invalid rows: the first few, and the way out."""
    first = "; ".join(f"line {bad.line}: {bad.reason}" for bad in invalid[:shown])
    more = f" (and {len(invalid) - shown} more)" if len(invalid) > shown else ""
    raise DatasetError(
        f"{path} holds {len(invalid)} invalid sample(s), never scored: {first}{more}; "
        f"`hashhop verify {path}` lists them, --skip-invalid evaluates the rest"
    )
