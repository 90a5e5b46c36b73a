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

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from hashhop.core.errors import SpecError
from hashhop.evaluate.candidates import (
    COT_ORDER,
    SKIP_ORDER,
    chain_after,
    find_groups,
    find_runs,
    mere_word,
    partial_after,
    partial_without_hash,
)
from hashhop.generator.alphabets import alphabet_chars


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
    runs = find_runs(raw, alphabet)
    hashes = [r for r in runs if len(r.text) == hash_len and not mere_word(r.text, alphabet, known)]
    groups = find_groups(raw, hashes)
    order = COT_ORDER if cot else SKIP_ORDER
    partial = None
    for pick in order:
        found = pick(raw, groups, start)
        if not found:
            continue
        group, via = found
        chain = chain_after([r.text for r in group], start)
        after = partial_after(raw, runs, group[-1].end, hash_len)
        if chain:  # a group that is only an echo of the start answers nothing: try the next rule
            return Parsed(chain[-1], chain, raw, after, via)
        partial = partial or after
    return Parsed(None, (), raw, partial or partial_without_hash(raw, runs, start, hash_len))


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
    # (mere_word's first two tests hoisted out of the loop.)
    if known is not None and alphabet == "letters" and any(mere_word(h, alphabet, known) for h in group):
        # A lone word is no hash, and no partial one either: nothing answered. A word inside a
        # longer text changes the groups: the full parser decides.
        return Parsed(None, (), text) if len(group) == 1 else None
    chain: tuple[str, ...]
    if len(group) == 1:  # the most common answer of all: skip chain_after's list building
        chain = () if group[0] == start else (group[0],)
    else:
        chain = chain_after(group, start)
    # Empty only for a lone echo of the start: nothing answered, as the full parser finds.
    return Parsed(chain[-1], chain, text, None, "lead") if chain else Parsed(None, (), text)
