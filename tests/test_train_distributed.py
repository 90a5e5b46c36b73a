"""Data-parallel training under torchrun: 2 CPU processes, gloo backend, on 127.0.0.1."""

import json
import socket
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("safetensors")

TINY = """
[model]
dim = 16
heads = 2
layers = 1
window = 3
key_dim = 16
max_seg_len = 16
tail = 32
reader_layers = 1
[train]
batch = 2
queries = 2
threads = 1
warmup = 1
log_every = 1
stages = [{name = "pairs", steps = 4, hops = [1, 1], lines = [12, 16]}]
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_torchrun_two_gloo_processes_train_and_rank0_writes_the_checkpoint(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}",
        "-m",
        "hashhop_train.train",
        "--config",
        str(config),
        "--out",
        str(out),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    meta = json.loads((out / "config.json").read_text())
    assert meta["world"] == 2 and meta["steps_done"] == 4
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "step" in r] == [0, 1, 2, 3]  # rank 0 alone writes the log
