"""Golden datasets: the SHA-256 of generated files is pinned, so any change to the bytes is
deliberate, and comes with a FORMAT_VERSION bump (hashhop.spec) and new pins here."""

import hashlib

import pytest

from hashhop.dataset import write_jsonl
from hashhop.spec import FORMAT_VERSION, Spec

GOLDEN = {
    "plain_chars": (Spec(size=4000, hops=2, queries=2),
                    "a1c10e1e598181b95fd431660fec44ca37b19da75bbbba37af392c4adcc337ab"),
    "magic_cot": (Spec(size=3000, hops=3, queries=3, cot=True, format="magic", seed=7),
                  "373393c104c02a8601940e7e69bf724168d314cc62e1dd49b53a15ac179d8e0f"),
    "cl100k_depth_decoys": (Spec(size=2000, hops=2, queries=1, tokenizer="tiktoken:cl100k_base", depth=0.5,
                                 distractors=2, seed=3),
                            "82d774c4dd787a4e7f9bafcc3717719ba38dcfa7cadf0f35cccf590923a05e3d"),
    "hex_mix_midchain": (Spec(size=5000, hops=4, hop_mix=(1, 2, 4), queries=4, query_hops=1, mid_chain=True,
                              alphabet="hex", hash_len=12, seed=11),
                         "d42bad44e346272043969b72240c6eb8bcab23b9e0a7005251174b8241489c0f"),
}


def test_format_version_matches_the_pins():
    assert FORMAT_VERSION == 1  # bump together with the pins below


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_generated_bytes_are_pinned(name, tmp_path):
    spec, digest = GOLDEN[name]
    path = tmp_path / f"{name}.jsonl"
    write_jsonl(spec, 2, str(path), progress=False)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
