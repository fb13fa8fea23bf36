"""Statistics of the quantizer swap: per-codec quality and break-down, paired differences, rate sweep.

The study (:mod:`nacbench.swap`) runs, for one base codec at one bit budget, its native quantizer, a
post-hoc FSQ and a post-hoc RVQ through the *same* bit-error positions on the *same* utterances. A
difference between two quantizers is therefore measured best per pair: the score of ``a`` minus the
score of ``b`` for the same utterance under the same channel seed at the same P_flip. Most of the
between-utterance spread (a hard utterance is hard for every quantizer) and the luck of the error draw
(a flip on a loud frame hurts every quantizer) cancel in that difference, so its interval is far
narrower than one built from two separate means — which is what makes "FSQ beats RVQ by 0.05 STOI at
P_flip = 1 %" a measured claim rather than two overlapping bands on a figure.

The interval is the same cluster bootstrap as everywhere in the report
(:mod:`nacbench.analysis.summary`): utterances are resampled with all their seeds' pairs, through one
index matrix ``[n_boot, n_utterances]`` per group, each group on its own named stream
(:func:`nacbench.seeds.bootstrap_rng`). Metric directions come from the metric registry, never from
here: a difference is reported in the metric's units as ``a - b``, and ``favours`` says which quantizer
it favours given the metric's direction.

``rows`` is :func:`nacbench.swap.study_rows` (one dict per codec of the study); codecs in ``rows``
without scores in the table are left out, and named in the result's ``attrs["notes"]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from nacbench.analysis.breakdown import breakdown_pflip
from nacbench.analysis.summary import cluster_mean_ci, mean_ci
from nacbench.metrics import get_metric
from nacbench.seeds import bootstrap_rng
from nacbench.swap import QUANTIZERS

__all__ = [
    "COMPARISONS",
    "DIFFERENCE_COLUMNS",
    "SECTIONS",
    "comparison_name",
    "long_table",
    "paired_differences",
    "rate_breakdown",
    "study_frame",
    "swap_table",
]

#: the quantizer pairs compared, as ``a - b``: the headline (FSQ vs RVQ at equal bits), then each
#: post-hoc quantizer against the codec's own
COMPARISONS: tuple[tuple[str, str], ...] = (("fsq", "rvq"), ("native", "fsq"), ("native", "rvq"))

#: the columns of :func:`paired_differences`
DIFFERENCE_COLUMNS: tuple[str, ...] = (
    "base",
    "bits",
    "dataset",
    "comparison",
    "codec_a",
    "codec_b",
    "p_flip",
    "metric",
    "diff",
    "ci_low",
    "ci_high",
    "n_utterances",
    "n_pairs",
    "higher_is_better",
    "favours",
    "random_weights",
)

#: the ``section`` values of :func:`long_table`, in the order its rows come
SECTIONS: tuple[str, ...] = ("clean quality", "break-down", "paired difference", "rate sweep break-down")

_ROW_KEYS = ("codec", "base", "quantizer", "bits", "main", "sweep")
_QUANTIZER_ORDER = {q: i for i, q in enumerate(QUANTIZERS)}


def comparison_name(a: str, b: str) -> str:
    """How a comparison is named in tables and figures: ``"fsq - rvq"`` (the difference is a - b)."""
    return f"{a} - {b}"


def study_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """``rows`` (:func:`nacbench.swap.study_rows`) as a frame in the study's order (base, bits
    descending, native / FSQ / RVQ), checked for the keys every function here reads."""
    frame = pd.DataFrame([dict(r) for r in rows], columns=list(_ROW_KEYS))
    missing = [k for k in _ROW_KEYS if any(k not in r for r in rows)]
    if missing:
        raise KeyError(f"swap study rows lack key(s) {missing}; expected nacbench.swap.study_rows()")
    unknown = sorted(set(frame["quantizer"]) - set(QUANTIZERS))
    if unknown:
        raise ValueError(f"swap study rows name unknown quantizer(s) {unknown}; known: {list(QUANTIZERS)}")
    frame["bits"] = frame["bits"].astype(int)
    frame["main"] = frame["main"].astype(bool)
    frame["sweep"] = frame["sweep"].astype(bool)
    order = frame["quantizer"].map(_QUANTIZER_ORDER)
    return (
        frame.assign(_order=order, _bits=-frame["bits"])
        .sort_values(["base", "_bits", "_order"], kind="stable")
        .drop(columns=["_order", "_bits"])
        .reset_index(drop=True)
    )


def _with_dataset(tidy: pd.DataFrame) -> pd.DataFrame:
    return tidy if "dataset" in tidy.columns else tidy.assign(dataset="")


def study_scores(
    tidy: pd.DataFrame, codecs: Sequence[str], labelling: str = "natural", channel_model: str = "bsc"
) -> pd.DataFrame:
    """The score rows the study's statistics use: ``codecs``' ``channel_model`` rows under
    ``labelling``, plus their clean rows, one per codec and utterance whatever labelling they were filed
    under (a clean score does not depend on the labelling)."""
    required = ["codec", "model", "p_flip", "utt_id"]
    missing = [c for c in required if c not in tidy.columns]
    if missing:
        raise KeyError(f"tidy score table lacks column(s) {missing} (columns: {list(tidy.columns)})")
    tidy = _with_dataset(tidy)
    tidy = tidy[tidy["codec"].isin(list(codecs))]
    if "seed" not in tidy.columns:
        tidy = tidy.assign(seed=-1)
    perturbed = tidy[tidy["model"] == channel_model]
    if "labelling" in perturbed.columns:
        perturbed = perturbed[perturbed["labelling"] == labelling]
    clean = tidy[tidy["model"] == "clean"].drop_duplicates(subset=["codec", "dataset", "utt_id", "seed"])
    if "labelling" in clean.columns:
        clean = clean.assign(labelling=labelling)  # compared with the labelling's perturbed rows
    return pd.concat([clean, perturbed], ignore_index=True)


def _absent_note(study: pd.DataFrame, scored: set[str]) -> list[str]:
    absent = [c for c in study["codec"] if c not in scored]
    return [f"no scores for codec(s) of the study: {', '.join(absent)}"] if absent else []


def _random_codecs(scores: pd.DataFrame) -> set[str]:
    if "random_weights" not in scores.columns or scores.empty:
        return set()
    flags = scores["random_weights"].astype("boolean").fillna(False).to_numpy(bool)
    return set(scores.loc[flags, "codec"].astype(str))


def _favours(a: str, b: str, low: float, high: float, higher_is_better: bool) -> str:
    """Which quantizer the difference ``a - b`` favours: the one whose interval side excludes 0."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "n/a (no interval)"
    if low <= 0.0 <= high:
        return "neither (CI includes 0)"
    a_higher = low > 0.0
    return a if a_higher == higher_is_better else b


def _pairs(scores: pd.DataFrame, codec_a: str, codec_b: str, metric: str) -> pd.DataFrame:
    """One row per (dataset, utterance, P_flip, seed) scored by both codecs: ``utt`` and ``d = a - b``
    (NaN where either score is NaN). Clean rows come with P_flip 0."""
    keys = ["dataset", "utt_id", "model", "p_flip", "seed"]
    sides = []
    for codec in (codec_a, codec_b):
        rows = scores.loc[scores["codec"] == codec, keys + [metric]].copy()
        rows["p_flip"] = np.where(rows["model"] == "clean", 0.0, rows["p_flip"].astype(float))
        duplicated = rows.duplicated(subset=keys)
        if duplicated.any():
            first = rows.loc[duplicated, keys].iloc[0].to_dict()
            raise ValueError(
                f"{codec}: {int(duplicated.sum())} duplicate score row(s) for one utterance and condition "
                f"(e.g. {first}); pairing needs one score per utterance, P_flip and seed"
            )
        sides.append(rows)
    merged = sides[0].merge(sides[1], on=keys, suffixes=("_a", "_b"))
    values_a = pd.to_numeric(merged[f"{metric}_a"], errors="coerce").to_numpy(dtype=np.float64)
    values_b = pd.to_numeric(merged[f"{metric}_b"], errors="coerce").to_numpy(dtype=np.float64)
    merged["d"] = values_a - values_b
    merged["utt"] = merged["dataset"].astype(str) + "/" + merged["utt_id"].astype(str)
    return merged[["dataset", "p_flip", "utt", "d"]]


def paired_differences(
    tidy: pd.DataFrame,
    rows: Sequence[Mapping[str, Any]],
    metric: str,
    n_boot: int = 1000,
    seed: int = 0,
    labelling: str = "natural",
    channel_model: str = "bsc",
) -> pd.DataFrame:
    """Per base codec x main budget x comparison x condition: the mean paired difference ``a - b`` of
    ``metric`` with a 95 % cluster-bootstrap interval.

    Conditions are clean (``p_flip`` 0) and each ``channel_model`` P_flip, seeds pooled. Differences are
    formed per (utterance, seed) pair first — same utterance, same seed, same P_flip, hence the same
    bit-error positions — and a pair with a NaN score on either side drops out. The statistic is the
    mean over pairs (equal to the difference of the two codecs' means when every pair is complete); the
    interval resamples utterances with all their pairs (:func:`nacbench.analysis.summary.cluster_mean_ci`)
    on a stream named by the group (metric, base, bits, comparison, dataset, P_flip). Comparisons are
    :data:`COMPARISONS` where both codecs are in ``rows`` at that budget and in ``tidy``.

    Returns :data:`DIFFERENCE_COLUMNS`: ``n_pairs`` counts complete pairs, ``n_utterances`` the
    utterances with one; ``favours`` names the quantizer the interval favours under the metric's
    direction (``higher_is_better``), or "neither (CI includes 0)".
    """
    study = study_frame(rows)
    main = study[study["main"]]
    higher = get_metric(metric).higher_is_better
    scores = study_scores(tidy, list(main["codec"]), labelling, channel_model)
    if metric not in scores.columns:
        raise KeyError(f"tidy score table has no {metric!r} column (columns: {list(tidy.columns)})")
    scored = set(scores["codec"].astype(str))
    random = _random_codecs(scores)
    out = []
    for (base, bits), budget in main.groupby(["base", "bits"], sort=False):
        codec_of = {q: c for q, c in zip(budget["quantizer"], budget["codec"], strict=True) if c in scored}
        for a, b in COMPARISONS:
            if a not in codec_of or b not in codec_of:
                continue
            name = comparison_name(a, b)
            pairs = _pairs(scores, codec_of[a], codec_of[b], metric)
            for (dataset, _), group in pairs.groupby(["dataset", "p_flip"], sort=True):
                p_flip = float(group["p_flip"].iloc[0])
                rng = bootstrap_rng(seed, ("swap-difference", metric, base, bits, name, dataset, p_flip))
                stats = cluster_mean_ci(group["d"].to_numpy(), group["utt"].to_numpy(), n_boot, rng)
                low, high = float(stats["ci_low"]), float(stats["ci_high"])
                out.append(
                    {
                        "base": base,
                        "bits": int(bits),
                        "dataset": dataset,
                        "comparison": name,
                        "codec_a": codec_of[a],
                        "codec_b": codec_of[b],
                        "p_flip": p_flip,
                        "metric": metric,
                        "diff": float(stats["mean"]),
                        "ci_low": low,
                        "ci_high": high,
                        "n_utterances": int(stats["n_utterances"]),
                        "n_pairs": int(stats["n_scores"]),
                        "higher_is_better": higher,
                        "favours": _favours(a, b, low, high, higher),
                        "random_weights": codec_of[a] in random or codec_of[b] in random,
                    }
                )
    result = pd.DataFrame(out, columns=list(DIFFERENCE_COLUMNS))
    result.attrs["notes"] = _absent_note(main, scored)
    return result


def _breakdown_columns(metric: str) -> dict[str, str]:
    prefix = f"{metric}_p_breakdown"
    return {
        "p_breakdown": prefix,
        "ci_low": f"{prefix}_ci_low",
        "ci_high": f"{prefix}_ci_high",
        "note": f"{prefix}_note",
    }


def _text(value: Any) -> str:
    """A note cell as text: missing (None, NaN) is empty."""
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _breakdown_note(reason: Any, ci_note: Any, margin: float) -> str:
    parts = [f"margin {float(margin):g}", *(p for p in (_text(reason), _text(ci_note)) if p)]
    return "; ".join(parts)


def swap_table(
    tidy: pd.DataFrame,
    rows: Sequence[Mapping[str, Any]],
    metrics: Sequence[str],
    margins: Mapping[str, float],
    n_boot: int = 1000,
    seed: int = 0,
    headline: Sequence[str] = ("stoi",),
    labelling: str = "natural",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-codec table, paired differences) for the codecs of the main budgets.

    The per-codec table has one row per codec (x dataset) in the study's order: ``base``, ``bits``,
    ``quantizer``, ``codec``, ``dataset``, ``n_utterances`` (clean), then per metric of ``metrics`` its
    clean mean and interval (``{m}_clean``, ``{m}_clean_ci_low``, ``{m}_clean_ci_high``), per metric with
    a margin its break-down P_flip (:func:`nacbench.analysis.breakdown.breakdown_pflip`:
    ``{m}_p_breakdown``, ``..._ci_low``, ``..._ci_high`` and ``..._note`` with the margin and why a value
    or bound is missing), and ``random_weights``. The differences are :func:`paired_differences` for the
    ``headline`` metrics that are in ``metrics`` and the table (the first metric when none is): every
    metric at every P_flip would bury the comparison the study is for.
    """
    study = study_frame(rows)
    main = study[study["main"]]
    scores = study_scores(tidy, list(main["codec"]), labelling)
    present = [m for m in metrics if m in scores.columns]
    if not present:
        raise KeyError(f"tidy score table has none of the metrics {list(metrics)}")
    scored = set(scores["codec"].astype(str))
    random = _random_codecs(scores)
    clean = scores[scores["model"] == "clean"]
    table = main[main["codec"].isin(scored)][["base", "bits", "quantizer", "codec"]]
    datasets = scores[["codec", "dataset"]].drop_duplicates()
    table = table.merge(datasets, on="codec", how="left", sort=False)
    keys = ["codec", "dataset"]
    counts = mean_ci(clean, keys, present[0], n_boot=0, seed=seed)[[*keys, "n_utterances"]]
    table = table.merge(counts, on=keys, how="left", sort=False)
    for metric in present:
        stats = mean_ci(clean, keys, metric, n_boot=n_boot, seed=seed)
        stats = stats.rename(
            columns={
                "mean": f"{metric}_clean",
                "ci_low": f"{metric}_clean_ci_low",
                "ci_high": f"{metric}_clean_ci_high",
            }
        )
        table = table.merge(
            stats[[*keys, f"{metric}_clean", f"{metric}_clean_ci_low", f"{metric}_clean_ci_high"]],
            on=keys,
            how="left",
            sort=False,
        )
    for metric in present:
        if metric not in margins:
            continue
        margin = float(margins[metric])
        names = _breakdown_columns(metric)
        found = breakdown_pflip(scores, metric=metric, margin=margin, n_boot=n_boot, seed=seed)
        if found.empty:
            found = pd.DataFrame(columns=[*keys, "p_breakdown", "ci_low", "ci_high", "reason", "ci_note"])
        found = found.assign(
            note=[
                _breakdown_note(r, n, margin) for r, n in zip(found["reason"], found["ci_note"], strict=True)
            ]
        )
        found = found[[*keys, *names]].rename(columns=names)
        table = table.merge(found, on=keys, how="left", sort=False)
        table[names["note"]] = table[names["note"]].fillna(f"margin {margin:g}; no perturbed scores")
    table["random_weights"] = table["codec"].isin(random)
    table.attrs["notes"] = _absent_note(main, scored)
    chosen = [m for m in headline if m in present] or present[:1]
    frames = [paired_differences(tidy, rows, m, n_boot, seed, labelling) for m in chosen]
    differences = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=DIFFERENCE_COLUMNS)
    differences.attrs["notes"] = table.attrs["notes"]
    return table, differences


def rate_breakdown(
    tidy: pd.DataFrame,
    rows: Sequence[Mapping[str, Any]],
    metric: str,
    margin: float,
    n_boot: int = 1000,
    seed: int = 0,
    labelling: str = "natural",
) -> pd.DataFrame:
    """Break-down P_flip vs bits per frame, per base x quantizer, over the rate-sweep budgets.

    Each point is :func:`nacbench.analysis.breakdown.breakdown_pflip` of one codec of the sweep. A
    budget that is also a main one ran more conditions (every P_flip, several seeds) than a sweep-only
    one; so that every point of a base rests on the same conditions, each base's points use only the
    (P_flip, seed) conditions all of its sweep codecs ran (their intersection), plus clean.

    Returns one row per sweep codec (x dataset), ordered by base, quantizer (native, FSQ, RVQ) and bits
    ascending: ``base``, ``quantizer``, ``bits``, ``codec``, ``dataset``, ``metric``, ``margin``,
    ``clean_mean``, ``p_breakdown``, ``ci_low``, ``ci_high``, ``reason``, ``ci_note``, ``n_utterances``,
    ``p_tested`` and ``random_weights``. A sweep codec with scores but no perturbed ones gets NaN and a
    reason; one without scores is left out and named in ``attrs["notes"]``. Empty (with the columns)
    without a rate sweep.
    """
    columns = [
        "base",
        "quantizer",
        "bits",
        "codec",
        "dataset",
        "metric",
        "margin",
        "clean_mean",
        "p_breakdown",
        "ci_low",
        "ci_high",
        "reason",
        "ci_note",
        "n_utterances",
        "p_tested",
        "random_weights",
    ]
    study = study_frame(rows)
    sweep = study[study["sweep"]]
    scores = study_scores(tidy, list(sweep["codec"]), labelling)
    if not scores.empty and metric not in scores.columns:
        raise KeyError(f"tidy score table has no {metric!r} column (columns: {list(tidy.columns)})")
    scored = set(scores["codec"].astype(str))
    random = _random_codecs(scores)
    frames = []
    for _base, codecs in sweep[sweep["codec"].isin(scored)].groupby("base", sort=True):
        names = list(codecs["codec"])
        base_scores = scores[scores["codec"].isin(names)]
        perturbed = base_scores[base_scores["model"] != "clean"]
        conditions = [
            set(zip(g["p_flip"].astype(float), g["seed"].astype(int), strict=True))
            for _, g in perturbed.groupby("codec")
        ]
        common = set.intersection(*conditions) if conditions else set()
        keep = [
            (p, s) in common
            for p, s in zip(perturbed["p_flip"].astype(float), perturbed["seed"].astype(int), strict=True)
        ]
        used = pd.concat([base_scores[base_scores["model"] == "clean"], perturbed[keep]], ignore_index=True)
        found = breakdown_pflip(used, metric=metric, margin=float(margin), n_boot=n_boot, seed=seed)
        found = codecs[["base", "quantizer", "bits", "codec"]].merge(found, on="codec", how="left")
        found["metric"], found["margin"] = metric, float(margin)
        found["reason"] = found["reason"].fillna("no perturbed scores under the common conditions")
        frames.append(found)
    if not frames:
        result = pd.DataFrame(columns=columns)
    else:
        result = pd.concat(frames, ignore_index=True)
        result["random_weights"] = result["codec"].isin(random)
        result["dataset"] = result["dataset"].fillna("")
        order = result["quantizer"].map(_QUANTIZER_ORDER)
        result = (
            result.assign(_order=order)
            .sort_values(["base", "_order", "bits"], kind="stable")
            .drop(columns="_order")
            .reset_index(drop=True)[columns]
        )
    result.attrs["notes"] = _absent_note(sweep, scored)
    return result


def long_table(
    codec_table: pd.DataFrame, differences: pd.DataFrame, rate: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The study's results as one tidy table, one estimate per row, for ``tables/quantizer_swap``.

    ``section`` says what a row estimates (:data:`SECTIONS`): "clean quality" (a codec's clean mean of
    a metric), "break-down" (its break-down P_flip: the estimate *is* a P_flip), "paired difference" (a
    comparison's mean paired difference at one P_flip, 0 = clean) and, when a rate sweep ran,
    "rate sweep break-down". Every section shares the columns ``section``, ``base``, ``bits``,
    ``quantizer`` (a quantizer, or a comparison such as ``fsq - rvq``), ``codec`` (``a - b`` for a
    difference), ``dataset``, ``metric``, ``p_flip`` (the condition; NaN for a break-down),
    ``estimate``, ``ci_low``, ``ci_high``, ``n_utterances``, ``n_pairs`` (differences only), ``note``
    (margin, why a value or bound is missing, which quantizer a difference favours) and
    ``random_weights``: one csv a script can filter by section and metric, and md/tex a reader can scan
    top to bottom. Notes of the inputs (``attrs["notes"]``) are carried over.
    """
    out: list[dict[str, Any]] = []
    metrics_clean = [c[: -len("_clean")] for c in codec_table.columns if c.endswith("_clean")]
    metrics_break = [c[: -len("_p_breakdown")] for c in codec_table.columns if c.endswith("_p_breakdown")]
    for _, row in codec_table.iterrows():
        common = {
            "base": row["base"],
            "bits": int(row["bits"]),
            "quantizer": row["quantizer"],
            "codec": row["codec"],
            "dataset": row.get("dataset", ""),
        }
        for metric in metrics_clean:
            out.append(
                {
                    "section": SECTIONS[0],
                    **common,
                    "metric": metric,
                    "p_flip": 0.0,
                    "estimate": row[f"{metric}_clean"],
                    "ci_low": row[f"{metric}_clean_ci_low"],
                    "ci_high": row[f"{metric}_clean_ci_high"],
                    "n_utterances": row["n_utterances"],
                    "note": "",
                    "random_weights": bool(row["random_weights"]),
                }
            )
    for _, row in codec_table.iterrows():
        for metric in metrics_break:
            names = _breakdown_columns(metric)
            out.append(
                {
                    "section": SECTIONS[1],
                    "base": row["base"],
                    "bits": int(row["bits"]),
                    "quantizer": row["quantizer"],
                    "codec": row["codec"],
                    "dataset": row.get("dataset", ""),
                    "metric": metric,
                    "p_flip": np.nan,
                    "estimate": row[names["p_breakdown"]],
                    "ci_low": row[names["ci_low"]],
                    "ci_high": row[names["ci_high"]],
                    "n_utterances": row["n_utterances"],
                    "note": row[names["note"]],
                    "random_weights": bool(row["random_weights"]),
                }
            )
    for _, row in differences.iterrows():
        out.append(
            {
                "section": SECTIONS[2],
                "base": row["base"],
                "bits": int(row["bits"]),
                "quantizer": row["comparison"],
                "codec": f"{row['codec_a']} - {row['codec_b']}",
                "dataset": row["dataset"],
                "metric": row["metric"],
                "p_flip": row["p_flip"],
                "estimate": row["diff"],
                "ci_low": row["ci_low"],
                "ci_high": row["ci_high"],
                "n_utterances": row["n_utterances"],
                "n_pairs": row["n_pairs"],
                "note": f"favours {row['favours']}",
                "random_weights": bool(row["random_weights"]),
            }
        )
    for _, row in (rate if rate is not None else pd.DataFrame()).iterrows():
        out.append(
            {
                "section": SECTIONS[3],
                "base": row["base"],
                "bits": int(row["bits"]),
                "quantizer": row["quantizer"],
                "codec": row["codec"],
                "dataset": row["dataset"],
                "metric": row["metric"],
                "p_flip": np.nan,
                "estimate": row["p_breakdown"],
                "ci_low": row["ci_low"],
                "ci_high": row["ci_high"],
                "n_utterances": row["n_utterances"],
                "note": _breakdown_note(row["reason"], row["ci_note"], row["margin"]),
                "random_weights": bool(row["random_weights"]),
            }
        )
    columns = [
        "section",
        "base",
        "bits",
        "quantizer",
        "codec",
        "dataset",
        "metric",
        "p_flip",
        "estimate",
        "ci_low",
        "ci_high",
        "n_utterances",
        "n_pairs",
        "note",
        "random_weights",
    ]
    table = pd.DataFrame(out, columns=columns)
    for count in ("n_utterances", "n_pairs"):  # whole numbers; None (csv: empty, md/tex: n/a) where none
        table[count] = pd.Series(
            [None if pd.isna(v) else int(v) for v in table[count]], index=table.index, dtype=object
        )
    notes: list[str] = []
    for frame in (codec_table, differences, rate):
        if frame is not None:
            notes += frame.attrs.get("notes", [])
    table.attrs["notes"] = list(dict.fromkeys(notes))
    return table
