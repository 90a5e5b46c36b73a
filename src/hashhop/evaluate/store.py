"""The run store: `runs/<name>/` as described in docs/records.md.

- `records.jsonl`: append-only, one JSON line per finished query, keyed by (sample_id,
  query_index). Each line is written and flushed to the OS at once (a `kill -9` cannot lose it)
  and fsync'd in groups (at most `fsync_interval` seconds apart, and on close), since one fsync
  per record (~4 ms) would stall the event loop; a power cut loses at most that window, which a
  resume simply asks again. A torn line is ignored on read, so nothing is counted twice.
- `samples.jsonl`: each sample once, as a recipe (no prompt), with the cell it belongs to; written
  at once like a record, and fsync'd just before each group of records.
- `results.json`: the lm-eval-like summary, replaced atomically (temp file + os.replace).
- `.lock`: an flock held while a runner writes; the OS drops it when the process dies.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from typing import Any

from hashhop.core import fastjson
from hashhop.core.errors import OutputError, StoreError, require
from hashhop.core.files import atomic_output, read_jsonl
from hashhop.evaluate.record import Record, now_iso  # re-exported: the store's readers and writers speak Records
from hashhop.generator.external import AnySample
from hashhop.prompt.cell import Cell

RECORDS, SAMPLES, RESULTS, LOCK = "records.jsonl", "samples.jsonl", "results.json", ".lock"
__all__ = [
    "LOCK",
    "RECORDS",
    "RESULTS",
    "SAMPLES",
    "Record",
    "RunStore",
    "StoreError",
    "load_run",
    "now_iso",
    "read_records",
    "read_results",
    "read_samples",
    "write_json_atomic",
]


def _line(obj: dict) -> bytes:
    """One line of records.jsonl or samples.jsonl."""
    return fastjson.dumps(obj) + b"\n"


def read_records(run_dir: str) -> list[Record]:
    """The records of a run, in write order, one per key (the first written wins)."""
    seen, out = set(), []
    for d in read_jsonl(os.path.join(run_dir, RECORDS))[0]:
        record = Record.from_dict(d)
        if record.key not in seen:
            seen.add(record.key)
            out.append(record)
    return out


def read_samples(run_dir: str) -> list[dict]:
    """Entries of samples.jsonl: {"cell", "index", "n_tokens", "sample": recipe}."""
    return read_jsonl(os.path.join(run_dir, SAMPLES))[0]


def read_results(run_dir: str) -> dict:
    path = os.path.join(run_dir, RESULTS)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise StoreError(f"no results.json in {run_dir}: run `hashhop eval ... -o {run_dir}` first") from None
    except ValueError as exc:
        raise StoreError(f"{path} is not valid JSON ({exc}): rerun `hashhop score {run_dir}`") from exc


def load_run(run_dir: str):
    """The records of a run as a pandas DataFrame (one row per query; cell fields as columns)."""
    pd = require("pandas", "pandas")
    rows = []
    for r in read_records(run_dir):
        d = r.to_dict()
        d.update({f"cell_{k}": v for k, v in (r.cell or {}).items()})
        rows.append(d)
    return pd.DataFrame(rows)


def write_json_atomic(path: str, obj) -> None:
    """Replace `path` by `obj` as indented JSON, fsync'd; a failed write leaves the old file whole."""
    try:
        with atomic_output(path, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=False, default=str)
            f.write("\n")
    except OSError as exc:  # a full disk: the old file stays whole, the temp file goes
        raise StoreError(_write_failed(path, exc)) from None


def _write_failed(path: str, exc: OSError) -> str:
    return (
        f"cannot write {path}: {exc.strerror or exc}: free space (or fix the folder) and run the same "
        f"command again to resume; what was stored is intact"
    )


class RunStore:
    """A run folder opened for writing: holds the lock, appends records and samples."""

    def __init__(self, run_dir: str, fsync_interval: float = 0.2):
        self.dir, self.fsync_interval = run_dir, fsync_interval
        self._failed = False
        self._samples_dirty = False
        self._synced = time.monotonic()
        try:
            os.makedirs(run_dir, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create run folder {run_dir!r}: {exc.strerror}; choose another -o") from exc
        self._lock = self._acquire_lock()
        self.records = read_records(run_dir)
        self.done = {r.key for r in self.records}
        self.samples = {(s["cell_key"], s["index"]): s for s in read_samples(run_dir) if "cell_key" in s}
        self._rec = self._open_append(RECORDS)
        self._smp = self._open_append(SAMPLES)

    def _acquire_lock(self):
        f = open(os.path.join(self.dir, LOCK), "a+")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "?"
            f.close()
            raise StoreError(
                f"run folder {self.dir} is in use by another hashhop process (pid {holder}): "
                f"wait for it to finish or choose another -o"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        return f

    def _open_append(self, name: str):
        path = os.path.join(self.dir, name)
        # Unbuffered: each record is one write() straight to the OS, so a failed write (a full
        # disk) leaves nothing queued in a buffer to be retried, half-written, at close.
        f = open(path, "ab", buffering=0)
        # A crash can leave a torn line without a newline; start on a fresh line so the next
        # record is not glued to it (the torn fragment stays, and is skipped on read).
        if f.tell() > 0:
            with open(path, "rb") as r:
                r.seek(-1, os.SEEK_END)
                if r.read(1) != b"\n":
                    f.write(b"\n")
        return f

    def _append(self, f, obj: dict) -> None:
        """Write one line straight to the OS (fsync'd later, by sync())."""
        data = memoryview(_line(obj))
        try:
            while data:  # in the OS once written: survives the process being killed
                data = data[f.write(data) :]
        except OSError as exc:
            # A torn line may be left (no newline): it is skipped on read and never counted.
            self._failed = True
            raise StoreError(_write_failed(f.name, exc)) from None

    def sync(self) -> None:
        """fsync what was written so far (on a timer by add_record, and on close): samples first, so a
        record that survives a power cut always has its sample."""
        if self._samples_dirty:
            os.fsync(self._smp.fileno())
            self._samples_dirty = False
        os.fsync(self._rec.fileno())
        self._synced = time.monotonic()

    def add_record(self, record: Record) -> bool:
        """Append a record unless its key is already stored; True if written."""
        if record.key in self.done:
            return False
        self._append(self._rec, record.to_dict())
        if time.monotonic() - self._synced >= self.fsync_interval:
            self.sync()
        self.done.add(record.key)
        self.records.append(record)
        return True

    def add_sample(
        self, cell: Cell, index: int, sample: AnySample, n_tokens: int, prompt_tokens: int | None = None
    ) -> dict[str, Any]:
        """Store a sample's recipe once per (cell, index); returns the stored entry."""
        key = (cell.key, index)
        if key not in self.samples:
            entry = {
                "cell_key": key[0],
                "cell": cell.as_dict,
                "index": index,
                "sample_id": sample.id,
                "n_tokens": n_tokens,
                "prompt_tokens": prompt_tokens,
                "sample": sample.to_dict(with_prompt=False),
            }
            self._append(self._smp, entry)  # fsync'd with the next group of records
            self._samples_dirty = True
            self.samples[key] = entry
        return self.samples[key]

    def write_results(self, results: dict) -> None:
        write_json_atomic(os.path.join(self.dir, RESULTS), results)

    def rewrite_records(self, records: list[Record]) -> None:
        """Replace records.jsonl atomically (rescoring: same keys, same completions)."""
        self._rec.close()
        with atomic_output(os.path.join(self.dir, RECORDS)) as f:
            for r in records:
                f.write(_line(r.to_dict()))
        self.records = list(records)
        self._rec = self._open_append(RECORDS)

    def close(self) -> None:
        try:
            self.sync()
        except OSError:
            if not self._failed:  # after a failed write, the error already raised is the one to show
                raise
        for f in (self._rec, self._smp):
            f.close()
        self._lock.close()  # closing the file releases the flock

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
