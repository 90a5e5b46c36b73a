"""The Ray executor against a real local Ray cluster (127.0.0.1, 2 CPUs) that this module starts and stops.

Same records as the local executor (timing fields apart), resumable from a local run, and a
worker killed mid-run loses nothing.
"""

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from hashhop.cli import main
from hashhop.core.errors import MissingExtraError
from hashhop.evaluate.store import read_records, read_results, read_samples

ray = pytest.importorskip("ray", reason="Ray is an install extra: pip install 'hashhop[ray]'")

TIMING = ("time", "latency_s", "peak_memory_bytes")  # measured, not computed
SWEEP = """
name = "r"
[grid]
lengths = ["1K", "2K"]
hops = [2, 3]
cot = "both"
depth = [0.25, "any"]
samples = 2
queries = 2
tokenizer = "chars"
"""


@pytest.fixture(scope="module")
def cluster():
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="ERROR",
        _node_ip_address="127.0.0.1",
    )
    try:
        yield
    finally:
        ray.shutdown()


def sweep_file(tmp_path, text=SWEEP):
    path = tmp_path / "r.toml"
    path.write_text(text)
    return str(path)


def stable(run_dir):
    return {r.key: {k: v for k, v in r.to_dict().items() if k not in TIMING} for r in read_records(str(run_dir))}


def samples(run_dir):
    return sorted((e["cell_key"], e["index"], e["sample_id"], e["n_tokens"]) for e in read_samples(str(run_dir)))


def bench(tmp_path, out, *extra, text=SWEEP):
    args = ["bench", "--model", "oracle", "--sweep", sweep_file(tmp_path, text), "--no-figures", "-o", str(out)]
    assert main([*args, *extra]) == 0
    return Path(out) / "oracle"


def test_ray_gives_the_same_records_and_samples_as_the_local_executor(cluster, tmp_path):
    local = bench(tmp_path, tmp_path / "local")
    on_ray = bench(tmp_path, tmp_path / "ray", "--executor", "ray")
    assert len(stable(local)) == 2 * 2 * 2 * 2 * 2 * 2
    assert stable(on_ray) == stable(local) and samples(on_ray) == samples(local)
    results = read_results(str(on_ray))
    assert results["config"]["executor"] == "ray" and results["partial"] is False
    assert results["metrics"]["overall"] == read_results(str(local))["metrics"]["overall"]


def test_ray_resumes_a_run_and_asks_only_what_is_missing(cluster, tmp_path):
    full = bench(tmp_path, tmp_path / "full")
    out = tmp_path / "resumed"
    bench(tmp_path, out, text=SWEEP.replace('lengths = ["1K", "2K"]', 'lengths = ["1K"]'))  # half, locally
    resumed = bench(tmp_path, out, "--executor", "ray")
    assert stable(resumed) == stable(full)
    assert read_results(str(resumed))["timing"]["requests"] == len(stable(full)) // 2


def test_ray_sends_no_unit_that_could_cross_max_cost_and_a_larger_budget_finishes(cluster, tmp_path, capsys):
    full = bench(tmp_path, tmp_path / "full")
    out = tmp_path / "budget"
    # $1000 per million prompt tokens: a unit (2 queries of 1K or 2K tokens) is estimated at $2-4.
    capped = bench(tmp_path, out, "--executor", "ray", "--price-in", "1000", "--max-cost", "20")
    records = read_records(str(capped))
    results = read_results(str(capped))
    assert 0 < len(records) < len(stable(full)) and results["partial"] is True
    assert results["stopped"].startswith("max_cost") and "oracle stopped: max_cost" in capsys.readouterr().err
    assert sum(r.n_tokens for r in records) * 1000 / 1e6 <= 20  # what was sent fits the budget
    finished = bench(tmp_path, out, "--executor", "ray", "--price-in", "1000", "--max-cost", "1000")
    assert stable(finished) == stable(full) and read_results(str(finished))["partial"] is False


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _unit_workers() -> list[int]:
    """Our cluster's actor processes (descendants of this test process titled ray::UnitWorker)."""
    found = []
    for pid in _descendants(os.getpid()):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if title.startswith("ray::UnitWorker"):
            found.append(pid)
    return found


def test_a_worker_killed_mid_run_loses_nothing(cluster, tmp_path):
    full = bench(tmp_path, tmp_path / "full")
    out = tmp_path / "killed"
    errors = []

    def run():
        try:
            bench(tmp_path, out, "--executor", "ray", "-M", "delay=0.05", "--concurrency", "1")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    records = out / "oracle" / "records.jsonl"
    deadline = time.monotonic() + 60
    while not (records.exists() and sum(1 for _ in open(records, "rb")) >= 4) and thread.is_alive():
        assert time.monotonic() < deadline, "no records within 60 s"
        time.sleep(0.05)
    victims = _unit_workers()
    assert victims, "no Ray worker found to kill"
    os.kill(victims[0], signal.SIGKILL)
    thread.join(timeout=120)
    assert not thread.is_alive() and not errors, errors
    assert stable(out / "oracle") == stable(full)


def test_a_model_that_cannot_be_opened_is_one_line_naming_why(cluster, tmp_path, capsys):
    args = [
        "bench",
        "--model",
        "ltm:/no/such/checkpoint",
        "--sweep",
        sweep_file(tmp_path),
        "--executor",
        "ray",
        "-o",
        str(tmp_path / "run"),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: a Ray worker could not open the model: ") and "/no/such/checkpoint" in err


def test_without_ray_installed_the_error_names_the_extra(tmp_path, monkeypatch):
    from hashhop.bench.executors import ray as ray_executor

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'hashhop\[ray\]'"):
        ray_executor.run([])
