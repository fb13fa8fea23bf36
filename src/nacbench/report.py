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

from nacbench.artifacts import load_shard, parse, read_json, read_parquet, save_npz, write_json
from nacbench.codecs.base import Capability, CodecAdapter, CodecInfo
from nacbench.metrics import metric_names

log = logging.getLogger("nacbench")


def _stem(paths: Sequence[str]) -> Path:
    """The common stem of a multiext() output list (``x.pdf``, ``x.png`` -> ``x``)."""
    return Path(str(paths[0])).with_suffix("")


def display_names(info_paths: Sequence[str]) -> dict[str, str]:
    infos = [CodecInfo.read(p) for p in info_paths]
    return {i.name: i.display_name or i.name for i in infos}


def breakdown_all(tidy: pd.DataFrame, margins: Mapping[str, float], n_boot: int, seed: int) -> pd.DataFrame:
    """Break-down P_flip per codec x labelling for every metric that has a margin in config."""
    from nacbench.analysis.breakdown import breakdown_pflip

    frames = [
        breakdown_pflip(tidy, metric=m, margin=float(margin), n_boot=n_boot, seed=seed)
        for m, margin in margins.items()
        if m in tidy.columns
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def study_a_figure(
    scores_path: str, info_paths: Sequence[str], codecs: Sequence[str], outs: Sequence[str], seed: int
) -> None:
    from nacbench.plots import figure3

    tidy = read_parquet(scores_path)
    tidy = tidy[tidy["codec"].isin(codecs)]
    figure3(tidy, _stem(outs), display_names=display_names(info_paths), seed=seed)


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
) -> None:
    """Table 3 from codec metadata, plus the per-condition summary, break-down points and failure counts."""
    from nacbench.tables import failure_counts, summary_table, table3, write_table

    infos = [CodecInfo.read(p) for p in info_paths]
    write_table(
        table3(infos), _stem(table_out), "Compared FSQ and RVQ models (paper Table 3), with bit budgets"
    )
    tidy = read_parquet(scores_path)
    tidy = tidy[tidy["codec"].isin(codecs) & (tidy["labelling"] == "natural")]
    metrics = [m for m in metric_names() if m in tidy.columns]
    write_table(
        summary_table(tidy, metrics, n_boot=n_boot, seed=seed),
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
) -> None:
    """Labelling study: metric vs P_flip per labelling, break-down points, expected distortion table."""
    from nacbench.plots import figure_labelling
    from nacbench.tables import write_table

    tidy = read_parquet(scores_path)
    tidy = tidy[tidy["codec"].isin(codecs)]
    figure_labelling(tidy, _stem(figure_out), metric="stoi", n_boot=n_boot, seed=seed)
    write_table(
        breakdown_all(tidy, margins, n_boot, seed),
        _stem(breakdown_out),
        "Break-down P_flip per codec and index labelling, 95% bootstrap CI",
    )
    distortion = pd.concat(
        [pd.read_csv(p, keep_default_na=True) for p in distortion_paths], ignore_index=True
    )
    write_table(
        distortion.fillna({"per_bit": "", "note": ""}),
        _stem(distortion_out),
        "Expected squared jump in decoder-input space per flipped bit (overall = mean over bit positions)",
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


def encoder_params(info: CodecInfo) -> dict[str, int | None]:
    p = info.parameters
    acoustic, semantic = p.get("acoustic_encoder"), p.get("semantic_encoder")
    total = (acoustic or 0) + (semantic or 0) if acoustic is not None or semantic is not None else None
    return {"acoustic": acoustic, "semantic": semantic, "total": total}


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
) -> None:
    """Table 2 rows from config, and a WER/CER table of every Study B codec next to the clean audio.

    A row without a codec (no public weights) keeps the parameter counts of its encoder, taken from
    another row with the same encoder (the counts come from the modules, not from the weights).
    """
    from nacbench.tables import table2, write_table

    infos = {info.name: info for info in (CodecInfo.read(p) for p in info_paths)}
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
            scores = _concat(_of_codec(metric_paths, codec))
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
