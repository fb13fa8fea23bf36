"""The transmission channel: codes -> (labels) -> bits -> bit errors -> bits -> (labels) -> codes.

Everything here is pure numpy and vectorised: a shard's utterances are concatenated into one transmitted
bit stream, one error mask is drawn for the whole stream, and the result is split back. Keeping the
stream order explicit (frame-major, most significant bit first) matters for bursty channels, where which
bits sit next to each other decides which codes a burst hits.

The error pattern's random stream is the caller's (:func:`nacbench.seeds.channel_rng` in the channel
stage); channel conditions and their names are defined in :mod:`nacbench.conditions`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from nacbench.conditions import GE_P_BAD, ChannelSpec

if TYPE_CHECKING:
    from nacbench.labelling import Labelling

__all__ = [
    "OutOfRangePolicy",
    "TransmitResult",
    "bits_per_codebook",
    "bits_to_codes",
    "bsc_errors",
    "codes_to_bits",
    "gilbert_elliott_errors",
    "gilbert_elliott_states",
    "transmit",
]

OutOfRangePolicy = Literal["error", "clamp", "wrap"]

# Widest index the bit layout handles (codecs use <= 16 bits; wider ones are a layout error, not a codec).
_MAX_WIDTH = 32

# Below this flip probability, drawing the flip positions beats drawing one uniform per bit.
_SPARSE_P = 0.05


@dataclass
class TransmitResult:
    """Received codes per utterance, with per-utterance counts of what the channel did."""

    codes: list[np.ndarray]
    bits_sent: np.ndarray
    bits_flipped: np.ndarray
    #: received indices that fell outside their codebook (non-power-of-two sizes) before the policy
    out_of_range: np.ndarray


# ------------------------------------------------------------------------------------------ bit layout


def bits_per_codebook(codebook_sizes: Sequence[int]) -> tuple[int, ...]:
    """ceil(log2(size)) per codebook: the fixed width of each transmitted index."""
    sizes = [int(s) for s in codebook_sizes]
    if not sizes or min(sizes) < 2:
        raise ValueError(f"every codebook needs at least 2 entries, got {list(codebook_sizes)}")
    return tuple((s - 1).bit_length() for s in sizes)


def frame_error_rate(p_flip: float, bits_per_frame: int) -> float:
    """Probability that a frame of ``bits_per_frame`` bits arrives with at least one flip when each bit
    flips independently with ``p_flip``: ``1 - (1 - p)^B`` (exact for the BSC; for Gilbert-Elliott the
    rate of independent flips at the same mean). At p = 0.01 a 16-bit frame arrives intact 85 % of the
    time and a 120-bit frame 30 %: codecs that send more bits per frame see more damaged frames at the
    same P_flip, which is why Study A also reports this axis."""
    p = 0.0 if p_flip is None or math.isnan(p_flip) else float(p_flip)
    return 1.0 - (1.0 - p) ** int(bits_per_frame)


def flipped_bits_per_second(p_flip: float, bitrate_bps: float) -> float:
    """Mean flipped bits per second of transmitted audio: ``p x bitrate``."""
    p = 0.0 if p_flip is None or math.isnan(p_flip) else float(p_flip)
    return p * float(bitrate_bps)


def _layout(widths: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per bit of a frame, in stream order: its codebook and its shift (MSB first); plus the widths."""
    w = np.asarray(list(widths), dtype=np.int64)
    if w.ndim != 1 or w.size == 0 or np.any(w < 1) or np.any(w > _MAX_WIDTH):
        raise ValueError(
            f"bit widths must be a non-empty list of integers in [1, {_MAX_WIDTH}], got {list(widths)}"
        )
    codebook = np.repeat(np.arange(w.size), w)
    first = np.repeat(np.cumsum(w) - w, w)
    shift = w[codebook] - 1 - (np.arange(codebook.size) - first)
    return codebook, shift, w


def codes_to_bits(codes: np.ndarray, bits_per_codebook: Sequence[int]) -> np.ndarray:
    """``[K, T]`` indices -> uint8 bit stream, frame-major (frame 0's codebooks in order, then frame 1 ...),
    most significant bit first within each index."""
    codebook, shift, w = _layout(bits_per_codebook)
    c = np.asarray(codes)
    if c.ndim != 2 or c.shape[0] != w.size:
        raise ValueError(f"codes must be [{w.size}, frames], got shape {c.shape}")
    if not np.issubdtype(c.dtype, np.integer):
        raise TypeError(f"codes must be integers, got {c.dtype}")
    if c.size and (c.min() < 0 or np.any(c.max(axis=1) >= (1 << w))):
        bad = int(np.flatnonzero((c.min(axis=1) < 0) | (c.max(axis=1) >= (1 << w)))[0])
        raise ValueError(
            f"codebook {bad}: index outside [0, 2**{int(w[bad])}) cannot be sent in {int(w[bad])} bits"
        )
    narrow = np.uint16 if w.max() <= 16 else np.uint64  # narrower words: less memory traffic per bit
    by_frame = np.ascontiguousarray(c.T, dtype=narrow)
    return ((by_frame[:, codebook] >> shift.astype(narrow)) & 1).astype(np.uint8).ravel()


def bits_to_codes(bits: np.ndarray, bits_per_codebook: Sequence[int], frames: int) -> np.ndarray:
    """Inverse of :func:`codes_to_bits`: a stream of ``frames * sum(widths)`` bits -> ``[K, frames]``."""
    codebook, shift, w = _layout(bits_per_codebook)
    per_frame = int(w.sum())
    b = np.asarray(bits)
    if b.ndim != 1 or b.size != frames * per_frame:
        raise ValueError(
            f"expected {frames} frames x {per_frame} bits = {frames * per_frame} bits, got {b.shape}"
        )
    # each bit contributes 2**shift to its index; summing each codebook's run of bits assembles the
    # index (integer arithmetic in the narrowest word that holds it: no BLAS, no rounding)
    narrow = np.uint16 if w.max() <= 16 else np.uint64
    weighted = b.reshape(frames, per_frame).astype(narrow) << shift.astype(narrow)
    starts = np.cumsum(w) - w
    if frames == 0:
        return np.zeros((w.size, 0), dtype=np.int64)
    return np.add.reduceat(weighted, starts, axis=1, dtype=narrow).T.astype(np.int64)


# ------------------------------------------------------------------------------------------ error models


def bsc_errors(n_bits: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """Exact binary symmetric channel error mask: ``n_bits`` iid Bernoulli(``p``) flags.

    For small ``p`` (or small ``1 - p``) it draws the Binomial count and then that many distinct
    positions: conditioned on the count, iid flips are a uniform subset, so this is exact, and it costs
    O(flips) random numbers instead of O(bits).
    """
    if n_bits < 0:
        raise ValueError(f"n_bits must be >= 0, got {n_bits}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"flip probability must lie in [0, 1], got {p}")
    q = min(p, 1.0 - p)
    if q >= _SPARSE_P:
        return rng.random(n_bits) < p
    mask = np.zeros(n_bits, dtype=bool)
    k = int(rng.binomial(n_bits, q)) if n_bits else 0
    if k:
        mask[rng.choice(n_bits, size=k, replace=False, shuffle=False)] = True
    return ~mask if p > 0.5 else mask


def _ge_rates(p_mean: float, burst_length: float, p_bad: float) -> tuple[float, float]:
    """(P(good -> bad), P(bad -> good)) per bit for the given mean error rate and mean burst length."""
    if not 0.0 < p_bad <= 1.0:
        raise ValueError(f"GE bad-state error rate must lie in (0, 1], got {p_bad}")
    if not 0.0 <= p_mean <= p_bad:
        raise ValueError(
            f"GE mean bit error rate {p_mean} is not reachable: it must lie in [0, p_bad={p_bad}] "
            "(the good state makes no errors)"
        )
    if not 1.0 <= burst_length < math.inf:
        raise ValueError(f"GE burst_length must be a finite number of bits >= 1, got {burst_length}")
    leave_bad = 1.0 / burst_length
    pi_bad = p_mean / p_bad
    if pi_bad >= 1.0:
        return 1.0, 0.0
    enter_bad = leave_bad * pi_bad / (1.0 - pi_bad)
    if enter_bad > 1.0:
        raise ValueError(
            f"GE mean rate {p_mean} with bursts of {burst_length} bits needs good-state runs shorter than "
            "one bit; lengthen the bursts or lower the rate"
        )
    return enter_bad, leave_bad


def gilbert_elliott_states(
    n_bits: int, p_mean: float, burst_length: float, rng: np.random.Generator, p_bad: float = GE_P_BAD
) -> np.ndarray:
    """Bad-state mask of a stationary two-state Markov chain, built from geometric run lengths.

    Sojourns in a discrete-time Markov state are geometric, and by memorylessness the run in progress
    at a stationary start is too, so drawing alternating run lengths is exact and avoids a per-bit loop.
    """
    enter_bad, leave_bad = _ge_rates(p_mean, burst_length, p_bad)
    if n_bits == 0 or enter_bad == 0.0:
        return np.zeros(n_bits, dtype=bool)
    if leave_bad == 0.0:
        return np.ones(n_bits, dtype=bool)
    pi_bad = enter_bad / (enter_bad + leave_bad)
    start_bad = bool(rng.random() < pi_bad)
    mean_cycle = 1.0 / enter_bad + 1.0 / leave_bad
    runs: list[np.ndarray] = []
    total = 0
    while total < n_bits:  # one pass almost always; a few more only on an unlucky short draw
        pairs = int(1.2 * (n_bits - total) / mean_cycle) + 16
        first = rng.geometric(leave_bad if start_bad else enter_bad, pairs)
        second = rng.geometric(enter_bad if start_bad else leave_bad, pairs)
        chunk = np.column_stack([first, second]).ravel()
        runs.append(chunk)
        total += int(chunk.sum())
    lengths = np.concatenate(runs)
    states = np.resize(np.array([start_bad, not start_bad]), lengths.size)
    return np.repeat(states, lengths)[:n_bits]


def gilbert_elliott_errors(
    n_bits: int, p_mean: float, burst_length: float, rng: np.random.Generator, p_bad: float = GE_P_BAD
) -> np.ndarray:
    """Gilbert-Elliott bursty errors: none in the good state, Bernoulli(``p_bad``) in the bad state.

    The transitions are set so the stationary bit error rate is ``p_mean`` and the mean bad-state
    sojourn is ``burst_length`` bits.
    """
    bad = gilbert_elliott_states(n_bits, p_mean, burst_length, rng, p_bad)
    errors = np.zeros(n_bits, dtype=bool)
    bad_idx = np.flatnonzero(bad)
    errors[bad_idx] = bsc_errors(bad_idx.size, p_bad, rng)
    return errors


# ------------------------------------------------------------------------------------------ transmit


def _apply_out_of_range(
    codes: np.ndarray, sizes: np.ndarray, policy: OutOfRangePolicy, codec: str
) -> tuple[np.ndarray, np.ndarray]:
    """Policy for received indices >= their codebook size; returns (codes, per-frame out-of-range count)."""
    over = codes >= sizes[:, None]
    per_frame = over.sum(axis=0)
    if not over.any():
        return codes, per_frame
    if policy == "error":
        k = int(np.flatnonzero(over.any(axis=1))[0])
        raise ValueError(
            f"codec {codec!r}, codebook {k} (size {int(sizes[k])}): {int(over[k].sum())} received indices fall "
            f"outside the codebook after bit flips; set the out-of-range policy to 'clamp' or 'wrap'"
        )
    if policy == "clamp":
        return np.minimum(codes, sizes[:, None] - 1), per_frame
    if policy == "wrap":
        return codes % sizes[:, None], per_frame
    raise ValueError(f"out-of-range policy must be 'error', 'clamp' or 'wrap', got {policy!r}")


def _draw_errors(n_bits: int, spec: ChannelSpec, rng: np.random.Generator) -> np.ndarray:
    if spec.model == "bsc":
        return bsc_errors(n_bits, float(spec.p_flip), rng)
    assert spec.burst_length is not None
    return gilbert_elliott_errors(n_bits, float(spec.p_flip), float(spec.burst_length), rng)


def transmit(
    codes_list: Sequence[np.ndarray],
    codebook_sizes: Sequence[int],
    spec: ChannelSpec,
    rng: np.random.Generator,
    labelling: Labelling | None = None,
    out_of_range: OutOfRangePolicy = "error",
    codec: str = "?",
) -> TransmitResult:
    """Send a shard's utterances (each ``[K, T_u]``) through ``spec`` as one bit stream.

    ``labelling`` (from :mod:`nacbench.labelling`; ``None`` = natural) maps codes to labels before the
    bits are formed and back after; it must match ``spec.labelling`` so a path never lies about it.
    """
    sizes = np.asarray([int(s) for s in codebook_sizes], dtype=np.int64)
    widths = bits_per_codebook(sizes.tolist())
    lab_name = "natural" if labelling is None else labelling.name
    if lab_name != spec.labelling:
        raise ValueError(
            f"channel {spec.name!r} names labelling {spec.labelling!r} but {lab_name!r} was given"
        )
    arrays = [np.asarray(c) for c in codes_list]
    for i, c in enumerate(arrays):
        if c.ndim != 2 or c.shape[0] != sizes.size:
            raise ValueError(
                f"codec {codec!r}, utterance {i}: codes must be [{sizes.size}, frames], got {c.shape}"
            )
        if c.size and (c.min() < 0 or np.any(c.max(axis=1) >= sizes)):
            raise ValueError(f"codec {codec!r}, utterance {i}: code index outside its codebook")
    frames = np.asarray([c.shape[1] for c in arrays], dtype=np.int64)
    bits_per_frame = int(sum(widths))
    bits_sent = frames * bits_per_frame
    n_utts = len(arrays)
    if spec.model == "clean" or n_utts == 0:
        return TransmitResult(
            codes=[c.astype(np.int64, copy=True) for c in arrays],
            bits_sent=bits_sent,
            bits_flipped=np.zeros(n_utts, dtype=np.int64),
            out_of_range=np.zeros(n_utts, dtype=np.int64),
        )
    stacked = np.concatenate([c.astype(np.int64, copy=False) for c in arrays], axis=1)
    labels = stacked if labelling is None else labelling.apply(stacked)
    stream = codes_to_bits(labels, widths)
    errors = _draw_errors(stream.size, spec, rng)
    stream ^= errors.view(np.uint8)
    received = bits_to_codes(stream, widths, int(frames.sum()))
    received, oor_per_frame = _apply_out_of_range(received, sizes, out_of_range, codec)
    decoded = received if labelling is None else labelling.invert(received)

    bounds = np.cumsum(frames)[:-1]
    utt_of_error = np.searchsorted(np.cumsum(bits_sent), np.flatnonzero(errors), side="right")
    flips = np.bincount(utt_of_error, minlength=n_utts).astype(np.int64)
    oor_cs = np.concatenate([[0], np.cumsum(oor_per_frame)])
    ends = np.cumsum(frames)
    oor = (oor_cs[ends] - oor_cs[ends - frames]).astype(np.int64)
    return TransmitResult(
        codes=np.split(decoded, bounds, axis=1),
        bits_sent=bits_sent,
        bits_flipped=flips,
        out_of_range=oor,
    )
