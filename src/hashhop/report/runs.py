"""Reading stored runs for the report: records, samples and results.json of one run folder.

The format is fixed by docs/records.md. The reader is read-only and tolerant: a torn last line
(a run still writing, or killed mid-write) is skipped, and a duplicated key keeps its first record
(as `hashhop.evaluate.store.read_records` does), so a report can be made from a run that is still going.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from hashhop.core.errors import DatasetError
from hashhop.core.files import read_jsonl


@dataclass(frozen=True)
class Run:
    """One run folder: its records (deduplicated by key), sample recipes and summary."""

    name: str  # the folder's base name: never the full path (it would leak the user's machine)
    path: Path
    records: tuple[dict, ...]  # in write order
    samples: dict = field(default_factory=dict, repr=False)  # sample_id -> recipe dict
    results: dict | None = None
    torn_lines: int = 0  # unreadable lines skipped (a torn tail)

    @property
    def partial(self) -> bool:
        """Partial: no results.json yet, or results.json says so."""
        return self.results is None or bool(self.results.get("partial", False))

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.get("model", "?") for r in self.records))


def _samples(folder: Path) -> dict:
    """Sample recipes by id, from samples.jsonl and/or contexts/*.json[l]."""
    found: dict = {}
    files = [folder / "samples.jsonl"] if (folder / "samples.jsonl").is_file() else []
    if (folder / "contexts").is_dir():
        files += sorted(p for p in (folder / "contexts").iterdir() if p.suffix in (".json", ".jsonl"))
    for path in files:
        try:
            rows = read_jsonl(str(path))[0] if path.suffix == ".jsonl" else [json.loads(path.read_text())]
        except (OSError, ValueError):
            continue  # a sample file being written: the diagrams fall back to the records alone
        for row in rows:
            # samples.jsonl entries wrap the recipe ({"sample_id", "sample": recipe, ...}); accept bare recipes too
            recipe = row.get("sample") if isinstance(row, dict) and isinstance(row.get("sample"), dict) else row
            if isinstance(recipe, dict) and "id" in recipe and "spec" in recipe:
                found.setdefault(recipe["id"], recipe)
    return found


def read_run(path: str | Path) -> Run:
    """Read one run folder; raises DatasetError naming the fix when it is not a run."""
    folder = Path(path)
    records_file = folder / "records.jsonl"
    if not records_file.is_file():
        raise DatasetError(
            f"{folder.name or path}: no records.jsonl here: pass a run folder written by `hashhop eval` (runs/NAME)"
        )
    rows, torn = read_jsonl(str(records_file))
    latest: dict[tuple, dict] = {}
    for row in rows:  # a key written twice keeps its first record, like the store's resume
        latest.setdefault((row.get("sample_id"), row.get("query_index")), row)
    results = None
    if (folder / "results.json").is_file():
        try:
            results = json.loads((folder / "results.json").read_text())
        except ValueError:
            results = None  # unreadable summary: treat the run as partial
    return Run(
        name=folder.resolve().name,
        path=folder,
        records=tuple(latest.values()),
        samples=_samples(folder),
        results=results,
        torn_lines=torn,
    )


def load_runs(paths) -> list[Run]:
    """Several runs; runs whose folders share a base name get a numeric suffix."""
    runs: list[Run] = []
    seen: dict[str, int] = {}
    for p in paths:
        run = read_run(p)
        n = seen.get(run.name, 0)
        seen[run.name] = n + 1
        if n:
            run = Run(f"{run.name}#{n + 1}", run.path, run.records, run.samples, run.results, run.torn_lines)
        runs.append(run)
    return runs
