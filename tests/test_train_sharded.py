"""ShardedReader (issue 17): 2 gloo ranks on 127.0.0.1 answer as the single-process Reader.

A prompt is a file, then a question (the empty question when the file is a whole prompt): every
rank reads the questions, each rank only its slice of the file."""

import json
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
from hashhop_train import checkpoint, slicefile  # noqa: E402
from hashhop_train.batch import answer_views  # noqa: E402
from hashhop_train.dialects import Dialect  # noqa: E402
from hashhop_train.infer import Reader, answer  # noqa: E402
from hashhop_train.segments import segment_ids  # noqa: E402
from hashhop_train.sharded import ShardedReader, cut_at, merge_top_k  # noqa: E402
from hashhop_train.steps import retrieval_step  # noqa: E402

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")

# argv: mode, file per rank ("," between the files of rank 0, 1, ...), questions JSON file, key
# bits, output prefix. Each rank saves its answers and, for the raw checks, one retrieval step
# of every question's start hash.
WORKER = textwrap.dedent(
    """
    import datetime, json, os, sys, torch, numpy as np
    import torch.distributed as dist
    from hashhop_train import checkpoint
    from hashhop_train.batch import answer_views
    from hashhop_train.sharded import ShardedReader, ShardError
    from hashhop_train.segments import segment_ids
    from hashhop_train.steps import retrieval_step
    mode, files, questions, bits, out = sys.argv[1], sys.argv[2].split(","), sys.argv[3], int(sys.argv[4]), sys.argv[5]
    questions, starts = json.load(open(questions))
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=8))
    if (mode == "die" and rank == 1) or (mode == "die0" and rank == 0):
        os._exit(3)
    model = checkpoint.load("builtin")[0]
    try:
        with torch.no_grad():
            r = ShardedReader(model, files[rank % len(files)], rank, world, key_bits=bits)
            asked = r.ask(questions)
            ids = np.stack([segment_ids(s, model.cfg.max_seg_len)[0] for s in starts])
            ids = torch.from_numpy(ids)
            qr = model.chars(ids) if model.reranks else None
            step = retrieval_step(asked.subset(list(range(len(starts)))), model.query(model.content(ids)), qr)
            res = dict(step=step, n=asked.n, n_local=r.n_local, offset=r.offset,
                       answers=[a.text for a in answer_views(model, asked.tails(), asked.subset)])
    except ShardError as exc:
        res = {"error": str(exc)}
    torch.save(res, out + f".{rank}")
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_ranks(tmp_path, mode, files, questions, starts, bits=16, world=2, timeout=120):
    """Rank r reads files[r % len(files)] and asks `questions`; its step queries start at `starts`."""
    script, qfile = tmp_path / "worker.py", tmp_path / "questions.json"
    script.write_text(WORKER)
    qfile.write_text(json.dumps([questions, starts]))
    port, out = _free_port(), str(tmp_path / "res")
    procs = []
    for rank in range(world):
        env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1"}
        env.update(MASTER_PORT=str(port), PYTHONPATH=SRC, OMP_NUM_THREADS="1")
        args = [sys.executable, str(script), mode, ",".join(map(str, files)), str(qfile), str(bits), out]
        procs.append(subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        p.wait(timeout=timeout)
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


def split_prompts(sample, hops_list=(2, 4)) -> tuple[str, list[str], list[str]]:
    """(the text before every question, the questions, the expected completions) of every query
    of `sample` at each hop count, chain of thought and skip steps, in the default dialect."""
    prompts, wants = [], []
    for hops in hops_list:
        for cot in (True, False):
            for q in sample.queries:
                prompts.append(Dialect().prompt(sample.prompt, q.start, hops, cot))
                wants.append(" = ".join(q.path[1 : hops + 1]) if cot else q.path[hops])
    head = prompts[0][: prompts[0].index(sample.prompt) + len(sample.prompt)]
    assert all(p.startswith(head) for p in prompts)
    return head, [p[len(head) :] for p in prompts], wants


def _queries(model, starts):
    """(queries, their characters or None) for start hashes: what a retrieval step asks with."""
    ids = torch.from_numpy(np.stack([segment_ids(s, model.cfg.max_seg_len)[0] for s in starts]))
    return model.query(model.content(ids)), model.chars(ids) if model.reranks else None


def _expected(sample, cot: bool) -> str:
    q = sample.queries[0]
    return " = ".join(q.path[1:]) if cot else q.answer


def _sharded_answers(model, path, questions, **kw) -> list[str]:
    with torch.no_grad():
        asked = ShardedReader(model, str(path), **kw).ask(questions)
        return [a.text for a in answer_views(model, asked.tails(), asked.subset)]


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
        asked = one.ask([""])  # the file is the whole prompt
        assert asked.n == whole.n and torch.equal(torch.cat(whole.key_blocks), torch.cat(one.key_blocks))
        assert all(torch.equal(a, b) for a, b in zip(asked.tails()[0], whole.tail(), strict=True))
        with torch.no_grad():
            got = answer_views(model, asked.tails(), asked.subset)[0]
            assert got == answer(whole)
        assert got.text == _expected(sample, cot)  # the model reads the question and is right here


@pytest.mark.parametrize("bits", [16, 8, 4])
def test_questions_after_a_context_file_answer_as_readers_of_the_whole_prompts(model, tmp_path, bits):
    sample = make_sample(Spec(size=60_000, hops=4, queries=4, seed=5, mid_chain=False))
    head, questions, wants = split_prompts(sample)
    path = tmp_path / "context.txt"
    path.write_text(head)
    got = _sharded_answers(model, path, questions, key_bits=bits)
    with torch.no_grad():
        assert got == [answer(Reader(model, head + q, key_bits=bits)).text for q in questions]
    assert got == wants  # right here at every precision


def test_a_question_that_continues_the_files_last_segment_is_read_as_one_prompt(model, tmp_path):
    sample = make_sample(Spec(size=20_000, hops=2, queries=2, seed=8, mid_chain=False))
    full = Dialect().prompt(sample.prompt, sample.queries[0].start, 2, True)
    end = full.index(sample.prompt) + len(sample.prompt)
    assert full[end - 1].isalnum() and full[end : end + 2] == "\n\n"  # a hash, then the question's newlines
    for cut in (end - 3, end + 1, full.rindex(sample.queries[0].start) + 5):  # inside a hash or newline run
        path = tmp_path / "head.txt"
        path.write_text(full[:cut])
        with torch.no_grad():
            assert _sharded_answers(model, path, [full[cut:]]) == [answer(Reader(model, full)).text]


def test_a_context_shorter_than_the_key_window_is_read_as_one_prompt(model, tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("ab = cd\ncd = ef")  # 7 segments: fewer than the 9 the key window reaches back
    for question in ("\n\nStart at ab and follow 2 link(s).", ""):
        with torch.no_grad():
            whole = Reader(model, path.read_text() + question)
            own = ShardedReader(model, str(path)).ask([question]).questions[0].keys  # the question's rows
            assert torch.equal(own, torch.cat(whole.key_blocks)[-len(own) :])
            assert _sharded_answers(model, path, [question]) == [answer(whole).text]


def test_keys_streamed_in_small_pieces_equal_the_readers_and_rows_read_back_equal_the_ids(model, tmp_path, monkeypatch):
    monkeypatch.setattr(slicefile, "PIECE", 997)  # many pieces: each carries the window before it
    sample = make_sample(Spec(size=30_000, hops=2, queries=2, seed=9))
    path = tmp_path / "c.txt"
    path.write_text(sample.prompt)
    with torch.no_grad():
        one, whole = ShardedReader(model, str(path)), Reader(model, sample.prompt)
        ids = segment_ids(sample.prompt, model.cfg.max_seg_len)
    assert one.n_local == len(ids) and torch.equal(torch.cat(one.key_blocks), torch.cat(whole.key_blocks))
    positions = np.arange(len(ids))
    assert np.array_equal(one.text.rows_at(positions), ids)


@pytest.mark.slow
def test_two_gloo_ranks_answer_as_the_single_process_reader_at_1m_tokens(model, tmp_path):
    sample = make_sample(
        Spec(size=1_000_000, hops=4, queries=8, seed=23, mid_chain=False, tokenizer="tiktoken:cl100k_base")
    )
    head, questions, wants = split_prompts(sample)
    path = tmp_path / "context.txt"
    path.write_text(head)
    starts = [q.start for q in sample.queries]
    res, procs = _run_ranks(tmp_path, "ok", [path], questions, starts, bits=4, timeout=600)
    assert all(p.returncode == 0 for p in procs), [p.stderr.read()[-2000:] for p in procs]
    assert res[0]["n_local"] > 0 and res[1]["n_local"] > 0 and res[1]["offset"] == res[0]["n_local"]
    with torch.no_grad():
        alone = ShardedReader(model, str(path), key_bits=4).ask(questions)
        pointed, read, *_ = retrieval_step(alone.subset(list(range(len(starts)))), *_queries(model, starts))
        single = [a.text for a in answer_views(model, alone.tails(), alone.subset)]
        whole = Reader(model, head + questions[0], key_bits=4)
        assert alone.n == whole.n
    assert single == wants  # right at 1M tokens with int4 keys
    for r in res:
        assert torch.equal(r["step"][0], pointed) and torch.allclose(r["step"][1], read, atol=1e-5, rtol=1e-5)
        assert r["answers"] == single


@pytest.mark.slow
def test_a_mismatched_file_is_refused_before_reading(problem, tmp_path):
    _, paths = problem
    other = tmp_path / "other.txt"
    other.write_text(paths[True].read_text()[:-10])
    res, _ = _run_ranks(tmp_path, "ok", [paths[True], other], [""], ["x"])
    for r in res:
        assert "differs from rank" in r["error"] and "\n" not in r["error"]


@pytest.mark.slow
def test_a_dead_rank_makes_the_other_fail_with_a_named_error(problem, tmp_path):
    _, paths = problem
    res, procs = _run_ranks(tmp_path, "die", [paths[True]], [""], ["x"])
    assert procs[1].returncode == 3
    assert "rank 0 of 2" in res[0]["error"] and "rank 1" in res[0]["error"]


@pytest.mark.slow
def test_a_dead_rank_zero_is_named_by_the_other(problem, tmp_path):
    _, paths = problem
    res, procs = _run_ranks(tmp_path, "die0", [paths[True]], [""], ["x"])
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


def test_the_read_entry_point_answers_every_question_after_a_context(model, tmp_path, capsys):
    from hashhop_train.read import main

    sample = make_sample(Spec(size=20_000, hops=4, queries=2, seed=3, mid_chain=False))
    head, questions, wants = split_prompts(sample)
    (tmp_path / "c.txt").write_text(head)
    (tmp_path / "q.jsonl").write_text("\n".join(json.dumps(q) for q in questions) + "\n")
    args = ["--context", str(tmp_path / "c.txt"), "--questions", str(tmp_path / "q.jsonl"), "--json", "--key-bits", "4"]
    assert main(args) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["completion"] for x in lines[:-1]] == wants
    stats = lines[-1]["stats"]
    assert stats["world"] == 1 and stats["key_bytes_per_segment"] == 66 and len(stats["peak_rss_bytes"]) == 1


def test_the_read_entry_point_refuses_a_questions_file_that_is_not_json_strings(tmp_path, capsys):
    from hashhop_train.read import main

    (tmp_path / "c.txt").write_text("a = b\n")
    for body, says in (('{"q": 1}\n', "expected a JSON string"), ("Start at a\n", "not JSON")):
        (tmp_path / "q.jsonl").write_text(body)
        assert main(["--context", str(tmp_path / "c.txt"), "--questions", str(tmp_path / "q.jsonl")]) == 2
        err = capsys.readouterr().err
        assert says in err and "q.jsonl:1" in err and err.count("\n") == 1
