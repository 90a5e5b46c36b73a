"""Crash safety of `hashhop eval`: kill -9 at 20 moments, two runners on one folder, a full disk.

After each kill the same command resumes; at the end the run must hold exactly the records of an
uninterrupted run (timing fields aside): nothing lost, nothing counted twice, results.json always
valid JSON. A second runner on a folder in use is refused with one line. A disk that fills up
stops the run with one `error:` line, the store stays readable, and freeing space then resuming
gives the full, identical run.
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest
from killing import kill_after, lines
from stub_server import StubServer

from hashhop.evaluate.store import read_records, read_results

VOLATILE = ("time", "latency_s", "attempts", "cost_usd", "peak_memory_bytes")
KILLS = 20
TOTAL, CONTEXTS = 80, 16


def _args(url: str, out) -> list[str]:
    # 2 sizes x 2 hop counts x 4 samples x 5 queries = 80 queries; the stub's delay keeps the run
    # long enough to be killed 20 times mid-flight.
    return [
        "eval",
        "--model",
        "openai:stub",
        "--base-url",
        url + "/v1",
        "-M",
        "chat_overhead=11",
        "--tokens",
        "600,1K",
        "--hops",
        "1,2",
        "--samples",
        "4",
        "--queries",
        "5",
        "--concurrency",
        "2",
        "-o",
        str(out),
    ]


def _hashhop(args, **kw):
    return subprocess.run([sys.executable, "-m", "hashhop", *args], capture_output=True, text=True, timeout=300, **kw)


def _stable(records) -> list:
    return sorted(
        json.dumps({k: v for k, v in r.to_dict().items() if k not in VOLATILE}, sort_keys=True) for r in records
    )


def _kill_once(cmd, records, rng) -> bool:
    """Kill the run at a seeded moment: after 0.1-0.9 s (often during start-up or sizing), or once
    1-2 more records are on disk (mid-write). False if it finished first."""
    by_time = rng.random() < 0.4
    seconds = rng.uniform(0.1, 0.9) if by_time else 60.0
    more = rng.randint(1, 2)
    return kill_after(cmd, records, seconds, None if by_time else more)


def _raw_keys(run) -> list:
    keys = []
    for line in (run / "records.jsonl").read_bytes().splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue  # a line torn by a kill: never counted
        keys.append((d["sample_id"], d["query_index"]))
    return keys


@pytest.mark.slow
def test_20_kills_then_resume_gives_exactly_the_uninterrupted_records(tmp_path):
    rng = random.Random(20261125)
    with StubServer(delay=0.12) as s:
        reference = tmp_path / "reference"
        assert _hashhop(_args(s.url, reference)).returncode == 0
        victim = tmp_path / "victim"
        cmd = [sys.executable, "-m", "hashhop", *_args(s.url, victim)]
        kills, progress = 0, []
        while kills < KILLS:
            if not _kill_once(cmd, victim / "records.jsonl", rng):
                break  # the run finished before this kill
            kills += 1
            progress.append(len(read_records(str(victim))) if (victim / "records.jsonl").exists() else 0)
            if (victim / "results.json").exists():
                json.loads((victim / "results.json").read_text())  # replaced atomically: never torn
        print(f"kills survived: {kills}; records on disk after each kill: {progress}")
        assert kills == KILLS, f"the run finished after {kills} kills: {progress}"
        assert sum(0 < n < TOTAL for n in progress) >= 10, progress  # most kills landed mid-run
        assert _hashhop(_args(s.url, victim)).returncode == 0
    assert len(read_records(str(reference))) == TOTAL
    assert _stable(read_records(str(victim))) == _stable(read_records(str(reference)))
    keys = _raw_keys(victim)
    assert len(keys) == len(set(keys)) == TOTAL  # not one query written twice, even across kills
    results = read_results(str(victim))
    assert results["metrics"]["overall"]["n"] == TOTAL and results["partial"] is False
    stored = {(e["cell_key"], e["index"]) for e in map(json.loads, _complete_lines(victim / "samples.jsonl"))}
    assert len(stored) == CONTEXTS  # each context stored once, rebuilt from its recipe on resume


def _complete_lines(path) -> list[bytes]:
    out = []
    for line in path.read_bytes().split(b"\n"):
        try:
            json.loads(line)
            out.append(line)
        except ValueError:
            pass
    return out


def test_a_second_runner_on_a_folder_in_use_is_refused_and_writes_nothing(tmp_path):
    run = tmp_path / "run"
    with StubServer(delay=0.3) as s:
        first = subprocess.Popen(
            [sys.executable, "-m", "hashhop", *_args(s.url, run)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 60
            while lines(run / "records.jsonl") < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert first.poll() is None, "the first runner ended before the second could start"
            second = _hashhop(_args(s.url, run))
            assert second.returncode == 2
            assert second.stderr.startswith("error: run folder") and "in use" in second.stderr
            assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
            # Refused at the lock, before its preflight: the server saw one runner only.
            assert sum(r["path"] == "/v1/models" for r in s.requests) == 1
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
    keys = _raw_keys(run)
    assert len(keys) == len(set(keys))


# -- a full disk -------------------------------------------------------------------------------
def _tmpfs(path, size: str) -> bool:
    """Mount a small tmpfs at `path` (needs root); False when the system will not."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return r.returncode == 0


def _fill(path, leave: int) -> None:
    """Fill the file system at `path` until `leave` bytes are free."""
    st = os.statvfs(path)
    free = st.f_bavail * st.f_frsize
    with open(path / "filler", "wb") as f:
        f.write(b"\0" * max(0, free - leave))


FSIZE_RUNNER = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from hashhop.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.slow
def test_a_full_disk_stops_the_run_with_one_line_and_a_consistent_store(tmp_path):
    disk = tmp_path / "disk"
    mounted = _tmpfs(disk, "2m")
    try:
        with StubServer() as s:
            reference = tmp_path / "reference"
            assert _hashhop(_args(s.url, reference)).returncode == 0
            run = disk / "run"
            if mounted:
                _fill(disk, 24 * 1024)  # room for about a third of the run
                r = _hashhop(_args(s.url, run))
            else:  # not root: a per-process file size limit fails the writes the same way (EFBIG)
                r = subprocess.run(
                    [sys.executable, "-c", FSIZE_RUNNER, str(24 * 1024), *_args(s.url, run)],
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
            assert r.returncode == 2, r.stderr
            assert r.stderr.startswith("error:") and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
            assert "space" in r.stderr.lower() or "too large" in r.stderr.lower()
            partial = read_records(str(run))  # readable; a torn last line is not a record
            assert 0 < len(partial) < TOTAL
            keys = _raw_keys(run)
            assert len(keys) == len(set(keys))
            assert not [n for n in os.listdir(run) if ".tmp" in n]  # no temp file left behind
            if mounted:
                os.unlink(disk / "filler")  # free the space, then the same command resumes
            assert _hashhop(_args(s.url, run)).returncode == 0
        assert _stable(read_records(str(run))) == _stable(read_records(str(reference)))
        assert len(set(_raw_keys(run))) == len(_raw_keys(run)) == TOTAL
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True)
