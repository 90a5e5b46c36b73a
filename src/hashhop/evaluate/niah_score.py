"""Exact scoring of the niah tasks: the needle's value, found in free text, and why an answer failed.

Owns `NIAH_KINDS`, `extract_number`, `score_needle` and `needle_scores`. The answer is the last number of the
value's length in the completion (digit groups such as `1,234,567` read as one number), else the
last number of any length. A wrong answer is explained by a kind:

- `distractor`: the value of another needle of the haystack (a distractor or another query's);
- `partial`: a garbled copy of the expected value (shares half of it as a prefix or a suffix);
- `hallucinated`: a number that is nowhere in the haystack;
- `no_answer`: no number at all;
- `cut_off`: a wrong answer the token budget ended (set by `score_query` from the finish reason).

Strict and lenient, beside the exact match (`needle_scores`, docs/scoring.md): strict = correct and
the reply, stripped, begins with the value (one quote or backtick may open it; digit groups read as
one number; another digit or a decimal part may not follow); lenient = correct or the value is any
number of the reply (the last one of the value's length need not be it). strict <= correct <= lenient.

Pure, like HashHop's scoring: stored completions can be rescored at any time.
"""

from __future__ import annotations

import dataclasses
import re

from hashhop.evaluate.score import Score, resembles
from hashhop.generator.niah import VALUE_DIGITS, Haystack
from hashhop.generator.sample import Query

NIAH_KINDS = ("correct", "distractor", "partial", "hallucinated", "no_answer", "cut_off", "over_length", "error")
_NUMBER = re.compile(r"(?<![\d,])\d{1,3}(?:,\d{3})+(?![\d,])|\d+")
_DECIMAL = re.compile(r"[.,]\d")  # what would continue a number at the start of a reply
_QUOTES = "'\"`"


def _numbers(text: str) -> list[str]:
    """Every number of `text`, digit groups read as one."""
    return [m.group().replace(",", "") for m in _NUMBER.finditer(text)]


def extract_number(text: str, digits: int = VALUE_DIGITS) -> str | None:
    """The number a completion answered: the last one of `digits` digits, else the last one."""
    numbers = _numbers(text if isinstance(text, str) else "")
    exact = [n for n in numbers if len(n) == digits]
    if exact:
        return exact[-1]
    return numbers[-1] if numbers else None


def _begins_with(reply: str, value: str) -> bool:
    """The reply, stripped, begins with the number `value` (after at most one opening quote)."""
    text = reply.strip()
    text = text[1:] if text[:1] in _QUOTES else text
    first = _NUMBER.match(text)
    if first is None or first.group().replace(",", "") != value:
        return False
    return not _DECIMAL.match(text, first.end())


def needle_scores(verdict: Score, value: str, reply: str, prefill: str = "") -> Score:
    """The verdict with strict and lenient set (the reply alone, or after the prefill)."""
    strict = verdict.correct and (_begins_with(reply, value) or bool(prefill) and _begins_with(prefill + reply, value))
    lenient = verdict.correct or value in _numbers(prefill + reply)
    return dataclasses.replace(verdict, strict=strict, lenient=lenient)


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
