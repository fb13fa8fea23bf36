"""Report stages: figures, tables and statistics assembled from the per-shard artifacts.

Each function reads finished artifacts (tidy score tables, codec.json, ASR and timing files) and writes
the paper's figures and tables plus the extensions (break-down P_flip, failure counts, labelling study).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nacbench.analysis.summary import scored_metrics
from nacbench.artifacts import load_shard, parse, read_csv, read_json, read_parquet, save_npz, write_json
from nacbench.codecs.base import Capability, CodecAdapter, CodecInfo
from nacbench.swap import HEADLINE_METRIC

log = logging.getLogger("nacbench")


def _stem(paths: Sequence[str]) -> Path:
    """The common stem of a multiext() output list (``x.pdf``, ``x.png`` -> ``x``)."""
    return Path(str(paths[0])).with_suffix("")


def display_names(infos: Sequence[CodecInfo]) -> dict[str, str]:
    return {i.name: i.display_name or i.name for i in infos}


def breakdown_all(tidy: pd.DataFrame, margins: Mapping[str, float], n_boot: int, seed: int) -> pd.DataFrame:
    """Break-down P_flip per codec x labelling for every metric that has a margin in config."""
    from nacbench.analysis.breakdown import breakdown_pflip

    frames = [
        breakdown_pflip(tidy, metric=m, margin=float(margin), n_boot=n_boot, seed=seed)
        for m, margin in margins.items()
        if m in scored_metrics(tidy)
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def checked_infos(info_paths: Sequence[str], random_weights: Mapping[str, bool]) -> list[CodecInfo]:
    """Codec infos, each checked to record the weights the config asks for (``random_weights``: codec
    -> asked; see :func:`nacbench.stages.check_random_weights`)."""
    from nacbench.stages import check_random_weights

    infos = []
    for path in info_paths:
        info = CodecInfo.read(path)
        if info.name in random_weights:
            check_random_weights(path, info.random_weights, info.name, random_weights[info.name])
        infos.append(info)
    return infos


def checked_scores(scores_path: str, random_weights: Mapping[str, bool]) -> pd.DataFrame:
    """The tidy score table, its rows of the asked codecs checked like :func:`checked_infos`."""
    from nacbench.stages import check_scores_weights

    tidy = read_parquet(scores_path)
    check_scores_weights(scores_path, tidy[tidy["codec"].isin(list(random_weights))], random_weights)
    return tidy


def study_rows(
    tidy: pd.DataFrame, codecs: Sequence[str], channels: Sequence[str] | Mapping[str, Sequence[str]]
) -> pd.DataFrame:
    """The rows of one study: its codecs under its own channel conditions (``channels`` the same for
    every codec, or per codec). The tidy table holds every condition any study ran on the dataset (e.g.
    the quantizer swap's extra seeds for a codec that Study A also runs); a study's tables and figures
    pool exactly the conditions it asked for, so its codecs are compared on the same seeds and, in the
    labelling study, on the same bit errors."""
    if isinstance(channels, Mapping):
        ran = {(c, ch) for c in codecs for ch in channels.get(c, [])}
        pairs = pd.Series(list(zip(tidy["codec"], tidy["channel"], strict=True)), index=tidy.index)
        return tidy[pairs.isin(ran)]
    return tidy[tidy["codec"].isin(list(codecs)) & tidy["channel"].isin(list(channels))]


def study_a_figure(
    scores_path: str,
    info_paths: Sequence[str],
    codecs: Sequence[str],
    outs: Sequence[str],
    seed: int,
    random_weights: Mapping[str, bool],
    channels: Sequence[str] | Mapping[str, Sequence[str]],
    x_axis: str = "p_flip",
) -> None:
    """Figure 3 against ``x_axis`` (:data:`nacbench.plots.X_AXES`: P_flip, frame error rate or flipped
    bits per second, the latter two from each codec's bits per frame and bitrate in its codec.json)."""
    from nacbench.plots import figure3

    infos, tidy = checked_infos(info_paths, random_weights), checked_scores(scores_path, random_weights)
    tidy = study_rows(tidy, codecs, channels)
    rates = {info.name: info for info in infos}
    figure3(
        tidy, _stem(outs), display_names=display_names(infos), seed=seed, x_axis=x_axis, codec_rates=rates
    )


def study_a_tables(
    scores_path: str,
    info_paths: Sequence[str],
    codecs: Sequence[str],
    table_out: Sequence[str],
    summary_out: Sequence[str],
    breakdown_out: Sequence[str],
    failures_out: Sequence[str],
    margins: Mapping[str, float],
    n_boot: int,
    seed: int,
    random_weights: Mapping[str, bool],
    channels: Sequence[str] | Mapping[str, Sequence[str]],
) -> None:
    """Table 3 from codec metadata, plus the per-condition summary, break-down points and failure counts
    over Study A's own ``channels`` (natural labelling: its channel names carry no labelling)."""
    from nacbench.tables import failure_counts, summary_table, table3, with_error_axes, write_table

    infos, tidy = checked_infos(info_paths, random_weights), checked_scores(scores_path, random_weights)
    write_table(
        table3(infos), _stem(table_out), "Compared FSQ and RVQ models (paper Table 3), with bit budgets"
    )
    tidy = study_rows(tidy, codecs, channels)
    metrics = scored_metrics(tidy)
    write_table(
        with_error_axes(summary_table(tidy, metrics, n_boot=n_boot, seed=seed), infos),
        _stem(summary_out),
        "Study A: mean and 95% CI per codec and channel condition",
    )
    write_table(
        breakdown_all(tidy, margins, n_boot, seed),
        _stem(breakdown_out),
        "Study A: break-down P_flip (mean score falls the margin below clean), 95% bootstrap CI",
    )
    write_table(
        failure_counts(tidy, metrics),
        _stem(failures_out),
        "Metric failures (NaN) per condition, with their reasons",
    )


def labelling_report(
    scores_path: str,
    distortion_paths: Sequence[str],
    codecs: Sequence[str],
    figure_out: Sequence[str],
    breakdown_out: Sequence[str],
    distortion_out: Sequence[str],
    margins: Mapping[str, float],
    n_boot: int,
    seed: int,
    random_weights: Mapping[str, bool],
    channels: Sequence[str],
) -> None:
    """Labelling study (over its own ``channels``): metric vs P_flip per labelling, break-down points, expected distortion table."""
    from nacbench.plots import figure_labelling
    from nacbench.tables import write_table

    tidy = study_rows(checked_scores(scores_path, random_weights), codecs, channels)
    figure_labelling(tidy, _stem(figure_out), metric="stoi", n_boot=n_boot, seed=seed)
    write_table(
        breakdown_all(tidy, margins, n_boot, seed),
        _stem(breakdown_out),
        "Break-down P_flip per codec and index labelling, 95% bootstrap CI",
    )
    distortion = pd.concat([read_csv(p, keep_default_na=True) for p in distortion_paths], ignore_index=True)
    write_table(
        distortion.fillna({"per_bit": "", "note": ""}),
        _stem(distortion_out),
        "Expected squared jump in decoder-input space per flipped bit (overall = mean over bit positions)",
    )


# ------------------------------------------------------------------------------------ quantizer swap

#: the note every output of the quantizer swap carries when its post-hoc quantizers were fitted on the
#: utterances they are scored on (flattering to the post-hoc quantizers, not to the native one)
SWAP_IN_SAMPLE_NOTE = "in-sample: the post-hoc quantizers were fitted on the evaluation utterances"

_SWAP_TABLE_NOTE = (
    "One estimate per row; section says which: clean quality = clean mean of the metric; break-down = "
    "the P_flip at which the BSC mean falls the margin below clean (rises above for lower-is-better "
    "metrics); paired difference = mean of a - b over (utterance, seed) pairs with the same bit-error "
    "positions, at p_flip (0 = clean), in the metric's units; rate sweep break-down = break-down at the "
    "rate-sweep budgets, on the conditions all of a base's sweep codecs ran. Intervals: 95% cluster "
    "bootstrap over utterances."
)


def quantizer_swap_report(
    scores_path: str,
    rows: Sequence[Mapping[str, Any]],
    figure_out: Sequence[str],
    table_out: Sequence[str],
    rate_figure_out: Sequence[str],
    margins: Mapping[str, float],
    n_boot: int,
    seed: int,
    random_weights: Mapping[str, bool],
    in_sample: bool = False,
    metrics: Sequence[str] = ("stoi", "pesq", "si_sdr"),
    headline: str = HEADLINE_METRIC,
    display_names: Mapping[str, str] | None = None,
) -> None:
    """The quantizer swap study: its figure, its table and the rate-robustness figure.

    ``rows`` is :func:`nacbench.swap.study_rows`; the outputs are multiext lists as in
    :func:`labelling_report`. The table ``tables/quantizer_swap.{csv,md,tex}`` is one long, tidy table
    (:func:`nacbench.analysis.swap.long_table`) rather than several: one estimate per row, its
    ``section`` saying which — "clean quality" and "break-down" per codec of the main budgets (every
    metric of ``metrics``; break-down for those with a margin), then "paired difference" (FSQ - RVQ,
    native - FSQ, native - RVQ at clean and each P_flip, for the ``headline`` metric) and, with a
    rate sweep, "rate sweep break-down". Every section has the same columns (``estimate``, ``ci_low``,
    ``ci_high``, ``p_flip`` as the condition, ``note``), so the csv filters by section and metric and
    the md/tex read top to bottom, with no half-empty columns a wide layout would need.

    The rate figure plots the break-down of ``headline`` (its margin from ``margins``) vs bits per
    frame; it is written even without a rate sweep, one panel saying so. Random-weight codecs are
    marked in every figure and table note (the table's ``random_weights`` column); with ``in_sample``
    every output also says the post-hoc quantizers were fitted on the evaluation utterances.
    """
    from nacbench.analysis.swap import long_table, rate_breakdown, study_frame, swap_table
    from nacbench.codecs.base import RANDOM_WEIGHTS_LABEL
    from nacbench.plots import NO_RATE_SWEEP, figure_quantizer_swap, figure_rate_robustness, random_codecs
    from nacbench.tables import write_table

    study = study_frame(rows)
    tidy = checked_scores(scores_path, random_weights)
    # each codec on the study's own conditions: a base codec also has the other studies' (more P_flip
    # or seeds), which would give its curves and break-down points a grid the post-hoc codecs lack
    ran = {(row["codec"], channel) for row in rows for channel in row.get("channels", [])}
    keep = tidy["codec"].isin(list(study["codec"]))
    if ran:
        keep &= pd.Series(list(zip(tidy["codec"], tidy["channel"], strict=True)), index=tidy.index).isin(ran)
    tidy = tidy[keep]
    notes = [SWAP_IN_SAMPLE_NOTE] if in_sample else []
    figure_quantizer_swap(
        tidy, rows, _stem(figure_out), metrics, display_names, n_boot=n_boot, seed=seed, notes=notes
    )
    metrics = [m for m in metrics if m in tidy.columns]
    codec_table, differences = swap_table(
        tidy, rows, metrics, margins, n_boot=n_boot, seed=seed, headline=(headline,)
    )
    if study["sweep"].any() and headline not in margins:
        raise ValueError(
            f"quantizer swap: the rate sweep's break-down needs a margin for {headline!r} "
            f"(margins given for {sorted(margins)})"
        )
    margin = float(margins.get(headline, np.nan))
    rate = rate_breakdown(tidy, rows, headline, margin, n_boot=n_boot, seed=seed)  # empty without a sweep
    rate_notes = list(notes)
    random = random_codecs(tidy)
    if rate.empty and random:  # nothing is drawn to carry the mark: the title does
        rate_notes.append(f"{RANDOM_WEIGHTS_LABEL}: {', '.join(sorted(random))}")
    empty = "no scores for the rate sweep's codecs" if study["sweep"].any() else NO_RATE_SWEEP
    figure_rate_robustness(rate, _stem(rate_figure_out), display_names, notes=rate_notes, empty_text=empty)
    write_table(
        long_table(codec_table, differences, rate if not rate.empty else None),
        _stem(table_out),
        "Quantizer swap at equal bits per frame: clean quality, break-down P_flip and paired differences "
        "(native vs post-hoc FSQ vs post-hoc RVQ), 95% CI",
        notes=[*notes, _SWAP_TABLE_NOTE],
    )


# ------------------------------------------------------------------------------------------- Study B


def _concat(paths: Sequence[str]) -> pd.DataFrame:
    return pd.concat([read_parquet(p) for p in paths], ignore_index=True)


def _of_codec(paths: Sequence[str], codec: str) -> list[str]:
    """The shard files (metrics or ASR, :func:`nacbench.artifacts.parse`) of one codec."""
    return [p for p in paths if parse(p).codec == codec]


def corpus_wer(asr: pd.DataFrame) -> dict[str, Any]:
    """Corpus-level WER/CER (%) of an ASR table, with the model that produced it."""
    from nacbench.asr.wer import corpus_wer_cer

    wer = corpus_wer_cer(list(asr.reference), list(asr.hypothesis))
    return {
        "wer": 100 * wer["wer"],
        "cer": 100 * wer["cer"],
        "utterances": wer["n_utts"],
        "words": wer["n_words"],
        "asr_model": str(asr.asr_model.iloc[0]),
    }


def encoder_params(info: CodecInfo) -> dict[str, Any]:
    """Table 2's parameter columns of a codec, with the per-module parts behind them (``parts``), the
    whole encoder's count and how the semantic model was counted, for the note under the table."""
    p = info.parameters
    acoustic, semantic = p.get("acoustic_encoder"), p.get("semantic_encoder")
    total = (acoustic or 0) + (semantic or 0) if acoustic is not None or semantic is not None else None
    return {
        "acoustic": acoustic,
        "semantic": semantic,
        "total": total,
        "parts": {k: v for k, v in p.items() if k.startswith(("acoustic_encoder.", "semantic_encoder."))},
        "encoder_total": p.get("encoder_total"),
        "semantic_note": info.extra.get("semantic_parameters"),
    }


def study_b_tables(
    rows: Sequence[Mapping[str, Any]],
    codecs: Sequence[str],
    metric_paths: Sequence[str],
    asr_paths: Sequence[str],
    reference_asr_paths: Sequence[str],
    rtf_paths: Sequence[str],
    info_paths: Sequence[str],
    table_out: Sequence[str],
    asr_out: Sequence[str],
    random_weights: Mapping[str, bool],
) -> None:
    """Table 2 rows from config, and a WER/CER table of every Study B codec next to the clean audio.

    A row without a codec (no public weights) keeps the parameter counts of its encoder, taken from
    another row with the same encoder (the counts come from the modules, not from the weights).
    """
    from nacbench.stages import check_scores_weights
    from nacbench.tables import table2, write_table

    infos = {info.name: info for info in checked_infos(info_paths, random_weights)}
    rtf = {d["codec"]: d for d in (read_json(p) for p in rtf_paths)}
    wers = {c: corpus_wer(_concat(_of_codec(asr_paths, c))) for c in codecs}
    by_encoder = {row["encoder"]: row["codec"] for row in rows if row["codec"]}
    table_rows = []
    for row in rows:
        codec = row["codec"]
        params_from = codec or by_encoder.get(row["encoder"])
        entry: dict[str, Any] = {
            "encoder": row["encoder"],
            "decoder": row["decoder"],
            "params": encoder_params(infos[params_from]) if params_from else {},
            "available": codec is not None,
            "reason": row.get("note", ""),
        }
        if codec:
            shards = {p: read_parquet(p) for p in _of_codec(metric_paths, codec)}
            for path, shard in shards.items():
                check_scores_weights(path, shard, random_weights)
            scores = pd.concat(shards.values(), ignore_index=True)
            entry |= wers[codec] | {
                "stoi": float(scores["stoi"].mean()),
                "pesq": float(scores["pesq"].mean()),
                "enc_rtf": rtf[codec]["enc_rtf"],
                "device": rtf[codec]["device"],
                "random_weights": infos[codec].random_weights,
            }
        table_rows.append(entry)
    write_table(
        table2(table_rows),
        _stem(table_out),
        "Encoder/decoder parameters and autoencoding scores (paper Table 2)",
    )

    systems = {"original audio": (corpus_wer(_concat(reference_asr_paths)), False)}
    systems |= {c: (wers[c], infos[c].random_weights) for c in codecs}
    asr_table = pd.DataFrame(
        [
            {
                "system": name,
                "WER (%)": w["wer"],
                "CER (%)": w["cer"],
                "utterances": w["utterances"],
                "words": w["words"],
                "ASR model": w["asr_model"],
                "random_weights": random_weights,
            }
            for name, (w, random_weights) in systems.items()
        ]
    )
    write_table(asr_table, _stem(asr_out), "Corpus WER/CER of Whisper on original and decoded audio")


def code_analysis(
    reference_paths: Sequence[str],
    distilled_paths: Sequence[str],
    info_paths: Sequence[str],
    reference_codec: CodecAdapter,
    stats_out: str,
    confusion_out: str,
    figure_out: Sequence[str],
) -> None:
    """Paper Sec. 4.2: how similar are the two encoders' codes for the same audio (and Figure 2)."""
    from nacbench.analysis.codes import agreement_to_json, code_agreement, mean_cosine
    from nacbench.plots import figure2

    project = reference_codec.require(Capability.QUANTIZER_OUTPUT, "the code analysis").quantizer_output
    infos = [CodecInfo.read(p) for p in info_paths]
    levels = infos[0].fsq_levels
    if levels is None:
        raise ValueError(f"code analysis needs FSQ codecs; {infos[0].name} declares no FSQ levels")
    ref = {u: c for p in reference_paths for u, c in zip(*_ids_codes(load_shard(p)), strict=True)}
    dis = {u: c for p in distilled_paths for u, c in zip(*_ids_codes(load_shard(p)), strict=True)}
    common = sorted(set(ref) & set(dis))
    if not common:
        raise ValueError("code analysis: the two encoders share no utterance ids")
    # code_agreement and mean_cosine align each pair themselves (tail-trim, at most 2 frames)
    pairs = [(ref[u], dis[u]) for u in common]
    stats = code_agreement(pairs, levels)
    stats["mean_cosine_projection"] = mean_cosine(
        [project(a) for a, _ in pairs],
        [project(b) for _, b in pairs],
    )
    random_weights = any(i.random_weights for i in infos)
    out = agreement_to_json(stats) | {
        "utterances": len(common),
        "random_weights": random_weights,
        "codecs": [i.name for i in infos],
    }
    write_json(out, stats_out)
    save_npz(confusion_out, {"confusion": np.asarray(stats["confusion"])}, compressed=False)
    figure2(np.asarray(stats["confusion"]), _stem(figure_out), random_weights=random_weights)


def _ids_codes(shard: Any) -> tuple[list[str], list[np.ndarray]]:
    return shard.utt_ids, shard.codes


# ------------------------------------------------------------------------------- the report's first page


def _cell(value: Any, digits: str = "{:.3g}") -> str:
    from nacbench.tables import format_cell

    return format_cell(value, digits)


def _read_csv(path: str | Path) -> pd.DataFrame:
    return read_csv(path, comment="#")  # write_table puts its notes on leading "#" lines


def report_page(
    info_paths: Sequence[str],
    summary_path: str | None,
    breakdown_path: str | None,
    table2_path: str | None,
    out: str,
) -> dict[str, Any]:
    """The headline numbers the HTML report opens with (``workflow/report/workflow.rst``), as json.

    Study A: per codec, its weights, clean STOI/PESQ, STOI at the largest tested P_flip not above 10 %
    (the paper's "intelligible up to 10 % flipped bits") and the STOI break-down P_flip. Study B: Table 2's
    rows. Numbers are pre-formatted text, so the page template only places them.
    """
    from nacbench.tables import PUBLISHED, RANDOM_INIT

    infos = {info.name: info for info in (CodecInfo.read(p) for p in info_paths)}
    page: dict[str, Any] = {
        "random_codecs": sorted(n for n, i in infos.items() if i.random_weights),
        "published_codecs": sorted(n for n, i in infos.items() if not i.random_weights),
        "study_a": None,
        "study_b": None,
    }
    if summary_path:
        summary = _read_csv(summary_path)
        breakdown = _read_csv(breakdown_path) if breakdown_path else pd.DataFrame()
        bsc = summary[summary["model"] == "bsc"]
        tested = sorted(bsc["p_flip"].unique())
        within = [p for p in tested if p <= 0.1] or tested[:1]
        p_at = within[-1] if within else None
        codecs = []
        for codec, rows in summary.groupby("codec", sort=False):
            clean = rows[rows["model"] == "clean"]
            at = rows[(rows["model"] == "bsc") & (rows["p_flip"] == p_at)]
            stoi_break = (
                breakdown[(breakdown["codec"] == codec) & (breakdown["metric"] == "stoi")]
                if not breakdown.empty
                else breakdown
            )
            point = "n/a"
            if not stoi_break.empty:
                first = stoi_break.iloc[0]
                point = (
                    _cell(first["p_breakdown"]) if pd.notna(first["p_breakdown"]) else str(first["reason"])
                )
            info = infos.get(str(codec))
            codecs.append(
                {
                    "codec": str(codec),
                    "name": info.display_name if info else str(codec),
                    "weights": RANDOM_INIT if info and info.random_weights else PUBLISHED,
                    "clean_stoi": _cell(clean["stoi_mean"].iloc[0])
                    if "stoi_mean" in clean and len(clean)
                    else "n/a",
                    "clean_pesq": _cell(clean["pesq_mean"].iloc[0])
                    if "pesq_mean" in clean and len(clean)
                    else "n/a",
                    "stoi_at": _cell(at["stoi_mean"].iloc[0]) if "stoi_mean" in at and len(at) else "n/a",
                    "breakdown_stoi": point,
                }
            )
        page["study_a"] = {
            "utterances": int(summary["n_utterances"].max()) if len(summary) else 0,
            "p_flip": [_cell(p) for p in tested],
            "p_at": _cell(p_at),
            "codecs": codecs,
        }
    if table2_path:
        table = _read_csv(table2_path)
        page["study_b"] = {
            "rows": [
                {
                    "encoder": str(row["Encoder"]),
                    "decoder": str(row["Decoder"]),
                    "wer": _cell(row["WER (%)"]),
                    "stoi": _cell(row["STOI"]),
                    "pesq": _cell(row["PESQ"]),
                    "weights": str(row["Weights"]),
                }
                for _, row in table.iterrows()
            ]
        }
    write_json(page, out)
    return page


def read_report_page(path: str | Path) -> dict[str, Any]:
    """The headline json for the report's opening page, or an empty page before the run wrote it."""
    try:
        return dict(read_json(path))
    except (OSError, ValueError):
        return {}


#: what the packet-loss table's break-down column means
PACKET_LOSS_NOTE = (
    "fer_breakdown: the nominal frame erasure rate at which the pooled mean first falls the margin "
    "below clean (log-FER interpolation), 95% cluster-bootstrap CI over utterances; realised rates and "
    "bursts are in packet_loss_summary"
)


def packet_loss_report(
    scores_path: str,
    info_paths: Sequence[str],
    conditions: Mapping[str, Sequence[str]],
    figure_out: Sequence[str],
    table_out: Sequence[str],
    summary_out: Sequence[str],
    metrics: Sequence[str],
    margins: Mapping[str, float],
    n_boot: int,
    seed: int,
    random_weights: Mapping[str, bool],
) -> None:
    """The packet-loss study (:mod:`nacbench.packet_loss`): its figure, its break-down table and its
    summary, over each codec's own conditions (``conditions``: codec -> channels).

    ``tables/packet_loss`` holds the break-down FER per codec x concealment x loss model (i.i.d.;
    Gilbert per mean burst) for every metric of ``metrics`` with a margin; ``tables/packet_loss_summary``
    the mean and 95 % CI of every metric per condition with the realised loss rate and mean burst
    beside the nominal ones (:func:`nacbench.packet_loss.realised_losses`).
    """
    from nacbench.analysis.breakdown import breakdown_pflip
    from nacbench.packet_loss import PACKET_EXTRAS, realised_losses
    from nacbench.plots import figure_packet_loss
    from nacbench.tables import summary_table, write_table

    infos, tidy = checked_infos(info_paths, random_weights), checked_scores(scores_path, random_weights)
    ran = {(codec, channel) for codec, channels in conditions.items() for channel in channels}
    tidy = tidy[pd.Series(list(zip(tidy["codec"], tidy["channel"], strict=True)), index=tidy.index).isin(ran)]
    names = display_names(infos)
    figure_packet_loss(tidy, _stem(figure_out), metrics, names, n_boot=n_boot, seed=seed)
    present = [m for m in metrics if m in scored_metrics(tidy)]
    frames = [
        breakdown_pflip(
            tidy,
            metric=m,
            margin=float(margins[m]),
            n_boot=n_boot,
            seed=seed,
            channel_model=model,
            by=("codec", "dataset", "concealment", "burst_length"),
            x="fer",
            condition_by=("concealment", "burst_length"),
        ).assign(model=model)
        for m in present
        if m in margins
        for model in ("iid", "gilbert")
        if (tidy["model"] == model).any()
    ]
    breakdown = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    breakdown = breakdown.rename(columns={"p_breakdown": "fer_breakdown", "p_tested": "fer_tested"})
    if not breakdown.empty:
        first = ["codec", "dataset", "model", "burst_length", "concealment"]
        breakdown = breakdown[first + [c for c in breakdown.columns if c not in first]]
    write_table(
        breakdown, _stem(table_out), "Packet loss: break-down frame erasure rate", notes=[PACKET_LOSS_NOTE]
    )
    summary = summary_table(tidy, present, n_boot=n_boot, seed=seed).drop(columns=["p_flip"], errors="ignore")
    if all(c in tidy.columns for c in PACKET_EXTRAS):
        keys = [
            c
            for c in ("codec", "dataset", "model", "burst_length", "fer", "concealment")
            if c in summary.columns
        ]
        realised = pd.DataFrame(
            [
                {**dict(zip(keys, k, strict=True)), **realised_losses(g)}
                for k, g in tidy.groupby(keys, dropna=False)
            ]
        )
        summary = summary.merge(realised, on=keys, how="left")
    write_table(summary, _stem(summary_out), "Packet loss: mean and 95% CI per codec and condition")
