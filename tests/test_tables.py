"""Report tables: Table 3's bit budgets, Table 2's unavailable rows, summaries, and the written files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nacbench.codecs.base import RANDOM_WEIGHTS_LABEL, CodecInfo
from nacbench.tables import (
    UNAVAILABLE,
    failure_counts,
    summary_table,
    table2,
    table3,
    table_notes,
    tex_escape,
    write_table,
)


def infos() -> list[CodecInfo]:
    return [
        CodecInfo("neucodec", "NeuCodec", 16000, 24000, 50.0, (65536,), "fsq", fsq_levels=(4,) * 8),
        CodecInfo(
            "stablecodec", "StableCodec", 16000, 16000, 25.0, (65536,), "fsq", fsq_levels=(8, 8, 8, 8, 4, 4)
        ),
        CodecInfo("dac", "DAC", 24000, 24000, 75.0, (1024,) * 6, "rvq", random_weights=True),
        CodecInfo("encodec", "EnCodec", 24000, 24000, 75.0, (1024,) * 12, "rvq"),
    ]


def test_table3_bit_budgets():
    t = table3(infos()).set_index("Model")
    assert list(t.index) == ["NeuCodec", "StableCodec", "DAC", "EnCodec"]
    assert t.loc["NeuCodec", "Bitrate (kbps)"] == pytest.approx(0.8)  # 16 bits x 50 Hz
    assert t.loc["StableCodec", "Bitrate (kbps)"] == pytest.approx(0.4)  # 16 bits x 25 Hz
    assert t.loc["DAC", "Bitrate (kbps)"] == pytest.approx(4.5)  # 6 x 10 bits x 75 Hz
    assert t.loc["EnCodec", "Bitrate (kbps)"] == pytest.approx(9.0)  # 12 x 10 bits x 75 Hz
    assert t["Rate (kHz)"].tolist() == [24, 16, 24, 24]
    assert t["Quantizer"].tolist() == ["FSQ", "FSQ", "RVQ", "RVQ"]
    assert t["Codebooks"].tolist() == [1, 1, 6, 12]
    assert t["Bits/frame"].tolist() == [16, 16, 60, 120]
    assert t.loc["DAC", "Weights"] == "random init"
    assert t.loc["EnCodec", "Weights"] == "published"


def test_write_table_formats_and_notes(tmp_path):
    t = table3(infos())
    t["note_col"] = ["50% of_frames", "", "", ""]
    paths = write_table(
        t, tmp_path / "sub" / "table3", "Compared FSQ & RVQ models", notes=["bits from sizes"]
    )
    assert {p.suffix for p in paths.values()} == {".csv", ".md", ".tex"}
    md = paths["md"].read_text()
    tex = paths["tex"].read_text()
    csv = paths["csv"].read_text()
    for text in (md, tex, csv):
        assert RANDOM_WEIGHTS_LABEL in text  # added automatically: a row has random weights
        assert "bits from sizes" in text
    assert "| NeuCodec" in md and "Compared FSQ & RVQ models" in md
    assert r"\toprule" in tex and r"\bottomrule" in tex and r"\caption{Compared FSQ \& RVQ models}" in tex
    assert r"50\% of\_frames" in tex and "note\\_col" in tex
    assert "50% of_frames" not in tex
    back = pd.read_csv(paths["csv"], comment="#")
    np.testing.assert_allclose(back["Bitrate (kbps)"], [0.8, 0.4, 4.5, 9.0])


def test_random_note_names_the_random_rows_only(tmp_path):
    """Lyra and Codec2 beside random-weight codecs: the warning covers the random rows, not the table."""
    mixed = table3(infos())  # DAC random, the rest published
    note = next(n for n in table_notes(mixed) if RANDOM_WEIGHTS_LABEL in n)
    assert "1 of 4 rows with Weights = random init" in note
    all_random = table3([replace(i, random_weights=True) for i in infos()])
    assert table_notes(all_random) == [RANDOM_WEIGHTS_LABEL]
    summary = summary_table(tidy_rows(), n_boot=20)
    md = write_table(summary, tmp_path / "summary", "summary")["md"].read_text()
    assert "2 of 4 rows with random_weights = yes" in md
    # each row says which it is
    flags = [line.rsplit("|", 2)[1].strip() for line in md.splitlines() if line.startswith("| ")][1:]
    assert sorted(flags) == ["no", "no", "yes", "yes"]


def test_write_table_without_random_rows_has_no_warning(tmp_path):
    t = table3(infos()[:1])
    paths = write_table(t, tmp_path / "t", "caption")
    assert RANDOM_WEIGHTS_LABEL not in paths["md"].read_text()
    assert not paths["csv"].read_text().startswith("#")


def test_tex_escape_is_single_pass():
    assert tex_escape(r"a_b%c\d") == r"a\_b\%c\textbackslash{}d"


def test_table2_explains_its_parameter_columns_by_module():
    params = {
        "acoustic": 38_462_480,
        "semantic": 593_078_000,
        "parts": {
            "acoustic_encoder.CodecEnc": 38_462_480,
            "semantic_encoder.semantic_model": 580_493_120,
            "semantic_encoder.SemanticEncoder_module": 12_584_880,
        },
        "encoder_total": 635_753_000,
        "semantic_note": "counted on the full facebook/w2v-bert-2.0 architecture (meta device)",
    }
    rows = [
        {"encoder": "NeuCodec", "decoder": d, "params": params, "available": False, "reason": "r"}
        for d in ("16kHz", "24kHz")
    ]
    notes = [n for n in table2(rows).attrs["notes"] if "parameters (M)" in n]
    assert notes == [
        "NeuCodec encoder parameters (M): acoustic 38.46 = CodecEnc 38.46; semantic 593.08 = "
        "semantic_model 580.49 + SemanticEncoder_module 12.58; with the fusion layer and the FSQ input "
        "projection 635.75 (semantic model counted on the full facebook/w2v-bert-2.0 architecture "
        "(meta device))"
    ]


def test_table2_keeps_unavailable_rows_empty(tmp_path):
    rows = [
        {
            "encoder": "NeuCodec",
            "decoder": "16kHz",
            "params": {"acoustic": 35_000_000, "semantic": 600_000_000},
            "wer": 2.3,
            "cer": 0.9,
            "stoi": 0.9,
            "pesq": 2.06,
            "enc_rtf": 0.018,
            "device": "cpu",
            "asr_model": "whisper-large-v3",
            "random_weights": True,
            "available": True,
        },
        {
            "encoder": "Distilled",
            "decoder": "24kHz",
            "params": {"acoustic": 21_000_000, "semantic": 21_000_000},
            "wer": 9.9,  # must not appear: the row is unavailable
            "device": "cpu",
            "asr_model": "whisper-large-v3",
            "random_weights": False,
            "available": False,
            "reason": "24 kHz decoder not on the hub mirror",
        },
    ]
    t = table2(rows)
    expected = ["Encoder", "Decoder", "Acoustic (M)", "Semantic (M)", "Total (M)", "WER (%)", "CER (%)"]
    assert list(t.columns)[:7] == expected
    assert list(t.columns)[7:] == ["STOI", "PESQ", "encRTF", "Device", "ASR model", "Weights"]
    assert t.loc[0, "Total (M)"] == pytest.approx(635.0)
    assert t.loc[1, "Total (M)"] == pytest.approx(42.0)
    assert t.loc[0, "WER (%)"] == pytest.approx(2.3)
    for col in ("WER (%)", "CER (%)", "STOI", "PESQ", "encRTF"):
        assert t.loc[1, col] == UNAVAILABLE
    assert t.loc[1, "Weights"] == UNAVAILABLE and t.loc[0, "Weights"] == "random init"
    paths = write_table(t, tmp_path / "table2", "Table 2")
    md = paths["md"].read_text()
    assert "9.9" not in md
    assert "24 kHz decoder not on the hub mirror" in md and RANDOM_WEIGHTS_LABEL in md
    assert r"WER (\%)" in paths["tex"].read_text()


def tidy_rows() -> pd.DataFrame:
    rows = []
    for codec in ("dac", "neucodec"):
        for u in range(4):
            common = {"codec": codec, "dataset": "libri", "utt_id": f"u{u}", "random_weights": codec == "dac"}
            rows.append(
                {
                    **common,
                    "channel": "clean",
                    "model": "clean",
                    "p_flip": 0.0,
                    "seed": -1,
                    "labelling": "natural",
                }
                | {"stoi": 0.9 + 0.01 * u, "pesq": 3.0, "si_sdr": 10.0, "mel_mse": 0.1, "error": ""}
            )
            for seed in (0, 1):
                short = u == 0 and codec == "dac"
                rows.append(
                    {**common, "channel": f"bsc-p0.1-seed{seed}", "model": "bsc", "p_flip": 0.1, "seed": seed}
                    | {"labelling": "natural", "stoi": 0.5 + 0.1 * seed, "si_sdr": 1.0, "mel_mse": 0.5}
                    | {
                        "pesq": np.nan if short else 2.0,
                        "error": "pesq: BufferTooShortError" if short else "",
                    }
                )
    return pd.DataFrame(rows)


def test_failure_counts():
    f = failure_counts(tidy_rows())
    row = f[(f["codec"] == "dac") & (f["channel"] == "bsc-p0.1-seed0")].iloc[0]
    assert row["n_rows"] == 4 and row["nan_pesq"] == 1 and row["nan_stoi"] == 0
    assert row["reasons"] == "pesq: BufferTooShortError"
    clean = f[(f["codec"] == "neucodec") & (f["channel"] == "clean")].iloc[0]
    assert clean["nan_pesq"] == 0 and clean["reasons"] == ""
    assert bool(row["random_weights"]) and not bool(clean["random_weights"])  # marked per row


def test_failure_counts_report_out_of_range_indices_and_policy():
    tidy = tidy_rows()
    noisy = tidy["channel"] == "bsc-p0.1-seed0"
    tidy["out_of_range"] = np.where(noisy, np.arange(len(tidy)) % 3, 0)  # 0, 1, 2, ... per utterance
    tidy["out_of_range_policy"] = np.where(tidy["model"] == "clean", "n/a", "clamp")
    f = failure_counts(tidy).set_index(["codec", "channel"])
    expected = tidy[noisy & (tidy["codec"] == "dac")]["out_of_range"]
    row = f.loc[("dac", "bsc-p0.1-seed0")]
    assert row["utterances_out_of_range"] == int((expected > 0).sum()) > 0
    assert row["indices_out_of_range"] == int(expected.sum()) and row["out_of_range_policy"] == "clamp"
    clean = f.loc[("dac", "clean")]
    assert clean["indices_out_of_range"] == 0 and clean["out_of_range_policy"] == "n/a"
    assert "utterances_out_of_range" not in failure_counts(tidy_rows()).columns  # older tables: no columns


def test_summary_table_means_and_intervals():
    s = summary_table(tidy_rows(), n_boot=200)
    assert len(s) == 4  # 2 codecs x (clean, bsc 0.1)
    bsc = s[(s["codec"] == "neucodec") & (s["model"] == "bsc")].iloc[0]
    assert bsc["stoi_mean"] == pytest.approx(0.55)
    assert bsc["n_utterances"] == 4
    clean = s[(s["codec"] == "neucodec") & (s["model"] == "clean")].iloc[0]
    assert clean["stoi_mean"] == pytest.approx(0.915)
    assert (
        clean["stoi_ci_low"] <= 0.915 <= clean["stoi_ci_high"]
        and clean["stoi_ci_low"] < clean["stoi_ci_high"]
    )
    dac = s[(s["codec"] == "dac") & (s["model"] == "bsc")].iloc[0]
    assert dac["pesq_mean"] == pytest.approx(2.0)  # the NaN is left out, not counted as 0
    assert bool(dac["random_weights"]) and not bool(bsc["random_weights"])
    for metric in ("stoi", "pesq", "si_sdr", "mel_mse"):
        assert {f"{metric}_mean", f"{metric}_ci_low", f"{metric}_ci_high"} <= set(s.columns)


def test_a_registered_metric_flows_into_the_tables(toy_metric):
    """Adding a metric is one module: registered, it is summarised and counted with no other change,
    after the built-in ones, and its direction from the registry decides its break-down threshold."""
    from nacbench.analysis.breakdown import breakdown_pflip

    tidy = tidy_rows()
    tidy["toy"] = np.where(tidy["model"] == "clean", 1.0, 3.0)
    tidy.loc[0, "toy"] = np.nan
    summary = summary_table(tidy, n_boot=50)
    assert list(summary.columns[-4:-1]) == ["toy_mean", "toy_ci_low", "toy_ci_high"]
    bsc = summary[(summary["codec"] == "neucodec") & (summary["model"] == "bsc")].iloc[0]
    assert bsc["toy_mean"] == pytest.approx(3.0)
    counts = failure_counts(tidy)
    assert [c for c in counts.columns if c.startswith("nan_")][-1] == "nan_toy"
    assert counts["nan_toy"].sum() == 1
    row = breakdown_pflip(tidy, metric="toy", margin=0.5, n_boot=0).iloc[0]
    assert row["threshold"] == pytest.approx(1.5)  # lower is better: clean + margin


def test_tables_ignore_metrics_without_a_column():
    s = summary_table(tidy_rows().drop(columns=["mel_mse"]), n_boot=0)
    assert not any(c.startswith("mel_mse") for c in s.columns)
    assert "nan_mel_mse" not in failure_counts(tidy_rows().drop(columns=["mel_mse"])).columns


def test_report_page_states_the_random_weights_label_verbatim() -> None:
    """workflow.rst cannot import the label, so it carries a copy: this keeps the copy the same words."""
    rst = Path(__file__).resolve().parents[1] / "workflow" / "report" / "workflow.rst"
    assert f"**{RANDOM_WEIGHTS_LABEL}**" in rst.read_text()


def test_error_axes_put_codecs_of_different_bit_budgets_side_by_side() -> None:
    """At P_flip 0.01 a 16-bit frame arrives intact 85 % of the time and a 120-bit frame 30 %."""
    from nacbench.codecs.base import CodecInfo
    from nacbench.tables import with_error_axes

    infos = [
        CodecInfo("fsq16", "FSQ", 16_000, 24_000, 50.0, (2**16,), "fsq"),
        CodecInfo("rvq120", "RVQ", 16_000, 16_000, 50.0, (16,) * 30, "rvq"),
    ]
    summary = pd.DataFrame(
        {
            "codec": ["fsq16", "rvq120", "rvq120"],
            "p_flip": [0.01, 0.01, np.nan],
            "stoi_mean": [0.9, 0.8, 0.95],
        }
    )
    out = with_error_axes(summary, infos)
    assert list(out.columns) == [
        "codec", "p_flip", "bits_per_frame", "frame_error_rate", "flipped_bits_per_s", "stoi_mean",
    ]  # fmt: skip
    assert out.bits_per_frame.tolist() == [16, 120, 120]
    np.testing.assert_allclose(out.frame_error_rate, [1 - 0.99**16, 1 - 0.99**120, 0.0])
    assert round(1 - out.frame_error_rate[0], 2) == 0.85 and round(1 - out.frame_error_rate[1], 2) == 0.30
    np.testing.assert_allclose(out.flipped_bits_per_s, [0.01 * 800, 0.01 * 6000, 0.0])
    with pytest.raises(KeyError, match="other"):
        with_error_axes(pd.DataFrame({"codec": ["other"], "p_flip": [0.1]}), infos)
