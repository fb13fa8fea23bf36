"""FSQ index arithmetic, checked against vector-quantize-pytorch's own FSQ (NeuCodec's quantizer)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nacbench.fsq import fsq_basis, indices_to_levels, level_values, levels_to_indices

LEVELS = st.lists(st.integers(2, 9), min_size=1, max_size=5)


@given(LEVELS, st.data())
@settings(max_examples=60, deadline=None)
def test_indices_levels_round_trip(levels: list[int], data: st.DataObject) -> None:
    size = math.prod(levels)
    idx = np.asarray(data.draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=50)))
    digits = indices_to_levels(idx, levels)
    assert digits.shape == (idx.size, len(levels))
    assert np.all((digits >= 0) & (digits < np.asarray(levels)))
    np.testing.assert_array_equal(levels_to_indices(digits, levels), idx)


def test_dimension_zero_is_least_significant() -> None:
    np.testing.assert_array_equal(fsq_basis([4, 4, 3]), [1, 4, 16])
    np.testing.assert_array_equal(
        indices_to_levels(np.array([1, 4, 16, 47]), [4, 4, 3]), [[1, 0, 0], [0, 1, 0], [0, 0, 1], [3, 3, 2]]
    )


def test_level_values_four_levels() -> None:
    np.testing.assert_array_equal(level_values([4])[0], [-1.0, -0.5, 0.0, 0.5])
    np.testing.assert_array_equal(level_values([5])[0], [-1.0, -0.5, 0.0, 0.5, 1.0])


def test_out_of_range_is_an_error() -> None:
    with pytest.raises(ValueError, match="outside"):
        indices_to_levels(np.array([48]), [4, 4, 3])
    with pytest.raises(ValueError, match="outside"):
        levels_to_indices(np.array([[4, 0, 0]]), [4, 4, 3])
    with pytest.raises(ValueError, match=">= 2"):
        fsq_basis([4, 1])


@pytest.mark.parametrize("levels", [[4] * 8, [4, 4, 3, 5], [8, 5, 5, 5]])
def test_matches_vector_quantize_pytorch(levels: list[int]) -> None:
    torch = pytest.importorskip("torch")
    vqp = pytest.importorskip("vector_quantize_pytorch")
    fsq = vqp.FSQ(levels=levels)
    size = math.prod(levels)
    idx = np.arange(size)
    theirs = fsq.indices_to_codes(torch.from_numpy(idx)).numpy()
    digits = indices_to_levels(idx, levels)
    ours = np.stack([level_values(levels)[d][digits[:, d]] for d in range(len(levels))], axis=1)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    # and the quantizer's own forward pass: its indices decompose into the digits of its outputs
    torch.manual_seed(0)
    zhat, indices = fsq(torch.randn(1, 200, len(levels)))
    values = zhat[0].detach().numpy()
    got = indices_to_levels(indices[0].numpy().astype(np.int64), levels)
    expected = np.stack([level_values(levels)[d][got[:, d]] for d in range(len(levels))], axis=1)
    np.testing.assert_allclose(expected, values, atol=1e-6)
