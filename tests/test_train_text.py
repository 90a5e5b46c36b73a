"""The shipped model reads plain prompt text: no side channel, every dialect, prefix reuse, limits.

Prompts are built with hashhop's generator (`hashhop_train.data.make_problem`) in the dialects the
model is trained on (`hashhop_train.dialects`): the model must find the start hash, the step
count, the mode and Magic's open quote in the text itself.
"""

import asyncio
import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from hashhop.backends.base import BackendError, Request  # noqa: E402
from hashhop.core.errors import OverLength  # noqa: E402
from hashhop.prompt.template import MAGIC_TEMPLATE, render  # noqa: E402
from hashhop_train.backend import create, prompt_text  # noqa: E402
from hashhop_train.cache import ReaderCache  # noqa: E402
from hashhop_train.data import make_problem  # noqa: E402
from hashhop_train.dialects import LINE_FORMS, PHRASINGS, Dialect, restyle  # noqa: E402
from hashhop_train.infer import Reader, answer  # noqa: E402
from hashhop_train.segments import count_segments  # noqa: E402


@pytest.fixture(scope="module")
def backend():
    return create("builtin")


@pytest.fixture(scope="module")
def problem():
    """About 100 context lines, letters, 12-character hashes; 2-hop queries in the middle of 2-hop chains."""
    return make_problem(100, 2, 2, 2, seed=7, index=0, alphabet="letters", hash_len=12)


def expected(query, cot: bool, phrasing: str) -> str:
    """The completion a right model writes: `H2 = H3` or `H3`, and Magic's closing quote."""
    text = " = ".join(query.path[1:]) if cot else query.answer
    return text + ("'" if phrasing == "magic" else "")


def _generate(backend, request: Request) -> str:
    return asyncio.run(backend.generate(request)).text


def test_magic_phrasing_is_magics_own_template():
    assert PHRASINGS["magic"] is MAGIC_TEMPLATE


@pytest.mark.parametrize("chat", [True, False])
def test_a_poisoned_request_is_answered_from_the_text_alone(backend, problem, chat):
    q, other = problem.queries
    rendered = render(PHRASINGS["default"], problem.prompt(), q.start, q.hops, False)
    messages, plain = (rendered.messages, "") if chat else ((), rendered.text)
    clean = Request("s", 0, messages, plain, 64)
    honest = dataclasses.replace(clean, start=q.start, hops=q.hops, cot=False, context=problem.prompt())
    other_context = make_problem(100, 2, 2, 2, seed=8, index=0, alphabet="letters", hash_len=12).prompt()
    poisoned = dataclasses.replace(clean, start=other.start, hops=5, cot=True, context=other_context)
    texts = [_generate(backend, r) for r in (clean, honest, poisoned)]
    assert texts == [q.answer] * 3


@pytest.mark.parametrize("cot", [False, True], ids=["skip", "cot"])
@pytest.mark.parametrize("chat", [True, False], ids=["chat", "plain"])
@pytest.mark.parametrize("phrasing", list(PHRASINGS))
@pytest.mark.parametrize("form", list(LINE_FORMS))
def test_each_dialect_answers_a_two_hop_question(backend, problem, form, phrasing, chat, cot):
    q = problem.queries[1] if cot else problem.queries[0]  # two different chains for the two modes
    assert q.hops == 2
    text = Dialect(form, phrasing, chat).prompt(problem.prompt(), q.start, q.hops, cot)
    written = backend.answer_text(text)
    assert written.text == expected(q, cot, phrasing), written.reading


def test_a_prompt_sharing_the_context_reuses_its_keys_and_answers_as_a_fresh_read(backend):
    big = make_problem(300, 2, 2, 2, seed=8, index=0, alphabet="letters", hash_len=12)  # > 4096 shared chars
    (a, b), dialect = big.queries, Dialect("colon", "which", True)
    first = dialect.prompt(big.prompt(), a.start, a.hops, True)
    second = dialect.prompt(big.prompt(), b.start, b.hops, False)
    cache = ReaderCache(backend.model, 1 << 30)
    r1, r2 = cache.get(first), cache.get(second)
    assert (cache.misses, cache.reuses, cache.hits) == (1, 1, 0)
    assert r2.origin is r1 and restyle(big.prompt(), "colon") in second and 0.9 * r2.n < r2.kept < r2.n
    fresh = Reader(backend.model, second)
    assert r2.n == fresh.n
    keys, fresh_keys = torch.cat(r2.key_blocks).float(), torch.cat(fresh.key_blocks).float()
    assert torch.allclose(keys, fresh_keys, atol=1e-3)
    assert np.array_equal(r2.rows_between(0, r2.n), fresh.rows_between(0, fresh.n))
    assert answer(r2) == answer(fresh) and answer(r2).text == expected(b, False, "which")
    assert answer(r1).text == expected(a, True, "which")
    assert cache.get(second) is r2 and cache.hits == 1
    # the backend's own cache does the same between requests
    before = backend.readers.reuses
    assert backend.answer_text(first).text == expected(a, True, "which")
    assert backend.answer_text(second).text == expected(b, False, "which")
    assert backend.readers.reuses == before + 1


def test_a_hash_over_the_segment_limit_is_over_length_naming_the_limit(backend):
    limit = backend.model.cfg.max_seg_len - 1
    dialect = Dialect()
    fits = make_problem(40, 2, 1, 2, seed=7, index=0, alphabet="letters", hash_len=limit)
    q = fits.queries[0]
    assert backend.answer_text(dialect.prompt(fits.prompt(), q.start, 1, False)).text == q.answer
    over = make_problem(40, 2, 1, 2, seed=7, index=0, alphabet="letters", hash_len=limit + 1)
    q = over.queries[0]
    with pytest.raises(OverLength, match=rf"longer than the model's {limit} characters"):
        backend.answer_text(dialect.prompt(over.prompt(), q.start, 1, False))


def test_count_tokens_counts_the_models_segments_of_the_joined_messages(backend, problem):
    q = problem.queries[0]
    rendered = render(PHRASINGS["which"], problem.prompt(), q.start, q.hops, True)
    request = Request("s", 0, rendered.messages, rendered.text, 64)
    joined = "\n".join(m["content"] for m in rendered.messages)
    assert prompt_text(request) == joined == rendered.chat_text
    assert backend.count_tokens(prompt_text(request)) == count_segments(joined)
    assert prompt_text(dataclasses.replace(request, messages=())) == rendered.text
    assert backend.count_tokens("abc = XYZ\nq = r") == 7  # the newline is a segment of its own


def test_an_unknown_backend_option_is_refused():
    with pytest.raises(BackendError, match=r"unknown option\(s\) for ltm: bogus; known are .*max_dense_segments"):
        create("builtin", bogus=1)


def test_the_dense_twin_answers_as_the_sparse_model_up_to_its_segment_limit(backend, problem):
    for q, cot in zip(problem.queries, (False, True), strict=True):
        text = Dialect("arrow", "task", False).prompt(problem.prompt(), q.start, q.hops, cot)
        n = count_segments(text)
        dense = create("builtin", attention="dense", max_dense_segments=n)  # exactly at the limit: read
        assert dense.model.dense and dense.answer_text(text) == backend.answer_text(text)
        assert dense.answer_text(text).text == expected(q, cot, "task")
        tight = create("builtin", attention="dense", max_dense_segments=n - 1)
        with pytest.raises(OverLength, match=rf"dense attention over {n} segments"):
            tight.answer_text(text)


def _with_near_neighbours(problem, seed: int) -> str:
    """The problem's context plus, for every hash a query passes through, two decoy lines whose keys
    differ from it in one middle symbol (digits), shuffled in: near neighbours that an 8-digit hash
    has by chance among the 100K hashes of 1M tokens."""
    rng = np.random.default_rng(seed)
    lines = problem.prompt().splitlines()
    used = set(" ".join(lines).split())
    for q in problem.queries:
        for h in q.path[:-1]:
            for pos in (3, 4):
                near = h[:pos] + str((int(h[pos]) + int(rng.integers(1, 10))) % 10) + h[pos + 1 :]
                if near not in used:
                    used.add(near)
                    lines.append(f"{near} = {''.join(rng.choice(list('0123456789'), 8))}")
    rng.shuffle(lines)
    return "\n".join(lines)


@pytest.mark.parametrize("cot", [False, True], ids=["skip", "cot"])
def test_keys_one_symbol_away_from_each_hash_on_the_chain_are_not_followed(backend, cot):
    problem = make_problem(160, 4, 4, 12, seed=11, index=0, alphabet="digits", hash_len=8)
    context = _with_near_neighbours(problem, seed=1)
    dialect = Dialect("spaced", "default", True)
    written = [backend.answer_text(dialect.prompt(context, q.start, q.hops, cot)).text for q in problem.queries]
    assert written == [expected(q, cot, "default") for q in problem.queries]
