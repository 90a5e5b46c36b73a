"""Strict and lenient matching of a reply against the expected answer (docs/scoring.md).

Owns `strict_match` and `lenient_match`, the two scores stated beside the parser's exact match
(`Score.correct`): strict <= correct <= lenient, by construction in `score_query`.

- strict: the reply, stripped, begins with the answer in the requested format (the final hash for
  skip steps; `H2 = H3 = ...` for chain of thought). Tolerated: whitespace around the reply and
  around each `=`, an echo of the start (`START = ` before the answer), one pair of matching quotes
  or backticks around each hash (Magic's layout quotes values). Anything may follow the answer
  except what would continue it: another symbol of the alphabet or another `=` link.
- lenient: the right final hash (skip steps), or the right walk in order (chain of thought),
  anywhere in the reply, searched from the end: the last occurrence of the final hash, the last
  occurrence of the hash before it further left, and so on. A hash counts only as a whole run of
  the alphabet's symbols (a copy inside a longer garbled run is not that hash).

Both are pure and never raise on any text.
"""

from __future__ import annotations

from collections.abc import Sequence

_QUOTES = "'\"`"
_SPACE = " \t"


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in _SPACE:
        i += 1
    return i


def _take_hash(text: str, i: int, h: str) -> int | None:
    """The index after hash `h` at `i` (in one pair of matching quotes, or bare), else None."""
    quote = text[i] if i < len(text) and text[i] in _QUOTES else ""
    j = i + len(quote)
    if not text.startswith(h, j):
        return None
    j += len(h)
    if quote:
        return j + 1 if text.startswith(quote, j) else None
    return j


def _take_link(text: str, i: int) -> int | None:
    """The index after a `=` link (with spaces or tabs around it) at `i`, else None."""
    j = _skip_space(text, i)
    return _skip_space(text, j + 1) if text.startswith("=", j) else None


def _take_walk(text: str, i: int, hashes: Sequence[str]) -> int | None:
    """The index after `hashes` joined by `=` links, starting at `i`, else None."""
    for n, h in enumerate(hashes):
        if n:
            j = _take_link(text, i)
            if j is None:
                return None
            i = j
        end = _take_hash(text, i, h)
        if end is None:
            return None
        i = end
    return i


def strict_match(reply: str, start: str, expected: Sequence[str], symbols: frozenset[str]) -> bool:
    """The reply begins with `expected` (the final hash alone, or the walk after the start) as asked."""
    if not isinstance(reply, str) or not expected:
        return False
    text = reply.strip()
    after_echo = _take_hash(text, 0, start)
    i = 0
    if after_echo is not None and expected[0] != start:
        link = _take_link(text, after_echo)
        i = link if link is not None else 0
    end = _take_walk(text, i, expected)
    if end is None:
        return False
    # The answer must end here: a further symbol lengthens the hash, a further link continues the walk.
    return not (end < len(text) and text[end] in symbols) and _take_link(text, end) is None


def _whole_at(text: str, i: int, h: str, symbols: frozenset[str]) -> bool:
    before = i == 0 or text[i - 1] not in symbols
    end = i + len(h)
    return before and (end == len(text) or text[end] not in symbols)


def _last_whole(text: str, h: str, stop: int, symbols: frozenset[str]) -> int:
    """Where the last whole occurrence of `h` ending at or before `stop` begins, or -1."""
    i = text.rfind(h, 0, stop)
    while i >= 0 and not _whole_at(text, i, h, symbols):
        i = text.rfind(h, 0, i + len(h) - 1)
    return i


def lenient_match(reply: str, expected: Sequence[str], symbols: frozenset[str]) -> bool:
    """`expected` (one hash, or a walk) occurs in order anywhere in the reply, taking last occurrences."""
    if not isinstance(reply, str) or not expected:
        return False
    stop = len(reply)
    for h in reversed(expected):
        i = _last_whole(reply, h, stop, symbols)
        if i < 0:
            return False
        stop = i
    return True
