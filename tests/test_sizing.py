"""Exact sizes: characters within one line, tokens within 0.5% measured with the tokenizer."""

import pytest

from hashhop.core.errors import SpecError, TokenizerError
from hashhop.generator.build import build
from hashhop.generator.spec import Spec
from hashhop.generator.tokenizers import count_chunks, get_tokenizer

CL100K = "tiktoken:cl100k_base"


@pytest.mark.parametrize("size", [200, 1000, 4000, 65_536, 1_000_000])
@pytest.mark.parametrize("fmt", ["plain", "magic"])
@pytest.mark.parametrize("hops", [1, 3])
def test_character_budgets_land_within_one_line(size, fmt, hops):
    spec = Spec(size=size, hops=hops, format=fmt)
    problem, measured = build(spec)
    assert measured == len(problem.prompt()) == problem.n_chars
    assert abs(measured - size) <= 2 * spec.hash_len + 6


@pytest.mark.parametrize("size", [1000, 4000, 32_000, 500_000])
@pytest.mark.parametrize("cot,fmt", [(False, "plain"), (True, "magic")])
def test_token_budgets_land_within_half_a_percent(size, cot, fmt):
    spec = Spec(size=size, hops=2, queries=3, cot=cot, format=fmt, tokenizer=CL100K)
    problem, measured = build(spec)
    tokenizer = get_tokenizer(CL100K)
    assert measured == tokenizer.count(problem.prompt())  # the stored count is measured, not estimated
    assert abs(measured - size) <= 0.005 * size


@pytest.mark.slow
def test_a_ten_million_token_prompt_lands_within_half_a_percent():
    spec = Spec(size=10_000_000, hops=2, tokenizer=CL100K)
    problem, measured = build(spec)
    recount = count_chunks(get_tokenizer(CL100K), problem.chunks())
    assert recount == measured
    assert abs(measured - spec.size) <= 0.005 * spec.size


def test_hf_tokenizer_json_sizes_in_its_own_tokens(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import models, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    problem, _ = build(Spec(size=20_000))
    tok.train_from_iterator([problem.prompt()], trainers.BpeTrainer(vocab_size=400, special_tokens=["[UNK]"]))
    tok.save(str(tmp_path / "tokenizer.json"))
    spec = Spec(size=3000, tokenizer=f"hf:{tmp_path}")
    problem, measured = build(spec)
    assert measured == len(tok.encode(problem.prompt(), add_special_tokens=False).ids)
    assert abs(measured - 3000) <= 15


def test_unknown_tokenizers_fail_with_the_choices():
    with pytest.raises(TokenizerError, match="chars, tiktoken:cl100k_base or hf:PATH"):
        get_tokenizer("sentencepiece:foo")
    with pytest.raises(TokenizerError, match="no tokenizer.json"):
        get_tokenizer("hf:/nonexistent/dir")


def test_a_budget_too_small_for_one_chain_is_refused():
    with pytest.raises(SpecError, match="too small"):
        build(Spec(size=50, hops=4, queries=2))


def test_more_queries_than_chains_is_refused():
    with pytest.raises(SpecError, match="too small|queries need"):
        build(Spec(size=200, hops=1, queries=50))
