"""`batches.jsonl`: the batches a run folder submitted, so a killed run resumes without paying twice.

Append-only, one JSON line per event, each written and fsync'd before the run goes on:
- `{"event": "submitted", "batch": ID, "custom_ids": [...], "time": ...}`, written as soon as the
  provider has given the id, before any polling: a resumed run polls that batch again and never
  puts its queries in another one;
- `{"event": "collected", "batch": ID, "state": ..., "time": ...}`, written after the batch's
  results are in records.jsonl: the batch needs nothing more.
A query's attempts are the batches it was put in. A torn last line (a kill mid-write) is skipped.
"""

from __future__ import annotations

import os
from collections import Counter

from hashhop.core import fastjson
from hashhop.core.files import read_jsonl
from hashhop.evaluate.record import now_iso

BATCHES = "batches.jsonl"


class BatchLedger:
    """The batches of one run folder, read at start and appended to as they are submitted and collected."""

    def __init__(self, run_dir: str):
        self.path = os.path.join(run_dir, BATCHES)
        self.members: dict[str, list[str]] = {}  # batch id -> its custom_ids, in submission order
        self.collected: set[str] = set()
        for entry in read_jsonl(self.path)[0]:
            if entry.get("event") == "submitted":
                self.members[entry["batch"]] = list(entry["custom_ids"])
            elif entry.get("event") == "collected":
                self.collected.add(entry["batch"])
        self.attempts = Counter(cid for ids in self.members.values() for cid in ids)

    @property
    def open(self) -> list[str]:
        """Batches submitted and not yet collected."""
        return [b for b in self.members if b not in self.collected]

    def in_open_batch(self) -> set[str]:
        return {cid for b in self.open for cid in self.members[b]}

    def submitted(self, batch_id: str, custom_ids: list[str]) -> None:
        self._append({"event": "submitted", "batch": batch_id, "custom_ids": custom_ids, "time": now_iso()})
        self.members[batch_id] = list(custom_ids)
        self.attempts.update(custom_ids)

    def done(self, batch_id: str, state: str) -> None:
        self._append({"event": "collected", "batch": batch_id, "state": state, "time": now_iso()})
        self.collected.add(batch_id)

    def _append(self, entry: dict) -> None:
        # A fresh line even after a torn one; fsync'd at once, since the id is what a resume needs.
        with open(self.path, "ab") as f:
            if f.tell() > 0:
                with open(self.path, "rb") as r:
                    r.seek(-1, os.SEEK_END)
                    if r.read(1) != b"\n":
                        f.write(b"\n")
            f.write(fastjson.dumps(entry) + b"\n")
            f.flush()
            os.fsync(f.fileno())
