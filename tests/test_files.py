"""core/files.py: files replaced whole or not at all, and the one torn-line rule of JSONL."""

import os

import pytest

from hashhop.core.errors import OutputError
from hashhop.core.files import atomic_output, read_jsonl, write_atomic


def test_a_failed_write_leaves_the_old_file_whole_and_no_temp_file(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(str(path), "w") as f:
        f.write("half of the new")
        raise RuntimeError("crash mid-write")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.json"]


@pytest.mark.parametrize("sync", [True, False])
def test_a_finished_write_replaces_the_file_with_the_usual_mode(tmp_path, sync):
    path = tmp_path / "out.bin"
    write_atomic(str(path), b"new", sync=sync)
    write_atomic(str(path), "newer, in text", sync=sync)
    umask = os.umask(0)
    os.umask(umask)
    assert path.read_text() == "newer, in text"
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["out.bin"]


def test_a_folder_that_is_missing_or_a_folder_as_target_is_an_output_error(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        write_atomic(str(tmp_path / "nope" / "out.json"), "x")
    with pytest.raises(OutputError, match="not a file name"):
        write_atomic(str(tmp_path), "x")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_folder_that_cannot_be_written_is_an_output_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="cannot write"):
            write_atomic(str(folder / "out.json"), "x")
    finally:
        folder.chmod(0o700)


def test_read_jsonl_skips_and_counts_torn_garbled_and_non_object_lines(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a": 1}\n\n{"a": 2, "b\n[1, 2]\n{"a": 3}\n{"a": 4}')
    rows, skipped = read_jsonl(str(path))
    assert rows == [{"a": 1}, {"a": 3}]
    assert skipped == 3  # the garbled fragment, the list, and the last line (no newline: torn, though it parses)


def test_read_jsonl_of_a_missing_file_has_no_rows(tmp_path):
    assert read_jsonl(str(tmp_path / "none.jsonl")) == ([], 0)
