"""Exact, hop-level scoring of one query, failure kinds, Wilson intervals and run summaries.

Owns `Score`, `KINDS`, `score_query`, `score_sample`, `wilson_interval` and `summarize`.
Scoring is pure: the same (problem, query, completion) always gives the same Score, so stored
completions can be rescored at any time (`context_of(sample)` rebuilds the Problem from a recipe, or
reads an external sample's prompt). The scorer asks a problem only what `ScoringContext` declares:
every wrong answer is explained by a kind, decided from where the given hash lives in the context
(`locate_hash`: O(1) memory for a generated 100M-token prompt, a table lookup for an external one).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from hashhop.evaluate.match import lenient_match, strict_match
from hashhop.evaluate.parse import Parsed, extract_answer
from hashhop.evaluate.record import hit, predates_strict
from hashhop.generator.alphabets import alphabet_chars
from hashhop.generator.external import AnyContext, AnySample, ScoringContext, context_of
from hashhop.generator.niah import Haystack
from hashhop.generator.problem import HashLocation
from hashhop.generator.sample import Query
from hashhop.generator.spec import shallow_dict

KINDS = (
    "correct",
    "stopped_early",
    "went_too_far",
    "other_chain",
    "hallucinated",
    "partial_hash",
    "no_answer",
    "cut_off",
    "over_length",
    "error",
)


@dataclass(frozen=True)
class Score:
    """The verdict on one completion. broke_at: the 1-based hop where the answer left the true path.
    strict <= correct <= lenient (docs/scoring.md): the three scores of one reply."""

    correct: bool
    kind: str
    credit: float
    hops_correct: int
    broke_at: int | None
    answer: str | None
    answer_position: int | None
    strict: bool = False  # filled by score_query (the verdict is decided first)
    lenient: bool = False

    def to_dict(self) -> dict:
        """The record fields of docs/records.md that scoring fills."""
        return shallow_dict(self)


def resembles(given: str, expected: str) -> bool:
    """A garbled copy of `expected`: shares at least half of it as a prefix or as a suffix."""
    need = max(1, (len(expected) + 1) // 2)
    return _common_prefix(given, expected) >= need or _common_prefix(given[::-1], expected[::-1]) >= need


def _common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix of a and b."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class _Where:
    """Where given hashes live. Hashes of the queried chain are answered from the query itself
    (the common case, and free); anything else asks `problem.locate_hash` once (about 10 us, and
    remembered by the problem across its queries)."""

    def __init__(self, problem: ScoringContext, query: Query):
        self.problem, self.query = problem, query
        self._memo: dict = {}
        self.links = {h: i for i, h in enumerate(query.chain)}  # hashes of one chain are distinct

    def locate(self, s: str) -> HashLocation | None:
        if s not in self._memo:
            self._memo[s] = self.problem.locate_hash(s)
        return self._memo[s]

    def known(self, s: str) -> bool:
        return s in self.links or self.locate(s) is not None

    def position(self, s: str | None) -> int | None:
        """Context line of `s`: where it is a value (the answer is read as one), else where it is a key."""
        if s is None:
            return None
        q = self.query
        step = self.links.get(s, -1) - q.offset  # s is the value of asked link number `step` (1-based)
        if len(q.positions) == q.hops and 1 <= step <= q.hops:
            return q.positions[step - 1]
        loc = self.locate(s)
        if loc is None:
            return None
        return loc.value_line if loc.value_line is not None else loc.key_line

    def classify(self, given: str, hop: int) -> tuple[str, int]:
        """Why `given` is not the hash expected at `hop` (1-based): (kind, hops reached on the chain)."""
        q = self.query
        if given in self.links:
            reached = self.links[given] - q.offset  # hops from the start; negative: before the start
            return ("stopped_early" if reached < hop else "went_too_far"), min(max(0, reached), hop)
        if self.locate(given) is not None:
            return "other_chain", 0  # another chain, a decoy, or a filler pair: all in the context
        return ("partial_hash" if resembles(given, q.path[hop]) else "hallucinated"), 0


def _verdict(where: _Where, kind: str, credit: float, hops_correct: int, answer: str | None) -> Score:
    correct = kind == "correct"
    return Score(
        correct=correct,
        kind=kind,
        credit=credit,
        hops_correct=hops_correct,
        broke_at=None if correct else hops_correct + 1,
        answer=answer,
        answer_position=where.position(answer),
    )


def _no_hash(where: _Where, parsed: Parsed, hop: int, hops_correct: int, credit: float) -> Score:
    """Nothing (more) given where hop `hop` was expected: a truncated hash, or the walk just stopped."""
    if parsed.partial and resembles(parsed.partial, where.query.path[hop]):
        return Score(False, "partial_hash", credit, hops_correct, hops_correct + 1, parsed.partial, None)
    kind = "no_answer" if parsed.answer is None else "stopped_early"
    return _verdict(where, kind, credit, hops_correct, parsed.answer)


def _score_skip(where: _Where, parsed: Parsed) -> Score:
    k = where.query.hops
    if parsed.answer is None:
        return _no_hash(where, parsed, k, 0, 0.0)
    if parsed.answer == where.query.answer:
        return _verdict(where, "correct", 1.0, k, parsed.answer)
    kind, reached = where.classify(parsed.answer, k)
    return _verdict(where, kind, 0.0, reached, parsed.answer)


def _score_cot(where: _Where, parsed: Parsed) -> Score:
    """Hop by hop: the chain given is compared with the true walk; credit for the correct prefix."""
    expected, given, k = where.query.path[1:], parsed.chain, where.query.hops
    prefix = 0
    while prefix < min(len(given), k) and given[prefix] == expected[prefix]:
        prefix += 1
    # Extra hashes past the target dilute credit, so credit is 1.0 exactly when the answer is correct.
    credit = prefix / max(k, len(given))
    if prefix == k == len(given):
        return _verdict(where, "correct", 1.0, k, parsed.answer)
    if prefix == k:
        return _verdict(where, "went_too_far", credit, k, parsed.answer)
    if prefix == len(given):
        return _no_hash(where, parsed, prefix + 1, prefix, credit)
    kind, _ = where.classify(given[prefix], prefix + 1)
    return _verdict(where, kind, credit, prefix, parsed.answer)


# What backends report when the token budget ended a reply (openai, llama.cpp, hf: length;
# Anthropic: max_tokens).
BUDGET_REASONS = frozenset({"length", "max_tokens"})


@lru_cache(maxsize=32)
def _symbols(alphabet: str) -> frozenset[str]:
    return frozenset(alphabet_chars(alphabet))


def _three_scores(verdict: Score, query: Query, text: str, prefill: str, symbols: frozenset[str]) -> Score:
    """The verdict with strict and lenient set: strict = correct and begins with the answer (the
    reply alone, or after the prefill); lenient = correct or the answer anywhere (last occurrence)."""
    expected = query.path[1:] if query.cot else (query.answer,)
    strict = verdict.correct and (
        strict_match(text, query.start, expected, symbols)
        or bool(prefill)
        and strict_match(prefill + text, query.start, expected, symbols)
    )
    lenient = verdict.correct or lenient_match(prefill + text, expected, symbols)
    return dataclasses.replace(verdict, strict=strict, lenient=lenient)


def _hashhop_verdict(problem: ScoringContext, query: Query, full: str) -> Score:
    spec, where = problem.spec, _Where(problem, query)
    parsed = extract_answer(full, query.start, query.hops, query.cot, spec.hash_len, spec.alphabet, known=where.known)
    return _score_cot(where, parsed) if query.cot else _score_skip(where, parsed)


def _cut_off(verdict: Score, finish_reason: str | None) -> Score:
    """A wrong answer the token budget ended is cut_off, not wrong (a correct one stays correct)."""
    if not verdict.correct and finish_reason in BUDGET_REASONS:
        return dataclasses.replace(verdict, kind="cut_off")
    return verdict


def score_query(
    problem: AnyContext, query: Query, text: str, *, prefill: str = "", finish_reason: str | None = None
) -> Score:
    """Score the completion `text` for `query` of `problem` (pure). `prefill`: the template's start of
    the answer, sent before it; `finish_reason`: why the reply ended, as the backend reported it.
    A niah haystack's queries are scored by evaluate/niah_score.py; the cut_off and strict/lenient
    steps are the same for every context."""
    reply = text if isinstance(text, str) else ""
    if isinstance(problem, Haystack):
        from hashhop.evaluate.niah_score import needle_scores, score_needle  # they build on this module's Score

        verdict = _cut_off(score_needle(problem, query, prefill + reply), finish_reason)
        return needle_scores(verdict, query.target, reply, prefill)
    verdict = _cut_off(_hashhop_verdict(problem, query, prefill + reply), finish_reason)
    return _three_scores(verdict, query, reply, prefill, _symbols(problem.spec.alphabet))


def score_sample(sample: AnySample, query_index: int, text: str, problem: AnyContext | None = None) -> Score:
    """Score a completion against a stored sample (a recipe is enough). Pass `problem` to reuse one."""
    problem = problem or context_of(sample)
    return score_query(problem, sample.queries[query_index], text)


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (n == 0: the uninformative (0, 1))."""
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p, z2 = k / n, z * z
    denom = 1 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # Clamp: at k == 0 or k == n the formula meets 0 or 1 up to rounding.
    return max(0.0, center - half), min(1.0, center + half)


def _rate(k: int, n: int) -> tuple[float | None, list[float] | None]:
    """k/n with its Wilson interval; (None, None) when nothing was scored."""
    if not n:
        return None, None
    return k / n, list(wilson_interval(k, n))


def summarize(rows: Iterable[dict]) -> dict:
    """Aggregate records: accuracy (strict: the headline; exact; lenient) and credit over scored (status
    ok) queries; errors and over-length queries are counted apart, never as wrong and never dropped."""
    counted: Counter = Counter()
    credit = 0.0
    kinds: Counter = Counter()
    for row in rows:
        status = row.get("status", "ok")
        kinds[row.get("kind") or status] += 1
        counted["n"] += 1
        if status == "ok":
            counted["scored"] += 1
            counted.update(f for f in ("correct", "strict", "lenient") if hit(row, f))
            counted["legacy"] += predates_strict(row)
            credit += float(row.get("credit") or 0.0)
        else:  # "error", or a status this version does not know: never counted as an answer
            counted["over_length" if status == "over_length" else "errors"] += 1
    counts = {kind: kinds.pop(kind, 0) for kind in KINDS}
    counts.update(sorted(kinds.items()))  # unknown kinds stay visible rather than vanish
    scored = counted["scored"]
    strict, exact, lenient = (_rate(counted[f], scored) for f in ("strict", "correct", "lenient"))
    return {
        "n": counted["n"],
        "n_scored": scored,
        "n_strict": counted["strict"],
        "accuracy": strict[0],  # the headline: strict
        "accuracy_ci95": strict[1],
        "n_correct": counted["correct"],
        "accuracy_exact": exact[0],
        "accuracy_exact_ci95": exact[1],
        "n_lenient": counted["lenient"],
        "accuracy_lenient": lenient[0],
        "accuracy_lenient_ci95": lenient[1],
        "n_strict_from_exact": counted["legacy"],  # scored records without a strict score (older runs)
        "mean_credit": credit / scored if scored else None,
        "kinds": counts,
        "n_errors": counted["errors"],
        "n_over_length": counted["over_length"],
    }
