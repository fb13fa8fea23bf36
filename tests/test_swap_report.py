"""Quantizer swap report: paired differences, the per-codec table, break-down vs bits, its figures and
report, and Figure 3's error-axis option, on small synthetic score tables built here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nacbench.analysis.breakdown import REASON_NEVER
from nacbench.analysis.summary import mean_ci
from nacbench.analysis.swap import SECTIONS, long_table, paired_differences, rate_breakdown, swap_table
from nacbench.artifacts import write_parquet
from nacbench.channel import flipped_bits_per_second, frame_error_rate
from nacbench.codecs.base import RANDOM_WEIGHTS_LABEL
from nacbench.plots import (
    NO_RATE_SWEEP,
    QUANTIZER_STYLES,
    RANDOM_LINESTYLE,
    figure3,
    figure_quantizer_swap,
    figure_rate_robustness,
)
from nacbench.report import SWAP_IN_SAMPLE_NOTE, quantizer_swap_report

P_GRID = (0.001, 0.01, 0.1)
SEEDS = (0, 1)
QUANTIZERS = ("native", "fsq", "rvq")


def codec_name(quantizer: str, bits: int, native_bits: int = 120) -> str:
    return "lyra" if quantizer == "native" and bits == native_bits else f"lyra~{quantizer}{bits}"


def study(sweep: tuple[int, ...] = ()) -> list[dict]:
    """:func:`nacbench.swap.study_rows` of Lyra at its native 120 bits, plus rate-sweep budgets."""
    rows = []
    for bits in dict.fromkeys([120, *sweep]):
        for q in QUANTIZERS:
            rows.append(
                {
                    "codec": codec_name(q, bits),
                    "base": "lyra",
                    "quantizer": q,
                    "bits": bits,
                    "main": bits == 120,
                    "sweep": bits in sweep,
                }
            )
    return rows


def score_table(
    rows: list[dict],
    slopes: dict[tuple[str, int], float],
    n_utts: int = 3,
    utterance_spread: float = 0.05,
    shared_noise: float = 0.0,
    own_noise: float = 0.0,
    random: tuple[str, ...] = (),
    extra: dict[str, list[tuple[float, int]]] | None = None,
) -> pd.DataFrame:
    """Tidy scores: STOI = utterance level - slope x (log10 p + 3) + noise. ``shared_noise`` is the same
    for every quantizer at one (utterance, P_flip, seed), as the common bit errors make it; ``extra``
    adds (P_flip, seed) conditions to some codecs."""
    rng = np.random.default_rng(7)
    shared = {
        (u, p, s): rng.normal(0.0, shared_noise) if shared_noise else 0.0
        for u in range(n_utts)
        for p in (*P_GRID, 0.5)
        for s in SEEDS
    }
    records = []
    for row in rows:
        slope = slopes[(row["quantizer"], row["bits"])]
        conditions = [(p, s) for p in P_GRID for s in SEEDS] + list((extra or {}).get(row["codec"], []))
        for u in range(n_utts):
            level = 0.9 - utterance_spread * u
            common = {
                "codec": row["codec"],
                "dataset": "libri",
                "shard": "0",
                "utt_id": f"u{u}",
                "random_weights": row["codec"] in random,
                "error": "",
            }
            clean = {"stoi": level, "pesq": 3.0 + level, "si_sdr": 10 * level, "mel_mse": 1 - level}
            for labelling in ("natural", "gray"):  # clean rows filed under two labellings: counted once
                records.append(
                    {**common, "model": "clean", "p_flip": 0.0, "seed": -1, "labelling": labelling, **clean}
                )
            for p, s in conditions:
                drop = slope * (np.log10(p) + 3) + shared[(u, p, s)] + rng.normal(0.0, own_noise or 1e-12)
                stoi = level - drop
                records.append(
                    {**common, "model": "bsc", "p_flip": p, "seed": s, "labelling": "natural"}
                    | {"stoi": stoi, "pesq": 3.0 + stoi, "si_sdr": 10 * stoi, "mel_mse": 1 - stoi}
                )
    return pd.DataFrame(records)


MAIN_SLOPES = {("native", 120): 0.15, ("fsq", 120): 0.03, ("rvq", 120): 0.1}


# ------------------------------------------------------------------------------- paired differences


def test_paired_difference_is_the_difference_of_means_with_complete_pairs():
    rows = study()
    tidy = score_table(rows, MAIN_SLOPES, own_noise=0.01)
    diffs = paired_differences(tidy, rows, "stoi", n_boot=200, seed=3)
    assert set(diffs["comparison"]) == {"fsq - rvq", "native - fsq", "native - rvq"}
    assert sorted(diffs["p_flip"].unique()) == [0.0, *P_GRID]
    natural = tidy[(tidy["labelling"] == "natural") | (tidy["model"] == "clean")]
    for _, row in diffs.iterrows():

        def mean(codec, row=row):
            sel = natural[(natural["codec"] == codec) & (natural["p_flip"] == row["p_flip"])]
            if row["p_flip"] == 0:
                sel = sel.drop_duplicates(["utt_id"])
            return sel["stoi"].mean()

        assert row["diff"] == pytest.approx(mean(row["codec_a"]) - mean(row["codec_b"]), abs=1e-12)
        assert row["ci_low"] <= row["diff"] <= row["ci_high"]
        assert row["n_utterances"] == 3
        assert row["n_pairs"] == (3 if row["p_flip"] == 0 else 3 * len(SEEDS))
    at = diffs[(diffs["comparison"] == "fsq - rvq") & (diffs["p_flip"] == 0.1)].iloc[0]
    assert at["diff"] == pytest.approx((0.1 - 0.03) * 2, abs=0.02)
    assert at["favours"] == "fsq" and at["higher_is_better"]


def test_paired_difference_is_seed_reproducible():
    rows = study()
    tidy = score_table(rows, MAIN_SLOPES, own_noise=0.02)
    first = paired_differences(tidy, rows, "stoi", n_boot=200, seed=11)
    pd.testing.assert_frame_equal(first, paired_differences(tidy, rows, "stoi", n_boot=200, seed=11))
    other = paired_differences(tidy, rows, "stoi", n_boot=200, seed=12)
    perturbed = first["p_flip"] > 0
    assert np.allclose(first["diff"], other["diff"])
    assert not np.allclose(first.loc[perturbed, "ci_low"], other.loc[perturbed, "ci_low"])


def test_paired_interval_is_narrower_than_unpaired_when_scores_are_correlated():
    """Utterances differ a lot and the channel's draw moves every quantizer alike: the pairing cancels
    both, two separate means do not."""
    rows = study()
    tidy = score_table(rows, MAIN_SLOPES, n_utts=8, utterance_spread=0.06, shared_noise=0.05, own_noise=0.005)
    diffs = paired_differences(tidy, rows, "stoi", n_boot=400, seed=0)
    row = diffs[(diffs["comparison"] == "fsq - rvq") & (diffs["p_flip"] == 0.01)].iloc[0]
    sel = tidy[(tidy["model"] == "bsc") & (tidy["p_flip"] == 0.01)]
    each = mean_ci(sel, ["codec"], "stoi", n_boot=400, seed=0).set_index("codec")
    half = (each["ci_high"] - each["ci_low"]) / 2
    unpaired = 2 * np.hypot(half[row["codec_a"]], half[row["codec_b"]])
    assert row["ci_high"] - row["ci_low"] < 0.3 * unpaired


def test_paired_difference_drops_incomplete_pairs_and_follows_metric_direction():
    rows = study()
    tidy = score_table(rows, MAIN_SLOPES, own_noise=0.01)
    gone = (tidy["codec"] == "lyra~fsq120") & (tidy["p_flip"] == 0.1) & (tidy["utt_id"] == "u0")
    tidy.loc[gone & (tidy["seed"] == 0), "mel_mse"] = np.nan
    tidy = tidy[~(gone & (tidy["seed"] == 1))]
    diffs = paired_differences(tidy, rows, "mel_mse", n_boot=100)
    row = diffs[(diffs["comparison"] == "fsq - rvq") & (diffs["p_flip"] == 0.1)].iloc[0]
    assert row["n_pairs"] == 3 * len(SEEDS) - 2 and row["n_utterances"] == 2
    # mel-MSE is lower-is-better: FSQ's lower error is FSQ's win, whatever the sign of the difference
    assert row["diff"] < 0 and not row["higher_is_better"] and row["favours"] == "fsq"


def test_paired_difference_rejects_duplicate_scores():
    rows = study()
    tidy = score_table(rows, MAIN_SLOPES)
    dup = tidy[(tidy["codec"] == "lyra~rvq120") & (tidy["model"] == "bsc")].iloc[:1]
    with pytest.raises(ValueError, match="duplicate"):
        paired_differences(pd.concat([tidy, dup]), rows, "stoi", n_boot=10)


# ------------------------------------------------------------------------------------------- tables


def test_swap_table_one_row_per_main_codec_and_long_layout():
    rows = study(sweep=(16, 120))
    slopes = MAIN_SLOPES | {(q, 16): 0.2 for q in QUANTIZERS}
    tidy = score_table(rows, slopes, random=("lyra~rvq120",))
    codecs, diffs = swap_table(tidy, rows, ["stoi", "pesq"], {"stoi": 0.1}, n_boot=50)
    assert list(codecs["codec"]) == ["lyra", "lyra~fsq120", "lyra~rvq120"]
    assert list(codecs["quantizer"]) == list(QUANTIZERS)
    assert codecs["stoi_clean"].to_numpy() == pytest.approx(0.85)
    assert "pesq_p_breakdown" not in codecs and "stoi_p_breakdown" in codecs
    # native: 0.1 / 0.15 decades above 1e-3; RVQ at 1e-2; FSQ never within the tested range
    assert codecs["stoi_p_breakdown"].iloc[0] == pytest.approx(10 ** (0.1 / 0.15 - 3), rel=1e-6)
    assert codecs["stoi_p_breakdown"].iloc[2] == pytest.approx(0.01, rel=1e-6)
    assert np.isnan(codecs["stoi_p_breakdown"].iloc[1])
    assert REASON_NEVER in codecs["stoi_p_breakdown_note"].iloc[1]
    assert list(codecs["random_weights"]) == [False, False, True]
    assert set(diffs["metric"]) == {"stoi"}
    rate = rate_breakdown(tidy, rows, "stoi", 0.1, n_boot=20)
    table = long_table(codecs, diffs, rate)
    assert list(dict.fromkeys(table["section"])) == list(SECTIONS)
    assert len(table) == 3 * 2 + 3 + len(diffs) + len(rate)
    assert table.loc[table["section"] == "paired difference", "random_weights"].sum() == 2 * (1 + len(P_GRID))


def test_rate_breakdown_picks_each_budget_on_common_conditions():
    rows = study(sweep=(16, 32, 120))
    # break-down 0.1 below clean: at p = 10^(0.1/slope - 3)
    slopes = {(q, 16): 0.12 for q in QUANTIZERS} | {(q, 32): 0.06 for q in QUANTIZERS}
    slopes |= {("native", 120): 0.02, ("fsq", 120): 0.02, ("rvq", 120): 0.02}
    # the main budget also ran P_flip 0.5, where it would break down: not a condition of the sweep
    extra = {codec_name(q, 120): [(0.5, 0), (0.5, 1)] for q in QUANTIZERS}
    tidy = score_table(rows, slopes, extra=extra)
    result = rate_breakdown(tidy, rows, "stoi", 0.1, n_boot=50)
    assert list(result["bits"]) == [16, 32, 120] * 3
    assert list(result["quantizer"]) == [q for q in QUANTIZERS for _ in range(3)]
    by_bits = result[result["quantizer"] == "fsq"].set_index("bits")
    assert by_bits.loc[16, "p_breakdown"] == pytest.approx(10 ** (0.1 / 0.12 - 3), rel=1e-6)
    assert by_bits.loc[32, "p_breakdown"] == pytest.approx(10 ** (0.1 / 0.06 - 3), rel=1e-6)
    assert np.isnan(by_bits.loc[120, "p_breakdown"]) and by_bits.loc[120, "reason"] == REASON_NEVER
    assert set(result["p_tested"]) == {"0.001,0.01,0.1"}
    assert rate_breakdown(tidy, study(), "stoi", 0.1).empty  # no sweep budgets: no rows


# ------------------------------------------------------------------------------------------ figures


def assert_written(stem: Path) -> None:
    for ext in ("pdf", "png"):
        path = stem.with_name(stem.name + "." + ext)
        assert path.is_file() and path.stat().st_size > 1000, path


def test_figure_quantizer_swap_panels_styles_and_random_marks(tmp_path):
    rows = study()
    tidy = score_table(rows, MAIN_SLOPES, random=("lyra~rvq120",))
    stem = tmp_path / "swap"
    fig = figure_quantizer_swap(tidy, rows, stem, n_boot=20, notes=["a note"])
    assert_written(stem)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 3  # one main budget x three metrics
    assert all(ax.get_xscale() == "log" for ax in axes)
    # one random codec among real ones: its curve says so, the panel does not
    assert "(random weights)" not in axes[0].get_title()
    assert not any(RANDOM_WEIGHTS_LABEL in t.get_text() for ax in axes for t in ax.texts)
    legend = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert "dotted: (random weights)" in legend
    lines = {line.get_label(): line for line in axes[0].get_lines() if not line.get_label().startswith("_")}
    fsq, rvq = lines["post-hoc FSQ"], lines["post-hoc RVQ (random weights)"]
    assert fsq.get_color() == QUANTIZER_STYLES["fsq"].colour and fsq.get_marker() == "s"
    assert fsq.get_linestyle() == "-" and rvq.get_linestyle() == RANDOM_LINESTYLE
    assert np.allclose(fsq.get_xdata(), P_GRID)
    dashed = [line for line in axes[0].get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 3 and np.allclose(dashed[0].get_ydata(), 0.85)
    assert "a note" in fig.get_suptitle()
    every = score_table(rows, MAIN_SLOPES, random=tuple(r["codec"] for r in rows))
    fig = figure_quantizer_swap(every, rows, tmp_path / "random", metrics=("stoi",), n_boot=0)
    assert "(random weights)" in fig.axes[0].get_title()
    assert any(RANDOM_WEIGHTS_LABEL in t.get_text() for t in fig.axes[0].texts)


def test_figure_rate_robustness_marks_never_with_an_arrow_and_writes_without_sweep(tmp_path):
    rows = study(sweep=(16, 32, 120))
    slopes = {(q, 16): 0.1 for q in QUANTIZERS} | {(q, 32): 0.05 for q in QUANTIZERS}
    slopes |= {(q, 120): 0.02 for q in QUANTIZERS}
    breakdown = rate_breakdown(score_table(rows, slopes), rows, "stoi", 0.1, n_boot=20)
    stem = tmp_path / "rate"
    fig = figure_rate_robustness(breakdown, stem)
    assert_written(stem)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    arrows = [line for line in ax.get_lines() if line.get_marker() == "^"]
    assert len(arrows) == 3 and all(np.allclose(a.get_ydata(), 0.2) for a in arrows)  # 2 x largest p
    legend = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert any("never breaks down" in text for text in legend)
    empty = figure_rate_robustness(breakdown.iloc[:0], tmp_path / "none")
    assert_written(tmp_path / "none")
    assert any(NO_RATE_SWEEP in t.get_text() for t in empty.axes[0].texts)


def test_figure3_frame_error_rate_axis(tmp_path, monkeypatch):
    monkeypatch.setattr("nacbench.plots.save_figure", lambda fig, stem: {})  # the lines are what counts
    rows = study()
    tidy = score_table(rows, MAIN_SLOPES)
    tidy = tidy[tidy["codec"].isin(["lyra", "lyra~fsq120"])]
    rates = {"lyra": (120, 6000.0), "lyra~fsq120": (16, 800.0)}  # not the study's: tells the codecs apart
    fig = figure3(
        tidy, tmp_path / "f3", metrics=("stoi",), n_boot=10, x_axis="frame_error_rate", codec_rates=rates
    )
    ax = fig.axes[0]
    assert "frame error rate" in ax.get_xlabel()
    for codec, (bits, _) in rates.items():
        (line,) = [line for line in ax.get_lines() if line.get_label() == codec]
        assert np.allclose(line.get_xdata(), [frame_error_rate(p, bits) for p in P_GRID])
    fig = figure3(
        tidy, tmp_path / "f3b", metrics=("stoi",), n_boot=0, x_axis="flipped_bits_per_s", codec_rates=rates
    )
    (line,) = [line for line in fig.axes[0].get_lines() if line.get_label() == "lyra~fsq120"]
    assert np.allclose(line.get_xdata(), [flipped_bits_per_second(p, 800.0) for p in P_GRID])
    default = figure3(tidy, tmp_path / "f3c", metrics=("stoi",), n_boot=0)
    (line,) = [line for line in default.axes[0].get_lines() if line.get_label() == "lyra"]
    assert np.allclose(line.get_xdata(), P_GRID)
    with pytest.raises(KeyError, match="lyra~fsq120"):
        figure3(
            tidy,
            tmp_path / "f3d",
            metrics=("stoi",),
            n_boot=0,
            x_axis="frame_error_rate",
            codec_rates={"lyra": (120, 6000.0)},
        )


# ------------------------------------------------------------------------------------------- report


def outputs(tmp_path: Path, name: str, exts: tuple[str, ...]) -> list[str]:
    return [str(tmp_path / f"{name}.{ext}") for ext in exts]


@pytest.mark.parametrize("sweep", [(16, 120), ()])
def test_quantizer_swap_report_writes_everything_with_notes(tmp_path, sweep):
    rows = study(sweep=sweep)
    slopes = MAIN_SLOPES | {(q, 16): 0.2 for q in QUANTIZERS}
    tidy = score_table(rows, slopes, random=("lyra~fsq120", "lyra~fsq16"))
    scores = tmp_path / "scores.parquet"
    write_parquet(tidy, scores)
    figure_out = outputs(tmp_path, "figures/quantizer_swap", ("pdf", "png"))
    table_out = outputs(tmp_path, "tables/quantizer_swap", ("csv", "md", "tex"))
    rate_out = outputs(tmp_path, "figures/quantizer_swap_rate", ("pdf", "png"))
    quantizer_swap_report(
        str(scores),
        rows,
        figure_out,
        table_out,
        rate_out,
        margins={"stoi": 0.1, "pesq": 0.3},
        n_boot=20,
        seed=0,
        random_weights={"lyra~fsq120": True, "lyra": False},
        in_sample=True,
    )
    for path in [*figure_out, *table_out, *rate_out]:
        assert Path(path).is_file() and Path(path).stat().st_size > 0, path
    md = Path(table_out[1]).read_text()
    assert SWAP_IN_SAMPLE_NOTE in md and RANDOM_WEIGHTS_LABEL in md
    table = pd.read_csv(table_out[0], comment="#")
    sections = list(dict.fromkeys(table["section"]))
    assert sections == list(SECTIONS if sweep else SECTIONS[:3])
    assert set(table.loc[table["section"] == "break-down", "metric"]) == {"stoi", "pesq"}
    csv_notes = [line for line in Path(table_out[0]).read_text().splitlines() if line.startswith("#")]
    assert any(RANDOM_WEIGHTS_LABEL in line for line in csv_notes)
