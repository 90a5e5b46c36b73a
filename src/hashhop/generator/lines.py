"""A HashHop context read back as text: its `KEY = VALUE` lines and the chains they form.

One reading for everyone who reads a prompt the way a model would, without the generator's index:
`hashhop verify` (strict: it reports every structural fault) and the `oracle`/`random` backends
(tolerant: they keep what they can). Both formats are read: plain `KEY = VALUE` and Magic's
`KEY = 'VALUE'` (terminal values quoted). A niah haystack's needle sentences read as pairs too.
"""

from __future__ import annotations

from collections.abc import Iterable

from hashhop.generator.niah import needle_pairs

SEPARATOR = " = "


def split_line(line: str) -> tuple[str, str] | None:
    """(KEY, VALUE) of one line, whitespace and Magic's quotes stripped; None if it is not `KEY = VALUE`."""
    key, sep, value = line.partition(SEPARATOR)
    if not sep:
        return None
    return key.strip(), value.strip().strip("'")


def parse_pairs(lines: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """KEY -> VALUE from prompt lines, and the structural faults found on the way (for verify)."""
    table: dict[str, str] = {}
    values: set[str] = set()
    faults: list[str] = []
    for number, line in enumerate(lines):
        pair = split_line(line)
        if pair is None:
            faults.append(f"line {number} is not 'KEY = VALUE'")
            continue
        key, value = pair
        if key in table:
            faults.append(f"key {key} appears twice")
        if value in values:
            faults.append(f"value {value} appears twice")
        table[key] = value
        values.add(value)
    return table, faults


def index_context(context: str) -> dict[str, str]:
    """KEY -> VALUE of every `KEY = VALUE` line of a context, and of every needle sentence of a niah
    haystack; other lines are skipped, a repeated key keeps its last value (for the backends that read
    the context like a model)."""
    table = dict(pair for pair in map(split_line, context.split("\n")) if pair is not None)
    table.update(needle_pairs(context))
    return table


def walk(table: dict[str, str], start: str, hops: int) -> list[str]:
    """The hashes from `start` (included), following at most `hops` links: shorter if the chain ends."""
    path = [start]
    for _ in range(hops):
        if path[-1] not in table:
            break
        path.append(table[path[-1]])
    return path
