"""The channel: condition names, bit layout, error models, seeds and the shard-level transmit."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nacbench.channel import (
    bits_per_codebook,
    bits_to_codes,
    bsc_errors,
    codes_to_bits,
    gilbert_elliott_errors,
    gilbert_elliott_states,
    transmit,
)
from nacbench.conditions import GE_P_BAD, LABELLINGS, ChannelSpec
from nacbench.seeds import derive_rng

# ------------------------------------------------------------------------------------------ names

# probabilities as written in configs: at most 6 significant digits, so format(p, "g") is exact
P_VALUES = st.builds(lambda m, e: float(f"{m}e-{e}"), st.integers(0, 999_999), st.integers(0, 12)).filter(
    lambda p: p <= 1.0
)


@given(
    model=st.sampled_from(["clean", "bsc", "ge"]),
    p=P_VALUES,
    seed=st.integers(0, 10**6),
    labelling=st.sampled_from(LABELLINGS),
    burst=st.integers(1, 10_000).map(float) | st.sampled_from([1.5, 2.25, 12.5]),
)
@settings(max_examples=300, deadline=None)
def test_name_round_trip(model: str, p: float, seed: int, labelling: str, burst: float) -> None:
    if model == "clean":
        spec = ChannelSpec("clean", labelling=labelling)
    elif model == "bsc":
        spec = ChannelSpec("bsc", p, seed, labelling)
    else:
        spec = ChannelSpec("ge", min(p, GE_P_BAD), seed, labelling, burst)
    assert ChannelSpec.parse(spec.name) == spec


def test_names_of_the_paper_conditions_do_not_change() -> None:
    assert ChannelSpec("clean").name == "clean"
    assert ChannelSpec("bsc", 0.01, 0).name == "bsc-p0.01-seed0"
    assert ChannelSpec("bsc", 1e-5, 2).name == "bsc-p1e-05-seed2"
    assert ChannelSpec("ge", 0.01, 0, burst_length=8).name == "ge-p0.01-b8-seed0"
    assert ChannelSpec("bsc", 0.01, 0, "gray").name == "bsc-p0.01-seed0-gray"
    assert ChannelSpec("ge", 0.01, 1, "distortion-aware", 8).name == "ge-p0.01-b8-seed1-distortion-aware"
    assert ChannelSpec.parse("bsc-p0.001-seed3-random") == ChannelSpec("bsc", 0.001, 3, "random")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"model": "bsc", "p_flip": 1.5},
        {"model": "bsc", "p_flip": -0.1},
        {"model": "bsc", "p_flip": 0.1234567891},  # would share a path with 0.123457
        {"model": "awgn", "p_flip": 0.1},
        {"model": "clean", "p_flip": 0.1},
        {"model": "bsc", "p_flip": 0.1, "labelling": "hamming"},
        {"model": "bsc", "p_flip": 0.1, "burst_length": 8},
        {"model": "ge", "p_flip": 0.1},
        {"model": "ge", "p_flip": 0.1, "burst_length": 0.5},
        {"model": "ge", "p_flip": 0.6, "burst_length": 8},
        {"model": "bsc", "p_flip": 0.1, "seed": -1},
    ],
)
def test_invalid_specs_raise(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        ChannelSpec(**kwargs)


@pytest.mark.parametrize(
    "name", ["bsc-p0.010-seed0", "bsc-p0.01", "ge-p0.01-seed0", "clean-natural", "clean-x"]
)
def test_parse_rejects_non_canonical_names(name: str) -> None:
    with pytest.raises(ValueError):
        ChannelSpec.parse(name)


# ------------------------------------------------------------------------------------------ bit layout


def test_bits_per_codebook() -> None:
    assert bits_per_codebook([1024, 65536, 5, 2, 16]) == (10, 16, 3, 1, 4)


def test_stream_order_is_frame_major_msb_first() -> None:
    codes = np.array([[1, 2], [0, 1]])
    np.testing.assert_array_equal(codes_to_bits(codes, (2, 1)), [0, 1, 0, 1, 0, 1])
    np.testing.assert_array_equal(codes_to_bits(np.array([[5], [1]]), (3, 1)), [1, 0, 1, 1])


@given(st.data())
@settings(max_examples=100, deadline=None)
def test_codes_bits_round_trip_mixed_widths(data: st.DataObject) -> None:
    widths = (10, 10, 4, 1)
    frames = data.draw(st.integers(0, 40))
    rows = [data.draw(st.lists(st.integers(0, 2**w - 1), min_size=frames, max_size=frames)) for w in widths]
    codes = np.asarray(rows, dtype=np.int64).reshape(len(widths), frames)
    bits = codes_to_bits(codes, widths)
    assert bits.dtype == np.uint8 and bits.size == frames * sum(widths)
    np.testing.assert_array_equal(bits_to_codes(bits, widths, frames), codes)


def test_codes_that_do_not_fit_their_width_raise() -> None:
    with pytest.raises(ValueError, match="codebook 1"):
        codes_to_bits(np.array([[3], [2]]), (2, 1))
    with pytest.raises(ValueError, match="bits"):
        bits_to_codes(np.zeros(5, np.uint8), (2, 1), 2)


# ------------------------------------------------------------------------------------------ BSC


@pytest.mark.parametrize("p", [1e-5, 1e-4, 1e-3, 0.01, 0.049, 0.05, 0.3, 0.5, 0.97, 0.999])
def test_bsc_flip_count_within_binomial_bounds(p: float) -> None:
    n = 1_000_000
    mask = bsc_errors(n, p, derive_rng(0, "bsc-test", p))
    assert mask.dtype == bool and mask.shape == (n,)
    sigma = np.sqrt(n * p * (1 - p))
    assert abs(int(mask.sum()) - n * p) <= 5 * sigma + 1
    if 0 < mask.sum() < n:  # the flips are spread over the stream, not packed at one end
        positions = np.flatnonzero(mask if p <= 0.5 else ~mask)
        assert abs(positions.mean() - n / 2) < 5 * n / np.sqrt(12 * positions.size) + 1


def test_bsc_extremes() -> None:
    rng = derive_rng(1, "extremes")
    assert not bsc_errors(100_000, 0.0, rng).any()
    assert bsc_errors(100_000, 1.0, rng).all()
    assert bsc_errors(0, 0.3, rng).size == 0
    with pytest.raises(ValueError):
        bsc_errors(10, 1.2, rng)


def test_bsc_flips_are_independent() -> None:
    """Neighbouring bits of an iid stream: P(both flipped) ~ p^2, unlike a bursty channel."""
    p, n = 0.01, 2_000_000
    mask = bsc_errors(n, p, derive_rng(2, "iid"))
    both = np.count_nonzero(mask[1:] & mask[:-1]) / (n - 1)
    assert abs(both - p * p) < 5 * np.sqrt(p * p / n)


# ------------------------------------------------------------------------------------------ GE


@pytest.mark.parametrize(("p_mean", "burst"), [(0.01, 8.0), (0.001, 4.0), (0.05, 16.0), (0.1, 1.0)])
def test_gilbert_elliott_rate_and_burst_length(p_mean: float, burst: float) -> None:
    n = 4_000_000
    states = gilbert_elliott_states(n, p_mean, burst, derive_rng(0, "ge-states", p_mean))
    edges = np.diff(states.astype(np.int8), prepend=0, append=0)
    run_lengths = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    assert abs(run_lengths.mean() - burst) < 0.05 * burst + 0.02
    assert abs(states.mean() - p_mean / GE_P_BAD) < 0.1 * p_mean / GE_P_BAD
    errors = gilbert_elliott_errors(n, p_mean, burst, derive_rng(0, "ge-errors", p_mean))
    assert abs(errors.mean() - p_mean) < 0.1 * p_mean


def test_gilbert_elliott_errors_are_bursty() -> None:
    p, n = 0.01, 2_000_000
    errors = gilbert_elliott_errors(n, p, 16.0, derive_rng(0, "bursty"))
    after_error = errors[1:][errors[:-1]].mean()
    assert after_error > 10 * p  # inside a burst the next bit is in error about half the time


def test_gilbert_elliott_limits() -> None:
    rng = derive_rng(0, "ge-limits")
    assert not gilbert_elliott_errors(10_000, 0.0, 8.0, rng).any()
    assert gilbert_elliott_states(10_000, GE_P_BAD, 8.0, rng).all()
    with pytest.raises(ValueError, match="not reachable"):
        gilbert_elliott_errors(1000, 0.6, 8.0, rng)
    with pytest.raises(ValueError, match="shorter than"):
        gilbert_elliott_errors(1000, 0.4, 1.0, rng)  # needs good runs under one bit


# ------------------------------------------------------------------------------------------ seeds


def test_derive_rng_is_stable_across_processes() -> None:
    args = (7, "neucodec", "librispeech-test-clean", 3, 0.001)
    here = derive_rng(*args).integers(0, 2**62, 4).tolist()
    code = (
        "import json; from nacbench.seeds import derive_rng; "
        f"print(json.dumps(derive_rng(*{args!r}).integers(0, 2**62, 4).tolist()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    there = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        ).stdout
    )
    assert here == there
    # pinned once: a change to the derivation would silently change every published error pattern
    assert here == [4260742598815335721, 4071614937855999030, 746388359382045441, 2761302513079083411]


def test_derive_rng_separates_names() -> None:
    draws = {
        key: derive_rng(*key).integers(0, 2**62)
        for key in [
            (0, "a"),
            (1, "a"),
            (0, "b"),
            (0, "a", 0.01),
            (0, "a", 0.010000000000000002),
            (0, "a", "0.01"),
        ]
    }
    assert len(set(draws.values())) == len(draws)
    with pytest.raises(ValueError):
        derive_rng(-1, "a")


# ------------------------------------------------------------------------------------------ transmit


def _shard(rng: np.random.Generator, sizes: list[int], frames: list[int]) -> list[np.ndarray]:
    return [
        np.stack([rng.integers(0, s, t) for s in sizes]) if t else np.zeros((len(sizes), 0), np.int64)
        for t in frames
    ]


def test_clean_returns_codes_unchanged() -> None:
    codes = _shard(np.random.default_rng(0), [1024] * 6, [50, 0, 7])
    out = transmit(codes, [1024] * 6, ChannelSpec("clean"), derive_rng(0))
    for a, b in zip(codes, out.codes, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(out.bits_sent, [3000, 0, 420])
    np.testing.assert_array_equal(out.bits_flipped, [0, 0, 0])


def test_flip_counts_match_the_received_codes() -> None:
    sizes = [1024, 1024, 16, 2]
    codes = _shard(np.random.default_rng(1), sizes, [40, 0, 1, 300, 25])
    out = transmit(codes, sizes, ChannelSpec("bsc", 0.05, 0), derive_rng(0, "count"))
    popcount = [
        int(np.bitwise_count((a ^ b).astype(np.uint64)).sum()) for a, b in zip(codes, out.codes, strict=True)
    ]
    np.testing.assert_array_equal(out.bits_flipped, popcount)
    assert out.bits_flipped.sum() > 0
    np.testing.assert_array_equal(out.bits_sent, np.asarray([40, 0, 1, 300, 25]) * 25)


def test_p_one_complements_every_index() -> None:
    codes = _shard(np.random.default_rng(2), [1024, 16], [30, 12])
    out = transmit(codes, [1024, 16], ChannelSpec("bsc", 1.0, 0), derive_rng(0))
    for a, b in zip(codes, out.codes, strict=True):
        np.testing.assert_array_equal(b, np.array([[1023], [15]]) - a)
    np.testing.assert_array_equal(out.bits_flipped, out.bits_sent)


def test_same_seed_same_errors_and_bursts_cross_utterances() -> None:
    sizes = [1024] * 6
    codes = _shard(np.random.default_rng(3), sizes, [500, 500])
    spec = ChannelSpec("ge", 0.05, 0, burst_length=64)
    a = transmit(codes, sizes, spec, derive_rng(0, "x"))
    b = transmit(codes, sizes, spec, derive_rng(0, "x"))
    for x, y in zip(a.codes, b.codes, strict=True):
        np.testing.assert_array_equal(x, y)
    assert a.bits_flipped.sum() > 0


@pytest.mark.parametrize(("policy", "expected"), [("clamp", [4, 4, 4, 4, 3]), ("wrap", [2, 1, 0, 4, 3])])
def test_out_of_range_policies_on_a_size_five_codebook(policy: str, expected: list[int]) -> None:
    codes = [np.array([[0, 1, 2, 3, 4]])]  # 3 bits each; all flipped: c -> 7 - c = 7, 6, 5, 4, 3
    out = transmit(codes, [5], ChannelSpec("bsc", 1.0, 0), derive_rng(0), out_of_range=policy)
    np.testing.assert_array_equal(out.codes[0], [expected])
    np.testing.assert_array_equal(out.out_of_range, [3])


def test_out_of_range_error_names_the_codebook() -> None:
    codes = [np.array([[0, 1], [0, 1]])]
    with pytest.raises(ValueError, match=r"codec 'toy', codebook 1 \(size 5\)"):
        transmit(codes, [1024, 5], ChannelSpec("bsc", 1.0, 0), derive_rng(0), codec="toy")


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="outside its codebook"):
        transmit([np.array([[5]])], [5], ChannelSpec("bsc", 0.1, 0), derive_rng(0))
    with pytest.raises(ValueError, match="frames"):
        transmit([np.zeros((2, 3), np.int64)], [5], ChannelSpec("bsc", 0.1, 0), derive_rng(0))
    with pytest.raises(ValueError, match="labelling 'gray'"):
        transmit([np.zeros((1, 3), np.int64)], [8], ChannelSpec("bsc", 0.1, 0, "gray"), derive_rng(0))


def test_derive_rng_names_numbers_by_value() -> None:
    """A P_flip read from YAML as 1 (int) and one written 1.0 must give the same errors."""
    assert derive_rng(0, "a", 1).integers(0, 2**62) == derive_rng(0, "a", 1.0).integers(0, 2**62)
    with pytest.raises(TypeError):
        derive_rng(0, None)  # type: ignore[arg-type]  # a wrong type on purpose: the call must raise
