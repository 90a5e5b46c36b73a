"""`hashhop convert`: a dataset rewritten in Magic's reference layout or in hashhop's JSONL form.

To `magic`: one reference row per sample (`params`, `prompt`, `completion`, `targets`). The prompt
and completion are the sample's own bytes when it is in the `magic` format (a generated one is
exactly what the generator wrote); a `plain` prompt gets its chains' last values quoted, as the
layout wants. `targets` names every chain of `hops` links, the queried ones first.
To `hashhop`: a generated sample as `hashhop generate` writes it (prompt included); any other row
as an external sample, which `hashhop eval --dataset` and `hashhop verify` read back as it was.
Rows that cannot be scored refuse the conversion (generator/foreign.py); the output is written
atomically, so a refused or failed conversion leaves no file.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hashhop.core.errors import DatasetError
from hashhop.core.files import atomic_output
from hashhop.generator.build import problem_of
from hashhop.generator.dataset import scan_samples
from hashhop.generator.external import AnySample, ExternalSample, PromptTable, read_table
from hashhop.generator.foreign import Invalid, refuse_invalid
from hashhop.generator.lines import split_line
from hashhop.generator.sample import Sample, render_completion

TARGETS = ("magic", "hashhop")


def convert(source: str, out: str, to: str) -> int:
    """Write every sample of `source` to `out` in the `to` layout; returns how many were written."""
    if to not in TARGETS:
        raise DatasetError(f"unknown layout {to!r}: use --to {' or --to '.join(TARGETS)}")
    row = magic_row if to == "magic" else hashhop_row
    invalid: list[Invalid] = []
    written = 0
    with atomic_output(out, "w") as f:
        for item in scan_samples(source):
            if isinstance(item, Invalid):
                invalid.append(item)
                continue
            f.write(json.dumps(row(item)) + "\n")
            written += 1
        if invalid:  # raised inside the block: the partial output is removed
            refuse_invalid(source, invalid)
    return written


def hashhop_row(sample: AnySample) -> dict[str, Any]:
    """hashhop's JSONL form, prompt included."""
    if isinstance(sample, Sample) and sample.prompt is None:
        sample = dataclasses.replace(sample, prompt=problem_of(sample).prompt())
    return sample.to_dict()


def magic_row(sample: AnySample) -> dict[str, Any]:
    """The reference layout of a sample; DatasetError for a sample the layout cannot hold."""
    spec, queries = sample.spec, sample.queries
    if any(q.hops != spec.hops or q.offset for q in queries):
        raise DatasetError(
            f"sample {sample.id} asks mixed hop counts or starts mid-chain: Magic's layout holds one `Hops=` "
            "and queries from chain heads; convert it --to hashhop"
        )
    prompt = _prompt(sample)
    table = read_table(prompt)
    targets = {q.start: q.target for q in queries}
    targets.update(_other_targets(table, spec.hops, spec.cot, skip=set(targets)))
    params = {
        "n_chars_problem": spec.size if spec.tokenizer == "chars" else len(prompt),
        "num_queries": len(queries),
        "hops": spec.hops,
        "hash_pair_str_length": spec.hash_len,
        "chain_of_thought": spec.cot,
    }
    completion = render_completion("magic", queries, spec.hops, spec.cot)
    return {"params": params, "prompt": prompt, "completion": completion, "targets": targets}


def _prompt(sample: AnySample) -> str:
    if isinstance(sample, ExternalSample):
        prompt = sample.prompt
    else:
        prompt = sample.prompt if sample.prompt is not None else problem_of(sample).prompt()
    return prompt if sample.spec.format == "magic" else quote_last_values(prompt)


def quote_last_values(prompt: str) -> str:
    """A plain prompt in the reference layout: a value that is no line's key (a chain's last) is quoted."""
    table = read_table(prompt)
    lines = prompt.split("\n")
    for number, line in enumerate(lines):
        pair = split_line(line)
        if pair is not None and pair[1] not in table.next:
            lines[number] = f"{pair[0]} = '{pair[1]}'"
    return "\n".join(lines)


def _other_targets(table: PromptTable, hops: int, cot: bool, skip: set[str]) -> dict[str, str]:
    """Every other chain of exactly `hops` links, by its head's line (filler pairs of other lengths are not chains)."""
    heads = sorted((line, key) for key, line in table.key_line.items() if key not in table.prev and key not in skip)
    out: dict[str, str] = {}
    for _, head in heads:
        chain = table.chain_from(head)
        if len(chain) == hops + 1:
            out[head] = " = ".join(chain[1:]) if cot else chain[-1]
    return out
