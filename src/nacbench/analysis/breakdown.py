"""Break-down bit-error rate: the P_flip at which a codec's score first drops a set margin below clean.

Figure 3 shows whole curves; this condenses each (codec, labelling) curve into one number with an
interval, so "FSQ stays usable up to ~10 % flipped bits, RVQ breaks near 1 %" becomes a measured claim.

Definition. For a codec and labelling, let ``m(p)`` be the pooled mean score over utterances and seeds
at each tested P_flip of the BSC and ``m0`` the clean (unperturbed) mean. The break-down point is the
first tested ``p_k`` (in increasing order) with ``m(p_k)`` worse than ``m0`` by at least ``margin``,
refined by linear interpolation in ``log10 P_flip`` between ``p_{k-1}`` and ``p_k`` — the grid is
log-spaced, so interpolating in log P is what a reader of the log-x figure would do by eye.

If no tested condition is that bad the point is NaN with reason "never falls below within tested
range"; if the smallest tested P_flip already is, it is NaN with "already below at smallest p" (there is
no bracketing pair: clean sits at P_flip = 0, which has no logarithm).

Interval. A cluster bootstrap over utterances: a matrix of per-utterance sums and counts
``[utterance, condition]`` (seeds pooled inside each cell, clean as one more column) is resampled with an
index matrix ``[n_boot, n_utterances]``; each replicate's whole curve, clean value and crossing are
computed at once with array operations. Replicates that never cross count as ``+inf`` and those already
below at the smallest p as ``0``, so the percentiles stay honest; a bound that lands there is reported as
NaN with a note that the interval reaches beyond the tested range.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from nacbench.analysis.summary import CI_LEVEL, CORPUS_RATES, metric_terms, utterance_key
from nacbench.metrics import get_metric
from nacbench.seeds import bootstrap_rng

__all__ = ["REASON_ALREADY_BELOW", "REASON_NEVER", "breakdown_pflip", "crossing_points"]

REASON_NEVER = "never falls below within tested range"
REASON_ALREADY_BELOW = "already below at smallest p"

_GROUP_COLUMNS: tuple[str, ...] = ("codec", "dataset", "labelling")


def crossing_points(curves: np.ndarray, clean: np.ndarray, log_p: np.ndarray, margin: float) -> np.ndarray:
    """Vectorised break-down points for many curves at once.

    ``curves`` is ``[n, K]`` (higher is better) on the increasing grid ``log_p`` ``[K]``, ``clean`` is
    ``[n]``. Returns ``[n]`` values of P_flip, ``+inf`` where no condition falls ``margin`` below clean,
    ``0.0`` where the first condition already does, NaN where the clean value itself is NaN.
    A NaN point on a curve never counts as "below".
    """
    curves = np.atleast_2d(np.asarray(curves, dtype=np.float64))
    clean = np.atleast_1d(np.asarray(clean, dtype=np.float64))
    threshold = clean - margin
    below = curves <= threshold[:, None]
    any_below = below.any(axis=1)
    first = np.argmax(below, axis=1)
    prev = np.maximum(first - 1, 0)
    rows = np.arange(curves.shape[0])
    y0, y1 = curves[rows, prev], curves[rows, first]
    x0, x1 = log_p[prev], log_p[first]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(y1 != y0, (y0 - threshold) / (y0 - y1), 1.0)
    result = 10.0 ** (x0 + np.clip(frac, 0.0, 1.0) * (x1 - x0))
    result = np.where(any_below & (first == 0), 0.0, result)
    result = np.where(any_below, result, np.inf)
    return np.where(np.isnan(clean), np.nan, result)


def _cell_matrices(
    rows: pd.DataFrame, utt: np.ndarray, metric: str, p_grid: np.ndarray, x: str = "p_flip"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-utterance sums and counts of non-NaN scores, ``[n_utterances, 1 + K]`` (column 0 = clean);
    for a corpus rate (WER) the edits and the reference words (:func:`metric_terms`)."""
    utt_codes, utt_index = pd.factorize(utt)
    values, weights = metric_terms(rows, metric)
    is_clean = rows["model"].to_numpy() == "clean"
    x_values = pd.to_numeric(rows[x], errors="coerce").to_numpy(dtype=np.float64)
    cond = np.where(is_clean, 0, 1 + np.searchsorted(p_grid, np.where(is_clean, 0.0, x_values)))
    ok = ~np.isnan(values)
    n_utts, n_cols = len(utt_index), 1 + p_grid.size
    flat = utt_codes[ok] * n_cols + cond[ok]
    sums = np.bincount(flat, weights=values[ok], minlength=n_utts * n_cols).reshape(n_utts, n_cols)
    counts = np.bincount(flat, weights=weights[ok], minlength=n_utts * n_cols).reshape(n_utts, n_cols)
    return sums, counts, utt_index


def _group_breakdown(
    sums: np.ndarray,
    counts: np.ndarray,
    log_p: np.ndarray,
    margin: float,
    sign: float,
    n_boot: int,
    rng: np.random.Generator,
) -> dict:
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sign * sums.sum(axis=0) / counts.sum(axis=0)
    point = float(crossing_points(means[None, 1:], means[:1], log_p, margin)[0])
    out = {
        "clean_mean": sign * means[0],
        "threshold": sign * (means[0] - margin),
        "p_breakdown": point if 0.0 < point < np.inf else np.nan,
        "reason": "",
        "ci_low": np.nan,
        "ci_high": np.nan,
        "ci_note": "",
    }
    if np.isnan(means[0]):
        out["reason"] = "no clean score to compare with"
    elif np.isnan(point):
        out["reason"] = "no score at a bracketing condition"
    elif point == np.inf:
        out["reason"] = REASON_NEVER
    elif point == 0.0:
        out["reason"] = REASON_ALREADY_BELOW
    n_utts = sums.shape[0]
    if n_boot <= 0 or n_utts < 2 or np.isnan(point):
        return out
    idx = rng.integers(0, n_utts, size=(n_boot, n_utts))
    boot_counts = counts[idx].sum(axis=1)  # [n_boot, 1 + K]
    with np.errstate(invalid="ignore", divide="ignore"):
        boot_means = sign * sums[idx].sum(axis=1) / boot_counts
    reps = crossing_points(boot_means[:, 1:], boot_means[:, 0], log_p, margin)
    reps = reps[~np.isnan(reps)]
    if reps.size == 0:
        return out
    alpha = (1.0 - CI_LEVEL) / 2.0
    # "inverted_cdf" picks order statistics, so infinities are never averaged into a finite bound.
    low, high = np.quantile(reps, [alpha, 1.0 - alpha], method="inverted_cdf")
    notes = []
    if low == 0.0:
        notes.append("lower bound below smallest tested p")
    if high == np.inf:
        notes.append("upper bound beyond largest tested p")
    out["ci_low"] = float(low) if 0.0 < low < np.inf else np.nan
    out["ci_high"] = float(high) if 0.0 < high < np.inf else np.nan
    out["ci_note"] = "; ".join(notes)
    return out


def breakdown_pflip(
    tidy: pd.DataFrame,
    metric: str = "stoi",
    margin: float = 0.1,
    n_boot: int = 1000,
    seed: int = 0,
    channel_model: str = "bsc",
    by: Sequence[str] = _GROUP_COLUMNS,
    x: str = "p_flip",
    condition_by: Sequence[str] = ("labelling",),
) -> pd.DataFrame:
    """Per codec x labelling (x dataset when present): the break-down P_flip with a bootstrap 95 % interval.

    Uses the ``channel_model`` rows (BSC by default: the P_flip sweep) and the codec's clean rows. Clean
    scores do not depend on the labelling, so every labelling of a codec is compared with all of that
    codec's clean rows, whichever labelling they were filed under. ``margin`` is in the metric's units;
    for a metric whose registry entry says lower is better (mel-MSE) "falls below" means "rises above",
    so the threshold is ``clean + margin`` instead.

    ``x`` is the swept parameter (``fer`` for the packet-loss channels, whose break-down is an erasure
    rate); ``condition_by`` are the group columns the clean rows do not have (the labelling; a
    packet-loss condition's concealment and burst length): every such group is compared with the
    codec's clean rows. A corpus rate (WER) pools as edits over words (:data:`CORPUS_RATES`).

    Returns the group columns plus ``metric``, ``margin``, ``clean_mean``, ``threshold``, ``p_breakdown``,
    ``reason`` (empty when bracketed), ``ci_low``, ``ci_high``, ``ci_note``, ``n_utterances``,
    ``p_tested`` (the sorted grid as text) and ``random_weights``.
    """
    required = ["codec", "model", x, "utt_id", *CORPUS_RATES.get(metric, (metric,))]
    missing = [c for c in required if c not in tidy.columns]
    if missing:
        raise KeyError(f"tidy score table lacks column(s) {missing} (columns: {list(tidy.columns)})")
    group_cols = [c for c in by if c in tidy.columns]
    sign = 1.0 if get_metric(metric).higher_is_better else -1.0
    clean_cols = [c for c in group_cols if c not in condition_by]
    sweep = tidy[tidy["model"] == channel_model]
    clean = tidy[tidy["model"] == "clean"]
    if clean_cols:
        clean_groups = {
            k if isinstance(k, tuple) else (k,): g
            for k, g in clean.groupby(clean_cols, sort=False, dropna=False)
        }
    else:
        clean_groups = {(): clean}
    results = []
    for key, group in sweep.groupby(group_cols, sort=True, dropna=False) if group_cols else [((), sweep)]:
        key = key if isinstance(key, tuple) else (key,)
        labels = dict(zip(group_cols, key, strict=True))
        clean_key = tuple(labels[c] for c in clean_cols)
        rows = pd.concat([clean_groups.get(clean_key, clean.iloc[:0]), group], ignore_index=True)
        p_grid = np.unique(group[x].to_numpy(dtype=np.float64))
        if np.any(~(p_grid > 0)):
            raise ValueError(f"{labels}: {channel_model} rows must have {x} > 0, got {p_grid.tolist()}")
        utt = utterance_key(rows).to_numpy()
        sums, counts, utt_index = _cell_matrices(rows, utt, metric, p_grid, x)
        stats = _group_breakdown(
            sums, counts, np.log10(p_grid), margin, sign, n_boot, bootstrap_rng(seed, (metric, *key))
        )
        random = bool(rows["random_weights"].any()) if "random_weights" in rows.columns else False
        results.append(
            {
                **labels,
                "metric": metric,
                "margin": margin,
                **stats,
                "n_utterances": int((counts.sum(axis=1) > 0).sum()),  # with a score (WER: transcribed)
                "p_tested": ",".join(f"{p:g}" for p in p_grid),
                "random_weights": random,
            }
        )
    columns = [
        *group_cols,
        "metric",
        "margin",
        "clean_mean",
        "threshold",
        "p_breakdown",
        "reason",
        "ci_low",
        "ci_high",
        "ci_note",
        "n_utterances",
        "p_tested",
        "random_weights",
    ]
    return pd.DataFrame(results, columns=columns)
