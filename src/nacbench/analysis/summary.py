"""Means with 95 % intervals over utterances and seeds, from the tidy per-utterance score table.

Why a cluster bootstrap and not a t-interval over all rows: in the perturbation study every utterance
is scored once per channel seed, and those scores are strongly correlated (same speech, same codec).
Treating ``utterances x seeds`` rows as independent would shrink the interval by up to ``sqrt(n_seeds)``.
The unit that is really sampled is the utterance, so we resample whole utterances with all their seeds.
A bootstrap (rather than a t-interval on per-utterance means) also copes with the bounded, skewed metrics
here (STOI near 1, PESQ near its floor of about 1.0) and with utterances whose scores are partly NaN.

The statistic is the pooled mean of every non-NaN score in the group, written as a ratio
``sum(scores) / count(scores)`` over utterances; a bootstrap replicate draws utterances with replacement
and recomputes that ratio, so all of it is two gathers and two sums over an index matrix
``[n_boot, n_utterances]`` — no Python loop per replicate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from nacbench.conditions import CHANNEL_PARAMETERS
from nacbench.seeds import bootstrap_rng

__all__ = [
    "CI_LEVEL",
    "CORPUS_RATES",
    "POOLED_KEYS",
    "cluster_mean_ci",
    "mean_ci",
    "metric_terms",
    "pooled_condition_keys",
    "scored_metrics",
    "utterance_key",
    "utterance_sums",
]

#: two-sided coverage of every interval this module reports
CI_LEVEL = 0.95


#: the columns a table pooled over seeds, shards and utterances is grouped by: what was run (codec,
#: dataset, labelling) and the channel condition (:data:`nacbench.conditions.CHANNEL_PARAMETERS`)
POOLED_KEYS: tuple[str, ...] = ("codec", "dataset", "labelling", *CHANNEL_PARAMETERS)


def pooled_condition_keys(tidy: pd.DataFrame) -> list[str]:
    """The :data:`POOLED_KEYS` that ``tidy`` has, less channel parameters that name nothing in it (a
    run without a bursty channel has no burst length to tell conditions apart, so its tables carry no
    all-NaN ``burst_length`` column). Not :func:`nacbench.conditions.condition_columns`, which names
    one artifact's condition fields."""
    return [
        c for c in POOLED_KEYS if c in tidy.columns and (c not in CHANNEL_PARAMETERS or tidy[c].notna().any())
    ]


def scored_metrics(rows: pd.DataFrame) -> list[str]:
    """The metrics ``rows`` were scored with, in registry order: a signal metric with a value or a
    recorded failure there (another study's metric, absent from these rows, is left out), then WER
    where some utterance was transcribed (a study's ``wer_utterances``)."""
    from nacbench.metrics import metric_names

    errors = rows["error"].dropna().astype(str) if "error" in rows.columns else pd.Series([], dtype=str)
    metrics = [
        m
        for m in metric_names()
        if m in rows.columns and (rows[m].notna().any() or errors.str.contains(f"{m}:", regex=False).any())
    ]
    num, _ = CORPUS_RATES["wer"]
    if num in rows.columns and rows[num].notna().any():
        metrics.append("wer")
    return metrics


def utterance_key(tidy: pd.DataFrame) -> pd.Series:
    """One label per utterance: ``dataset/utt_id`` (utt ids are unique only within a dataset)."""
    if "utt_id" not in tidy.columns:
        raise KeyError(f"tidy score table has no 'utt_id' column (columns: {list(tidy.columns)})")
    utt = tidy["utt_id"].astype(str)
    if "dataset" in tidy.columns:
        return tidy["dataset"].astype(str) + "/" + utt
    return utt


#: Metrics pooled as a corpus rate rather than a mean of per-utterance scores: name -> (numerator,
#: denominator) columns of the score table. A corpus WER is total edits over total reference words
#: (:mod:`nacbench.asr.wer`), so its "sum" per utterance is the edits and its "count" the words.
CORPUS_RATES: dict[str, tuple[str, str]] = {
    "wer": ("word_errors", "ref_words"),
    "cer": ("char_errors", "ref_chars"),
}


def metric_terms(tidy: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the numerator and denominator ``metric`` pools by: the score and 1 for a per-utterance
    metric, the edits and the reference length for a :data:`CORPUS_RATES` one; both NaN where the row
    has no value (not scored, not transcribed), so it drops out."""
    if metric in CORPUS_RATES:
        num_col, den_col = CORPUS_RATES[metric]
        if num_col not in tidy.columns or den_col not in tidy.columns:
            nothing = np.full(len(tidy), np.nan)
            return nothing, nothing
        num = pd.to_numeric(tidy[num_col], errors="coerce").to_numpy(dtype=np.float64)
        den = pd.to_numeric(tidy[den_col], errors="coerce").to_numpy(dtype=np.float64)
        missing = np.isnan(num) | np.isnan(den)
        return np.where(missing, np.nan, num), np.where(missing, np.nan, den)
    values = pd.to_numeric(tidy[metric], errors="coerce").to_numpy(dtype=np.float64)
    return values, np.where(np.isnan(values), np.nan, 1.0)


def utterance_sums(
    values: np.ndarray, utt_codes: np.ndarray, n_utts: int, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per utterance, the sum and the count of the non-NaN ``values`` (NaN scores simply drop out);
    with ``weights`` (a corpus rate's denominators, :func:`metric_terms`) the count is their sum."""
    ok = ~np.isnan(values)
    sums = np.bincount(utt_codes[ok], weights=values[ok], minlength=n_utts)
    per_row = np.ones(int(ok.sum())) if weights is None else weights[ok]
    counts = np.bincount(utt_codes[ok], weights=per_row, minlength=n_utts).astype(np.float64)
    return sums, counts


def _pooled_ratio(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``sum / count`` along the last axis, NaN where nothing was counted."""
    total = counts.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, sums.sum(axis=-1) / np.where(total > 0, total, 1.0), np.nan)


def _bootstrap_group(
    values: np.ndarray,
    utt_labels: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
    weights: np.ndarray | None = None,
) -> dict:
    codes, uniques = pd.factorize(utt_labels)
    n_utts = len(uniques)
    sums, counts = utterance_sums(values, codes, n_utts, weights)
    mean = float(_pooled_ratio(sums, counts))
    scored_utts = int((counts > 0).sum())
    low = high = np.nan
    # With a single utterance there is no between-utterance spread to estimate: no interval.
    if scored_utts >= 2 and n_boot > 0:
        idx = rng.integers(0, n_utts, size=(n_boot, n_utts))
        reps = _pooled_ratio(sums[idx], counts[idx])
        reps = reps[~np.isnan(reps)]
        if reps.size:
            alpha = (1.0 - CI_LEVEL) / 2.0
            low, high = (float(q) for q in np.quantile(reps, [alpha, 1.0 - alpha]))
    return {
        "mean": mean,
        "ci_low": low,
        "ci_high": high,
        "n_utterances": scored_utts,
        "n_scores": int(counts.sum()),
        "n_missing": int(np.isnan(values).sum()),
    }


def cluster_mean_ci(
    values: np.ndarray, utt_labels: np.ndarray, n_boot: int, rng: np.random.Generator
) -> dict[str, float | int]:
    """The pooled mean of ``values`` with the utterance-cluster bootstrap interval of :func:`mean_ci`,
    for values that are not a column of a score table (e.g. per-pair differences between two codecs).

    Returns ``mean``, ``ci_low``, ``ci_high``, ``n_utterances`` (with a non-NaN value), ``n_scores`` and
    ``n_missing``; the interval is NaN with fewer than two utterances.
    """
    return _bootstrap_group(np.asarray(values, dtype=np.float64), np.asarray(utt_labels), n_boot, rng)


def mean_ci(
    tidy: pd.DataFrame, by: Sequence[str], metric: str, n_boot: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """Per group of ``by``: the pooled mean of ``metric`` over utterances and seeds, with a 95 % interval.

    The interval is the percentile interval of a cluster bootstrap that resamples utterances (each with
    all its seeds) — see the module docstring for why. Each group gets its own random stream derived from
    ``seed`` and the group's label, so results do not depend on which other groups are present.

    Returns one row per group: the ``by`` columns, ``metric``, ``mean``, ``ci_low``, ``ci_high``,
    ``n_utterances`` (with at least one score), ``n_scores`` (non-NaN rows) and ``n_missing`` (NaN rows).
    Intervals are NaN when fewer than two utterances have a score.
    """
    by = list(by)
    missing = [c for c in [*by, *CORPUS_RATES.get(metric, (metric,))] if c not in tidy.columns]
    if missing:
        raise KeyError(f"tidy score table lacks column(s) {missing} (columns: {list(tidy.columns)})")
    columns = [*by, "metric", "mean", "ci_low", "ci_high", "n_utterances", "n_scores", "n_missing"]
    if tidy.empty:
        return pd.DataFrame(columns=columns)
    utt = utterance_key(tidy).to_numpy()
    values, weights = metric_terms(tidy, metric)
    rows = []
    grouped = tidy.groupby(by, sort=True, dropna=False).indices if by else {(): np.arange(len(tidy))}
    for key, positions in grouped.items():
        key_tuple = key if isinstance(key, tuple) else (key,)
        rng = bootstrap_rng(seed, key_tuple)
        stats = _bootstrap_group(values[positions], utt[positions], n_boot, rng, weights[positions])
        rows.append({**dict(zip(by, key_tuple, strict=True)), "metric": metric, **stats})
    return pd.DataFrame(rows, columns=columns)
