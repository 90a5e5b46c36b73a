"""Training and evaluation batches, generated on the fly from the hashhop generator.

Each sample is a fresh `hashhop` Problem (seeds that evaluation never uses) in a random dialect:
alphabet, hash length, plain or Magic format, line form, phrasing, chat or plain text. The model
reads the whole prompt text, with the questions of all its queries at the end. Labels come from
the generator, never from the model's reading: the answer to the link on context line p is the
last word segment of that line (`value_segments`), and each question's start hash, step count,
mode and layout are what the generator asked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hashhop.generator.layout import Shape
from hashhop.generator.problem import Problem
from hashhop.generator.spec import Spec
from hashhop.prompt.template import question

from .config import Stage
from .dialects import LINE_FORMS, PHRASINGS, Dialect, restyle
from .segments import _CLASS, WORD, segment_ids, segment_starts

TRAIN_SEED_BASE = 1_000_000  # training specs use seeds >= this; evaluation sets use small seeds
ALPHABETS = ("letters", "hex", "base32", "digits", "dna")
TAIL_CHARS = 4000  # enough characters to hold the reader's last segments
READER_EXTRA = 8  # extra questions per sample for the reader alone, with any step count


@dataclass
class Batch:
    ctx_ids: torch.Tensor  # (B, n, L)
    pad: torch.Tensor  # (B, n) bool
    q_ids: torch.Tensor  # (B, m, L)
    hops: torch.Tensor  # (B, m)
    skip: torch.Tensor  # (B, m) bool
    target: torch.Tensor  # (B, m) answer segment, -100 for padding rows
    tail_ids: torch.Tensor  # (R, T, L) last segments of each question's prompt
    tail_pad: torch.Tensor  # (R, T) bool
    asked: torch.Tensor  # (R, 4): start tail position, steps - 1, chain of thought, closes a quote

    def to(self, device) -> Batch:
        return Batch(*(t.to(device) for t in vars(self).values()))


def random_dialect(rng: np.random.Generator) -> tuple[Dialect, str]:
    """(dialect, generator format): Magic's layout mostly with Magic's format, as Magic writes it."""
    phrasing = str(rng.choice(list(PHRASINGS)))
    fmt = "magic" if rng.random() < (0.8 if phrasing == "magic" else 0.3) else "plain"
    return Dialect(str(rng.choice(list(LINE_FORMS))), phrasing, bool(rng.random() < 0.5)), fmt


def make_problem(lines: int, chain_hops: int, asked: int, queries: int, seed: int, index: int, **spec) -> Problem:
    """A problem with about `lines` lines: chains of `chain_hops`, decoys, the rest filler."""
    n_chains = max(queries, lines // (2 * chain_hops))
    # Decoys only where they fit: the context never grows past `lines` (the 4K-token training cap).
    decoys = min(spec.pop("distractors", 0), max(0, lines - n_chains * chain_hops) // (queries * asked))
    n_fill = max(0, lines - n_chains * chain_hops - decoys * queries * asked)
    full = Spec(size=1, hops=chain_hops, queries=queries, query_hops=asked, mid_chain=True, seed=seed,
                distractors=decoys, **spec)  # fmt: skip
    return Problem(full, index, Shape(n_chains, n_fill, 0))


def value_segments(text: str, context: str, n_lines: int) -> np.ndarray:
    """(n_lines,) segment index of each context line's value: its last word segment (labels only)."""
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    off = text.find(context)  # ASCII prompts: characters are bytes
    starts = segment_starts(text)
    newlines = off + np.flatnonzero(np.frombuffer(context.encode("utf-8"), dtype=np.uint8) == 10)
    inside = (starts >= off) & (starts < off + len(context)) & (_CLASS[data[starts]] == WORD)
    line = np.searchsorted(newlines, starts[inside])
    out = np.full(n_lines, -1, dtype=np.int64)
    np.maximum.at(out, line, np.flatnonzero(inside))
    return out


def _tail(text: str, tail: int, max_len: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Left-padded (tail, L) ids, (tail,) pad flags and the texts of the last segments of `text`."""
    piece = text[-TAIL_CHARS:]
    ids = segment_ids(piece, max_len)[-tail:]
    rows, pad = np.zeros((tail, max_len), np.int64), np.ones(tail, bool)
    rows[tail - len(ids) :], pad[tail - len(ids) :] = ids, False
    texts = [bytes(((r[r > 0] - 1) % 256).astype(np.uint8).tolist()).decode() for r in rows]
    return rows, pad, texts


def reader_row(dialect: Dialect, context: str, start: str, hops: int, cot: bool, tail: int, max_len: int):
    """One question for the reader: (tail ids, pad, [start position, steps - 1, cot, quote])."""
    rows, pad, texts = _tail(dialect.prompt(context, start, hops, cot), tail, max_len)
    where = [i for i, t in enumerate(texts) if t == start and not pad[i]]
    return rows, pad, [where[-1], hops - 1, int(cot), int(dialect.closes_quote())]


def sample_rows(problem: Problem, dialect: Dialect, skip: bool, rng: np.random.Generator, tail: int, max_len: int,
                max_steps: int = 16):  # fmt: skip
    """(ctx_ids, retrieval rows, reader rows) for one problem read in one dialect."""
    context = problem.prompt()
    queries = problem.queries
    text = dialect.prompt(context, queries[0].start, queries[0].hops, not skip)
    template = PHRASINGS[dialect.phrasing]
    more = [question(template, q.start, q.hops, not skip) for q in queries[1:]]
    text = "\n\n".join([text, *more])  # every query's start also appears in a question, as a negative
    value = value_segments(text, restyle(context, dialect.form), problem.n_lines)
    rows = []
    for q in queries:
        if skip:  # one row: start hash in, final hash's segment out, hops steps inside
            rows.append((q.start, q.hops, True, int(value[q.positions[-1]])))
        else:  # chain of thought, teacher-forced: every hop is one row from the true previous hash
            rows += [(q.path[t], 1, False, int(value[q.positions[t]])) for t in range(q.hops)]
    retrieval = [(segment_ids(h, max_len)[0], hops, sk, tgt) for h, hops, sk, tgt in rows]
    readers = [reader_row(dialect, context, q.start, q.hops, not skip, tail, max_len) for q in queries[:2]]
    hashes = [h for q in queries for h in q.path]
    for _ in range(READER_EXTRA):  # any step count 1..max_steps, either mode: the reader alone
        h = hashes[int(rng.integers(len(hashes)))]
        readers.append(
            reader_row(
                dialect, context, h, int(rng.integers(1, max_steps + 1)), bool(rng.random() < 0.5), tail, max_len
            )
        )
    return segment_ids(text, max_len), retrieval, readers


def collate(samples, tail: int, max_len: int) -> Batch:
    n = max(len(c) for c, _, _ in samples)
    m = max(len(r) for _, r, _ in samples)
    b = len(samples)
    ctx = np.zeros((b, n, max_len), np.int64)
    pad = np.ones((b, n), bool)
    q = np.zeros((b, m, max_len), np.int64)
    hops, skip = np.ones((b, m), np.int64), np.zeros((b, m), bool)
    target = np.full((b, m), -100, np.int64)
    for i, (c, rows, _) in enumerate(samples):
        ctx[i, : len(c)], pad[i, : len(c)] = c, False
        for j, (qi, h, sk, t) in enumerate(rows):
            q[i, j], hops[i, j], skip[i, j], target[i, j] = qi, h, sk, t
    readers = [r for _, _, rs in samples for r in rs]
    t = torch.from_numpy
    tails = t(np.stack([r[0] for r in readers])), t(np.stack([r[1] for r in readers]))
    asked = t(np.array([r[2] for r in readers], dtype=np.int64))
    return Batch(t(ctx), t(pad), t(q), t(hops), t(skip), t(target), *tails, asked)


def stage_batch(stage: Stage, progress: float, batch: int, queries: int, cfg, rng: np.random.Generator, seed: int,
                first_index: int, seed_base: int = TRAIN_SEED_BASE) -> Batch:  # fmt: skip
    """One batch of a curriculum stage; context lines grow linearly with `progress` in [0, 1]."""
    lo, hi = stage.lines
    samples = []
    for i in range(batch):
        lines = int(lo + (hi - lo) * progress * rng.uniform(0.6, 1.0) + rng.integers(0, 8))
        asked = int(rng.integers(stage.hops[0], stage.hops[1] + 1))
        chain_hops = max(asked, int(rng.integers(2, 5)))  # values are also keys elsewhere, as in real chains
        skip = stage.name == "skip" and rng.random() < stage.skip_fraction
        n_q = max(1, min(queries, lines // (2 * chain_hops)) // (1 if skip else asked))
        dialect, fmt = random_dialect(rng)
        # Hash lengths 8-32, and never one the model cannot read whole (a cut hash is refused at inference).
        spec = {"alphabet": str(rng.choice(ALPHABETS)), "hash_len": int(rng.integers(8, min(33, cfg.max_seg_len))), "format": fmt,
                "distractors": stage.distractors if rng.random() < 0.75 else 0}  # fmt: skip
        problem = make_problem(lines, chain_hops, asked, n_q, seed_base + seed, first_index + i, **spec)
        samples.append(sample_rows(problem, dialect, skip, rng, cfg.tail, cfg.max_seg_len, cfg.max_steps))
    return collate(samples, cfg.tail, cfg.max_seg_len)


def eval_batch(stage: Stage, batch: int, queries: int, cfg, seed: int = 0) -> Batch:
    """A fixed evaluation batch at the stage's final length (seeds < TRAIN_SEED_BASE: never trained on)."""
    return stage_batch(stage, 1.0, batch, queries, cfg, np.random.default_rng(seed), seed, 0, seed_base=0)
