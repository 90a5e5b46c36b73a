"""What a golden bench run is compared on: records and results.json with the fields that vary
from run to run (times, latencies, versions, the git commit) removed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

VOLATILE_RECORD = ("latency_s", "time", "peak_memory_bytes")  # measured: varies run to run
# Record fields added after the golden capture: left out when null (no backend of these runs reports them),
# so every field the capture holds is still compared byte for byte.
ADDED_RECORD = ("cached_tokens", "cache_write_tokens")
VOLATILE_RESULTS = ("versions", "git_hash", "timing", "hashhop_version", "total_evaluation_time_seconds")


def _records(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [
        {k: v for k, v in row.items() if k not in VOLATILE_RECORD and not (k in ADDED_RECORD and v is None)}
        for row in rows
    ]
    return sorted(rows, key=lambda r: (r["sample_id"], r["query_index"]))


def normalized(run_folder: Path) -> dict:
    """{model folder: digests of its records and samples, its answers, and its results} of a run folder."""
    out = {}
    for records in sorted(run_folder.rglob("records.jsonl")):
        folder = records.parent
        results = json.loads((folder / "results.json").read_text())
        samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines() if line.strip()]
        rows = _records(records)
        out[str(folder.relative_to(run_folder))] = {
            "records_sha256": _digest(rows),
            "answers": [[r["sample_id"], r["query_index"], r["kind"], r["answer"]] for r in rows],
            "results": {k: v for k, v in results.items() if k not in VOLATILE_RESULTS},
            "samples_sha256": _digest(samples),
        }
    return out


def _digest(rows: list) -> str:
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()
