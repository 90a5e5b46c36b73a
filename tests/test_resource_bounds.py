"""Resource bounds: big datasets stream, endless responses are cut, memory stays bounded.

Peak memory is the child process's high-water mark (VmHWM) above its resident size once its
imports are done (VmRSS), so start-up is not counted; a control that reads the whole file proves
the measurement sees a file held in memory. The 200 MB
file here keeps the suite quick; `benchmarks/fuzz.py --stream-gb 1` runs the same check on 1 GB.
"""

import json
import os
import subprocess
import sys
import time

import pytest
from stub_server import StubServer

from hashhop.generator.build import make_sample
from hashhop.generator.spec import Spec

MB = 2**20
pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads peak memory from /proc")
PEAK = """
import sys


def rss(field):  # kB in /proc/self/status: VmRSS now, VmHWM the peak so far
    with open("/proc/self/status") as f:
        return next(int(x.split()[1]) for x in f if x.startswith(field + ":")) * 1024


{setup}
base = rss("VmRSS")
{work}
print(base, rss("VmHWM"))
"""
READ = """
from hashhop.generator.dataset import read_samples
n = chars = 0
for s in read_samples(sys.argv[1]):
    n += 1
    chars += s.n_chars
print(n, chars, file=sys.stderr)
"""


def _peak(setup: str, work: str, *args) -> tuple[int, int]:
    """(baseline, peak) resident bytes of a child that runs `setup`, then `work`."""
    r = subprocess.run(
        [sys.executable, "-c", PEAK.format(setup=setup, work=work), *args], capture_output=True, text=True, timeout=900
    )
    assert r.returncode == 0, r.stderr
    base, peak = map(int, r.stdout.split()[-2:])
    return base, peak


def _big_dataset(path, target_bytes: int, prompt_chars: int = MB) -> tuple[int, int]:
    """A JSONL file of whole samples (1 MB prompts) reaching `target_bytes`; (lines, line bytes)."""
    line = json.dumps(make_sample(Spec(size=prompt_chars, hops=2, queries=2, seed=5), 0).to_dict()).encode() + b"\n"
    n = max(1, target_bytes // len(line))
    with open(path, "wb") as f:
        for _ in range(n):
            f.write(line)
    return n, len(line)


@pytest.mark.slow
def test_a_200_mb_dataset_is_read_one_sample_at_a_time(tmp_path):
    path = tmp_path / "big.jsonl"
    n, line = _big_dataset(path, 200 * MB)
    assert os.path.getsize(path) >= 190 * MB
    base, peak = _peak("from hashhop.generator.dataset import read_samples", READ, str(path))
    grew = peak - base
    print(
        f"read_samples over {os.path.getsize(path) / MB:.0f} MB ({n} samples of {line / MB:.1f} MB): "
        f"baseline {base / MB:.0f} MB, peak {peak / MB:.0f} MB, grew {grew / MB:.1f} MB"
    )
    # Holding the file would take >= 200 MB; one sample at a time takes a few times one line.
    assert grew < 20 * line + 16 * MB
    control_base, control_peak = _peak("", "data = open(sys.argv[1], 'rb').read()", str(path))
    assert control_peak - control_base > 150 * MB  # the same measurement does see a whole file


@pytest.mark.slow
def test_verify_streams_a_dataset_with_memory_of_one_sample(tmp_path):
    path = tmp_path / "v.jsonl"
    n, line = _big_dataset(path, 24 * MB, prompt_chars=MB)
    work = "import sys\nfrom hashhop.cli import main\ncode = main(['verify', sys.argv[1]])\nassert code == 0, code"
    base, peak = _peak("from hashhop.cli import main\nfrom hashhop.generator import verify, dataset", work, str(path))
    one_base, one_peak = _peak(
        "from hashhop.cli import main\nfrom hashhop.generator import verify, dataset",
        work,
        str(_one_line(path, tmp_path / "one.jsonl")),
    )
    print(
        f"verify: {n} samples: peak growth {(peak - base) / MB:.1f} MB; one sample: {(one_peak - one_base) / MB:.1f} MB"
    )
    # n samples cost about what one costs: nothing accumulates across samples.
    assert peak - base < (one_peak - one_base) + 32 * MB


def _one_line(src, dst):
    with open(src, "rb") as f:
        dst.write_bytes(f.readline())
    return dst


ENDLESS = """
import sys
from hashhop.cli import main
code = main(sys.argv[1:])
"""


@pytest.mark.slow
def test_a_response_that_never_ends_is_cut_at_the_byte_limit_with_bounded_memory(tmp_path):
    # 1 TB announced with no length (chunked): only the byte limit can stop it.
    with StubServer() as s:

        def args(out, limit):
            return [
                "eval",
                "--model",
                "openai:stub",
                "--base-url",
                s.url + "/v1",
                "-M",
                "chat_overhead=11",
                "-M",
                f"max_response_bytes={limit}",
                "--tokens",
                "600",
                "--queries",
                "1",
                "--retries",
                "1",
                "--backoff",
                "0.01",
                "--timeout",
                "120",
                "-o",
                str(out),
            ]

        base, calm = _peak("import sys\nfrom hashhop.cli import main", ENDLESS, *args(tmp_path / "calm", 4 * MB))
        s.script({"huge": 2**40, "chunked": True}, {"huge": 2**40, "chunked": True})
        t0 = time.monotonic()
        base2, endless = _peak("import sys\nfrom hashhop.cli import main", ENDLESS, *args(tmp_path / "endless", 4 * MB))
        took = time.monotonic() - t0
    records = [json.loads(x) for x in (tmp_path / "endless" / "records.jsonl").read_text().splitlines()]
    assert len(records) == 1 and records[0]["status"] == "error" and "limit" in records[0]["error"]
    print(
        f"endless stream: cut at 4 MB twice in {took:.1f} s; peak growth {(endless - base2) / MB:.1f} MB "
        f"against {(calm - base) / MB:.1f} MB for a normal run"
    )
    assert endless - base2 < (calm - base) + 3 * 4 * MB  # the cut body, not the stream


@pytest.mark.slow
def test_a_huge_completion_inside_the_limit_is_stored_and_scored(tmp_path):
    with StubServer() as s:
        s.script({"text": "x" * (3 * MB) + " the answer is nothing"})
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "hashhop",
                "eval",
                "--model",
                "openai:stub",
                "--base-url",
                s.url + "/v1",
                "-M",
                "chat_overhead=11",
                "--tokens",
                "600",
                "-o",
                str(tmp_path / "r"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr
    (record,) = [json.loads(x) for x in (tmp_path / "r" / "records.jsonl").read_text().splitlines()]
    assert record["status"] == "ok" and record["kind"] == "no_answer" and len(record["completion"]) > 3 * MB
