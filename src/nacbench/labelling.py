"""Index labellings: which bit string names which codeword (issue 8).

A labelling is a bijection per codebook, applied to the codes before the channel forms bits and
inverted after it (labelling -> channel -> inverse labelling -> decode). It isolates the paper's claim
that FSQ is robust *because a flipped bit lands on a nearby grid point*: if robustness moves with the
labelling, the claim is about labelling, not about the quantizer.

Labellings
    ``natural``           the codec's own indices (the paper's setting; identity).
    ``gray``              reflected binary Gray code — per FSQ digit (each digit's level gets a Gray-coded
                          field of log2(L) bits, so only power-of-two levels qualify) or per RVQ index.
    ``random``            a seeded uniform permutation per codebook: the "arbitrary labelling" baseline
                          (for FSQ it destroys the grid's locality).
    ``distortion-aware``  the binary switching algorithm (Zeger & Gersho 1990) minimising the expected
                          squared distance, in decoder-input space, between a codeword and its one-bit-flip
                          neighbours, weighted by usage on the clean codes of the fit set (config
                          ``fit``, disjoint from the evaluation set unless a config says otherwise).

Product labelling for large FSQ codebooks. A full switching search over 65,536 codewords needs a
65,536^2 distance matrix. FSQ with power-of-two levels splits the label's bits into one field per digit,
and a single bit flip changes one digit only; if the decoder-input vector is an affine function of the
digit values (FSQ's output projection is a linear layer), the jump is ``v_d[l'] - v_d[l]`` with
``v_d[l] = vectors[l * stride_d] - vectors[0]``, independent of the other digits. The expected distortion
then separates into per-digit terms weighted by each digit's marginal usage, and searching each digit's
L levels separately is exact. Through a non-linear output map it is an approximation; the reported
expected distortion is always computed on the full table, never on the digit model.

Bit positions are counted by significance (0 = least significant); the stream sends the most
significant bit first (:func:`nacbench.channel.codes_to_bits`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nacbench.artifacts import open_npz, save_npz
from nacbench.conditions import LABELLINGS
from nacbench.fsq import fsq_basis, indices_to_levels
from nacbench.seeds import labelling_rng, switching_rng

__all__ = [
    "FITTED_LABELLINGS",
    "MAX_FULL_BSA",
    "USAGE_FLOOR",
    "Labelling",
    "LabellingError",
    "binary_switching",
    "check_labelling_fits",
    "expected_distortion",
    "gray_code",
    "make_labelling",
    "product_expected_distortion",
    "switch_budget",
    "usage_counts",
]

#: Largest codebook the full switching search handles (two float64 [N, N] tables: 268 MB at 4096).
MAX_FULL_BSA = 4096

#: Share of probability mass spread uniformly over a codebook before the search, so indices never used
#: on the clean codes still get placed by cost rather than left wherever the start put them.
USAGE_FLOOR = 1e-3


class LabellingError(ValueError):
    """A labelling that does not fit a codec; the message names the codec and the reason."""


def _is_pow2(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


def gray_code(n: np.ndarray | int) -> np.ndarray:
    """Reflected binary Gray code of each integer: ``n ^ (n >> 1)``."""
    arr = np.asarray(n, dtype=np.int64)
    return arr ^ (arr >> 1)


# ------------------------------------------------------------------------------------------ container


@dataclass
class Labelling:
    """Per codebook, ``forward[k][index] = label`` and ``inverse[k][label] = index``."""

    name: str
    forward: list[np.ndarray]
    inverse: list[np.ndarray]
    #: JSON-able provenance (method per codebook, seed, codec, search costs)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in LABELLINGS:
            raise ValueError(f"unknown labelling {self.name!r}; expected one of {LABELLINGS}")
        if len(self.forward) != len(self.inverse) or not self.forward:
            raise ValueError("a labelling needs one forward and one inverse table per codebook")
        self.forward = [np.asarray(f, dtype=np.int64) for f in self.forward]
        self.inverse = [np.asarray(i, dtype=np.int64) for i in self.inverse]
        for k, (f, inv) in enumerate(zip(self.forward, self.inverse, strict=True)):
            ident = np.arange(f.size)
            if f.ndim != 1 or inv.shape != f.shape or not np.array_equal(np.sort(f), ident):
                raise ValueError(f"labelling {self.name!r}, codebook {k}: forward table is not a permutation")
            if not np.array_equal(inv[f], ident):
                raise ValueError(f"labelling {self.name!r}, codebook {k}: inverse does not undo forward")
        sizes = np.asarray([f.size for f in self.forward], dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self._sizes = sizes
        self._flat_forward = np.concatenate(self.forward)
        self._flat_inverse = np.concatenate(self.inverse)

    @property
    def codebook_sizes(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self._sizes)

    def _gather(self, table: np.ndarray, codes: np.ndarray, what: str) -> np.ndarray:
        c = np.asarray(codes, dtype=np.int64)
        if c.ndim != 2 or c.shape[0] != self._sizes.size:
            raise ValueError(f"{what} must be [{self._sizes.size}, frames], got shape {c.shape}")
        if c.size and (c.min() < 0 or np.any(c.max(axis=1) >= self._sizes)):
            raise ValueError(f"labelling {self.name!r}: {what} outside its codebook")
        return table[c + self._offsets[:, None]]

    def apply(self, codes: np.ndarray) -> np.ndarray:
        """Codec indices ``[K, T]`` -> labels ``[K, T]`` (one vectorised gather)."""
        return self._gather(self._flat_forward, codes, "codes")

    def invert(self, labels: np.ndarray) -> np.ndarray:
        """Labels ``[K, T]`` -> codec indices ``[K, T]``."""
        return self._gather(self._flat_inverse, labels, "labels")

    def to_npz(self, path: str | Path) -> None:
        arrays = {f"forward_{k}": f for k, f in enumerate(self.forward)}
        save_npz(
            path,
            {"name": np.array(self.name), "meta": np.array(json.dumps(self.meta, sort_keys=True)), **arrays},
        )

    @classmethod
    def from_npz(cls, path: str | Path) -> Labelling:
        with open_npz(path, "labelling", ["name", "meta", "forward_0"]) as data:
            n = sum(1 for key in data.files if key.startswith("forward_"))
            forward = [data[f"forward_{k}"] for k in range(n)]
            name, meta = str(data["name"]), json.loads(str(data["meta"]))
        return cls(name, forward, [np.argsort(f) for f in forward], meta)


def _from_forward(name: str, forward: list[np.ndarray], meta: dict[str, Any]) -> Labelling:
    return Labelling(name, forward, [np.argsort(f) for f in forward], meta)


# ------------------------------------------------------------------------------------------ checks


def _per_codebook_fsq(
    codebook_sizes: Sequence[int], fsq_levels: Sequence[int] | None, codec: str
) -> list[tuple[int, ...] | None]:
    """FSQ levels per codebook (the codec's levels apply to every codebook), or None for non-FSQ."""
    if fsq_levels is None:
        return [None] * len(codebook_sizes)
    levels = tuple(int(v) for v in fsq_levels)
    for k, s in enumerate(codebook_sizes):
        if math.prod(levels) != int(s):
            raise LabellingError(
                f"codec {codec!r}: FSQ levels {levels} give {math.prod(levels)} codes, codebook {k} has {s}"
            )
    return [levels] * len(codebook_sizes)


#: the labellings fitted to a codec: built from its codeword vectors and its clean code usage on the fit
#: set (so their artifacts record which fit set); every other labelling of
#: :data:`nacbench.conditions.LABELLINGS` depends on the codebook sizes (and seed) only
FITTED_LABELLINGS: frozenset[str] = frozenset({"distortion-aware"})


def check_labelling_fits(
    name: str,
    codebook_sizes: Sequence[int],
    fsq_levels: Sequence[int] | None,
    has_vectors: bool,
    codec: str,
) -> None:
    """Raise :class:`LabellingError` if ``name`` cannot label this codec (called before any job runs)."""
    if name not in LABELLINGS:
        raise LabellingError(f"codec {codec!r}: unknown labelling {name!r}; expected one of {LABELLINGS}")
    sizes = [int(s) for s in codebook_sizes]
    if not sizes or min(sizes) < 2:
        raise LabellingError(f"codec {codec!r}: every codebook needs at least 2 entries, got {sizes}")
    per_cb = _per_codebook_fsq(sizes, fsq_levels, codec)
    if name == "gray":
        for k, (size, lv) in enumerate(zip(sizes, per_cb, strict=True)):
            if lv is not None and not all(_is_pow2(v) for v in lv):
                raise LabellingError(
                    f"codec {codec!r}: Gray labelling needs power-of-two FSQ levels (one Gray field of log2(L) "
                    f"bits per digit), but the levels are {list(lv)}"
                )
            if lv is None and not _is_pow2(size):
                raise LabellingError(
                    f"codec {codec!r}: codebook {k} has {size} entries, not a power of two, so the Gray code of "
                    "its indices is not a bijection onto the codebook"
                )
    if name == "distortion-aware":
        if not has_vectors:
            raise LabellingError(
                f"codec {codec!r} exposes no codeword vectors (codeword_vectors() is None), which the "
                "distortion-aware labelling needs"
            )
        for k, (size, lv) in enumerate(zip(sizes, per_cb, strict=True)):
            product = lv is not None and all(_is_pow2(v) for v in lv)
            if not product and size > MAX_FULL_BSA:
                why = (
                    "its FSQ levels are not all powers of two, so no per-digit product search"
                    if lv
                    else "RVQ"
                )
                raise LabellingError(
                    f"codec {codec!r}: codebook {k} has {size} entries, above the full switching search's limit "
                    f"of {MAX_FULL_BSA} ({why})"
                )


# ------------------------------------------------------------------------------------------ usage


def usage_counts(codes_list: Sequence[np.ndarray], codebook_sizes: Sequence[int]) -> list[np.ndarray]:
    """How often each index of each codebook occurs in ``codes_list`` (each ``[K, T]``)."""
    sizes = np.asarray([int(s) for s in codebook_sizes], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    arrays = [np.asarray(c, dtype=np.int64) for c in codes_list]
    for i, c in enumerate(arrays):
        if c.ndim != 2 or c.shape[0] != sizes.size:
            raise ValueError(f"utterance {i}: codes must be [{sizes.size}, frames], got {c.shape}")
        if c.size and (c.min() < 0 or np.any(c.max(axis=1) >= sizes)):
            raise ValueError(f"utterance {i}: code index outside its codebook")
    flat = (
        np.concatenate([(c + offsets[:, None]).ravel() for c in arrays]) if arrays else np.zeros(0, np.int64)
    )
    counts = np.bincount(flat, minlength=int(sizes.sum()))
    return np.split(counts, np.cumsum(sizes)[:-1])


def _probs(usage: np.ndarray | None, size: int, floor: float) -> np.ndarray:
    if usage is None:
        return np.full(size, 1.0 / size)
    u = np.asarray(usage, dtype=np.float64)
    if u.shape != (size,) or np.any(u < 0) or not np.isfinite(u).all():
        raise ValueError(f"usage must be {size} non-negative counts, got shape {u.shape}")
    total = u.sum()
    p = u / total if total > 0 else np.full(size, 1.0 / size)
    return (1.0 - floor) * p + floor / size


# ------------------------------------------------------------------------------------------ distortion


def _sq_dist_rows(vectors: np.ndarray, rows: np.ndarray, other: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """``||v[rows] - v[other]||^2`` in chunks, so a [65536, 2048] table never gets a full-size twin."""
    out = np.empty(rows.size, dtype=np.float64)
    for s in range(0, rows.size, chunk):
        diff = vectors[rows[s : s + chunk]].astype(np.float64) - vectors[other[s : s + chunk]]
        out[s : s + chunk] = np.einsum("ij,ij->i", diff, diff)
    return out


def expected_distortion(
    vectors: np.ndarray,
    labelling_forward: np.ndarray,
    usage: np.ndarray | None,
    n_bits: int,
    out_of_range: str = "ignore",
) -> tuple[float, np.ndarray]:
    """Expected squared jump in decoder-input space caused by one flipped bit.

    For each bit position ``b`` (0 = least significant) returns ``sum_i p(i) ||v(i) - v(j)||^2`` with
    ``j = label^-1(label(i) xor 2^b)``; ``overall`` is the mean over positions (a uniformly chosen flipped
    bit). ``p`` is the usage normalised, with no floor: this is the cost under the clean code
    distribution. When the codebook size is not a power of two a flip can leave the labelled range:
    ``out_of_range`` says what such a flip costs — "ignore" (nothing), "clamp" or "wrap" (the channel's
    policies).
    """
    v = np.asarray(vectors)
    fwd = np.asarray(labelling_forward, dtype=np.int64)
    size = fwd.size
    if v.ndim != 2 or v.shape[0] != size:
        raise ValueError(f"vectors must be [{size}, dim], got {v.shape}")
    if (size - 1).bit_length() > n_bits:
        raise ValueError(f"{size} codewords do not fit in {n_bits} bits")
    inverse = np.argsort(fwd)
    if not np.array_equal(fwd[inverse], np.arange(size)):
        raise ValueError("labelling_forward is not a permutation")
    p = _probs(usage, size, floor=0.0)
    used = np.flatnonzero(p > 0)
    per_bit = np.zeros(n_bits, dtype=np.float64)
    for b in range(n_bits):  # one vectorised gather per bit position
        target = fwd[used] ^ (1 << b)
        if out_of_range == "ignore":
            keep = target < size
        elif out_of_range in ("clamp", "wrap"):
            target = np.minimum(target, size - 1) if out_of_range == "clamp" else target % size
            keep = np.ones(target.size, dtype=bool)
        else:
            raise ValueError(f"out_of_range must be 'ignore', 'clamp' or 'wrap', got {out_of_range!r}")
        rows = used[keep]
        per_bit[b] = float(p[rows] @ _sq_dist_rows(v, rows, inverse[target[keep]]))
    return float(per_bit.mean()), per_bit


def _digit_tables(
    vectors: np.ndarray, levels: Sequence[int], usage: np.ndarray | None, floor: float
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per FSQ digit: (vectors v_d[l] = vectors[l * stride_d] - vectors[0], marginal level probabilities)."""
    size = math.prod(levels)
    basis = fsq_basis(levels)
    if usage is None:
        marg = [np.full(n, 1.0 / n) for n in levels]
    else:
        p = _probs(usage, size, floor=0.0)
        digits = indices_to_levels(np.arange(size), levels)
        marg = [np.bincount(digits[:, d], weights=p, minlength=n) for d, n in enumerate(levels)]
    out = []
    for d, n in enumerate(levels):
        vd = vectors[np.arange(n) * basis[d]].astype(np.float64) - vectors[0]
        out.append((vd, (1.0 - floor) * marg[d] + floor / n))
    return out


def product_expected_distortion(
    vectors: np.ndarray,
    fsq_levels: Sequence[int],
    digit_forward: Sequence[np.ndarray],
    usage: np.ndarray | None,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Expected distortion of a per-digit labelling from the digit model alone: (overall, per_bit, per_digit).

    Equals :func:`expected_distortion` on the full table when the codeword vectors are affine in the
    digit values (linear output projection); the difference measures how far the decoder's input map is
    from that. ``per_digit`` is the mean over the digit's bit positions.
    """
    levels = [int(n) for n in fsq_levels]
    if not all(_is_pow2(n) for n in levels):
        raise ValueError(f"a per-digit decomposition needs power-of-two levels, got {levels}")
    per_bit: list[float] = []
    per_digit: list[float] = []
    for (vd, pd), fd, n in zip(
        _digit_tables(np.asarray(vectors), levels, usage, 0.0), digit_forward, levels, strict=True
    ):
        _, bits = expected_distortion(vd, fd, pd, n.bit_length() - 1)
        per_bit.extend(bits.tolist())
        per_digit.append(float(bits.mean()))
    arr = np.asarray(per_bit)
    return float(arr.mean()), arr, np.asarray(per_digit)


# ------------------------------------------------------------------------------------------ switching


#: Switches between full rebuilds of the switching search's tables (bounds floating-point drift).
_RESYNC = 512


class _SwitchState:
    """Tables for the switching search over labels ``[0, N)`` with ``n`` bits.

    ``move[c, j]`` is the cost of codeword ``j`` placed at codeword ``c``'s label ``z``:
    ``sum_b (p_j + p_w) D[j, w]`` over the codewords ``w`` one flip from ``z`` (flips that stay in range),
    so every hypercube edge at ``z`` counts with weight ``p_a + p_b``. ``pair = move + move.T`` makes the
    cost change of switching ``a`` and ``b`` a row lookup: ``pair[a, b] - cost[a] - cost[b]`` (+ a
    correction when their labels are adjacent). A switch changes only the rows of codewords whose labels
    neighbour the two switched labels, so an update is O(N n^2), not O(N^2 n). Rows, not columns, are
    rewritten, so the work stays on contiguous memory.
    """

    def __init__(self, dist: np.ndarray, probs: np.ndarray, n_bits: int, forward: np.ndarray) -> None:
        size = probs.size
        self.d, self.p, self.n = dist, probs, n_bits
        self.nbr = np.arange(size)[:, None] ^ (1 << np.arange(n_bits))[None, :]
        self.valid = self.nbr < size
        self.nbr_safe = np.where(self.valid, self.nbr, 0)
        self.pos = forward.astype(np.int64).copy()
        self.code_at = np.argsort(self.pos)
        self.move = np.empty((size, size))
        self.switches = 0
        self._refresh_rows(np.arange(size))
        self.pair = self.move + self.move.T

    def _refresh_rows(self, cws: np.ndarray, chunk: int = 128) -> None:
        """Recompute ``move`` rows from scratch (chunked: the gather is [chunk, n, N])."""
        for s in range(0, cws.size, chunk):
            c = cws[s : s + chunk]
            w = self.code_at[self.nbr_safe[self.pos[c]]]  # [|c|, n] codewords one flip away
            ok = self.valid[self.pos[c]].astype(np.float64)
            rows = self.d[w] * ok[..., None]  # [|c|, n, N]; D is symmetric, so rows serve as columns
            self.move[c] = self.p[None, :] * rows.sum(axis=1) + np.einsum("cn,cnj->cj", ok * self.p[w], rows)

    def costs(self) -> np.ndarray:
        """Symmetric cost of each codeword where it sits (sums to twice the directed total)."""
        return np.diagonal(self.move).copy()

    def own_costs(self) -> np.ndarray:
        """Zeger-Gersho's ordering key: p(i) * sum over one-flip neighbours of the squared distance."""
        z = self.pos
        w = self.code_at[self.nbr_safe[z]]
        return self.p * (self.d[np.arange(self.p.size)[:, None], w] * self.valid[z]).sum(axis=1)

    def total(self) -> float:
        """sum_i p(i) sum_b ||v_i - v_flip_b(i)||^2 (directed; mean over bits = expected distortion)."""
        return 0.5 * float(self.costs().sum())

    def deltas(self, rows: np.ndarray, cost: np.ndarray) -> np.ndarray:
        """Change of total cost for switching each codeword in ``rows`` with every codeword: [|rows|, N]."""
        delta = self.pair[rows] - cost[rows, None]
        delta -= cost[None, :]
        # The edge between two adjacent labels is scored as zero by the table lookup on both sides of the
        # switch (each codeword would sit next to itself): add it back for the n partners one flip away.
        z = self.pos[rows]
        partner = self.code_at[self.nbr_safe[z]]  # [|rows|, n]
        r = np.broadcast_to(np.arange(rows.size)[:, None], partner.shape)
        edge = 2.0 * (self.p[rows, None] + self.p[partner]) * self.d[rows[:, None], partner]
        np.add.at(delta, (r[self.valid[z]], partner[self.valid[z]]), edge[self.valid[z]])
        delta[np.arange(rows.size), rows] = np.inf
        return delta

    def switch(self, a: int, b: int) -> None:
        """Switch the labels of codewords ``a`` and ``b`` and update the tables incrementally.

        Every label next to ``x`` (a's old label) now sees ``b`` where it saw ``a``, and every label next to
        ``y`` the reverse, so each affected row changes by one vector, ``+-((p + p_b) D[b] - (p + p_a) D[a])``
        (a label next to both sees no change, and the two terms cancel). Rows are rebuilt from scratch
        every ``_RESYNC`` switches so rounding cannot accumulate.
        """
        x, y = self.pos[a], self.pos[b]
        self.pos[a], self.pos[b] = y, x
        self.code_at[x], self.code_at[y] = b, a
        self.move[[a, b]] = self.move[[b, a]]
        near_x = self.code_at[self.nbr[x][self.valid[x]]]
        near_y = self.code_at[self.nbr[y][self.valid[y]]]
        step = (self.p + self.p[b]) * self.d[b] - (self.p + self.p[a]) * self.d[a]
        self.move[near_x] += step
        self.move[near_y] -= step
        self.switches += 1
        if self.switches % _RESYNC == 0:
            self._refresh_rows(np.arange(self.p.size))
            self.pair = self.move + self.move.T
            return
        dirty = np.unique(np.concatenate([near_x, near_y, [a, b]]))
        self.pair[dirty] = self.move[dirty] + self.move[:, dirty].T
        self.pair[:, dirty] = self.pair[dirty].T


def _pairwise_sq_dist(vectors: np.ndarray) -> np.ndarray:
    v = np.asarray(vectors, dtype=np.float64)
    v = v - v.mean(axis=0)  # centring keeps the Gram-matrix expansion accurate
    sq = np.einsum("ij,ij->i", v, v)
    d = sq[:, None] + sq[None, :] - 2.0 * (v @ v.T)
    np.maximum(d, 0.0, out=d)
    np.fill_diagonal(d, 0.0)
    return d


def binary_switching(
    vectors: np.ndarray,
    probs: np.ndarray,
    n_bits: int,
    seed: int,
    max_iter: int = 1_000_000,
    init: np.ndarray | None = None,
    block: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """Binary switching algorithm (Zeger & Gersho 1990): returns (forward labels, cost history).

    Codewords are visited in decreasing order of their own cost ``p(i) sum_b ||v_i - v_flip_b(i)||^2``;
    the first one with an improving switch is switched with the partner that lowers the total most, the
    order is recomputed, and the search restarts, until no codeword has an improving switch or
    ``max_iter`` switches were made. Trials are scored in blocks of codewords (a [block, N] matrix; the
    block doubles, up to 256, while it finds nothing), which visits them in the same order as
    one-at-a-time trials and so gives the same result. The start is ``init`` or a
    permutation drawn from ``seed``. ``cost_history[t]`` is the expected distortion per flipped bit (the
    mean over bit positions) after ``t`` switches; it strictly decreases.
    """
    v = np.asarray(vectors, dtype=np.float64)
    p = np.asarray(probs, dtype=np.float64)
    size = p.size
    if v.ndim != 2 or v.shape[0] != size:
        raise ValueError(f"vectors must be [{size}, dim] to match probs, got {v.shape}")
    if size < 2 or (size - 1).bit_length() > n_bits:
        raise ValueError(f"{size} codewords do not fit in {n_bits} bits")
    if np.any(p < 0) or not np.isfinite(p).all():
        raise ValueError("probs must be finite and non-negative")
    if init is None:
        start = switching_rng(seed).permutation(size)
    else:
        start = np.asarray(init, dtype=np.int64)
        if not np.array_equal(np.sort(start), np.arange(size)):
            raise ValueError("init is not a permutation of the codebook's indices")
    state = _SwitchState(_pairwise_sq_dist(v), p, n_bits, start)
    history = [state.total()]
    scale = max(history[0], np.finfo(float).tiny)
    for _ in range(max_iter):
        cost = state.costs()
        order = np.argsort(-state.own_costs(), kind="stable")
        switched = False
        s, width = 0, block
        while s < size:  # blocks grow while they fail: the same visiting order, fewer Python round trips
            rows = order[s : s + width]
            delta = state.deltas(rows, cost)
            best = np.argmin(delta, axis=1)
            gain = delta[np.arange(rows.size), best]
            hit = np.flatnonzero(gain < -1e-12 * scale)
            if hit.size:
                state.switch(int(rows[hit[0]]), int(best[hit[0]]))
                switched = True
                break
            s, width = s + width, min(2 * width, 256)
        if not switched:
            break
        history.append(state.total())
    return state.pos.copy(), np.asarray(history) / n_bits


# ------------------------------------------------------------------------------------------ factory


def _digit_product_forward(levels: Sequence[int], digit_forward: Sequence[np.ndarray]) -> np.ndarray:
    """Flat labelling from per-digit labellings: label = sum_d f_d(l_d) * stride_d."""
    size = math.prod(levels)
    digits = indices_to_levels(np.arange(size), levels)
    mapped = np.stack([np.asarray(f)[digits[:, d]] for d, f in enumerate(digit_forward)], axis=1)
    return (mapped * fsq_basis(levels)).sum(axis=1)


def switch_budget(size: int, max_sweeps: int | None) -> int:
    """Most switches a search over ``size`` codewords may make in ``max_sweeps`` sweeps (None: no limit).

    A *sweep* (``study_labelling.switching_iterations`` counts them) is as many switches as the codebook
    has codewords: the search makes one switch per step and re-sorts after each, so a budget per codeword
    keeps the same meaning for a 4-level FSQ digit and a 1024-entry RVQ codebook. Searches from a
    random start typically converge within 2-3 sweeps.
    """
    if max_sweeps is None:
        return 1_000_000
    if int(max_sweeps) < 1:
        raise ValueError(f"the switching search needs at least one sweep, got {max_sweeps}")
    return int(max_sweeps) * int(size)


def _best_switching(
    vectors: np.ndarray, probs: np.ndarray, n_bits: int, seed: int, max_sweeps: int | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Switching search from the natural labelling and from a seeded random one; the cheaper result wins.

    Two starts, because the search finds a local optimum and the natural start guarantees the result is
    never worse than the codec's own labelling. (Natural binary is optimal for a uniform scalar grid
    only under uniform level usage; with FSQ's middle-heavy usage another labelling, Gray among them,
    can cost less, and the search is free to find it.) Each search may make at most
    :func:`switch_budget` switches; ``converged`` records whether it stopped because no switch helped
    (True) or because the budget ran out (False).
    """
    budget = switch_budget(probs.size, max_sweeps)
    runs = {
        "natural": binary_switching(
            vectors, probs, n_bits, seed, max_iter=budget, init=np.arange(probs.size)
        ),
        "random": binary_switching(vectors, probs, n_bits, seed, max_iter=budget),
    }
    # the random start must win clearly: equal optima found from both starts differ only by rounding
    start = "random" if runs["random"][1][-1] < runs["natural"][1][-1] * (1 - 1e-9) else "natural"
    other = "random" if start == "natural" else "natural"
    fwd, hist = runs[start]
    info = {
        "start": start,
        "switches": int(hist.size - 1),
        "max_switches": budget,
        "sweeps_used": round((hist.size - 1) / probs.size, 3),
        "converged": bool(hist.size - 1 < budget),
        "initial_cost": float(hist[0]),
        "final_cost": float(hist[-1]),
        "final_cost_other_start": float(runs[other][1][-1]),
        "converged_other_start": bool(runs[other][1].size - 1 < budget),
    }
    return fwd, info


def make_labelling(
    name: str,
    codebook_sizes: Sequence[int],
    fsq_levels: Sequence[int] | None = None,
    seed: int = 0,
    vectors: Sequence[np.ndarray] | None = None,
    usage: Sequence[np.ndarray] | None = None,
    codec: str = "?",
    max_sweeps: int | None = None,
) -> Labelling:
    """Build labelling ``name`` for a codec (``fsq_levels`` apply to every codebook when given).

    ``vectors`` (per codebook ``[size, dim]``, decoder-input space), ``usage`` (per codebook counts on
    the clean codes of the fit set; None = uniform) and ``max_sweeps`` (the switching search's budget,
    :func:`switch_budget`; None = until no switch helps) are used by ``distortion-aware`` only. Its
    meta records, per codebook (per FSQ digit), the switches made and whether the search converged.
    """
    check_labelling_fits(name, codebook_sizes, fsq_levels, vectors is not None, codec)
    sizes = [int(s) for s in codebook_sizes]
    per_cb = _per_codebook_fsq(sizes, fsq_levels, codec)
    meta: dict[str, Any] = {"codec": codec, "seed": int(seed), "codebooks": []}
    if name == "distortion-aware":
        meta["switching_iterations"] = None if max_sweeps is None else int(max_sweeps)
    forward: list[np.ndarray] = []
    if vectors is not None and len(vectors) != len(sizes):
        raise LabellingError(f"codec {codec!r}: {len(vectors)} codeword tables for {len(sizes)} codebooks")
    if usage is not None and len(usage) != len(sizes):
        raise LabellingError(f"codec {codec!r}: {len(usage)} usage tables for {len(sizes)} codebooks")
    info: dict[str, Any]  # per codebook: how its labelling was made (the branches store different fields)
    for k, (size, lv) in enumerate(zip(sizes, per_cb, strict=True)):
        if name == "natural":
            fwd, info = np.arange(size), {"method": "identity"}
        elif name == "gray" and lv is not None:
            fwd = _digit_product_forward(lv, [gray_code(np.arange(n)) for n in lv])
            info = {"method": "gray-per-fsq-digit", "fsq_levels": list(lv)}
        elif name == "gray":
            fwd, info = gray_code(np.arange(size)), {"method": "gray-index"}
        elif name == "random":
            fwd = labelling_rng(seed, codec, k).permutation(size)
            info = {"method": "seeded-permutation"}
        else:
            assert vectors is not None
            vec = np.asarray(vectors[k])
            if vec.ndim != 2 or vec.shape[0] != size:
                raise LabellingError(
                    f"codec {codec!r}, codebook {k}: codeword vectors must be [{size}, dim], got {vec.shape}"
                )
            use = None if usage is None else np.asarray(usage[k])
            if lv is not None and all(_is_pow2(n) for n in lv):
                digit_fwd, digit_info = [], []
                for d, (vd, pd) in enumerate(_digit_tables(vec, lv, use, USAGE_FLOOR)):
                    fd, di = _best_switching(vd, pd, lv[d].bit_length() - 1, seed, max_sweeps)
                    digit_fwd.append(fd)
                    digit_info.append({**di, "forward": fd.tolist()})
                fwd = _digit_product_forward(lv, digit_fwd)
                info = {"method": "product-bsa-per-fsq-digit", "fsq_levels": list(lv), "digits": digit_info}
            else:
                fwd, info = _best_switching(
                    vec, _probs(use, size, USAGE_FLOOR), (size - 1).bit_length(), seed, max_sweeps
                )
                info = {"method": "bsa", **info}
            searches = info.get("digits", [info])
            info["converged"] = all(d["converged"] for d in searches)
        forward.append(np.asarray(fwd, dtype=np.int64))
        meta["codebooks"].append(info)
    if name == "distortion-aware":
        meta["converged"] = all(cb["converged"] for cb in meta["codebooks"])
    return _from_forward(name, forward, meta)
