"""Golden datasets: the SHA-256 of generated files is pinned, so any change to the bytes is
deliberate, and comes with a FORMAT_VERSION bump (hashhop.spec) and new pins here."""

import hashlib

import pytest

from hashhop.dataset import write_jsonl
from hashhop.spec import FORMAT_VERSION, Spec

GOLDEN = {
    "plain_chars": (Spec(size=4000, hops=2, queries=2),
                    "1536b1348d6e00bf0f22c76ce93c096c207fba040ee0055b1db57d949987f8a6"),
    "magic_cot": (Spec(size=3000, hops=3, queries=3, cot=True, format="magic", seed=7),
                  "859e10b8ec173be5dc405be27459e28879b38f13a93f18c1159ce676734eeaca"),
    "cl100k_depth_decoys": (Spec(size=2000, hops=2, queries=1, tokenizer="tiktoken:cl100k_base", depth=0.5,
                                 distractors=2, seed=3),
                            "f70b5e4b947a2be4ec81a66dc3d10361c9ee6a35d5be53ab58924d3bddc10ede"),
    "hex_mix_midchain": (Spec(size=5000, hops=4, hop_mix=(1, 2, 4), queries=4, query_hops=1, mid_chain=True,
                              alphabet="hex", hash_len=12, seed=11),
                         "4f0c65ed58fde65654652ddb8375fd1c312960bfa06a0e5be50f342e17cafc2b"),
}


def test_format_version_matches_the_pins():
    assert FORMAT_VERSION == 1  # bump together with the pins below


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_generated_bytes_are_pinned(name, tmp_path):
    spec, digest = GOLDEN[name]
    path = tmp_path / f"{name}.jsonl"
    write_jsonl(spec, 2, str(path), progress=False)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
