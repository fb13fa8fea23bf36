"""Study B (paper Sec. 4.2): how alike are the codes of NeuCodec's encoder and the distilled encoder?

Both encoders feed the same FSQ quantizer (8 dimensions x 4 levels, one flat index per frame, dimension
0 least significant). On the same audio we compare, pooled over every frame of every utterance:

- the exact code match rate (paper: 2 %),
- per-dimension level accuracy and its mean (paper: 53 %),
- the share of level predictions within one level of the reference (paper: 93 %),
- per-dimension level confusion matrices, rows = reference (NeuCodec), columns = distilled (Fig. 2),
- the mean cosine similarity of the quantizer's output projections (paper: 0.73).

Frames are pooled (not averaged per utterance first) because that is how the paper states its rates
("only 2 % of the codes match"), and it weights every 20 ms of speech equally.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from nacbench.fsq import indices_to_levels

__all__ = ["MAX_DROPPED_FRAMES", "agreement_to_json", "align_frames", "code_agreement", "mean_cosine"]

#: Frame-count differences above this are not padding: the encoders disagree on the frame rate or the
#: sequences come from different audio, and trimming would silently compare unrelated frames.
MAX_DROPPED_FRAMES = 2


def align_frames(
    a: np.ndarray, b: np.ndarray, max_dropped: int = MAX_DROPPED_FRAMES
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Trim two per-utterance sequences (frames on the last axis) to the shorter one, from the tail.

    Why the tail: both encoders hop 320 samples at 16 kHz starting at sample 0, so frame ``k`` covers the
    same 20 ms in both. They differ only in how much padding they append at the end — NeuCodec pads by
    ``320 - T % 320`` samples, the distilled (HuBERT-style) front end pads more and so emits one frame
    more (51 vs 50 frames for a 1 s input). The extra frames describe padding past the end of the
    speech; dropping head frames instead would shift every comparison by a hop. A difference above
    ``max_dropped`` frames raises: it grows with duration only if the frame rates truly differ, and then
    no trimming makes frame ``k`` of one sequence comparable with frame ``k`` of the other.

    Returns the trimmed arrays and ``{"frames_a", "frames_b", "frames_kept", "frames_dropped"}`` where
    ``frames_dropped`` is the number removed from the longer sequence.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"code sequences need a frame axis, got shapes {a.shape} and {b.shape}")
    if a.shape[:-1] != b.shape[:-1]:
        raise ValueError(f"code sequences differ in leading shape: {a.shape} vs {b.shape}")
    n_a, n_b = a.shape[-1], b.shape[-1]
    kept = min(n_a, n_b)
    dropped = abs(n_a - n_b)
    if dropped > max_dropped:
        raise ValueError(
            f"frame counts {n_a} and {n_b} differ by {dropped} > {max_dropped}: not end padding "
            "(different frame rates or different audio?)"
        )
    info = {
        "frames_a": int(n_a),
        "frames_b": int(n_b),
        "frames_kept": int(kept),
        "frames_dropped": int(dropped),
    }
    return a[..., :kept], b[..., :kept], info


def _as_frames(codes: np.ndarray) -> np.ndarray:
    """Accept ``[frames]`` or the encode stage's ``[1, frames]`` (one FSQ codebook)."""
    codes = np.asarray(codes)
    if codes.ndim == 2 and codes.shape[0] == 1:
        return codes[0]
    if codes.ndim != 1:
        raise ValueError(f"expected one FSQ codebook, [frames] or [1, frames]; got shape {codes.shape}")
    return codes


def code_agreement(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]],
    levels: Sequence[int],
    max_dropped: int = MAX_DROPPED_FRAMES,
) -> dict[str, Any]:
    """Agreement between reference and distilled FSQ codes, pooled over all frames of all pairs.

    ``pairs`` yields ``(reference, distilled)`` code arrays for the same utterance (``[frames]`` or
    ``[1, frames]``); each pair is first aligned with :func:`align_frames`.

    Returns ``exact_match_rate``, ``level_accuracy`` (per dimension, ``[D]``), ``mean_level_accuracy``,
    ``within_one_rate`` (over all dimensions and frames), ``within_one_per_dim`` ``[D]``, ``confusion``
    (``[D, L, L]`` int counts, rows = reference level, cols = distilled level; ``L = max(levels)``, rows and
    columns past a dimension's own level count stay zero), ``n_frames``, ``n_utterances`` and
    ``frames_dropped``. Rates are NaN when no frame was compared.
    """
    level_counts = np.asarray(list(levels), dtype=np.int64)
    n_dims, width = level_counts.size, int(level_counts.max())
    refs, dists, dropped, n_utts = [], [], 0, 0
    for ref, dist in pairs:
        ref_t, dist_t, info = align_frames(_as_frames(ref), _as_frames(dist), max_dropped)
        refs.append(ref_t)
        dists.append(dist_t)
        dropped += info["frames_dropped"]
        n_utts += 1
    ref_codes = np.concatenate(refs) if refs else np.zeros(0, dtype=np.int64)
    dist_codes = np.concatenate(dists) if dists else np.zeros(0, dtype=np.int64)
    ref_lv = indices_to_levels(ref_codes, level_counts)  # [N, D]
    dist_lv = indices_to_levels(dist_codes, level_counts)
    n_frames = int(ref_codes.size)
    dims = np.arange(n_dims)
    flat = (dims * width * width + ref_lv * width + dist_lv).ravel()
    confusion = np.bincount(flat, minlength=n_dims * width * width).reshape(n_dims, width, width)
    near = np.abs(ref_lv - dist_lv) <= 1
    if n_frames:
        exact = float(np.mean(ref_codes == dist_codes))
        level_acc = (ref_lv == dist_lv).mean(axis=0)
        within_dim = near.mean(axis=0)
        within = float(near.mean())
    else:
        exact, within = np.nan, np.nan
        level_acc = within_dim = np.full(n_dims, np.nan)
    return {
        "exact_match_rate": exact,
        "level_accuracy": level_acc,
        "mean_level_accuracy": float(np.mean(level_acc)),
        "within_one_rate": within,
        "within_one_per_dim": within_dim,
        "confusion": confusion.astype(np.int64),
        "levels": level_counts.tolist(),
        "n_frames": n_frames,
        "n_utterances": n_utts,
        "frames_dropped": int(dropped),
    }


def _stack_frames(proj: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    if isinstance(proj, np.ndarray):
        return [proj]
    return [np.asarray(p) for p in proj]


def mean_cosine(
    proj_a: np.ndarray | Sequence[np.ndarray],
    proj_b: np.ndarray | Sequence[np.ndarray],
    max_dropped: int = MAX_DROPPED_FRAMES,
) -> float:
    """Mean over frames of the cosine similarity between two quantizer output projections.

    Each argument is one ``[frames, dim]`` array or a sequence of them (one per utterance, pooled over
    all frames). Frame counts are aligned per utterance like the codes (tail trimmed). A frame where
    either vector is all zero has no direction and is left out; NaN if no frame remains.
    """
    list_a, list_b = _stack_frames(proj_a), _stack_frames(proj_b)
    if len(list_a) != len(list_b):
        raise ValueError(f"{len(list_a)} projections on one side, {len(list_b)} on the other")
    sims = []
    for a, b in zip(list_a, list_b, strict=True):
        if a.ndim != 2 or b.ndim != 2:
            raise ValueError(f"projections must be [frames, dim], got {a.shape} and {b.shape}")
        # align_frames trims the last axis, so move frames there and back.
        a_t, b_t, _ = align_frames(a.T, b.T, max_dropped)
        a_f, b_f = a_t.T.astype(np.float64), b_t.T.astype(np.float64)
        norms = np.linalg.norm(a_f, axis=1) * np.linalg.norm(b_f, axis=1)
        ok = norms > 0
        sims.append(np.einsum("fd,fd->f", a_f[ok], b_f[ok]) / norms[ok])
    pooled = np.concatenate(sims) if sims else np.zeros(0)
    return float(pooled.mean()) if pooled.size else float("nan")


def agreement_to_json(result: dict[str, Any]) -> dict[str, Any]:
    """Make :func:`code_agreement`'s output JSON-serialisable (arrays to lists, NaN to None)."""

    def convert(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return convert(value.tolist())
        if isinstance(value, list):
            return [convert(v) for v in value]
        if isinstance(value, float | np.floating):
            return None if np.isnan(value) else float(value)
        if isinstance(value, np.integer):
            return int(value)
        return value

    return {key: convert(value) for key, value in result.items()}
