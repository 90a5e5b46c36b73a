"""Golden datasets: the SHA-256 of generated files is pinned, so any change to the bytes is
deliberate, and comes with a FORMAT_VERSION bump (hashhop.generator.spec) and new pins here."""

import hashlib

import pytest

from hashhop.generator.dataset import write_jsonl
from hashhop.generator.spec import FORMAT_VERSION, Spec

GOLDEN = {
    "plain_chars": (
        Spec(size=4000, hops=2, queries=2),
        "e053e6d0b8327e02d881545e8d821f83b6bf749618535457e1686e5d47eb21a1",
    ),
    "magic_cot": (
        Spec(size=3000, hops=3, queries=3, cot=True, format="magic", seed=7),
        "05d21308ea3270eeda1d81553d66f026e291e11b5a13476d2ab3c28063222d35",
    ),
    "cl100k_depth_decoys": (
        Spec(size=2000, hops=2, queries=1, tokenizer="tiktoken:cl100k_base", depth=0.5, distractors=2, seed=3),
        "8baa7dfb0d5eb8a17f7bedd5b429498f0f0f65df1bb1ad9e9403f6237fc5bb4b",
    ),
    "hex_mix_midchain": (
        Spec(
            size=5000,
            hops=4,
            hop_mix=(1, 2, 4),
            queries=4,
            query_hops=1,
            mid_chain=True,
            alphabet="hex",
            hash_len=12,
            seed=11,
        ),
        "2559b00b0b8bd95bb122bee855e3e33caf903ee4fe0d96c4448382c7aed9f515",
    ),
}


def test_format_version_matches_the_pins():
    assert FORMAT_VERSION == 1  # bump together with the pins below


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_generated_bytes_are_pinned(name, tmp_path):
    spec, digest = GOLDEN[name]
    path = tmp_path / f"{name}.jsonl"
    write_jsonl(spec, 2, str(path), progress=False)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
