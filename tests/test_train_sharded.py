"""ShardedReader (issue 17): 2 gloo ranks on 127.0.0.1 answer as the single-process Reader.

The prompt file is the whole prompt (context, then question): every rank reads the question from
the file's last segments, as the single-process Reader does."""

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
from hashhop_train.dialects import Dialect  # noqa: E402
from hashhop_train.infer import Reader, answer  # noqa: E402
from hashhop_train.segments import segment_ids  # noqa: E402
from hashhop_train.sharded import ShardedReader, cut_at, merge_top_k  # noqa: E402

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")

# argv: mode, prompt files (";" between prompts read one after the other, "," between the files of
# rank 0, 1, ... for one prompt), output prefix, start hashes for the raw top-k and soft read checks.
WORKER = textwrap.dedent(
    """
    import datetime, os, sys, torch, numpy as np
    import torch.distributed as dist
    from hashhop_train import checkpoint
    from hashhop_train.infer import answer
    from hashhop_train.sharded import ShardedReader, ShardError
    from hashhop_train.segments import segment_ids
    mode, prompts, out, starts = sys.argv[1], sys.argv[2].split(";"), sys.argv[3], sys.argv[4].split(",")
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=8))
    if (mode == "die" and rank == 1) or (mode == "die0" and rank == 0):
        os._exit(3)
    model = checkpoint.load("builtin")[0]
    res = {"answers": []}
    try:
        with torch.no_grad():
            for i, files in enumerate(prompts):
                paths = files.split(",")
                r = ShardedReader(model, paths[rank % len(paths)], rank, world)
                if i == 0:
                    ids = np.stack([segment_ids(s, model.cfg.max_seg_len)[0] for s in starts])
                    q = model.query(model.content(torch.from_numpy(ids)))
                    res.update(top=r.top_k(q, model.cfg.top_k), read=r._step(q)[1], n=r.n,
                               n_local=r.n_local, offset=r.offset)
                res["answers"].append(answer(r))
    except ShardError as exc:
        res = {"error": str(exc)}
    torch.save(res, out + f".{rank}")
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_ranks(tmp_path, mode, prompts, starts, world=2):
    """`prompts`: a list of prompts, each a list of files (rank r reads files[r % len(files)])."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    port, out = _free_port(), str(tmp_path / "res")
    procs = []
    for rank in range(world):
        env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1"}
        env.update(MASTER_PORT=str(port), PYTHONPATH=SRC, OMP_NUM_THREADS="1")
        files = ";".join(",".join(map(str, p)) for p in prompts)
        args = [sys.executable, str(script), mode, files, out, ",".join(starts)]
        procs.append(subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        p.wait(timeout=120)
    return [
        torch.load(f"{out}.{r}", weights_only=False) if os.path.exists(f"{out}.{r}") else None for r in range(world)
    ], procs


@pytest.fixture(scope="module")
def model():
    return checkpoint.load("builtin")[0]


@pytest.fixture(scope="module")
def problem(tmp_path_factory):
    """A 120K-character context and two prompt files about its first query: chain of thought, skip."""
    sample = make_sample(Spec(size=120_000, hops=4, queries=6, seed=17, mid_chain=False))
    q, where = sample.queries[0], tmp_path_factory.mktemp("shard")
    paths = {}
    for cot in (True, False):
        paths[cot] = where / f"prompt_{'cot' if cot else 'skip'}.txt"
        paths[cot].write_text(Dialect().prompt(sample.prompt, q.start, q.hops, cot))
    return sample, paths


def _queries(model, starts):
    ids = np.stack([segment_ids(s, model.cfg.max_seg_len)[0] for s in starts])
    return model.query(model.content(torch.from_numpy(ids)))


def _expected(sample, cot: bool) -> str:
    q = sample.queries[0]
    return " = ".join(q.path[1:]) if cot else q.answer


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
    sample, paths = problem
    for cot, path in paths.items():
        whole, one = Reader(model, path.read_text()), ShardedReader(model, str(path))
        assert one.n == whole.n and torch.equal(torch.cat(whole.key_blocks), one.keys)
        assert torch.equal(one.tail()[0], whole.tail()[0]) and torch.equal(one.tail()[1], whole.tail()[1])
        with torch.no_grad():
            got = answer(one)
            assert got == answer(whole)
        assert got.text == _expected(sample, cot)  # the model reads the question and is right here


@pytest.mark.slow
def test_two_gloo_ranks_answer_as_the_single_process_reader(model, problem, tmp_path):
    sample, paths = problem
    starts = [q.start for q in sample.queries]
    res, procs = _run_ranks(tmp_path, "ok", [[paths[True]], [paths[False]]], starts)
    assert all(p.returncode == 0 for p in procs), [p.stderr.read()[-2000:] for p in procs]
    whole = Reader(model, paths[True].read_text())
    assert res[0]["n_local"] > 0 and res[1]["n_local"] > 0 and res[1]["offset"] == res[0]["n_local"]
    assert res[0]["n"] == whole.n
    with torch.no_grad():
        q = _queries(model, starts)
        ws, wi = whole.top_k(q, model.cfg.top_k)
        wread = whole._step(q)[1]
        answers = [answer(whole), answer(Reader(model, paths[False].read_text()))]
    assert [a.text for a in answers] == [_expected(sample, True), _expected(sample, False)]  # right here
    for r in res:
        assert torch.equal(r["top"][1], wi) and torch.allclose(r["top"][0], ws, atol=1e-4)
        assert torch.allclose(r["read"], wread, atol=1e-5, rtol=1e-5)
        assert r["answers"] == answers


@pytest.mark.slow
def test_a_mismatched_file_is_refused_before_reading(problem, tmp_path):
    _, paths = problem
    other = tmp_path / "other.txt"
    other.write_text(paths[True].read_text()[:-10])
    res, _ = _run_ranks(tmp_path, "ok", [[paths[True], other]], ["x"])
    for r in res:
        assert "differs from rank" in r["error"] and "\n" not in r["error"]


@pytest.mark.slow
def test_a_dead_rank_makes_the_other_fail_with_a_named_error(problem, tmp_path):
    _, paths = problem
    res, procs = _run_ranks(tmp_path, "die", [[paths[True]]], ["x"])
    assert procs[1].returncode == 3
    assert "rank 0 of 2" in res[0]["error"] and "rank 1" in res[0]["error"]


@pytest.mark.slow
def test_a_dead_rank_zero_is_named_by_the_other(problem, tmp_path):
    _, paths = problem
    res, procs = _run_ranks(tmp_path, "die0", [[paths[True]]], ["x"])
    assert "rank 1 of 2" in res[1]["error"] and "rank 0" in res[1]["error"]


@pytest.mark.parametrize("cot", [True, False])
def test_the_read_entry_point_alone_prints_the_answer(problem, capsys, cot):
    from hashhop_train.read import main

    sample, paths = problem
    assert main(["--prompt", str(paths[cot])]) == 0
    assert capsys.readouterr().out.strip() == _expected(sample, cot)


def test_the_read_entry_point_refuses_a_hash_longer_than_the_model_reads(tmp_path, capsys):
    from hashhop_train.read import main

    long_hash = "q" * 40
    path = tmp_path / "long.txt"
    path.write_text(f"{long_hash} = {'r' * 40}\n\nStarting from {long_hash}, follow the chain 1 hop.")
    assert main(["--prompt", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "longer than the model's 32 characters" in captured.err
