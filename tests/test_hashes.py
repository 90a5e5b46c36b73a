import numpy as np
import pytest

from hashhop.core.errors import SpecError
from hashhop.generator.alphabets import ALPHABETS, alphabet_chars, entropy_bits
from hashhop.generator.hashes import HashSpace
from hashhop.generator.keyed import derive_key


def _pack(digits: np.ndarray, base: int) -> np.ndarray:
    """Each row of symbols as (hi, lo) uint64 words, for fast exact duplicate checks."""
    bits = max(1, (base - 1).bit_length())
    words = np.zeros((len(digits), 2), dtype=np.uint64)
    for j in range(digits.shape[1]):
        col = 0 if j * bits < 64 - bits else 1
        words[:, col] = (words[:, col] << np.uint64(bits)) | digits[:, j].astype(np.uint64)
    return words


def _count_duplicates(words: np.ndarray) -> int:
    order = np.lexsort((words[:, 1], words[:, 0]))
    s = words[order]
    return int(((s[1:, 0] == s[:-1, 0]) & (s[1:, 1] == s[:-1, 1])).sum())


@pytest.mark.slow
def test_ten_million_hashes_have_no_duplicates():
    space = HashSpace("letters", 16, derive_key("ten-million"))
    words = np.concatenate(
        [_pack(space.digits(np.arange(a, a + 1_000_000)), space.base) for a in range(0, 10_000_000, 1_000_000)]
    )
    assert len(words) == 10_000_000
    assert _count_duplicates(words) == 0


@pytest.mark.parametrize("alphabet,length", [("dna", 4), ("digits", 3), ("letters", 2), ("hex", 3)])
def test_a_full_small_space_is_covered_exactly_once(alphabet, length):
    space = HashSpace(alphabet, length, derive_key(alphabet))
    n = space.base**length
    strings = space.strings(np.arange(n))
    assert len(set(strings)) == n


def test_hashes_use_only_the_alphabet_and_have_the_length():
    for name in ALPHABETS:
        space = HashSpace(name, 12, derive_key(name))
        for s in space.strings(np.arange(200)):
            assert len(s) == 12 and set(s) <= set(alphabet_chars(name))


def test_symbols_are_close_to_uniform_in_every_position():
    space = HashSpace("letters", 16, derive_key("uniform"))
    digits = space.digits(np.arange(200_000))
    expected = 200_000 / 52
    for j in range(16):
        counts = np.bincount(digits[:, j], minlength=52)
        chi2 = ((counts - expected) ** 2 / expected).sum()
        assert chi2 < 110, (j, chi2)  # df=51: p < 1e-5 above ~100


def test_index_of_inverts_and_rejects_strangers():
    space = HashSpace("letters", 16, derive_key("inverse"))
    for i in [0, 1, 12345, 10**9]:
        assert space.index_of(space.digits([i])[0]) == i
    stranger = space.encode("aaaaaaaaaaaaaaaa")
    found = space.index_of(stranger)
    assert found is None or space.strings([found])[0] == "aaaaaaaaaaaaaaaa"


def test_a_too_small_space_refuses_instead_of_degrading():
    space = HashSpace("dna", 3, derive_key(0))
    with pytest.raises(SpecError, match="too small for 65 distinct hashes"):
        space.check_room(65)
    space.check_room(64)


def test_entropy_bits_per_hash():
    assert entropy_bits("hex", 16) == 64
    assert entropy_bits("dna", 8) == 16
    assert round(entropy_bits("letters", 16), 2) == 91.21


def test_custom_alphabets_are_checked():
    assert alphabet_chars("custom:xyz") == "xyz"
    for bad in ["custom:aa", "custom:a", "custom:a b", "custom:a=", "custom:\u00e9z"]:
        with pytest.raises(SpecError):
            alphabet_chars(bad)
