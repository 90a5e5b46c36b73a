"""hashhop_train: shapes, config round trip, checkpoints, chunked inference, a few training steps."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from hashhop_train import checkpoint  # noqa: E402
from hashhop_train.config import ConfigError, ModelConfig, RunConfig, Stage, TrainConfig, load  # noqa: E402
from hashhop_train.data import eval_batch, make_problem, sample_rows, stage_batch  # noqa: E402
from hashhop_train.dialects import LINE_FORMS, Dialect  # noqa: E402
from hashhop_train.infer import Reader  # noqa: E402
from hashhop_train.model import HopModel, _char_bags  # noqa: E402
from hashhop_train.segments import segment_ids, segment_text  # noqa: E402

# Training draws hash lengths 8..min(32, max_seg_len - 1): with 16, hashes of 8 to 15 characters.
# The question reader picks among max_steps step counts, and training asks it for up to 16 steps.
TINY = ModelConfig(dim=16, heads=2, layers=1, window=3, key_dim=16, max_seg_len=16, tail=32, reader_layers=1)
L = 33  # segment width for labels: every generator hash (up to 32 characters) whole


def test_segments_cut_at_whitespace_and_round_trip_characters():
    ids = segment_ids("abc = XYZ\nq = r", 16)
    assert [segment_text(r) for r in ids] == ["abc", "=", "XYZ", "\n", "q", "=", "r"]
    tabbed = segment_ids("A\tB\n\nC -> 'D'", 16)  # layout runs and punctuation runs are segments too
    assert [segment_text(r) for r in tabbed] == ["A", "\t", "B", "\n\n", "C", "->", "'", "D", "'"]


@pytest.mark.parametrize("form", list(LINE_FORMS))
def test_training_labels_point_at_the_answer_segment(form):
    problem = make_problem(40, 3, 2, 4, seed=5, index=0)
    for phrasing, chat in (("default", True), ("magic", False)):
        dialect = Dialect(form, phrasing, chat)
        ctx, rows, readers = sample_rows(problem, dialect, True, np.random.default_rng(0), 64, L)
        assert len(rows) == len(problem.queries)
        for q, (q_ids, hops, skip, target) in zip(problem.queries, rows, strict=True):
            assert segment_text(q_ids) == q.start and hops == 2 and skip
            assert segment_text(ctx[target]) == q.answer
        # the question reader's labels: the start hash's tail position, steps - 1, mode, quote
        for q, (tail, pad, asked) in zip(problem.queries[:2], readers[:2], strict=True):
            assert segment_text(tail[asked[0]]) == q.start and not pad[asked[0]]
            assert asked[1:] == [1, 0, int(phrasing == "magic")]
        # chain of thought: one row per hop, from the true previous hash to the next one
        ctx, rows, _ = sample_rows(problem, dialect, False, np.random.default_rng(0), 64, L)
        path_rows = [(q.path[t], q.path[t + 1]) for q in problem.queries for t in range(q.hops)]
        assert [(segment_text(r[0]), segment_text(ctx[r[3]])) for r in rows] == path_rows
        assert all(r[1] == 1 and not r[2] for r in rows)


def test_forward_gives_one_pointer_distribution_per_query_row_and_reads_each_question():
    model = HopModel(TINY)
    stage = Stage("skip", 10, (2, 3), (20, 30), 0.5)
    b = stage_batch(stage, 1.0, 3, 4, TINY, np.random.default_rng(0), 1, 0)
    logits, q = model(b.ctx_ids, b.pad, b.q_ids, b.hops, b.skip, b.tail_ids, b.tail_pad)
    assert logits.shape == (3, b.q_ids.shape[1], b.ctx_ids.shape[1])
    assert torch.isinf(logits[b.pad[:, None, :].expand_as(logits)]).all()
    assert not (b.ctx_ids[..., -1] != 0).any()  # hashes are drawn short enough to be read whole
    r = b.tail_ids.shape[0]
    assert b.tail_ids.shape[1:] == (TINY.tail, TINY.max_seg_len) and b.asked.shape == (r, 4)
    assert q.start.shape == (r, TINY.tail) and q.steps.shape == (r, TINY.max_steps)
    assert q.mode.shape == (r, 2) and q.quote.shape == (r, 2)
    assert torch.isinf(q.start[b.tail_pad]).all() and not torch.isinf(q.start[~b.tail_pad]).any()


def test_dense_and_sparse_share_parameters_and_agree_within_the_window():
    sparse = HopModel(TINY)
    dense = HopModel(ModelConfig(**{**TINY.__dict__, "attention": "dense"}))
    dense.load_state_dict(sparse.state_dict())
    with torch.no_grad():
        for block in dense.blocks:
            block.far_bias.fill_(-1e9)  # nothing beyond the window: dense == sparse
        ids = torch.from_numpy(segment_ids("a b c d e f g h", 16))[None]
        x, c = sparse.embed(ids), sparse.content(ids)
        assert torch.allclose(sparse.keys(x, c), dense.keys(x, c), atol=1e-5)


def test_chunked_keys_equal_whole_sequence_keys(monkeypatch):
    import hashhop_train.infer as infer

    model = HopModel(TINY).eval()
    problem = make_problem(60, 2, 1, 2, seed=3, index=0, hash_len=12)
    q = problem.queries[0]
    text = Dialect("tab").prompt(problem.prompt(), q.start, q.hops, True)
    whole = Reader(model, text)
    monkeypatch.setattr(infer, "KEY_CHUNK", 7)  # many chunk borders
    chunked = Reader(model, text)
    assert len(whole.key_blocks) == 1 and len(chunked.key_blocks) > 10
    assert torch.allclose(torch.cat(whole.key_blocks).float(), torch.cat(chunked.key_blocks).float(), atol=2e-3)
    assert np.array_equal(np.concatenate(whole.id_blocks), np.concatenate(chunked.id_blocks))


def test_config_round_trips_through_json_and_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[model]\ndim = 32\nheads = 2\n[train]\nbatch = 3\nstages = [{name = "pairs", steps = 5}]\n')
    run = load(path, ["--train.lr=0.01", "--attention=dense"])
    assert run.model.dim == 32 and run.model.attention == "dense" and run.train.lr == 0.01
    assert run.train.stages[0].steps == 5
    assert RunConfig.from_dict(json.loads(json.dumps(run.to_dict()))) == run
    with pytest.raises(ConfigError, match="unknown override"):
        load(path, ["--nope=1"])


def test_checkpoint_loads_and_rejects_a_mismatched_config(tmp_path):
    run = RunConfig(TINY, TrainConfig())
    model = HopModel(TINY)
    checkpoint.save(model, run, tmp_path)
    loaded, _, _ = checkpoint.load(tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    meta = json.loads((tmp_path / "config.json").read_text())
    meta["model"]["dim"] = 32
    (tmp_path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(checkpoint.CheckpointError, match="does not match its config.json"):
        checkpoint.load(tmp_path)


def test_missing_checkpoint_says_how_to_make_one(tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match="hashhop train"):
        checkpoint.load(tmp_path / "none")


def test_a_few_training_steps_lower_the_loss_and_write_outputs(tmp_path):
    from hashhop_train.train import train

    stages = (Stage("pairs", 30, (1, 1), (16, 24)),)
    tc = TrainConfig(batch=4, queries=4, lr=1e-2, warmup=2, log_every=1, threads=1, stages=stages)
    summary = train(RunConfig(TINY, tc), tmp_path, echo=lambda *_: None)
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert summary["steps_done"] == 30 and np.mean(losses[-5:]) < np.mean(losses[:5])
    assert (tmp_path / "model.safetensors").exists() and "final" in log[-1]
    assert set(log[-1]["final"]["eval_pointer_accuracy"]) == {"pairs", "pairs_reader"}


def test_evaluation_batches_are_fixed_and_disjoint_from_training():
    stage = Stage("pairs", 1, (1, 1), (20, 20))
    a, b = eval_batch(stage, 2, 2, TINY), eval_batch(stage, 2, 2, TINY)
    assert all(torch.equal(x, y) for x, y in zip(vars(a).values(), vars(b).values(), strict=True))
    t = stage_batch(stage, 1.0, 2, 2, TINY, np.random.default_rng(3), 3, 0)
    assert not torch.equal(a.ctx_ids[0, :5], t.ctx_ids[0, :5])


def test_decoys_never_grow_a_training_context_past_its_line_budget():
    for asked, chain_hops in ((1, 2), (4, 4), (8, 8)):
        problem = make_problem(160, chain_hops, asked, 10, seed=5, index=asked, distractors=2)
        ctx, rows, _ = sample_rows(problem, Dialect(), True, np.random.default_rng(0), 64, L)
        assert problem.n_lines <= 160
        assert all(segment_text(ctx[r[3]]) == q.answer for r, q in zip(rows, problem.queries, strict=True))
    assert make_problem(160, 2, 1, 10, seed=5, index=0, distractors=2).n_decoys == 20


def test_the_readers_key_kernel_equals_the_training_keys():
    model = checkpoint.load("builtin")[0]
    text = "".join(f"{i:08x}abcd = {i + 1:08x}abcd\n" for i in range(300)) + "Start at 00000001abcd, 2 link(s)."
    ids = torch.from_numpy(segment_ids(text, model.cfg.max_seg_len))
    with torch.no_grad():
        exact = model.keys(model.embed(ids)[None], model.content(ids)[None])[0]
        fast = model.segment_keys(ids)
        assert torch.equal(_char_bags(model.char_embed, ids), model.embed(ids))  # the same sums, pads skipped
    assert fast.shape == exact.shape and torch.allclose(fast, exact, atol=1e-5, rtol=1e-4)


RERANK = ModelConfig(**{**TINY.__dict__, "layers": 2, "rerank_dim": 8})


def test_rerank_gives_nothing_to_an_exact_match_and_a_penalty_per_differing_position():
    model = HopModel(RERANK)
    with torch.no_grad():
        ids = torch.from_numpy(segment_ids("a1b2c3d4 a1b2c3d5 a9b2c3d5 a1b2c3d4x", 16))  # (4, L)
        bonus = model.rerank(model.chars(ids[0]), model.chars(ids)[None])[0]  # (4,) against the first
    assert bonus[0] == pytest.approx(0.0, abs=1e-5)
    assert bonus[2] < bonus[1] < -1e-3  # two positions differ, then one
    assert bonus[3] < -1e-3  # the same prefix, longer: a character where the query has its pad


def test_inference_rebuilds_each_candidates_key_characters_from_its_window_as_training_does():
    """The readers re-rank from the rows ending at a candidate (model.rerank_span of them); training
    from the whole context. Both must give the same key characters, also at the context's start."""
    from hashhop_train.steps import window_chars, window_positions

    model = HopModel(RERANK).eval()
    torch.nn.init.normal_(model.select.weight)  # a selection that depends on the mixer's states (zero at init)
    problem = make_problem(40, 2, 1, 2, seed=4, index=0, hash_len=10)
    text = Dialect("arrow").prompt(problem.prompt(), problem.queries[0].start, 2, False)
    ctx = torch.from_numpy(segment_ids(text, RERANK.max_seg_len))  # (n, L)
    n = len(ctx)
    with torch.no_grad():
        _, a = model.key_parts(model.embed(ctx)[None], model.content(ctx)[None])  # (1, n, w + 1)
        every = torch.arange(n)
        trained, own = model.candidate_chars(model.chars(ctx)[None], a, every[None, :, None])  # (1, n, 1, L, r)
        pos, have = window_positions(every, model.rerank_span)
        rebuilt = window_chars(model, ctx[pos], have)  # (n, L, r)
    assert (have[: model.rerank_span - 1] < model.rerank_span).all()  # candidates at the start are in
    assert torch.allclose(trained[0, :, 0], rebuilt, atol=1e-5)
    assert torch.equal(own[0, :, 0], model.chars(ctx))


def test_rerank_needs_content_keys():
    with pytest.raises(ConfigError, match="rerank_dim needs model.keys"):
        ModelConfig(keys="mixed", rerank_dim=8)
