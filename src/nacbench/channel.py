"""The transmission channel: codes -> (labels) -> bits -> bit errors -> bits -> (labels) -> codes.

Everything here is pure numpy and vectorised: a shard's utterances are concatenated into one transmitted
bit stream, one error mask is drawn for the whole stream, and the result is split back. Keeping the
stream order explicit (frame-major, most significant bit first) matters for bursty channels, where which
bits sit next to each other decides which codes a burst hits.

Random streams come from :func:`derive_rng`, a SeedSequence over a seed and the SHA-256 of named parts
(codec, dataset, shard, P_flip), so a condition's errors never depend on process, job order or Python's
per-process ``hash()`` salt.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from nacbench.labelling import Labelling

__all__ = [
    "GE_P_BAD",
    "LABELLINGS",
    "ChannelSpec",
    "OutOfRangePolicy",
    "TransmitResult",
    "bits_per_codebook",
    "bits_to_codes",
    "bsc_errors",
    "codes_to_bits",
    "derive_rng",
    "gilbert_elliott_errors",
    "gilbert_elliott_states",
    "transmit",
]

ChannelModel = Literal["clean", "bsc", "ge"]
OutOfRangePolicy = Literal["error", "clamp", "wrap"]

#: Labellings a condition may name; "natural" is the codec's own indices and adds nothing to paths.
LABELLINGS: tuple[str, ...] = ("natural", "gray", "random", "distortion-aware")

#: Error probability inside the Gilbert-Elliott bad state. Fixed (not part of a condition's name) so that
#: a path always identifies its channel; the mean rate and burst length are the named parameters.
GE_P_BAD = 0.5

# Widest index the bit layout handles (codecs use <= 16 bits; wider ones are a layout error, not a codec).
_MAX_WIDTH = 32

# Below this flip probability, drawing the flip positions beats drawing one uniform per bit.
_SPARSE_P = 0.05

_NUM = r"\d+(?:\.\d*)?(?:e[+-]?\d+)?"
_NAME_RE = re.compile(
    rf"^(?:(?P<clean>clean)|bsc-p(?P<bsc_p>{_NUM})-seed(?P<bsc_seed>\d+)"
    rf"|ge-p(?P<ge_p>{_NUM})-b(?P<ge_b>{_NUM})-seed(?P<ge_seed>\d+))"
    rf"(?:-(?P<labelling>{'|'.join(re.escape(x) for x in LABELLINGS if x != 'natural')}))?$"
)


def _g(x: float) -> str:
    return format(x, "g")


@dataclass(frozen=True)
class ChannelSpec:
    """One channel condition; :attr:`name` is its path component and :meth:`parse` inverts it.

    ``p_flip`` is the bit error rate (for "ge" the stationary mean rate), ``burst_length`` the mean
    bad-state sojourn in bits (GE only). A number must survive ``format(x, "g")`` unchanged: two
    conditions whose names collided would silently share artifacts.
    """

    model: ChannelModel
    p_flip: float = 0.0
    seed: int = 0
    labelling: str = "natural"
    burst_length: float | None = None

    def __post_init__(self) -> None:
        if self.model not in ("clean", "bsc", "ge"):
            raise ValueError(f"channel model must be 'clean', 'bsc' or 'ge', got {self.model!r}")
        p = float(self.p_flip)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"channel {self.model!r}: p_flip must lie in [0, 1], got {self.p_flip!r}")
        if float(_g(p)) != p:
            raise ValueError(
                f"channel {self.model!r}: p_flip {p!r} is not exactly representable as {_g(p)!r} in a path "
                "name; round it (at most 6 significant digits)"
            )
        if isinstance(self.seed, bool) or int(self.seed) != self.seed or self.seed < 0:
            raise ValueError(
                f"channel {self.model!r}: seed must be a non-negative integer, got {self.seed!r}"
            )
        if self.labelling not in LABELLINGS:
            raise ValueError(f"unknown labelling {self.labelling!r}; expected one of {LABELLINGS}")
        if self.model == "clean" and p != 0.0:
            raise ValueError(f"a clean channel has p_flip 0, got {self.p_flip!r}")
        if self.model == "ge":
            b = self.burst_length
            if b is None or not 1.0 <= float(b) < math.inf:
                raise ValueError(f"GE channel needs a finite burst_length >= 1 bit, got {b!r}")
            if float(_g(float(b))) != float(b):
                raise ValueError(f"GE burst_length {b!r} is not exactly representable as {_g(float(b))!r}")
            if p > GE_P_BAD:
                raise ValueError(
                    f"GE channel: mean bit error rate {p} exceeds the bad-state error rate {GE_P_BAD}"
                )
        elif self.burst_length is not None:
            raise ValueError(f"burst_length applies to the 'ge' channel only, not {self.model!r}")

    @property
    def name(self) -> str:
        if self.model == "clean":
            base = "clean"
        elif self.model == "bsc":
            base = f"bsc-p{_g(float(self.p_flip))}-seed{int(self.seed)}"
        else:
            assert self.burst_length is not None
            base = f"ge-p{_g(float(self.p_flip))}-b{_g(float(self.burst_length))}-seed{int(self.seed)}"
        return base if self.labelling == "natural" else f"{base}-{self.labelling}"

    @classmethod
    def parse(cls, name: str) -> ChannelSpec:
        m = _NAME_RE.match(name)
        if m is None:
            raise ValueError(
                f"not a channel name: {name!r} (expected 'clean', 'bsc-p<P>-seed<N>' or 'ge-p<P>-b<B>-seed<N>', "
                f"optionally followed by -gray, -random or -distortion-aware)"
            )
        labelling = m["labelling"] or "natural"
        if m["clean"]:
            spec = cls("clean", labelling=labelling)
        elif m["bsc_p"] is not None:
            spec = cls("bsc", float(m["bsc_p"]), int(m["bsc_seed"]), labelling)
        else:
            b = float(m["ge_b"])
            spec = cls("ge", float(m["ge_p"]), int(m["ge_seed"]), labelling, b)
        if spec.name != name:  # e.g. "bsc-p0.010-seed0": parses, but is not the canonical spelling
            raise ValueError(f"channel name {name!r} is not canonical; write it as {spec.name!r}")
        return spec


@dataclass
class TransmitResult:
    """Received codes per utterance, with per-utterance counts of what the channel did."""

    codes: list[np.ndarray]
    bits_sent: np.ndarray
    bits_flipped: np.ndarray
    #: received indices that fell outside their codebook (non-power-of-two sizes) before the policy
    out_of_range: np.ndarray


# --------------------------------------------------------------------------------------------- seeds


def _name_entropy(part: str | float) -> int:
    if isinstance(part, str):
        payload = b"s:" + part.encode("utf-8")
    elif isinstance(part, (int, float, np.integer, np.floating)) and not isinstance(part, bool):
        # numbers are named by value (YAML's 1 and 1.0 are the same P_flip); float.hex is exact, so 0.01
        # and 0.010000000000000002 do not share a stream (integers are exact up to 2**53)
        payload = b"f:" + float(part).hex().encode("ascii")
    else:
        raise TypeError(f"derive_rng names must be str or numbers, got {type(part).__name__}")
    return int.from_bytes(hashlib.sha256(payload).digest()[:16], "big")


def derive_rng(seed: int, *names: str | float) -> np.random.Generator:
    """A generator determined only by ``seed`` and the named parts (never by Python's ``hash()``)."""
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    entropy = [int(seed), *(_name_entropy(n) for n in names)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


# ------------------------------------------------------------------------------------------ bit layout


def bits_per_codebook(codebook_sizes: Sequence[int]) -> tuple[int, ...]:
    """ceil(log2(size)) per codebook: the fixed width of each transmitted index."""
    sizes = [int(s) for s in codebook_sizes]
    if not sizes or min(sizes) < 2:
        raise ValueError(f"every codebook needs at least 2 entries, got {list(codebook_sizes)}")
    return tuple((s - 1).bit_length() for s in sizes)


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
