"""Answer extraction: the hashes a model gave, found in free text.

Owns `Parsed` and `extract_answer`. Models wrap their answers in every way there is (quotes,
code fences, markdown, "the answer is X", an echo of the query, arrows, chatter before and
after), so the parser works on *candidates* rather than on a fixed layout:

1. A candidate is a maximal run of the alphabet's symbols. A run of exactly `hash_len`
   symbols is a hash; a run of a nearby length is kept as a possible partial hash.
2. Hashes separated only by link text (`=`, arrows, quotes, punctuation, "then", "is", ...)
   form a *group*: one written chain.
3. One group is picked: the one after an answer marker ("the answer is", "Answer:"), the one
   opening the text, the last one after the query's start hash (`START = ...`), else the last
   one. Chain of thought prefers the written walk to the marker (which often names only the
   final hash); skip-steps prefers the marker (a model that shows its work, then answers).
4. The chain is the group's hashes after the start (an echo of the query is dropped), with
   repeated links (`A = B, B = C`) collapsed; the answer is its last hash.

Most completions are just `HASH` or `START = H1 = H2`: `extract_answer` reads those directly
and gives every other text to the full parser (`extract_answer_full`), with the same result
(tests/test_parse_fast.py checks the two differentially).

Pure, never raises on any text: scoring reruns it on stored completions.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from hashhop.core.errors import SpecError
from hashhop.generate.alphabets import alphabet_chars

# Text allowed between two hashes of one written chain. Words are checked against _LINK_WORDS.
_LINK_PUNCT = re.compile(r"""[\s=:,;.!?'"`*_~()\[\]{}<>|/\\+#\-–—→⇒⟶➔➜↦]+""")
_LINK_WORDS = frozenset(
    [
        "is",
        "to",
        "then",
        "and",
        "so",
        "maps",
        "points",
        "leads",
        "goes",
        "equals",
        "gives",
        "next",
        "which",
        "becomes",
        "step",
        "hop",
        "arrow",
        "value",
        "key",
        "chain",
        "answer",
        "final",
        "text",
        "plaintext",
        "s",
        "the",
        "of",
    ]
)
# "The answer is", "Answer:", "**Final answer**:", '"answer": ' and the like. The last one wins.
_MARKER = re.compile(
    r"\b(?:answer|result|final\s+hash|target\s+hash|last\s+hash|output)s?\b"
    r"[\s*_`'\")\]]{0,4}(?:is\b|:|=|->|→|would\s+be\b|will\s+be\b|should\s+be\b)",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+")  # how English words are cased; random hashes rarely are
_KEY_AFTER = re.compile(r"[ \t]*(?:=|->|→|:)")


@dataclass(frozen=True)
class Parsed:
    """What a completion answered.

    chain: the hashes given after the start, in order (chain of thought: one per hop).
    answer: the last hash given, or None when the text holds none.
    partial: a run of the alphabet of the wrong length where an answer was expected
    (a truncated or garbled hash), or None.
    via: how the answer was located: anchor, marker, lead, last or none (for debugging).
    """

    answer: str | None
    chain: tuple[str, ...]
    raw: str
    partial: str | None = None
    via: str = "none"


@dataclass(frozen=True)
class _Run:
    start: int
    end: int
    text: str


@lru_cache(maxsize=32)
def _run_pattern(alphabet: str) -> re.Pattern:
    chars = alphabet_chars(alphabet)
    return re.compile("[" + "".join(re.escape(c) for c in chars) + "]+")


def _runs(text: str, alphabet: str) -> list[_Run]:
    return [_Run(m.start(), m.end(), m.group()) for m in _run_pattern(alphabet).finditer(text)]


def _mere_word(run: str, alphabet: str, known: Callable[[str], bool] | None) -> bool:
    """A word of the hash's length ("Whatever", "probably"), not a hash of the context."""
    return known is not None and alphabet == "letters" and bool(_WORD.fullmatch(run)) and not known(run)


def _is_link(gap: str) -> bool:
    """True when `gap` (the text between two hashes) only links them: punctuation, numbers, link words."""
    words = _LINK_PUNCT.split(gap)
    return all(not w or w.isdigit() or w.lower() in _LINK_WORDS for w in words)


def _joins(text: str, prev: _Run, run: _Run) -> bool:
    """True when `run` continues the chain written up to `prev`."""
    gap = text[prev.end : run.start]
    if not _is_link(gap):
        return False
    # A new line that opens a new statement `X = ...` with X not the last hash is another
    # query's answer (magic completions list one query per line), not the next hop.
    new_statement = "\n" in gap and run.text != prev.text and bool(_KEY_AFTER.match(text, run.end))
    return not new_statement


def _groups(text: str, hashes: list[_Run]) -> list[list[_Run]]:
    """Split the hash runs into written chains: neighbours joined only by link text."""
    groups: list[list[_Run]] = []
    for run in hashes:
        if groups and _joins(text, groups[-1][-1], run):
            groups[-1].append(run)
        else:
            groups.append([run])
    return groups


def _chain(group: list[str], start: str) -> tuple[str, ...]:
    """The hashes of a group after its last start hash that has something after it (drops the
    echo), with immediate repeats removed: `A = B, B = C` is the chain A, B, C."""
    starts = [i for i, h in enumerate(group[:-1]) if h == start]
    after = group[starts[-1] + 1 :] if starts else [h for h in group if h != start]
    out: list[str] = []
    for h in after:
        if not out or out[-1] != h:
            out.append(h)
    return tuple(out)


def _by_anchor(text: str, groups: list[list[_Run]], start: str):
    anchored = [g for g in groups if any(r.text == start for r in g[:-1])]
    return (anchored[-1], "anchor") if anchored else None


def _marker_end(text: str) -> int | None:
    matches = list(_MARKER.finditer(text))
    return matches[-1].end() if matches else None


def _by_marker(text: str, groups: list[list[_Run]], start: str):
    end = _marker_end(text)
    if end is None:
        return None
    after = [g for g in groups if g[0].start >= end]
    return (after[0], "marker") if after else None


def _by_lead(text: str, groups: list[list[_Run]], start: str):
    """A chain that opens the text: the model answered first, then talked."""
    if not groups or not _is_link(text[: groups[0][0].start]):
        return None
    first = groups[0]
    # `X = Y` with X not the start, while the start is answered further on: another query's line.
    other_statement = first[0].text != start and bool(_KEY_AFTER.match(text, first[0].end))
    if other_statement and _by_anchor(text, groups[1:], start):
        return None
    return first, "lead"


def _by_last(text: str, groups: list[list[_Run]], start: str):
    """Nothing else to go by: the last chain written."""
    return (groups[-1], "last") if groups else None


def _partial_after(text: str, runs: list[_Run], pos: int, hash_len: int) -> str | None:
    """The first non-link run after `pos`, if only link text precedes it and its length is near hash_len."""
    lo, hi = max(2, (hash_len + 1) // 2), 2 * hash_len
    first = bisect_left(runs, pos, key=lambda r: r.start)  # runs are in text order
    for run in runs[first:]:
        if run.text.lower() in _LINK_WORDS and len(run.text) != hash_len:
            continue
        if not _is_link(text[pos : run.start]) or len(run.text) == hash_len:
            return None
        return run.text if lo <= len(run.text) <= hi else None
    return None


# Chain of thought: the written walk (opening the text or after the start) beats a marker, which
# often names only the final hash. Skip steps: the marker names the answer after any shown work.
_COT_ORDER = (_by_lead, _by_anchor, _by_marker, _by_last)
_SKIP_ORDER = (_by_marker, _by_lead, _by_anchor, _by_last)


def extract_answer(
    text: str,
    start: str,
    hops: int,
    cot: bool,
    hash_len: int,
    alphabet: str,
    *,
    known: Callable[[str], bool] | None = None,
) -> Parsed:
    """The chain and final hash a completion gave for the query starting at `start`.

    `hops` is part of the contract (callers pass the query); the parser does not cut the chain
    at `hops`, so an answer that walks too far is reported as such. `known(s)`, if given, says
    whether `s` is a hash of the context: with short letter hashes, English words of the hash's
    length ("probably") are then not taken for hashes unless the context holds them.
    """
    fast = _plain_answer(text, start, hash_len, alphabet, known)
    return fast if fast is not None else extract_answer_full(text, start, hops, cot, hash_len, alphabet, known=known)


def extract_answer_full(
    text: str,
    start: str,
    hops: int,
    cot: bool,
    hash_len: int,
    alphabet: str,
    *,
    known: Callable[[str], bool] | None = None,
) -> Parsed:
    """extract_answer by the candidate rules of the module docstring alone, for any text."""
    raw = text if isinstance(text, str) else ""
    runs = _runs(raw, alphabet)
    hashes = [r for r in runs if len(r.text) == hash_len and not _mere_word(r.text, alphabet, known)]
    groups = _groups(raw, hashes)
    order = _COT_ORDER if cot else _SKIP_ORDER
    partial = None
    for pick in order:
        found = pick(raw, groups, start)
        if not found:
            continue
        group, via = found
        chain = _chain([r.text for r in group], start)
        after = _partial_after(raw, runs, group[-1].end, hash_len)
        if chain:  # a group that is only an echo of the start answers nothing: try the next rule
            return Parsed(chain[-1], chain, raw, after, via)
        partial = partial or after
    return Parsed(None, (), raw, partial or _partial_without_hash(raw, runs, start, hash_len))


# A marker can only begin where a symbol run begins (it needs a word boundary): a plain answer
# with a hash that starts like one goes to the full parser.
_MARKER_HEADS = ("answer", "result", "output", "final", "target", "last")


@lru_cache(maxsize=32)
def _plain_symbols(alphabet: str) -> frozenset[str] | None:
    """The alphabet's symbols if they are all ASCII letters and digits (no symbol can then be link
    text or part of a marker's punctuation), else None: such alphabets take the full parser."""
    try:
        chars = alphabet_chars(alphabet)
    except SpecError:
        return None  # the full parser raises it
    return frozenset(chars) if chars.isascii() and chars.isalnum() else None


def _plain_answer(text, start: str, hash_len: int, alphabet: str, known) -> Parsed | None:
    """What extract_answer_full gives when the stripped text is hashes joined by " = " (one hash,
    `START = H1 = H2`, a walk `H1 = H2`), or None for any other text.

    Such a text is one group that opens the text with nothing after it, holds no marker and no
    partial hash: the lead rule picks it under either order, so the answer is its chain."""
    symbols = _plain_symbols(alphabet)
    if symbols is None or not isinstance(text, str) or hash_len < 1:
        return None
    group = text.strip().split(" = ")
    for h in group:
        if len(h) != hash_len or not symbols.issuperset(h) or h[:6].lower().startswith(_MARKER_HEADS):
            return None
    # (_mere_word's first two tests hoisted out of the loop.)
    if known is not None and alphabet == "letters" and any(_mere_word(h, alphabet, known) for h in group):
        # A lone word is no hash, and no partial one either: nothing answered. A word inside a
        # longer text changes the groups: the full parser decides.
        return Parsed(None, (), text) if len(group) == 1 else None
    chain: tuple[str, ...]
    if len(group) == 1:  # the most common answer of all: skip _chain's list building
        chain = () if group[0] == start else (group[0],)
    else:
        chain = _chain(group, start)
    # Empty only for a lone echo of the start: nothing answered, as the full parser finds.
    return Parsed(chain[-1], chain, text, None, "lead") if chain else Parsed(None, (), text)


def _partial_without_hash(text: str, runs: list[_Run], start: str, hash_len: int) -> str | None:
    """No hash given at all: a near-hash right after the start echo or an answer marker."""
    anchors = [r.end for r in runs if r.text == start]
    marker = _marker_end(text)
    for pos in ([marker] if marker is not None else []) + anchors[::-1]:
        partial = _partial_after(text, runs, pos, hash_len)
        if partial:
            return partial
    return None
