"""Independent checks of generated samples: `hashhop verify FILE`.

The prompt is re-read as text, the way a user would check it (generator/lines.py: split each line
on ' = ', strip quotes), without using the generator's index: no hash repeats as a key or as a value, every
query walks exactly `hops` links to its target (down the prompt, or up it, when the spec's order is forward
or backward), the stored sizes are the measured ones, and the prompt still rebuilds from its recipe.
A niah haystack is read by its needle sentences instead.
An external sample (another tool's prompt) has no recipe and no stated sizes: its prompt is re-read
and each query walked again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from hashhop.generator.build import problem_of
from hashhop.generator.external import AnySample, ExternalSample, read_table
from hashhop.generator.lines import parse_pairs, walk
from hashhop.generator.niah import NEEDLE_PATTERN
from hashhop.generator.sample import Sample
from hashhop.generator.sizing import TOLERANCE
from hashhop.generator.tokenizers import count_chunks, get_tokenizer

NIAH_LINE_SLACK = 100  # characters: a filler sentence is longer than a hash line


@dataclass(frozen=True)
class Verdict:
    sample_id: str
    ok: bool
    problems: tuple[str, ...]


def verify_sample(sample: AnySample) -> Verdict:
    if isinstance(sample, ExternalSample):
        return verify_external(sample)
    problems: list[str] = []
    problem = problem_of(sample)
    chunks = list(problem.chunks()) if sample.prompt is None else [sample.prompt]
    text = "".join(chunks)
    import hashlib

    if hashlib.sha256(text.encode()).hexdigest() != sample.prompt_sha256:
        problems.append("prompt does not match its recipe (edited, or another format version)")
    problems += _check_chains(sample, text) if sample.spec.task == "hashhop" else _check_needles(sample, text)
    problems += _check_sizes(sample, text)
    return Verdict(sample.id, not problems, tuple(problems))


def _check_chains(sample: Sample, text: str) -> list[str]:
    lines = text.split("\n")
    table, faults = parse_pairs(lines)
    problems = faults[:5]
    problems += _check_order(sample, lines)
    for q in sample.queries:
        path = walk(table, q.start, q.hops)
        if tuple(path) != q.path:
            problems.append(f"query {q.index} does not walk {q.hops} hops from {q.start} to its target")
        if q.path[-1] in table and q.offset + q.hops == len(q.chain) - 1:
            problems.append(f"query {q.index} target {q.answer} continues past the chain's end")
    return problems


def _check_needles(sample: Sample, text: str) -> list[str]:
    """A niah haystack: every needle key and value appears once, each query's needle sits on its line
    and holds its target, and no filler line holds a digit (an answer could not come from filler)."""
    lines = text.split("\n")
    needles = [pair for line in lines for pair in NEEDLE_PATTERN.findall(line)]
    problems = [f"key {k} appears twice" for k, n in Counter(k for k, _ in needles).items() if n > 1]
    problems += [f"value {v} appears twice" for v, n in Counter(v for _, v in needles).items() if n > 1]
    problems += (
        ["a filler line holds a digit"] if sum(any(c.isdigit() for c in line) for line in lines) > len(needles) else []
    )
    table = dict(needles)
    for q in sample.queries:
        line = lines[q.positions[0]] if q.positions and q.positions[0] < len(lines) else ""
        if table.get(q.start) != q.target or q.start not in line:
            problems.append(f"query {q.index}: the needle of {q.start} does not hold {q.target} on line {q.positions}")
    return problems


def _check_order(sample: Sample, lines: list[str]) -> list[str]:
    """With order forward or backward, each query's links sit in chain order (or reversed) down the prompt."""
    if sample.spec.order == "shuffled":
        return []
    row_of = {line.partition(" = ")[0]: i for i, line in enumerate(lines)}
    out = []
    for q in sample.queries:
        rows = [row_of.get(h, -1) for h in q.path[:-1]]
        if rows != sorted(rows, reverse=sample.spec.order == "backward"):
            out.append(f"query {q.index}'s links are not in {sample.spec.order} order")
    return out


def verify_external(sample: ExternalSample) -> Verdict:
    """No key or value written twice, and every query walks its `hops` links to its target."""
    table = read_table(sample.prompt)
    problems = list(table.faults[:5])
    for q in sample.queries:
        if tuple(walk(table.next, q.start, q.hops)) != q.path:
            problems.append(f"query {q.index} does not walk {q.hops} hops from {q.start} to its target")
    return Verdict(sample.id, not problems, tuple(problems))


def _check_sizes(sample: Sample, text: str) -> list[str]:
    out = []
    if len(text) != sample.n_chars:
        out.append(f"n_chars says {sample.n_chars} but the prompt has {len(text)}")
    tokenizer = get_tokenizer(sample.spec.tokenizer)
    measured = count_chunks(tokenizer, _line_chunks(text))
    if measured != sample.n_tokens:
        out.append(f"n_tokens says {sample.n_tokens} but {tokenizer.name} counts {measured}")
    line = 2 * sample.spec.hash_len + 6 if sample.spec.task == "hashhop" else NIAH_LINE_SLACK
    slack = max(sample.spec.size * TOLERANCE, line) if sample.spec.tokenizer != "chars" else line
    if abs(measured - sample.spec.size) > slack and sample.spec.filler:
        out.append(f"size {measured} is off the requested {sample.spec.size} by more than {slack:.0f}")
    return out


def _line_chunks(text: str, size: int = 1 << 20) -> Iterator[str]:
    start = 0
    while start < len(text):
        end = text.find("\n", start + size)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end
