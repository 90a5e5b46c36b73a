"""Exact scoring of the niah tasks: the needle's value, found in free text, and why an answer failed.

Owns `NIAH_KINDS`, `extract_number` and `score_needle`. The answer is the last number of the
value's length in the completion (digit groups such as `1,234,567` read as one number), else the
last number of any length. A wrong answer is explained by a kind:

- `distractor`: the value of another needle of the haystack (a distractor or another query's);
- `partial`: a garbled copy of the expected value (shares half of it as a prefix or a suffix);
- `hallucinated`: a number that is nowhere in the haystack;
- `no_answer`: no number at all.

Pure, like HashHop's scoring: stored completions can be rescored at any time.
"""

from __future__ import annotations

import re

from hashhop.evaluate.score import Score, resembles
from hashhop.generator.niah import VALUE_DIGITS, Haystack
from hashhop.generator.sample import Query

NIAH_KINDS = ("correct", "distractor", "partial", "hallucinated", "no_answer", "over_length", "error")
_NUMBER = re.compile(r"(?<![\d,])\d{1,3}(?:,\d{3})+(?![\d,])|\d+")


def extract_number(text: str, digits: int = VALUE_DIGITS) -> str | None:
    """The number a completion answered: the last one of `digits` digits, else the last one."""
    numbers = [m.group().replace(",", "") for m in _NUMBER.finditer(text if isinstance(text, str) else "")]
    exact = [n for n in numbers if len(n) == digits]
    if exact:
        return exact[-1]
    return numbers[-1] if numbers else None


def _kind(haystack: Haystack, query: Query, answer: str | None) -> str:
    if answer is None:
        return "no_answer"
    if answer == query.target:
        return "correct"
    if answer in haystack.value_needle:
        return "distractor"
    return "partial" if resembles(answer, query.target) else "hallucinated"


def score_needle(haystack: Haystack, query: Query, text: str) -> Score:
    """Score the completion `text` for one needle query of `haystack` (pure)."""
    answer = extract_number(text)
    kind = _kind(haystack, query, answer)
    needle = haystack.value_needle.get(answer) if answer is not None else None
    correct = kind == "correct"
    return Score(
        correct=correct,
        kind=kind,
        credit=float(correct),
        hops_correct=int(correct),
        broke_at=None if correct else 1,
        answer=answer,
        answer_position=haystack.needle_position(needle) if needle is not None else None,
    )
