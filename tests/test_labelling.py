"""Index labellings (issue 8): bijections, Gray tables, expected distortion, the switching algorithm."""

from __future__ import annotations

import math
from itertools import permutations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nacbench.channel import transmit
from nacbench.conditions import LABELLINGS, ChannelSpec
from nacbench.fsq import indices_to_levels, level_values
from nacbench.labelling import (
    FITTED_LABELLINGS,
    Labelling,
    LabellingError,
    binary_switching,
    check_labelling_fits,
    expected_distortion,
    gray_code,
    make_labelling,
    product_expected_distortion,
    usage_counts,
)
from nacbench.seeds import derive_rng


def _fsq_table(levels: list[int], dim: int, seed: int, nonlinear: bool = False) -> np.ndarray:
    """Decoder-input vectors of an FSQ codebook through a random affine (or tanh) output projection."""
    rng = np.random.default_rng(seed)
    size = math.prod(levels)
    digits = indices_to_levels(np.arange(size), levels)
    values = np.stack([level_values(levels)[d][digits[:, d]] for d in range(len(levels))], axis=1)
    out = values @ rng.normal(size=(len(levels), dim)) + rng.normal(size=dim)
    return np.tanh(out) if nonlinear else out


def _brute_distortion(vectors: np.ndarray, forward: np.ndarray, probs: np.ndarray, n_bits: int) -> np.ndarray:
    inverse = {int(label): i for i, label in enumerate(forward)}
    per_bit = np.zeros(n_bits)
    for b in range(n_bits):
        for i, label in enumerate(forward):
            j = inverse.get(int(label) ^ (1 << b))
            if j is not None:
                per_bit[b] += probs[i] * float(((vectors[i] - vectors[j]) ** 2).sum())
    return per_bit


# ------------------------------------------------------------------------------------------ tables


def test_gray_code_known_table() -> None:
    np.testing.assert_array_equal(gray_code(np.arange(8)), [0, 1, 3, 2, 6, 7, 5, 4])
    lab = make_labelling("gray", [8])
    np.testing.assert_array_equal(lab.forward[0], [0, 1, 3, 2, 6, 7, 5, 4])
    np.testing.assert_array_equal(lab.inverse[0], [0, 1, 3, 2, 7, 6, 4, 5])


def test_gray_per_fsq_digit() -> None:
    """Levels [4, 2]: label = g(l0) + 4 * g(l1), i.e. one Gray field per digit, not Gray of the index."""
    lab = make_labelling("gray", [8], fsq_levels=[4, 2])
    np.testing.assert_array_equal(lab.forward[0], [0, 1, 3, 2, 4, 5, 7, 6])
    assert not np.array_equal(lab.forward[0], gray_code(np.arange(8)))


def test_natural_is_identity_and_random_is_seeded() -> None:
    np.testing.assert_array_equal(make_labelling("natural", [16, 5]).forward[1], np.arange(5))
    a = make_labelling("random", [1024, 1024], seed=3)
    b = make_labelling("random", [1024, 1024], seed=3)
    c = make_labelling("random", [1024, 1024], seed=4)
    np.testing.assert_array_equal(a.forward[0], b.forward[0])
    assert not np.array_equal(a.forward[0], c.forward[0])
    assert not np.array_equal(a.forward[0], a.forward[1])  # each codebook gets its own permutation


# ------------------------------------------------------------------------------------------ bijections

CODECS = st.sampled_from(
    [
        ([16] * 4, None),
        ([256, 128], None),  # RVQ-like; the 1024-entry search is timed in benchmarks/bench_channel.py
        ([5, 8], None),
        ([256], [4, 4, 4, 4]),
        ([64, 64], [8, 2, 4]),
        ([45], [3, 5, 3]),
    ]
)


def _fits(name: str, sizes: list[int], levels: list[int] | None) -> bool:
    try:
        check_labelling_fits(name, sizes, levels, has_vectors=True, codec="toy")
    except LabellingError:
        return False
    return True


def _build(name: str, sizes: list[int], levels: list[int] | None, seed: int) -> Labelling:
    vectors = None
    if name == "distortion-aware":
        rng = np.random.default_rng(seed)
        vectors = [_fsq_table(levels, 3, seed) if levels else rng.normal(size=(s, 3)) for s in sizes]
    return make_labelling(name, sizes, levels, seed=seed, vectors=vectors, codec="toy")


@given(
    codec=CODECS,
    name=st.sampled_from(["natural", "gray", "random", "distortion-aware"]),
    seed=st.integers(0, 1000),
    data=st.data(),
)
@settings(max_examples=60, deadline=None)
def test_every_labelling_is_a_bijection_and_p0_round_trips(
    codec, name: str, seed: int, data: st.DataObject
) -> None:
    sizes, levels = codec
    if not _fits(name, sizes, levels):
        return
    lab = _build(name, sizes, levels, seed)
    for k, size in enumerate(sizes):
        np.testing.assert_array_equal(np.sort(lab.forward[k]), np.arange(size))
        np.testing.assert_array_equal(lab.inverse[k][lab.forward[k]], np.arange(size))
    frames = data.draw(st.lists(st.integers(0, 30), min_size=1, max_size=4))
    rng = np.random.default_rng(seed)
    codes = [np.stack([rng.integers(0, s, t) for s in sizes]).reshape(len(sizes), t) for t in frames]
    np.testing.assert_array_equal(lab.invert(lab.apply(codes[0])), codes[0])
    out = transmit(codes, sizes, ChannelSpec("bsc", 0.0, seed, name), derive_rng(seed, "p0"), labelling=lab)
    for sent, got in zip(codes, out.codes, strict=True):
        np.testing.assert_array_equal(got, sent)
    assert out.bits_flipped.sum() == 0


def test_labelling_acts_inside_the_channel() -> None:
    """Gray on 8 entries at P_flip 1: c -> g^-1(7 xor g(c)); code 0 arrives as 5 (natural would give 7)."""
    lab = make_labelling("gray", [8])
    codes = [np.arange(8)[None, :]]
    out = transmit(codes, [8], ChannelSpec("bsc", 1.0, 0, "gray"), derive_rng(0), labelling=lab)
    expected = lab.inverse[0][7 ^ lab.forward[0]]
    np.testing.assert_array_equal(out.codes[0][0], expected)
    assert expected[0] == 5


def test_invalid_tables_raise() -> None:
    with pytest.raises(ValueError, match="not a permutation"):
        Labelling("random", [np.array([0, 0, 1])], [np.array([0, 1, 2])])
    with pytest.raises(ValueError, match="outside"):
        make_labelling("natural", [4]).apply(np.array([[4]]))


def test_npz_round_trip(tmp_path) -> None:
    lab = _build("distortion-aware", [64, 16], None, 5)
    lab.to_npz(tmp_path / "lab.npz")
    back = Labelling.from_npz(tmp_path / "lab.npz")
    assert back.name == lab.name and back.meta == lab.meta
    for a, b in zip(lab.forward + lab.inverse, back.forward + back.inverse, strict=True):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------------------ fit checks


@pytest.mark.parametrize(
    ("name", "sizes", "levels", "has_vectors", "match"),
    [
        ("gray", [25], [5, 5], True, "power-of-two FSQ levels"),
        ("gray", [1000], None, True, "not a power of two"),
        ("distortion-aware", [1024], None, False, "exposes no codeword vectors"),
        ("distortion-aware", [46656], [6] * 6, True, "not all powers of two"),
        ("distortion-aware", [8192], None, True, "above the full switching search"),
        ("hamming", [16], None, True, "unknown labelling"),
        ("natural", [64], [4, 4, 2], True, "give 32 codes"),
    ],
)
def test_labellings_that_do_not_fit_name_codec_and_reason(name, sizes, levels, has_vectors, match) -> None:
    with pytest.raises(LabellingError, match=match) as err:
        check_labelling_fits(name, sizes, levels, has_vectors, codec="mycodec")
    assert "mycodec" in str(err.value)


def test_fitting_labellings_pass() -> None:
    check_labelling_fits("gray", [65536], [4] * 8, False, "neucodec")
    check_labelling_fits("distortion-aware", [65536], [4] * 8, True, "neucodec")
    check_labelling_fits("distortion-aware", [1024] * 12, None, True, "encodec")
    check_labelling_fits("random", [46656], [6] * 6, False, "stablecodec")


@pytest.mark.parametrize("name", LABELLINGS)
def test_only_fitted_labellings_need_codeword_vectors(name: str) -> None:
    """The stages pass vectors (and record the fit set) exactly for FITTED_LABELLINGS: every other
    labelling must build without them, and a fitted one must refuse to."""
    if name in FITTED_LABELLINGS:
        with pytest.raises(LabellingError, match="codeword vectors"):
            check_labelling_fits(name, [16], None, False, "mycodec")
    else:
        assert make_labelling(name, [16], seed=0, codec="mycodec").forward[0].shape == (16,)


# ------------------------------------------------------------------------------------------ distortion


def test_four_level_uniform_quantizer_known_answers() -> None:
    """Natural binary: flips move 1 or 2 steps (mean 2.5); 2-bit Gray: 1 or 3 steps (mean 3.0)."""
    steps = np.arange(4.0)[:, None]
    natural, per_bit = expected_distortion(steps, np.arange(4), np.ones(4), 2)
    assert natural == pytest.approx(2.5)
    np.testing.assert_allclose(per_bit, [1.0, 4.0])
    gray, per_bit = expected_distortion(steps, make_labelling("gray", [4]).forward[0], None, 2)
    assert gray == pytest.approx(3.0)
    np.testing.assert_allclose(per_bit, [1.0, 5.0])
    # the same through FSQ's own level values (step 0.5): squared steps scale by 0.25
    values = level_values([4])[0][:, None]
    assert expected_distortion(values, np.arange(4), None, 2)[0] == pytest.approx(2.5 * 0.25)


def test_out_of_range_flips_on_a_size_five_codebook() -> None:
    v = np.arange(5.0)[:, None]
    _, ignore = expected_distortion(v, np.arange(5), None, 3)
    np.testing.assert_allclose(ignore, np.array([4.0, 16.0, 32.0]) / 5)
    _, clamp = expected_distortion(v, np.arange(5), None, 3, out_of_range="clamp")
    np.testing.assert_allclose(clamp, np.array([4.0, 16.0, 46.0]) / 5)


def test_expected_distortion_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    v, p, fwd = rng.normal(size=(24, 5)), rng.random(24), rng.permutation(24)
    _, per_bit = expected_distortion(v, fwd, p, 5)
    np.testing.assert_allclose(per_bit, _brute_distortion(v, fwd, p / p.sum(), 5))


@pytest.mark.parametrize("name", ["natural", "gray", "distortion-aware"])
def test_product_decomposition_is_exact_for_a_linear_projection(name: str) -> None:
    levels = [4] * 8  # NeuCodec's grid: 65536 codewords, computed exactly on the full table
    vectors = _fsq_table(levels, 16, seed=1)
    usage = np.random.default_rng(1).poisson(2.0, 65536)
    lab = make_labelling(name, [65536], levels, seed=0, vectors=[vectors], usage=[usage], codec="neucodec")
    overall, per_bit = expected_distortion(vectors, lab.forward[0], usage, 16)
    # a product labelling keeps each digit in its own 2-bit field: read digit d's labels off that field
    digit_fwd = [(lab.forward[0][np.arange(4) * 4**d] >> (2 * d)) & 3 for d in range(8)]
    p_overall, p_per_bit, per_digit = product_expected_distortion(vectors, levels, digit_fwd, usage)
    assert p_overall == pytest.approx(overall, rel=1e-9)
    np.testing.assert_allclose(p_per_bit, per_bit, rtol=1e-9)
    np.testing.assert_allclose(per_digit, per_bit.reshape(8, 2).mean(axis=1), rtol=1e-9)


def test_random_labelling_destroys_fsq_locality() -> None:
    levels = [4, 4, 4, 4]
    vectors = _fsq_table(levels, 8, seed=2)
    nat = expected_distortion(vectors, np.arange(256), None, 8)[0]
    rnd = expected_distortion(vectors, make_labelling("random", [256], levels, seed=0).forward[0], None, 8)[0]
    assert rnd > 2 * nat


# ------------------------------------------------------------------------------------------ switching


def test_switching_is_monotone_reproducible_and_reports_its_cost() -> None:
    rng = np.random.default_rng(3)
    v, p = rng.normal(size=(64, 4)), rng.dirichlet(np.ones(64))
    fwd, hist = binary_switching(v, p, 6, seed=11)
    assert hist.size > 1 and np.all(np.diff(hist) < 0)
    assert hist[-1] == pytest.approx(expected_distortion(v, fwd, p, 6)[0])
    fwd2, hist2 = binary_switching(v, p, 6, seed=11)
    np.testing.assert_array_equal(fwd, fwd2)
    np.testing.assert_array_equal(hist, hist2)
    fwd3, _ = binary_switching(v, p, 6, seed=12)
    assert not np.array_equal(fwd, fwd3)


def test_switching_beats_random_labellings() -> None:
    rng = np.random.default_rng(4)
    v, p = rng.normal(size=(64, 8)), rng.dirichlet(np.ones(64))
    fwd, hist = binary_switching(v, p, 6, seed=0)
    random_costs = [expected_distortion(v, rng.permutation(64), p, 6)[0] for _ in range(20)]
    assert hist[-1] <= min(random_costs)
    assert hist[-1] < 0.9 * np.mean(random_costs)


def test_switching_ends_in_a_local_optimum() -> None:
    """No single switch of two codewords lowers the cost of the labelling it returns (brute force)."""
    rng = np.random.default_rng(5)
    v, p = rng.normal(size=(12, 3)), rng.dirichlet(np.ones(12))  # 12 of 16 labels: out-of-range flips too
    fwd, hist = binary_switching(v, p, 4, seed=0)
    best = expected_distortion(v, fwd, p, 4)[0]
    for a in range(12):
        for b in range(a + 1, 12):
            trial = fwd.copy()
            trial[[a, b]] = trial[[b, a]]
            assert expected_distortion(v, trial, p, 4)[0] >= best - 1e-12


def test_switching_finds_the_optimum_of_a_small_codebook() -> None:
    """On 4 uniform scalar levels used uniformly, natural binary is optimal (2.5); the search must get
    there from anywhere. (Under middle-heavy usage it is not: see test_stages' expected-distortion test.)"""
    v = np.arange(4.0)[:, None]
    best = min(expected_distortion(v, np.array(perm), None, 2)[0] for perm in permutations(range(4)))
    assert best == pytest.approx(2.5)
    for seed in range(5):
        _, hist = binary_switching(v, np.full(4, 0.25), 2, seed=seed)
        assert hist[-1] == pytest.approx(2.5)


def test_distortion_aware_never_worse_than_natural_and_uses_usage() -> None:
    rng = np.random.default_rng(6)
    vectors = [rng.normal(size=(256, 16))]
    usage = [np.where(rng.random(256) < 0.3, 0, rng.poisson(20, 256))]  # many unused codewords
    lab = make_labelling("distortion-aware", [256], seed=0, vectors=vectors, usage=usage, codec="dac")
    da = expected_distortion(vectors[0], lab.forward[0], usage[0], 8)[0]
    nat = expected_distortion(vectors[0], np.arange(256), usage[0], 8)[0]
    assert da < 0.95 * nat
    assert lab.meta["codebooks"][0]["method"] == "bsa"


def test_usage_counts() -> None:
    codes = [np.array([[0, 1, 1], [2, 2, 2]]), np.array([[3], [0]])]
    counts = usage_counts(codes, [4, 3])
    np.testing.assert_array_equal(counts[0], [1, 2, 0, 1])
    np.testing.assert_array_equal(counts[1], [1, 0, 3])


def test_switching_iterations_bound_the_search_and_are_recorded() -> None:
    """``study_labelling.switching_iterations`` is a budget in sweeps (one sweep = as many switches as
    codewords): a 64-entry codebook needs more than one sweep from either start, so one sweep stops the
    search early (not converged) and a generous budget runs it to a cheaper local optimum."""
    rng = np.random.default_rng(7)
    vectors, usage = [rng.normal(size=(64, 4))], [rng.poisson(5.0, 64)]
    built = {
        sweeps: make_labelling("distortion-aware", [64], vectors=vectors, usage=usage, max_sweeps=sweeps)
        for sweeps in (1, 50)
    }
    short, full = built[1].meta, built[50].meta
    assert short["switching_iterations"] == 1 and full["switching_iterations"] == 50
    assert short["codebooks"][0]["switches"] == short["codebooks"][0]["max_switches"] == 64
    assert not short["converged"] and not short["codebooks"][0]["converged"]
    assert full["converged"] and full["codebooks"][0]["switches"] < 50 * 64
    assert full["codebooks"][0]["switches"] > 64 and full["codebooks"][0]["sweeps_used"] > 1
    assert full["codebooks"][0]["final_cost"] < short["codebooks"][0]["final_cost"]
    assert not np.array_equal(built[1].forward[0], built[50].forward[0])
    # no budget given: the search runs until no switch helps, as the budget of 50 sweeps did here
    np.testing.assert_array_equal(
        make_labelling("distortion-aware", [64], vectors=vectors, usage=usage).forward[0],
        built[50].forward[0],
    )
    with pytest.raises(ValueError, match="at least one sweep"):
        make_labelling("distortion-aware", [64], vectors=vectors, usage=usage, max_sweeps=0)
