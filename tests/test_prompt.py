"""The instruction template and token-exact sizing of the whole prompt."""

import pytest
from stub_server import count as stub_count

from hashhop.core.errors import SpecError, TemplateError
from hashhop.generator.build import make_sample
from hashhop.generator.spec import Spec
from hashhop.generator.tokenizers import get_tokenizer
from hashhop.prompt.fit import sized_sample
from hashhop.prompt.template import DEFAULT_TEMPLATE, Template, context_budget, render, render_query


def _sample(**kw):
    return make_sample(Spec(size=1500, hops=2, queries=3, **kw), 0)


def test_queries_of_one_context_share_the_context_as_an_identical_prefix():
    s = _sample()
    a, b = (render_query(DEFAULT_TEMPLATE, s.prompt, q) for q in s.queries[:2])
    assert a.messages[0] == b.messages[0]
    assert a.messages[1]["content"].startswith(s.prompt) and b.messages[1]["content"].startswith(s.prompt)
    assert a.messages[1]["content"] != b.messages[1]["content"]
    assert a.messages[1]["content"].endswith(a.question)  # the question comes last
    assert a.text.index(s.prompt) < a.text.index(a.question)


def test_cot_question_asks_for_every_hash_and_skip_for_the_final_one():
    cot = render(DEFAULT_TEMPLATE, "x = y", "abc", 3, cot=True).question
    skip = render(DEFAULT_TEMPLATE, "x = y", "abc", 3, cot=False).question
    assert "every hash" in cot and "abc" in cot and "3" in cot
    assert "hash only" in skip and "every" not in skip


def test_prefill_is_the_start_of_the_assistant_turn_and_ends_the_plain_prompt():
    t = Template(prefill="The answer is")
    p = render(t, "x = y", "abc", 1, cot=False)
    assert p.messages[-1] == {"role": "assistant", "content": "The answer is"}
    assert p.text.endswith("The answer is")


@pytest.mark.parametrize("tokenizer", ["chars", "tiktoken:cl100k_base"])
@pytest.mark.parametrize("total", [2000, 6000])
def test_whole_prompt_lands_on_the_requested_tokens_with_a_named_tokenizer(tokenizer, total):
    tok = get_tokenizer(tokenizer)
    spec = Spec(size=total, hops=2, queries=2)
    sample, n_context, frame = sized_sample(spec, total, 0, DEFAULT_TEMPLATE, tokenizer=tok)
    for q in sample.queries:
        whole = tok.count(render_query(DEFAULT_TEMPLATE, sample.prompt, q).text)
        assert abs(whole - total) <= max(total * 0.005, 40), (whole, total)
    assert n_context == tok.count(sample.prompt)
    assert abs(n_context + frame - total) <= max(total * 0.005, 40)


def test_whole_prompt_lands_on_the_requested_tokens_with_a_model_counter():
    total = 3000
    sample, n_context, frame = sized_sample(
        Spec(size=total, hops=1, queries=2), total, 0, DEFAULT_TEMPLATE, count=stub_count, overhead=11, chat=True
    )
    assert n_context == stub_count(sample.prompt)  # measured, not estimated
    whole = stub_count(render_query(DEFAULT_TEMPLATE, sample.prompt, sample.queries[0]).chat_text) + 11
    assert abs(whole - total) <= total * 0.01, whole
    assert sample.spec.tokenizer == "chars"  # the recipe rebuilds without the server


def test_context_budget_refuses_a_total_smaller_than_the_template():
    with pytest.raises(SpecError, match="raise --tokens"):
        context_budget(20, len, DEFAULT_TEMPLATE, "a" * 16, 2, False)


def test_context_budget_subtracts_the_frame():
    frame = len(render(DEFAULT_TEMPLATE, "", "a" * 16, 2, False).text)
    assert context_budget(5000, len, DEFAULT_TEMPLATE, "a" * 16, 2, False) == 5000 - frame
    assert context_budget(5000, len, DEFAULT_TEMPLATE, "a" * 16, 2, False, overhead=7) == 5000 - frame - 7


def test_template_must_put_the_context_first():
    with pytest.raises(TemplateError, match="start with"):
        Template(user="{question}\n{context}")


def test_template_file_round_trip_and_bad_fields(tmp_path):
    good = tmp_path / "t.json"
    good.write_text('{"system": "S", "prefill": "P"}')
    t = Template.load(str(good))
    assert (t.system, t.prefill) == ("S", "P") and Template.from_dict(t.to_dict()) == t
    bad = tmp_path / "b.json"
    bad.write_text('{"sistem": "S"}')
    with pytest.raises(TemplateError, match="unknown template field"):
        Template.load(str(bad))
    with pytest.raises(TemplateError, match="cannot read"):
        Template.load(str(tmp_path / "missing.json"))
