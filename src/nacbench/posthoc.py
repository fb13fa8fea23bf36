"""Quantizers fitted post hoc on a codec's latent: the other half of the quantizer swap (issue 13).

The paper compares codecs that differ in more than their quantizer. Fitting a quantizer on the latent
of one trained codec (its ``encode_latent``), at exactly the native bits per frame, and decoding its
reconstruction with the same decoder (``decode_latent``), isolates the quantizer. Two kinds, fitted the
same way on the same latents (a fit set disjoint from the evaluation set):

- :class:`PosthocFSQ`: a PCA rotation of the latent, a per-frame bit budget split across components,
  and a uniform grid of ``2**bits`` levels per used component between clipping limits fitted on the fit
  set. Each component's level index is written in natural binary, one small codebook per used
  component, so the channel, the labellings and the expected-distortion table apply unchanged. The
  budget is split by **reverse water-filling** (``allocation="water-filling"``: each bit goes to the
  component whose quantization error it reduces most, variance x 4^-bits) or as **fixed levels**
  (``allocation="fixed"``: ``bits_per_component`` bits for each of the leading components, FSQ's
  ``[4] * k`` being 2 bits each).
- :class:`PosthocRVQ`: residual k-means, ``stages`` codebooks of ``2**bits`` entries, each fitted on
  what the stages before it left; k-means++ seeding from :func:`nacbench.seeds.fit_rng`.

Both are deterministic for a given fit set and seed, and ``quantize`` / ``dequantize`` map
``[dim, frames]`` latents to ``[codebooks, frames]`` integer codes and back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy import sparse

from nacbench.seeds import fit_rng

Allocation = Literal["water-filling", "fixed"]
#: clipping limits tried per component, in standard deviations; the fit keeps the one with least MSE
CLIP_SIGMAS: tuple[float, ...] = tuple(np.round(np.arange(1.0, 5.01, 0.25), 2))
#: Lloyd iterations per k-means stage at most (it stops earlier, see KMEANS_TOLERANCE)
KMEANS_ITERATIONS = 50
#: Lloyd's iterations stop once at most this share of the points changes centre in an iteration
KMEANS_TOLERANCE = 1e-3


def stack_frames(latents: Sequence[np.ndarray]) -> np.ndarray:
    """``[frames, dim]`` float64 of every frame of ``[dim, frames]`` latents; refuses mixed dims."""
    arrays = [np.asarray(x, dtype=np.float64) for x in latents]
    if not arrays or any(a.ndim != 2 for a in arrays):
        raise ValueError("latents: expected a non-empty list of [dim, frames] arrays")
    dims = {a.shape[0] for a in arrays}
    if len(dims) != 1:
        raise ValueError(f"latents: mixed dimensions {sorted(dims)}")
    return np.concatenate([a.T for a in arrays], axis=0)


#: most bits water-filling gives one component (4096 levels: the labelling study's largest searchable codebook)
MAX_COMPONENT_BITS = 12


def water_filling(variances: np.ndarray, budget: int, max_bits: int = MAX_COMPONENT_BITS) -> np.ndarray:
    """Integer bits per component summing to ``budget``: each bit to the component with the largest
    remaining error ``variance * 4**-bits`` (ties to the lower index: deterministic)."""
    if budget < 1:
        raise ValueError(f"bits per frame must be >= 1, got {budget}")
    variances = np.asarray(variances, dtype=np.float64)
    if budget > max_bits * len(variances):
        raise ValueError(f"{budget} bits per frame exceed {max_bits} bits x {len(variances)} components")
    bits = np.zeros(len(variances), dtype=np.int64)
    for _ in range(budget):
        error = np.where(bits < max_bits, variances * 4.0 ** (-bits), -np.inf)
        bits[int(np.argmax(error))] += 1
    return bits


def _grid(limit: float, levels: int) -> np.ndarray:
    """``levels`` reconstruction points evenly spaced in cells across [-limit, limit] (midrise)."""
    step = 2 * limit / levels
    return -limit + step * (np.arange(levels) + 0.5)


def _scalar_index(values: np.ndarray, limit: float, levels: int) -> np.ndarray:
    step = 2 * limit / levels
    return np.clip(np.floor((values + limit) / step), 0, levels - 1).astype(np.int64)


@dataclass
class PosthocFSQ:
    """PCA + uniform scalar levels per component (see the module doc). Codebook ``k`` is component
    ``used[k]`` with ``2**bits[k]`` levels; unused components decode to the fit set's mean."""

    mean: np.ndarray  # [dim]
    rotation: np.ndarray  # [dim, dim], columns = principal directions, by decreasing variance
    variances: np.ndarray  # [dim], along the columns of ``rotation``
    bits: np.ndarray  # [dim] bits per component (0 = not sent)
    limits: np.ndarray  # [dim] clipping limit per component (0 where not sent)
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        latents: Sequence[np.ndarray],
        bits_per_frame: int,
        allocation: Allocation = "water-filling",
        bits_per_component: int = 2,
    ) -> PosthocFSQ:
        frames = stack_frames(latents)
        if len(frames) <= frames.shape[1]:
            raise ValueError(f"latents: {len(frames)} frames cannot fit a {frames.shape[1]}-d PCA")
        mean = frames.mean(axis=0)
        centred = frames - mean
        # eigh of the [dim, dim] covariance, not an SVD of the [frames, dim] data: memory stays dim^2
        # (NeuCodec's 2048-d latent over a full fit set would need gigabytes for the SVD's left factor)
        eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred / (len(frames) - 1))
        order = np.argsort(eigenvalues, kind="stable")[::-1]  # by decreasing variance
        variances, rotation = np.maximum(eigenvalues[order], 0.0), eigenvectors[:, order]
        # a principal direction's sign is arbitrary: fix it so the largest loading is positive
        signs = np.sign(rotation[np.argmax(np.abs(rotation), axis=0), np.arange(rotation.shape[1])])
        rotation = rotation * np.where(signs == 0, 1.0, signs)
        if allocation == "water-filling":
            bits = water_filling(variances, bits_per_frame)
        elif allocation == "fixed":
            if bits_per_frame % bits_per_component:
                raise ValueError(f"{bits_per_frame} bits per frame is no multiple of {bits_per_component}")
            count = bits_per_frame // bits_per_component
            if count > len(variances):
                raise ValueError(f"{count} components asked for, the latent has {len(variances)}")
            bits = np.zeros(len(variances), dtype=np.int64)
            bits[:count] = bits_per_component
        else:
            raise ValueError(f"allocation: {allocation!r} is neither 'water-filling' nor 'fixed'")
        projected = centred @ rotation
        limits = np.zeros(len(variances))
        for k in np.flatnonzero(bits):
            sigma = float(np.sqrt(variances[k])) or 1.0
            column, levels = projected[:, k], 2 ** int(bits[k])
            errors = []
            for c in CLIP_SIGMAS:
                grid = _grid(c * sigma, levels)
                errors.append(np.mean((grid[_scalar_index(column, c * sigma, levels)] - column) ** 2))
            limits[k] = CLIP_SIGMAS[int(np.argmin(errors))] * sigma
        meta = {
            "kind": "fsq",
            "bits_per_frame": int(bits.sum()),
            "allocation": allocation,
            "bits_per_component": int(bits_per_component),
        }
        return cls(mean, rotation, variances, bits, limits, meta)

    @property
    def used(self) -> np.ndarray:
        return np.flatnonzero(self.bits)

    @property
    def codebook_sizes(self) -> tuple[int, ...]:
        return tuple(2 ** int(self.bits[k]) for k in self.used)

    def quantize(self, latent: np.ndarray) -> np.ndarray:
        """``[dim, frames]`` -> ``[codebooks, frames]`` level indices (natural binary order)."""
        projected = (np.asarray(latent, dtype=np.float64).T - self.mean) @ self.rotation
        rows = [_scalar_index(projected[:, k], self.limits[k], 2 ** int(self.bits[k])) for k in self.used]
        return np.stack(rows).astype(np.int64)

    def dequantize(self, codes: np.ndarray) -> np.ndarray:
        """``[codebooks, frames]`` -> ``[dim, frames]`` float32 reconstruction."""
        codes = np.asarray(codes, dtype=np.int64)
        values = np.zeros((codes.shape[1], len(self.bits)))
        for row, k in enumerate(self.used):
            values[:, k] = _grid(self.limits[k], 2 ** int(self.bits[k]))[codes[row]]
        return (values @ self.rotation.T + self.mean).T.astype(np.float32)

    def codeword_vectors(self) -> list[np.ndarray]:
        """Per used component, ``[2**bits, dim]``: each level's contribution to the latent (its value
        along the component's direction; the mean is common to all and left out)."""
        return [
            (_grid(self.limits[k], 2 ** int(self.bits[k]))[:, None] * self.rotation[:, k][None, :]).astype(
                np.float32
            )
            for k in self.used
        ]

    def to_npz(self, path: str | Path) -> None:
        meta = np.array(json.dumps(self.meta))
        np.savez(
            path,
            mean=self.mean,
            rotation=self.rotation,
            variances=self.variances,
            bits=self.bits,
            limits=self.limits,
            meta=meta,
        )

    @classmethod
    def from_npz(cls, path: str | Path) -> PosthocFSQ:
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            return cls(data["mean"], data["rotation"], data["variances"], data["bits"], data["limits"], meta)


def kmeans(
    points: np.ndarray, k: int, rng: np.random.Generator, losses: list[float] | None = None
) -> np.ndarray:
    """``k`` centroids of ``points`` ``[n, dim]``: k-means++ seeding, then Lloyd's iterations.

    Vectorised: each iteration is one chunked nearest-centre search and one sparse membership product
    for the new means (no loop over points or centres); it stops when at most :data:`KMEANS_TOLERANCE` of the
    points changed centre, or after :data:`KMEANS_ITERATIONS`. An empty cluster keeps its centre. The loss
    (mean squared distance to the nearest centre) never increases from one iteration to the next;
    ``losses``, when given, receives it after the seeding and after every update.
    """
    if len(points) < k:
        raise ValueError(f"k-means: {len(points)} points cannot make {k} centroids")
    points = np.asarray(points, dtype=np.float64)
    norms = (points**2).sum(1)  # |x - c|^2 = |x|^2 - 2 x.c + |c|^2: one matrix-vector product per centre

    def squared_distance(centre: np.ndarray) -> np.ndarray:
        return np.maximum(norms - 2 * points @ centre + centre @ centre, 0.0)

    index = int(rng.integers(len(points)))
    centres = np.empty((k, points.shape[1]))
    centres[0] = points[index]
    distance = squared_distance(centres[0])
    for j in range(1, k):
        total = distance.sum()
        index = (
            int(rng.choice(len(points), p=distance / total)) if total > 0 else int(rng.integers(len(points)))
        )
        centres[j] = points[index]
        distance = np.minimum(distance, squared_distance(centres[j]))
    assignment = np.full(len(points), -1)
    if losses is not None:
        losses.append(kmeans_loss(points, centres))
    for _ in range(KMEANS_ITERATIONS):
        new = nearest(points, centres)
        moved = np.count_nonzero(new != assignment)
        assignment = new
        if moved <= KMEANS_TOLERANCE * len(points):
            break
        counts = np.bincount(assignment, minlength=k)
        members = sparse.csr_matrix(
            (np.ones(len(points)), (assignment, np.arange(len(points)))), shape=(k, len(points))
        )
        sums = np.asarray(members @ points)  # [k, dim]: one sparse product sums every centre's members
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None]
        if losses is not None:
            losses.append(kmeans_loss(points, centres))
    return centres


#: points per block of the nearest-centre search (a block's distance table is ``[block, k]`` float64)
NEAREST_BLOCK = 8192


def nearest(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre for every point (squared Euclidean), in blocks of
    :data:`NEAREST_BLOCK` points so memory stays ``block x k`` whatever the number of points."""
    centre_norms = (centres**2).sum(1)
    out = np.empty(len(points), dtype=np.int64)
    for start in range(0, len(points), NEAREST_BLOCK):
        block = points[start : start + NEAREST_BLOCK]
        out[start : start + len(block)] = np.argmin(centre_norms[None, :] - 2 * block @ centres.T, axis=1)
    return out


def kmeans_loss(points: np.ndarray, centres: np.ndarray) -> float:
    """Mean squared distance of ``points`` to their nearest centre."""
    return float(np.mean(np.sum((points - centres[nearest(points, centres)]) ** 2, axis=1)))


@dataclass
class PosthocRVQ:
    """Residual k-means: ``codebooks[s]`` ``[2**bits, dim]`` fitted on the residual of stages < s."""

    codebooks: list[np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(cls, latents: Sequence[np.ndarray], stages: int, bits: int, seed: int, name: str) -> PosthocRVQ:
        """``name`` names the fit's random stream (e.g. the swapped codec's name)."""
        residual = stack_frames(latents)
        codebooks = []
        for s in range(stages):
            centres = kmeans(residual, 2**bits, fit_rng(seed, "posthoc-rvq", name, s))
            residual = residual - centres[nearest(residual, centres)]
            codebooks.append(centres)
        meta = {"kind": "rvq", "bits_per_frame": stages * bits, "stages": stages, "bits": bits, "seed": seed}
        return cls(codebooks, meta)

    @property
    def codebook_sizes(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.codebooks)

    def quantize(self, latent: np.ndarray) -> np.ndarray:
        residual = np.asarray(latent, dtype=np.float64).T
        rows = []
        for centres in self.codebooks:
            index = nearest(residual, centres)
            residual = residual - centres[index]
            rows.append(index)
        return np.stack(rows).astype(np.int64)

    def dequantize(self, codes: np.ndarray) -> np.ndarray:
        codes = np.asarray(codes, dtype=np.int64)
        total = sum(centres[row] for centres, row in zip(self.codebooks, codes, strict=True))
        return np.asarray(total).T.astype(np.float32)

    def codeword_vectors(self) -> list[np.ndarray]:
        """Per stage, ``[2**bits, dim]``: what one index adds to the reconstruction (the sum of one
        codeword per stage is what the decoder consumes)."""
        return [c.astype(np.float32) for c in self.codebooks]

    def to_npz(self, path: str | Path) -> None:
        np.savez(path, codebooks=np.stack(self.codebooks), meta=np.array(json.dumps(self.meta)))

    @classmethod
    def from_npz(cls, path: str | Path) -> PosthocRVQ:
        with np.load(path) as data:
            return cls(list(data["codebooks"]), json.loads(str(data["meta"])))


PosthocQuantizer = PosthocFSQ | PosthocRVQ


def fit_quantizer(latents: Sequence[np.ndarray], settings: dict[str, Any], name: str) -> PosthocQuantizer:
    """Fit the quantizer ``settings`` describes (:func:`nacbench.swap.fit_settings`: ``kind`` fsq with
    ``allocation`` and ``bits_per_component``, or rvq with ``stages``, ``bits`` and ``seed``)."""
    if settings["kind"] == "fsq":
        return PosthocFSQ.fit(
            latents,
            int(settings["bits_per_frame"]),
            settings["allocation"],
            int(settings["bits_per_component"]),
        )
    if settings["kind"] == "rvq":
        return PosthocRVQ.fit(
            latents, int(settings["stages"]), int(settings["bits"]), int(settings["seed"]), name
        )
    raise ValueError(f"quantizer kind {settings['kind']!r} is neither 'fsq' nor 'rvq'")


def load_quantizer(path: str | Path) -> PosthocQuantizer:
    """A fitted quantizer from its file (the kind is in its metadata)."""
    with np.load(path) as data:
        kind = json.loads(str(data["meta"])).get("kind")
    if kind == "fsq":
        return PosthocFSQ.from_npz(path)
    if kind == "rvq":
        return PosthocRVQ.from_npz(path)
    raise ValueError(f"{path}: not a post-hoc quantizer file (kind {kind!r})")
