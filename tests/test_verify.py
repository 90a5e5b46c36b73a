import dataclasses

from hashhop.generator.build import make_sample
from hashhop.generator.spec import Spec
from hashhop.generator.verify import verify_sample


def test_generated_samples_verify():
    for spec in [
        Spec(size=5000, hops=3, queries=3),
        Spec(size=3000, format="magic", cot=True, distractors=1),
        Spec(size=2000, tokenizer="tiktoken:cl100k_base", hop_mix=(1, 3), queries=4),
    ]:
        assert verify_sample(make_sample(spec)).ok


def test_a_duplicated_key_is_reported():
    sample = make_sample(Spec(size=2000, hops=2))
    lines = sample.prompt.split("\n")
    tampered = "\n".join(lines + [lines[0]])
    verdict = verify_sample(dataclasses.replace(sample, prompt=tampered))
    assert not verdict.ok
    assert any("appears twice" in p for p in verdict.problems)
    assert any("does not match its recipe" in p for p in verdict.problems)


def test_a_wrong_size_claim_is_reported():
    sample = make_sample(Spec(size=2000))
    verdict = verify_sample(dataclasses.replace(sample, n_tokens=sample.n_tokens + 1))
    assert not verdict.ok and any("n_tokens says" in p for p in verdict.problems)


def test_a_recipe_sample_verifies_by_rebuilding():
    assert verify_sample(make_sample(Spec(size=2000), with_prompt=False)).ok
