"""ShardedReader (issue 17): 2 gloo ranks on 127.0.0.1 answer as the single-process Reader."""

import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from hashhop import Spec, make_sample  # noqa: E402
from hashhop_train import checkpoint  # noqa: E402
from hashhop_train.infer import Reader  # noqa: E402
from hashhop_train.segments import segment_ids  # noqa: E402
from hashhop_train.sharded import ShardedReader, cut_at, merge_top_k  # noqa: E402

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")

WORKER = textwrap.dedent(
    """
    import datetime, os, sys, torch, numpy as np
    import torch.distributed as dist
    from hashhop_train import checkpoint
    from hashhop_train.sharded import ShardedReader, ShardError
    from hashhop_train.segments import segment_ids
    mode, paths, out, starts, hops = sys.argv[1], sys.argv[2].split(","), sys.argv[3], sys.argv[4].split(","), int(sys.argv[5])
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=8))
    if (mode == "die" and rank == 1) or (mode == "die0" and rank == 0):
        os._exit(3)
    model = checkpoint.load("builtin")[0]
    try:
        with torch.no_grad():
            r = ShardedReader(model, paths[rank % len(paths)], rank, world)
            ids = np.stack([segment_ids(s, model.cfg.max_seg_len)[0] for s in starts])
            q = model.query(model.content(torch.from_numpy(ids)))
            top = r.top_k(q, model.cfg.top_k)
            read = r._step(q)[1]
            res = {"top": top, "read": read, "n": r.n, "n_local": r.n_local, "offset": r.offset,
                   "cot": r.answer(starts, hops, True), "skip": r.answer(starts, hops, False)}
    except ShardError as exc:
        res = {"error": str(exc)}
    torch.save(res, out + f".{rank}")
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_ranks(tmp_path, mode, paths, starts, hops, world=2):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    port, out = _free_port(), str(tmp_path / "res")
    procs = []
    for rank in range(world):
        env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1"}
        env.update(MASTER_PORT=str(port), PYTHONPATH=SRC, OMP_NUM_THREADS="1")
        args = [sys.executable, str(script), mode, ",".join(map(str, paths)), out, ",".join(starts), str(hops)]
        procs.append(subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        p.wait(timeout=60)
    return [torch.load(f"{out}.{r}") if os.path.exists(f"{out}.{r}") else None for r in range(world)], procs


@pytest.fixture(scope="module")
def model():
    return checkpoint.load("builtin")[0]


@pytest.fixture(scope="module")
def problem(tmp_path_factory):
    sample = make_sample(Spec(size=120_000, hops=4, queries=6, seed=17, mid_chain=False))
    path = tmp_path_factory.mktemp("shard") / "prompt.txt"
    path.write_text(sample.prompt)
    return sample, path


def _queries(model, starts):
    ids = np.stack([segment_ids(s, model.cfg.max_seg_len)[0] for s in starts])
    return model.query(model.content(torch.from_numpy(ids)))


def test_merge_top_k_keeps_the_best_with_ties_by_lower_position():
    s = torch.tensor([[1.0, 3.0, 3.0, 2.0, float("-inf")]])
    i = torch.tensor([[9, 7, 4, 1, 99]])
    ms, mi = merge_top_k(s, i, 3)
    assert ms.tolist() == [[3.0, 3.0, 2.0]] and mi.tolist() == [[4, 7, 1]]


def test_cuts_never_split_a_segment(tmp_path):
    path = tmp_path / "p.txt"
    path.write_bytes(b"abc def  ghij\nk")
    with open(path, "rb") as f:
        assert [cut_at(f, p, 15) for p in (0, 1, 3, 4, 8, 14)] == [0, 3, 3, 7, 8, 15]


def test_world_one_equals_the_reader(model, problem):
    sample, path = problem
    whole, one = Reader(model, sample.prompt), ShardedReader(model, str(path))
    assert torch.equal(whole.keys, one.keys)
    starts = [q.start for q in sample.queries]
    for cot in (True, False):
        assert one.answer(starts, 4, cot) == whole.answer(starts, 4, cot)


@pytest.mark.slow
def test_two_gloo_ranks_answer_as_the_single_process_reader(model, problem, tmp_path):
    sample, path = problem
    starts = [q.start for q in sample.queries]
    res, procs = _run_ranks(tmp_path, "ok", [path], starts, 4)
    assert all(p.returncode == 0 for p in procs), [p.stderr.read()[-2000:] for p in procs]
    whole = Reader(model, sample.prompt)
    assert res[0]["n_local"] > 0 and res[1]["n_local"] > 0 and res[1]["offset"] == res[0]["n_local"]
    assert res[0]["n"] == whole.n
    with torch.no_grad():
        q = _queries(model, starts)
        ws, wi = whole.top_k(q, model.cfg.top_k)
        wread = whole._step(q)[1]
        cot, skip = whole.answer(starts, 4, True), whole.answer(starts, 4, False)
    assert [a[-1] for a in skip] == [q.answer for q in sample.queries]  # the model is right here
    for r in res:
        assert torch.equal(r["top"][1], wi) and torch.allclose(r["top"][0], ws, atol=1e-4)
        assert torch.allclose(r["read"], wread, atol=1e-5, rtol=1e-5)
        assert r["cot"] == cot and r["skip"] == skip


@pytest.mark.slow
def test_a_mismatched_file_is_refused_before_reading(problem, tmp_path):
    _, path = problem
    other = tmp_path / "other.txt"
    other.write_text(path.read_text()[:-10])
    res, _ = _run_ranks(tmp_path, "ok", [path, other], ["x"], 2)
    for r in res:
        assert "differs from rank" in r["error"] and "\n" not in r["error"]


@pytest.mark.slow
def test_a_dead_rank_makes_the_other_fail_with_a_named_error(problem, tmp_path):
    _, path = problem
    res, procs = _run_ranks(tmp_path, "die", [path], ["x"], 2)
    assert procs[1].returncode == 3
    assert "rank 0 of 2" in res[0]["error"] and "rank 1" in res[0]["error"]


@pytest.mark.slow
def test_a_dead_rank_zero_is_named_by_the_other(problem, tmp_path):
    _, path = problem
    res, procs = _run_ranks(tmp_path, "die0", [path], ["x"], 2)
    assert "rank 1 of 2" in res[1]["error"] and "rank 0" in res[1]["error"]


def test_the_read_entry_point_alone_prints_the_answer(problem, capsys):
    from hashhop_train.read import main

    sample, path = problem
    q = sample.queries[0]
    assert main(["--prompt", str(path), "--start", q.start, "--hops", "4", "--cot"]) == 0
    assert capsys.readouterr().out.strip() == " = ".join(q.path[1:])
