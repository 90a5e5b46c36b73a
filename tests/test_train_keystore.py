"""keystore: keys stored as float16, int8 or packed int4 with a per-row scale."""

import pytest

torch = pytest.importorskip("torch")

from hashhop_train.keystore import QuantKeys, key_nbytes, scores, store_keys  # noqa: E402


@pytest.fixture
def keys():
    g = torch.Generator().manual_seed(0)
    return torch.randn(300, 128, generator=g) * torch.rand(300, 1, generator=g) * 5


@pytest.mark.parametrize(("bits", "qmax"), [(8, 127), (4, 7)])
def test_dequantised_keys_are_within_half_a_step_of_the_originals(keys, bits, qmax):
    stored = store_keys(keys, bits)
    step = keys.abs().amax(-1, keepdim=True) / qmax
    assert ((stored.float() - keys).abs() <= step * 0.5 + 1e-2 * step).all()


@pytest.mark.parametrize(("bits", "per_row"), [(16, 256), (8, 130), (4, 66)])
def test_bytes_per_key_row(keys, bits, per_row):
    assert key_nbytes(store_keys(keys, bits)) == per_row * len(keys)


def test_int4_packs_two_dimensions_per_byte_in_order():
    k = torch.tensor([[7.0, -7.0, 0.0, 3.0]])
    stored = store_keys(k, 4)
    assert stored.codes.shape == (1, 2) and stored.levels().tolist() == [[7.0, -7.0, 0.0, 3.0]]


@pytest.mark.parametrize("bits", [16, 8, 4])
def test_scores_equal_the_dot_products_with_the_dequantised_keys(keys, bits):
    q = torch.randn(5, 128, generator=torch.Generator().manual_seed(1))
    stored = store_keys(keys, bits)
    assert torch.allclose(scores(q, stored), q @ stored.float().T, rtol=1e-4, atol=1e-3)


def test_a_slice_of_stored_keys_is_the_slice_of_their_rows(keys):
    stored = store_keys(keys, 4)
    part = stored[10:20]
    assert isinstance(part, QuantKeys) and len(part) == 10 and torch.equal(part.float(), stored.float()[10:20])


def test_other_bit_widths_are_refused(keys):
    with pytest.raises(ValueError, match="one of"):
        store_keys(keys, 2)


def test_a_zero_row_stays_zero():
    assert store_keys(torch.zeros(2, 8), 4).float().abs().sum() == 0


@pytest.mark.parametrize("bits", [16, 8, 4])
def test_keys_put_into_one_buffer_equal_keys_stored_alone(keys, bits):
    from hashhop_train.keystore import empty_keys, put_keys

    dest = empty_keys(len(keys), 128, bits)
    put_keys(dest, 0, keys[:100])
    put_keys(dest, 100, keys[100:])
    alone = store_keys(keys, bits)
    assert torch.equal(dest.float(), alone.float()) and key_nbytes(dest) == key_nbytes(alone)
