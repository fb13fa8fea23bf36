"""Report figures: files are written, random weights are marked where they are (lines, panels) and
nowhere else, empty panels say why, panels are as specified."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nacbench.codecs.base import RANDOM_WEIGHTS_LABEL
from nacbench.plots import (
    RANDOM_LINESTYLE,
    figure2,
    figure3,
    figure_labelling,
    row_normalise,
)

P_GRID = (0.001, 0.01, 0.1, 0.5)


def tidy(random_codecs=("dac",), labellings=("natural", "gray")) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for codec, slope in (("neucodec", 0.05), ("dac", 0.2)):
        for u in range(6):
            common = {"codec": codec, "dataset": "libri", "utt_id": f"u{u}", "error": ""}
            common["random_weights"] = codec in random_codecs
            clean = {"stoi": 0.9, "pesq": 3.0, "si_sdr": 8.0, "mel_mse": 0.1}
            rows.append(
                {**common, "model": "clean", "p_flip": 0.0, "seed": -1, "labelling": "natural", **clean}
            )
            for lab in labellings:
                for p in P_GRID:
                    for seed in (0, 1):
                        drop = slope * (np.log10(p) + 3) + rng.normal(0, 0.02)
                        scores = {"stoi": 0.9 - drop, "pesq": 3 - 2 * drop, "si_sdr": 8 - 20 * drop}
                        rows.append(
                            {**common, "model": "bsc", "p_flip": p, "seed": seed, "labelling": lab, **scores}
                            | {"mel_mse": 0.1 + drop}
                        )
    return pd.DataFrame(rows)


def stamps(fig) -> list[str]:
    return [t.get_text() for t in fig.texts if RANDOM_WEIGHTS_LABEL in t.get_text()]


def panel_stamped(ax) -> bool:
    return any(RANDOM_WEIGHTS_LABEL in t.get_text() for t in ax.texts)


def curve(ax, label: str):
    """The mean line of one codec (or labelling) in a panel, found by its legend label."""
    (line,) = [line for line in ax.get_lines() if line.get_label() == label]
    return line


def assert_written(stem):
    for ext in ("pdf", "png"):
        path = stem.with_name(stem.name + "." + ext)
        assert path.is_file() and path.stat().st_size > 1000, path


def test_figure3_panels_marks_random_lines_not_the_figure(tmp_path):
    stem = tmp_path / "figs" / "figure3"
    fig = figure3(tidy(), stem, display_names={"neucodec": "NeuCodec", "dac": "DAC"}, n_boot=100)
    assert_written(stem)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 4
    assert all(ax.get_xscale() == "log" for ax in axes)
    assert axes[2].get_ylabel().startswith("SI-SDR (dB)")
    labels = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert "DAC (random weights)" in labels and "NeuCodec" in labels
    # the random-weight line is dotted and says so; the real codec's line stays a plain solid result
    for ax in axes:
        assert curve(ax, "DAC (random weights)").get_linestyle() == RANDOM_LINESTYLE
        assert curve(ax, "NeuCodec").get_linestyle() == "-"
        assert not panel_stamped(ax), "a panel with a real codec's curve must not read as a non-result"
    assert not stamps(fig)
    # per codec: a mean line plus its dashed clean reference
    dashed = [line for line in axes[0].get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 2
    assert np.allclose(dashed[0].get_ydata(), 0.9)


def test_figure3_all_random_stamps_every_panel(tmp_path):
    fig = figure3(
        tidy(random_codecs=("dac", "neucodec")), tmp_path / "f3", metrics=("stoi", "pesq"), n_boot=20
    )
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 2 and all(panel_stamped(ax) for ax in axes)


def test_figure3_without_random_weights_has_no_stamp(tmp_path):
    fig = figure3(tidy(random_codecs=()), tmp_path / "f3", metrics=("stoi",), n_boot=50)
    assert not stamps(fig) and not any(panel_stamped(ax) for ax in fig.axes)
    labels = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert not any("random" in label for label in labels)
    assert {line.get_linestyle() for line in fig.axes[0].get_lines()} == {"-", "--"}


def test_figure3_metric_without_finite_values_keeps_an_empty_panel(tmp_path):
    """A metric that failed everywhere used to fail the figure ("cannot be log-scaled")."""
    scores = tidy()
    scores["pesq"] = np.nan
    scores["error"] = "pesq: signal shorter than 0.25 s"
    stem = tmp_path / "f3"
    fig = figure3(scores, stem, n_boot=20)
    assert_written(stem)
    pesq_panel, stoi_panel = fig.axes[1], fig.axes[0]
    assert not pesq_panel.get_lines()
    note = " ".join(t.get_text() for t in pesq_panel.texts)
    assert "no finite values of pesq" in note
    assert "signal shorter than 0.25 s" in note and "failures table" in note
    assert len(stoi_panel.get_lines()) == 4  # the other panels are drawn as usual
    labels = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert {"neucodec", "dac (random weights)"} <= set(labels)


def test_figure3_needs_natural_bsc_rows(tmp_path):
    with pytest.raises(ValueError, match="natural"):
        figure3(tidy(labellings=("gray",)), tmp_path / "f3")


def test_figure_labelling_one_panel_per_codec(tmp_path):
    stem = tmp_path / "labelling"
    fig = figure_labelling(tidy(), stem, metric="stoi", n_boot=50)
    assert_written(stem)
    axes = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    assert sorted(axes) == ["dac (random weights)", "neucodec"]
    solid = [line for line in axes["neucodec"].get_lines() if line.get_linestyle() == "-"]
    assert len(solid) == 2  # natural and gray
    dotted = [line for line in axes["dac (random weights)"].get_lines() if line.get_linestyle() == ":"]
    assert len(dotted) == 2
    # only the random codec's panel is stamped; the real codec's panel reads as a result
    assert panel_stamped(axes["dac (random weights)"]) and not panel_stamped(axes["neucodec"])
    assert not stamps(fig)


def test_figure_labelling_metric_without_finite_values(tmp_path):
    scores = tidy()
    scores.loc[scores["codec"] == "dac", "stoi"] = np.nan
    fig = figure_labelling(scores, tmp_path / "labelling", metric="stoi", n_boot=20)
    axes = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    assert "no finite values" in " ".join(t.get_text() for t in axes["dac (random weights)"].texts)
    assert not panel_stamped(axes["dac (random weights)"])
    assert len(axes["neucodec"].get_lines()) == 3


def test_row_normalise_keeps_unseen_rows_nan():
    shares = row_normalise(np.array([[[2, 2, 0, 0], [0, 0, 0, 0], [0, 1, 3, 0], [0, 0, 0, 5]]]))
    np.testing.assert_allclose(shares[0, 0], [0.5, 0.5, 0, 0])
    assert np.all(np.isnan(shares[0, 1]))
    np.testing.assert_allclose(np.nansum(shares[0], axis=1), [1, 0, 1, 1])


def test_figure2_highlight_and_stamp(tmp_path):
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 50, size=(8, 4, 4)) + 100 * np.eye(4, dtype=int)
    stem = tmp_path / "figure2"
    fig = figure2(counts, stem, highlight=(1, 5), random_weights=True)
    assert_written(stem)
    panels = [ax for ax in fig.axes if ax.get_title().startswith("$Q_")]
    assert len(panels) == 8
    thick = [ax.get_title() for ax in panels if ax.spines["left"].get_linewidth() > 2]
    assert thick == ["$Q_{1}$", "$Q_{5}$"]
    assert stamps(fig)
    annotations = [t.get_text() for t in panels[0].texts]
    assert len(annotations) == 16
    assert not stamps(figure2(counts, tmp_path / "clean_fig2"))
    with pytest.raises(ValueError, match="highlight"):
        figure2(counts, tmp_path / "bad", highlight=(8,))


def test_figure3_labels_come_from_the_metric_registry(tmp_path, toy_metric):
    """A metric registered elsewhere gets its own panel, labelled from its registry entry."""
    data = tidy(random_codecs=())
    data["toy"] = data["mel_mse"] * 2
    fig = figure3(data, tmp_path / "f3", n_boot=0)
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_visible()]
    assert labels == [
        "STOI (classic) ↑",
        "PESQ wide-band (MOS-LQO) ↑",
        "SI-SDR (dB) ↑",
        "Mel-spectrogram MSE ↓",
        "Toy distance (furlongs) ↓",
    ]
