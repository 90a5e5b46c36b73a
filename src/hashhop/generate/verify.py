"""Independent checks of generated samples: `hashhop verify FILE`.

The prompt is re-read as text, the way a user would check it (generate/lines.py: split each line
on ' = ', strip quotes), without using the generator's index: no hash repeats as a key or as a value, every
query walks exactly `hops` links to its target, the stored sizes are the measured ones, and the
prompt still rebuilds from its recipe. An external sample (another tool's prompt) has no recipe
and no stated sizes: its prompt is re-read and each query walked again.
"""

from __future__ import annotations

from dataclasses import dataclass

from hashhop.generate.build import problem_of
from hashhop.generate.external import AnySample, ExternalSample, read_table
from hashhop.generate.lines import parse_pairs, walk
from hashhop.generate.sample import Sample
from hashhop.generate.sizing import TOLERANCE
from hashhop.generate.tokenizers import count_chunks, get_tokenizer


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
    table, faults = parse_pairs(text.split("\n"))
    problems += faults[:5]
    for q in sample.queries:
        path = walk(table, q.start, q.hops)
        if tuple(path) != q.path:
            problems.append(f"query {q.index} does not walk {q.hops} hops from {q.start} to its target")
        if q.path[-1] in table and q.offset + q.hops == len(q.chain) - 1:
            problems.append(f"query {q.index} target {q.answer} continues past the chain's end")
    problems += _check_sizes(sample, text)
    return Verdict(sample.id, not problems, tuple(problems))


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
    line = 2 * sample.spec.hash_len + 6
    slack = max(sample.spec.size * TOLERANCE, line) if sample.spec.tokenizer != "chars" else line
    if abs(measured - sample.spec.size) > slack and sample.spec.filler:
        out.append(f"size {measured} is off the requested {sample.spec.size} by more than {slack:.0f}")
    return out


def _line_chunks(text: str, size: int = 1 << 20):
    start = 0
    while start < len(text):
        end = text.find("\n", start + size)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end
