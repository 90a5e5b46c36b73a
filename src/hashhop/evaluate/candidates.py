"""Candidates for an answer in free text: runs of the alphabet's symbols, hashes joined by link
text into groups (written chains), and the rules that pick one group (after the query's start, after
an answer marker, opening the text, the last one). The parser (parse.py) builds its verdict on them.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from hashhop.generator.alphabets import alphabet_chars

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
class Run:
    start: int
    end: int
    text: str


@lru_cache(maxsize=32)
def _run_pattern(alphabet: str) -> re.Pattern:
    chars = alphabet_chars(alphabet)
    return re.compile("[" + "".join(re.escape(c) for c in chars) + "]+")


def find_runs(text: str, alphabet: str) -> list[Run]:
    return [Run(m.start(), m.end(), m.group()) for m in _run_pattern(alphabet).finditer(text)]


def mere_word(run: str, alphabet: str, known: Callable[[str], bool] | None) -> bool:
    """A word of the hash's length ("Whatever", "probably"), not a hash of the context."""
    return known is not None and alphabet == "letters" and bool(_WORD.fullmatch(run)) and not known(run)


def _is_link(gap: str) -> bool:
    """True when `gap` (the text between two hashes) only links them: punctuation, numbers, link words."""
    words = _LINK_PUNCT.split(gap)
    return all(not w or w.isdigit() or w.lower() in _LINK_WORDS for w in words)


def _joins(text: str, prev: Run, run: Run) -> bool:
    """True when `run` continues the chain written up to `prev`."""
    gap = text[prev.end : run.start]
    if not _is_link(gap):
        return False
    # A new line that opens a new statement `X = ...` with X not the last hash is another
    # query's answer (magic completions list one query per line), not the next hop.
    new_statement = "\n" in gap and run.text != prev.text and bool(_KEY_AFTER.match(text, run.end))
    return not new_statement


def find_groups(text: str, hashes: list[Run]) -> list[list[Run]]:
    """Split the hash runs into written chains: neighbours joined only by link text."""
    groups: list[list[Run]] = []
    for run in hashes:
        if groups and _joins(text, groups[-1][-1], run):
            groups[-1].append(run)
        else:
            groups.append([run])
    return groups


def chain_after(group: list[str], start: str) -> tuple[str, ...]:
    """The hashes of a group after its last start hash that has something after it (drops the
    echo), with immediate repeats removed: `A = B, B = C` is the chain A, B, C."""
    starts = [i for i, h in enumerate(group[:-1]) if h == start]
    after = group[starts[-1] + 1 :] if starts else [h for h in group if h != start]
    out: list[str] = []
    for h in after:
        if not out or out[-1] != h:
            out.append(h)
    return tuple(out)


def _by_anchor(text: str, groups: list[list[Run]], start: str):
    anchored = [g for g in groups if any(r.text == start for r in g[:-1])]
    return (anchored[-1], "anchor") if anchored else None


def _marker_end(text: str) -> int | None:
    matches = list(_MARKER.finditer(text))
    return matches[-1].end() if matches else None


def _by_marker(text: str, groups: list[list[Run]], start: str):
    end = _marker_end(text)
    if end is None:
        return None
    after = [g for g in groups if g[0].start >= end]
    return (after[0], "marker") if after else None


def _by_lead(text: str, groups: list[list[Run]], start: str):
    """A chain that opens the text: the model answered first, then talked."""
    if not groups or not _is_link(text[: groups[0][0].start]):
        return None
    first = groups[0]
    # `X = Y` with X not the start, while the start is answered further on: another query's line.
    other_statement = first[0].text != start and bool(_KEY_AFTER.match(text, first[0].end))
    if other_statement and _by_anchor(text, groups[1:], start):
        return None
    return first, "lead"


def _by_last(text: str, groups: list[list[Run]], start: str):
    """Nothing else to go by: the last chain written."""
    return (groups[-1], "last") if groups else None


def partial_after(text: str, runs: list[Run], pos: int, hash_len: int) -> str | None:
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
COT_ORDER = (_by_lead, _by_anchor, _by_marker, _by_last)
SKIP_ORDER = (_by_marker, _by_lead, _by_anchor, _by_last)


def partial_without_hash(text: str, runs: list[Run], start: str, hash_len: int) -> str | None:
    """No hash given at all: a near-hash right after the start echo or an answer marker."""
    anchors = [r.end for r in runs if r.text == start]
    marker = _marker_end(text)
    for pos in ([marker] if marker is not None else []) + anchors[::-1]:
        partial = partial_after(text, runs, pos, hash_len)
        if partial:
            return partial
    return None
