"""The report's figures: Fig. 3 (scores vs P_flip), a labelling comparison, and Fig. 2 (confusions).

Figures are built on :class:`matplotlib.figure.Figure` directly, never through pyplot: no global
backend switch (a notebook importing this keeps its inline backend), no figure registry to leak memory,
and ``savefig`` renders with Agg (png) or the pdf backend with no display. They are saved
as pdf and png, and returned so callers and tests can inspect them.

Random weights are marked where they are, no wider: a line built on a random-weight codec is dotted
and says "(random weights)" in its legend label or panel title, and a panel whose every line is such
carries the red :data:`nacbench.codecs.base.RANDOM_WEIGHTS_LABEL` stamp on the panel itself. A png that escapes the
report still says which of its curves are not results, while the real codecs' curves beside them
(Lyra, Codec2 in the offline run) still read as the results they are.

A panel with no finite value to draw (a metric that failed everywhere) is kept, with a note saying
so and why, instead of failing the figure: the tables that explain the failure are written anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.typing import ColorType

from nacbench import artifacts
from nacbench.analysis.summary import mean_ci
from nacbench.codecs.base import RANDOM_WEIGHTS_LABEL
from nacbench.conditions import LABELLINGS
from nacbench.metrics import METRIC_LABELS, metric_names

__all__ = [
    "PFLIP_LABEL",
    "RANDOM_LABEL",
    "RANDOM_LINESTYLE",
    "clean_rows",
    "codec_colours",
    "draw_curve",
    "draw_metric_panel",
    "figure2",
    "figure3",
    "figure_labelling",
    "mark_empty_panel",
    "metric_failures",
    "p_flip_range",
    "random_codecs",
    "random_label",
    "save_figure",
    "stamp_panel",
    "stamp_random",
    "style_metric_axis",
]

#: appended to the legend label or panel title of anything drawn from a random-weight codec
RANDOM_LABEL = "(random weights)"
#: the line style of a curve drawn from a random-weight codec (real curves are solid; clean is dashed)
RANDOM_LINESTYLE: Final = ":"
#: the start of the note in a panel that has nothing finite to draw
EMPTY_PANEL = "no finite values"

PFLIP_LABEL = r"bit-flip probability $P_\mathrm{flip}$"
_PALETTE = tuple(matplotlib.color_sequences["tab10"])  # the tab10 colormap's colours, typed


def save_figure(fig: Figure, out_stem: Path) -> dict[str, Path]:
    """Write ``out_stem.pdf`` and ``out_stem.png`` (150 dpi) and return their paths."""
    out_stem = Path(out_stem)
    options: dict[str, dict[str, Any]] = {".pdf": {}, ".png": {"dpi": 150}}
    paths = {}
    for suffix in artifacts.FIGURE_FORMATS:  # the formats the workflow's multiext expects, defined there
        paths[suffix.lstrip(".")] = path = out_stem.with_name(out_stem.name + suffix)
        with artifacts.atomic_path(path) as tmp:  # the temporary name hides the format: give it
            fig.savefig(tmp, format=suffix.lstrip("."), bbox_inches="tight", **options[suffix])
    return paths


def _stamp(target: Figure | Axes, fontsize: int) -> None:
    """The red diagonal :data:`RANDOM_WEIGHTS_LABEL` watermark across the middle of ``target``."""
    transform = target.transAxes if isinstance(target, Axes) else target.transFigure
    target.text(
        0.5,
        0.5,
        RANDOM_WEIGHTS_LABEL,
        transform=transform,
        color="red",
        alpha=0.3,
        fontsize=fontsize,
        fontweight="bold",
        rotation=25,
        ha="center",
        va="center",
        zorder=100,
    )


def stamp_random(fig: Figure) -> None:
    """A large diagonal red watermark across the whole canvas, for a figure whose *every* panel is
    built on random weights (Fig. 2 of a random-weight encoder pair): it survives any crop of the
    figure and, unlike a banner, cannot collide with the title or the legend."""
    _stamp(fig, fontsize=28)


def stamp_panel(ax: Axes) -> None:
    """The red watermark across one panel whose every line is built on random weights."""
    _stamp(ax, fontsize=13)


def random_label(text: str, random: bool) -> str:
    """``text`` with :data:`RANDOM_LABEL` appended when it names something built on random weights."""
    return f"{text} {RANDOM_LABEL}" if random else text


def mark_empty_panel(
    ax: Axes, what: str, reasons: Sequence[str] = (), x_range: tuple[float, float] | None = None
) -> None:
    """Keep a panel that has nothing finite to draw, saying so and why, so the figure is still written.

    ``x_range`` fixes the (log) P_flip axis an empty panel could not derive from data: matplotlib
    cannot log-scale an axis without positive data and would otherwise fail the whole figure.
    """
    why = "; ".join(reasons[:3]) + (f"; ... ({len(reasons) - 3} more)" if len(reasons) > 3 else "")
    text = f"{EMPTY_PANEL} of {what}"
    text += f"\n({why})" if why else ""
    text += "\nsee the failures table"
    if x_range is not None:
        ax.set_xlim(*x_range)
    ax.set_ylim(0.0, 1.0)
    ax.set_yticks([])
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=9, wrap=True)


def codec_colours(codecs: Sequence[str]) -> dict[str, ColorType]:
    """One colour per codec, by sorted name, so the same set of codecs gets the same colours everywhere."""
    return {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(sorted(set(codecs)))}


def random_codecs(tidy: pd.DataFrame) -> set[str]:
    """Codecs with any random-weight row (a table without the column has none it can vouch for)."""
    if "random_weights" not in tidy.columns or tidy.empty:
        return set()
    flags = tidy["random_weights"].astype("boolean").fillna(False).to_numpy(bool)
    return set(tidy.loc[flags, "codec"].astype(str))


def _label(name: str, display_names: Mapping[str, str] | None, random: bool) -> str:
    return random_label((display_names or {}).get(name, name), random)


def metric_failures(tidy: pd.DataFrame, metric: str) -> list[str]:
    """The distinct reasons the ``error`` column gives for ``metric`` (``"metric: reason"`` entries),
    or the whole entry when it names no metric (an utterance that could not be scored at all)."""
    if "error" not in tidy.columns:
        return []
    reasons: set[str] = set()
    for entry in tidy["error"].dropna().astype(str):
        for part in filter(None, (p.strip() for p in entry.split(";"))):
            name, sep, reason = part.partition(":")
            if sep and name.strip() == metric:
                reasons.add(reason.strip())
            elif not sep or name.strip() not in metric_names():
                reasons.add(part)
    return sorted(reasons)


def clean_rows(tidy: pd.DataFrame) -> pd.DataFrame:
    """Clean scores do not depend on the labelling: keep one row per codec and utterance."""
    clean = tidy[tidy["model"] == "clean"]
    keys = [c for c in ("codec", "dataset", "utt_id") if c in clean.columns]
    return clean.drop_duplicates(subset=keys)


def draw_curve(ax: Axes, stats: pd.DataFrame, colour: ColorType, label: str, random: bool = False) -> bool:
    """Draw the finite points of one mean curve and its band; False (nothing drawn) when none is."""
    stats = stats[np.isfinite(stats["mean"].to_numpy(dtype=float))].sort_values("p_flip")
    if stats.empty:
        return False
    x = stats["p_flip"].to_numpy(dtype=float)
    style = RANDOM_LINESTYLE if random else "-"
    ax.plot(x, stats["mean"], marker="o", markersize=3.5, color=colour, linestyle=style, label=label)
    ax.fill_between(x, stats["ci_low"], stats["ci_high"], color=colour, alpha=0.2, linewidth=0)
    return True


def p_flip_range(sweep: pd.DataFrame) -> tuple[float, float]:
    """The log P_flip axis range of ``sweep``'s perturbed rows (a fixed one when it has none)."""
    p = sweep["p_flip"].to_numpy(dtype=float)
    p = p[p > 0]
    return (float(p.min()) / 1.5, float(p.max()) * 1.5) if p.size else (1e-3, 1.0)


def style_metric_axis(ax: Axes, metric: str) -> None:
    """A metric-vs-P_flip panel's axes: log P_flip, the metric's label, a light grid."""
    ax.set_xscale("log")
    ax.set_xlabel(PFLIP_LABEL)
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.grid(True, which="major", alpha=0.3)


def _clean_handle() -> Line2D:
    return Line2D([], [], color="grey", linestyle="--", label="clean (no bit errors)")


def draw_metric_panel(
    ax: Axes,
    metric: str,
    tidy: pd.DataFrame,
    sweep: pd.DataFrame,
    clean: pd.DataFrame,
    colours: Mapping[str, ColorType],
    random: set[str],
    display_names: Mapping[str, str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> None:
    """One Fig. 3 panel: per codec of ``colours`` (in its order), ``metric``'s mean over ``sweep`` vs
    P_flip with its 95 % cluster-bootstrap band, and its mean over ``clean`` (:func:`clean_rows`) dashed.

    A random-weight codec's curve is dotted and labelled so; the panel is stamped only when all it
    shows is random; with no finite value at all it says so, with ``tidy``'s reasons
    (:func:`mark_empty_panel`), instead of failing to log-scale an empty axis. Shared with the notebook
    (:func:`nacbench.explore.figure_metric_curve`), so both draw the same thing.
    """
    curve = mean_ci(sweep, ["codec", "p_flip"], metric, n_boot=n_boot, seed=seed)
    reference = mean_ci(clean, ["codec"], metric, n_boot=0, seed=seed).set_index("codec")["mean"]
    drawn: set[str] = set()
    for codec, colour in colours.items():
        label = _label(codec, display_names, codec in random)
        if draw_curve(ax, curve[curve["codec"] == codec], colour, label, codec in random):
            drawn.add(codec)
        if codec in reference.index and np.isfinite(reference[codec]):
            ax.axhline(reference[codec], color=colour, linestyle="--", linewidth=1.0, alpha=0.8)
            drawn.add(codec)
    style_metric_axis(ax, metric)
    if not drawn:
        mark_empty_panel(ax, metric, metric_failures(tidy, metric), p_flip_range(sweep))
    elif drawn <= random:
        stamp_panel(ax)


def figure3(
    tidy: pd.DataFrame,
    out_stem: Path,
    metrics: Sequence[str] | None = None,
    display_names: Mapping[str, str] | None = None,
    labelling: str = "natural",
    n_boot: int = 1000,
    seed: int = 0,
) -> Figure:
    """Paper Fig. 3: one panel per metric, mean score vs P_flip (log axis) per codec, BSC only.

    Lines are pooled means over utterances and seeds with a 95 % cluster-bootstrap band; each codec's
    clean score is a dashed line in its colour. Only the ``labelling`` (natural binary, as in the paper)
    rows are drawn; clean rows are taken whatever labelling they are filed under. ``metrics`` defaults
    to every registered metric (:func:`nacbench.metrics.metric_names`) with a column in ``tidy``. A
    random-weight codec's curve is dotted and labelled so; a panel is stamped only when all it shows is
    random, and a metric with no finite value anywhere gets a panel that says so
    (see :func:`mark_empty_panel`).
    """
    metrics = [m for m in metric_names() if m in tidy.columns] if metrics is None else list(metrics)
    sweep = tidy[(tidy["model"] == "bsc") & (tidy["labelling"] == labelling)]
    if sweep.empty:
        raise ValueError(f"figure 3: no BSC rows with labelling {labelling!r} in the score table")
    clean = clean_rows(tidy[tidy["codec"].isin(sweep["codec"].unique())])
    codecs = sorted(sweep["codec"].astype(str).unique())
    colours, random = codec_colours(codecs), random_codecs(tidy)
    n_cols = min(len(metrics), 2)
    n_rows = int(np.ceil(len(metrics) / n_cols))
    fig = Figure(figsize=(5.2 * n_cols, 3.8 * n_rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols, squeeze=False)).ravel()
    legend: dict[str, Artist] = {}
    for ax, metric in zip(axes, metrics, strict=False):
        draw_metric_panel(ax, metric, tidy, sweep, clean, colours, random, display_names, n_boot, seed)
        legend |= dict(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    fig.legend(
        [*legend.values(), _clean_handle()],
        [*legend, "clean (no bit errors)"],
        loc="outside lower center",
        ncols=6,
    )
    fig.suptitle(f"Scores under a binary symmetric channel ({labelling} labelling; mean, 95% CI)")
    save_figure(fig, out_stem)
    return fig


def figure_labelling(
    tidy: pd.DataFrame,
    out_stem: Path,
    metric: str = "stoi",
    display_names: Mapping[str, str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> Figure:
    """One panel per codec, one line per index labelling (BSC), clean score dashed: which labelling of
    the same codes survives bit errors best after the real decoder."""
    sweep = tidy[tidy["model"] == "bsc"]
    if sweep.empty:
        raise ValueError("labelling figure: no BSC rows in the score table")
    codecs = sorted(sweep["codec"].astype(str).unique())
    present = sweep["labelling"].astype(str).unique()
    labellings = [lab for lab in LABELLINGS if lab in present] + sorted(set(present) - set(LABELLINGS))
    colours = {lab: _PALETTE[i % len(_PALETTE)] for i, lab in enumerate(labellings)}
    random = random_codecs(tidy)
    clean = clean_rows(tidy)
    n_cols = min(len(codecs), 3)
    n_rows = int(np.ceil(len(codecs) / n_cols))
    fig = Figure(figsize=(4.4 * n_cols, 3.5 * n_rows), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False, sharey=True).ravel()
    curve = mean_ci(sweep, ["codec", "labelling", "p_flip"], metric, n_boot=n_boot, seed=seed)
    reference = mean_ci(clean, ["codec"], metric, n_boot=0, seed=seed).set_index("codec")["mean"]
    for ax, codec in zip(axes, codecs, strict=False):
        # one codec per panel: its lines are all random or all real, and the panel says which
        is_random = codec in random
        drawn = False
        for lab in labellings:
            stats = curve[(curve["codec"] == codec) & (curve["labelling"] == lab)]
            drawn |= draw_curve(ax, stats, colours[lab], lab, is_random)
        if codec in reference.index and np.isfinite(reference[codec]):
            ax.axhline(reference[codec], color="grey", linestyle="--", linewidth=1.0)
            drawn = True
        ax.set_title(_label(codec, display_names, is_random))
        style_metric_axis(ax, metric)
        if not drawn:
            codec_rows = tidy[tidy["codec"].astype(str) == codec]
            mark_empty_panel(ax, metric, metric_failures(codec_rows, metric), p_flip_range(sweep))
        elif is_random:
            stamp_panel(ax)
        if ax.get_subplotspec().colspan.start != 0:
            ax.set_ylabel("")  # the y axis is shared: one label per row is enough
    for ax in axes[len(codecs) :]:
        ax.set_visible(False)
    handles = [
        Line2D([], [], color=colours[lab], marker="o", markersize=3.5, label=lab) for lab in labellings
    ]
    if random & set(codecs):
        handles.append(
            Line2D([], [], color="black", linestyle=RANDOM_LINESTYLE, label=f"dotted: {RANDOM_LABEL}")
        )
    fig.legend(handles=[*handles, _clean_handle()], loc="outside lower center", ncols=len(handles) + 1)
    fig.suptitle("Index labelling under a binary symmetric channel (mean, 95% CI over utterances and seeds)")
    save_figure(fig, out_stem)
    return fig


def row_normalise(confusions: np.ndarray) -> np.ndarray:
    """Each row (a reference level) divided by its count; rows never seen stay NaN, not 0."""
    confusions = np.asarray(confusions, dtype=np.float64)
    totals = confusions.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, confusions / np.where(totals > 0, totals, 1.0), np.nan)


def figure2(
    confusions: np.ndarray,
    out_stem: Path,
    highlight: Sequence[int] = (0, 1, 2, 3),
    random_weights: bool = False,
    reference: str = "NeuCodec",
    other: str = "Distilled",
) -> Figure:
    """Paper Fig. 2: per FSQ dimension ``Q_i`` (0-based), the row-normalised level confusion matrix.

    ``confusions`` is ``[D, L, L]`` counts, rows = ``reference`` encoder's level, columns = ``other``'s.
    The paper shows a subset of dimensions; all are drawn here and the ``highlight`` subset gets a red
    frame and bold title. Cells are annotated with the row share.
    """
    confusions = np.asarray(confusions)
    if confusions.ndim != 3 or confusions.shape[1] != confusions.shape[2]:
        raise ValueError(f"figure 2 needs confusion counts [dims, L, L], got shape {confusions.shape}")
    n_dims, n_levels = confusions.shape[0], confusions.shape[1]
    bad = [d for d in highlight if not 0 <= d < n_dims]
    if bad:
        raise ValueError(f"figure 2: highlight dims {bad} outside 0..{n_dims - 1}")
    shares = row_normalise(confusions)
    n_cols = min(n_dims, 4)
    n_rows = int(np.ceil(n_dims / n_cols))
    fig = Figure(figsize=(2.5 * n_cols + 0.8, 2.5 * n_rows + 0.6), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    image = None
    ticks = np.arange(n_levels)
    for dim, ax in enumerate(axes[:n_dims]):
        image = ax.imshow(shares[dim], cmap="Blues", vmin=0.0, vmax=1.0)
        for (r, c), value in np.ndenumerate(shares[dim]):
            if np.isfinite(value):
                colour = "white" if value > 0.6 else "black"
                ax.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=8, color=colour)
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
        chosen = dim in highlight
        ax.set_title(
            rf"$Q_{{{dim}}}$", fontweight="bold" if chosen else "normal", color="C3" if chosen else "k"
        )
        for spine in ax.spines.values():
            spine.set_edgecolor("C3" if chosen else "0.6")
            spine.set_linewidth(2.5 if chosen else 0.8)
        if dim % n_cols == 0:
            ax.set_ylabel(f"{reference} level")
        if dim >= n_dims - n_cols:
            ax.set_xlabel(f"{other} level")
    for ax in axes[n_dims:]:
        ax.set_visible(False)
    if image is not None:
        fig.colorbar(image, ax=axes[:n_dims].tolist(), shrink=0.8, label="share of row")
    fig.suptitle(
        f"FSQ level confusion per dimension ({reference} rows vs {other} columns; red = paper subset)"
    )
    if random_weights:
        stamp_random(fig)
    save_figure(fig, out_stem)
    return fig
