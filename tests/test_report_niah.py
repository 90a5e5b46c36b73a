"""The report's NIAH section: a bench run with oracle and random over both tasks, and the one-line
reading of each model computed from effective lengths per task."""

import subprocess
import sys

from hashhop.report.build import write_report
from hashhop.report.effective import Effective
from hashhop.report.niah import sentence

SWEEP = """
name = "niah-small"
[grid]
lengths = ["1K", "2K"]
hops = [1, 2]
cot = "skip"
task = ["niah", "niah-multikey", "hashhop"]
samples = 1
queries = 2
tokenizer = "chars"
[[models]]
model = "oracle"
[[models]]
model = "random"
"""


def _effective(length, lengths=(1000, 2000, 4000), stopped=None):
    return Effective("m", None, None, 0.9, length, lengths, stopped, "")


def test_the_reading_names_what_passes_and_where_the_rest_fails():
    lengths = [("NIAH", _effective(4000)), ("HashHop 2-hop", _effective(1000, stopped=2000))]
    lengths.append(("HashHop 4-hop", _effective(None, stopped=1000)))
    assert sentence("m", lengths) == "m: passes NIAH to 4K, HashHop 2-hop to 1K; fails HashHop 4-hop at 1K"
    assert sentence("m", [("NIAH", _effective(None, stopped=1000))]) == "m: fails NIAH at 1K"


def test_a_bench_over_both_tasks_reports_niah_next_to_hashhop(tmp_path):
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(SWEEP)
    cmd = [sys.executable, "-m", "hashhop", "bench", "--sweep", str(sweep), "-o", str(tmp_path / "runs")]
    proc = subprocess.run([*cmd, "--no-figures", "--no-progress"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "report.html"
    write_report([tmp_path / "runs" / "oracle", tmp_path / "runs" / "random"], out, figures=False)
    md = out.with_suffix(".md").read_text()
    assert "oracle: passes NIAH to 2K, NIAH multikey to 2K, HashHop 1-hop to 2K, HashHop 2-hop to 2K" in md
    assert "random: fails NIAH at 1K, NIAH multikey at 1K" in md
    assert "NIAH next to HashHop" in out.read_text()
