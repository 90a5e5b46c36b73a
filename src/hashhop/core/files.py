"""Files on disk, written whole or not at all, and JSONL read with one rule for torn lines.

Every file hashhop replaces (datasets, cards, results.json, records.jsonl when rescored, reports,
checkpoints) goes through `atomic_output`; every JSONL file it reads back (records, samples) goes
through `read_jsonl`.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from hashhop.core.errors import OutputError


def _folder_of(path: str) -> str:
    """The existing folder `path` would be written in; OutputError when there is none."""
    if not path or os.path.isdir(path):
        raise OutputError(f"cannot write {path!r}: it is not a file name (pick a file with -o, e.g. -o data.jsonl)")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OutputError(f"cannot write {path}: directory {folder} does not exist (create it or pick another -o)")
    return folder


def _temp_beside(path: str, folder: str) -> tuple[int, str]:
    """A new temp file in `folder` (so the rename stays on one file system), with the usual mode."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror} (pick a writable -o)") from None
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the output should look like any other file
    return fd, tmp


def fsync_folder(folder: str) -> None:
    """Make a rename in `folder` durable (best effort: some file systems refuse to open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output(path: str, mode: str = "wb", sync: bool = True) -> Iterator[IO[Any]]:
    """A file object for a temp file beside `path`, renamed over it only when the block succeeds.

    The old file stays whole until the rename; on any failure the temp file is removed and the error
    goes on. `sync` fsyncs the file before the rename and the folder after it (a power cut then keeps
    either the old file or the new one). A folder that cannot be written raises OutputError.
    """
    folder = _folder_of(path)
    fd, tmp = _temp_beside(path, folder)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as f:
            yield f
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if sync:
        fsync_folder(folder)


def write_atomic(path: str, data: bytes | str, sync: bool = True) -> None:
    """Replace `path` by `data` through `atomic_output`."""
    with atomic_output(str(path), "wb" if isinstance(data, bytes) else "w", sync) as f:
        f.write(data)


def read_jsonl(path: str) -> tuple[list[dict[str, Any]], int]:
    """The JSON objects of a JSONL file, in order, and how many lines were skipped.

    The one torn-line rule: a row is a line that ends in a newline and holds a JSON object. The last
    line without a newline is torn (its writer died mid-write, or is writing it now) and is skipped,
    even if it happens to parse, so a reader never counts a record that a resume would not see. A
    garbled line (a torn fragment a later append followed) or a JSON value that is not an object is
    skipped too. Every skipped line is counted; blank lines are not. A missing file has no rows.
    """
    if not os.path.exists(path):
        return [], 0
    rows: list[dict[str, Any]] = []
    skipped = 0
    with open(path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            row = _row(line) if line.endswith(b"\n") else None
            if row is None:
                skipped += 1
            else:
                rows.append(row)
    return rows, skipped


def _row(line: bytes) -> dict[str, Any] | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None
