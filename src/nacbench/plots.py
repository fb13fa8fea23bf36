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

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, NamedTuple

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.typing import ColorType

from nacbench import artifacts
from nacbench.analysis.summary import mean_ci, scored_metrics
from nacbench.codecs.base import RANDOM_WEIGHTS_LABEL, CodecInfo
from nacbench.conditions import LABELLINGS
from nacbench.metrics import METRIC_LABELS, get_metric, metric_names

__all__ = [
    "NO_RATE_SWEEP",
    "PFLIP_LABEL",
    "QUANTIZER_STYLES",
    "RANDOM_LABEL",
    "RANDOM_LINESTYLE",
    "clean_rows",
    "codec_colours",
    "draw_curve",
    "draw_metric_panel",
    "figure2",
    "figure3",
    "figure_labelling",
    "figure_packet_loss",
    "figure_quantizer_swap",
    "figure_rate_robustness",
    "mark_empty_panel",
    "metric_failures",
    "p_flip_range",
    "random_codecs",
    "random_label",
    "save_figure",
    "scored_metrics",
    "stamp_panel",
    "stamp_random",
    "style_metric_axis",
    "X_AXES",
    "error_axis",
]

#: appended to the legend label or panel title of anything drawn from a random-weight codec
RANDOM_LABEL = "(random weights)"
#: the line style of a curve drawn from a random-weight codec (real curves are solid; clean is dashed)
RANDOM_LINESTYLE: Final = ":"
#: the start of the note in a panel that has nothing finite to draw
EMPTY_PANEL = "no finite values"

PFLIP_LABEL = r"bit-flip probability $P_\mathrm{flip}$"
_PALETTE = tuple(matplotlib.color_sequences["tab10"])  # the tab10 colormap's colours, typed
#: what the rate-robustness figure says when the study has no rate sweep (it is written anyway)
NO_RATE_SWEEP = "no rate sweep configured (study_swap.rate_sweep)"


class QuantizerStyle(NamedTuple):
    colour: ColorType
    marker: str
    label: str


#: one look per quantizer of the swap study, the same in every panel and figure (the line style stays
#: free to mark random weights, as everywhere else)
QUANTIZER_STYLES: Final[Mapping[str, QuantizerStyle]] = {
    "native": QuantizerStyle(_PALETTE[0], "o", "native quantizer"),
    "fsq": QuantizerStyle(_PALETTE[2], "s", "post-hoc FSQ"),
    "rvq": QuantizerStyle(_PALETTE[3], "D", "post-hoc RVQ"),
}


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


def draw_curve(
    ax: Axes,
    stats: pd.DataFrame,
    colour: ColorType,
    label: str,
    random: bool = False,
    x: str = "p_flip",
    marker: str = "o",
) -> bool:
    """Draw the finite points of one mean curve and its band; False (nothing drawn) when none is.

    ``x`` names the column of ``stats`` on the x axis (P_flip, or an error axis derived from it: see
    :func:`error_axis`); ``marker`` tells curves apart where the colour alone may not (quantizers)."""
    stats = stats[np.isfinite(stats["mean"].to_numpy(dtype=float))].sort_values(x)
    if stats.empty:
        return False
    xs = stats[x].to_numpy(dtype=float)
    style = RANDOM_LINESTYLE if random else "-"
    ax.plot(xs, stats["mean"], marker=marker, markersize=3.5, color=colour, linestyle=style, label=label)
    ax.fill_between(xs, stats["ci_low"], stats["ci_high"], color=colour, alpha=0.2, linewidth=0)
    return True


#: Figure 3's x-axis choices, name -> axis label. P_flip is what the channel sets; the other two put
#: codecs of different bit budgets on an equal footing (:mod:`nacbench.channel` defines both)
X_AXES: Final[Mapping[str, str]] = {
    "p_flip": PFLIP_LABEL,
    "frame_error_rate": r"frame error rate $1-(1-P_\mathrm{flip})^B$",
    "flipped_bits_per_s": r"flipped bits per second ($P_\mathrm{flip}\times$ bitrate)",
}

#: codec -> its CodecInfo, or (bits per frame, bitrate in bit/s): what an error axis other than P_flip needs
CodecRates = Mapping[str, CodecInfo | tuple[int, float]]


def error_axis(x_axis: str, codec_rates: CodecRates | None = None) -> Callable[[str, float], float]:
    """``(codec, P_flip) -> x`` for the x axis ``x_axis`` (:data:`X_AXES`).

    ``frame_error_rate`` (:func:`nacbench.channel.frame_error_rate`, from bits per frame) and
    ``flipped_bits_per_s`` (:func:`nacbench.channel.flipped_bits_per_second`, from the bitrate) depend
    on the codec, so they need ``codec_rates``; asking for a codec it lacks is a KeyError that names it.
    """
    if x_axis not in X_AXES:
        raise ValueError(f"unknown x axis {x_axis!r}; choose one of {list(X_AXES)}")
    if x_axis == "p_flip":
        return lambda codec, p: float(p)
    if codec_rates is None:
        raise ValueError(f"x axis {x_axis!r} needs codec_rates (codec -> CodecInfo or (bits, bitrate))")
    from nacbench.channel import flipped_bits_per_second, frame_error_rate

    rates = {
        name: (v.bits_per_frame, v.bitrate_bps) if isinstance(v, CodecInfo) else (int(v[0]), float(v[1]))
        for name, v in codec_rates.items()
    }

    def x_of(codec: str, p: float) -> float:
        if codec not in rates:
            raise KeyError(f"x axis {x_axis!r}: no bits per frame / bitrate given for codec {codec!r}")
        bits, bitrate = rates[codec]
        return (
            frame_error_rate(p, bits) if x_axis == "frame_error_rate" else flipped_bits_per_second(p, bitrate)
        )

    return x_of


def _x_range(sweep: pd.DataFrame, x_of: Callable[[str, float], float]) -> tuple[float, float]:
    """:func:`p_flip_range` on the axis ``x_of`` maps P_flip to."""
    pairs = sweep.loc[sweep["p_flip"].astype(float) > 0, ["codec", "p_flip"]].drop_duplicates()
    xs = np.array([x_of(str(c), float(p)) for c, p in pairs.itertuples(index=False)], dtype=float)
    xs = xs[xs > 0]
    return (float(xs.min()) / 1.5, float(xs.max()) * 1.5) if xs.size else p_flip_range(sweep)


def p_flip_range(sweep: pd.DataFrame) -> tuple[float, float]:
    """The log P_flip axis range of ``sweep``'s perturbed rows (a fixed one when it has none)."""
    p = sweep["p_flip"].to_numpy(dtype=float)
    p = p[p > 0]
    return (float(p.min()) / 1.5, float(p.max()) * 1.5) if p.size else (1e-3, 1.0)


def style_metric_axis(ax: Axes, metric: str, x_label: str = PFLIP_LABEL) -> None:
    """A metric-vs-P_flip panel's axes: log P_flip (or ``x_label``'s error axis), the metric's label,
    a light grid."""
    ax.set_xscale("log")
    ax.set_xlabel(x_label)
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
    x_axis: str = "p_flip",
    codec_rates: CodecRates | None = None,
) -> None:
    """One Fig. 3 panel: per codec of ``colours`` (in its order), ``metric``'s mean over ``sweep`` vs
    P_flip with its 95 % cluster-bootstrap band, and its mean over ``clean`` (:func:`clean_rows`) dashed.
    ``x_axis`` puts another error axis than P_flip on x (:data:`X_AXES`, :func:`error_axis`).

    A random-weight codec's curve is dotted and labelled so; the panel is stamped only when all it
    shows is random; with no finite value at all it says so, with ``tidy``'s reasons
    (:func:`mark_empty_panel`), instead of failing to log-scale an empty axis. Shared with the notebook
    (:func:`nacbench.explore.figure_metric_curve`), so both draw the same thing.
    """
    x_of = error_axis(x_axis, codec_rates)
    curve = mean_ci(sweep, ["codec", "p_flip"], metric, n_boot=n_boot, seed=seed)
    curve["x"] = [x_of(str(c), float(p)) for c, p in zip(curve["codec"], curve["p_flip"], strict=True)]
    reference = mean_ci(clean, ["codec"], metric, n_boot=0, seed=seed).set_index("codec")["mean"]
    drawn: set[str] = set()
    for codec, colour in colours.items():
        label = _label(codec, display_names, codec in random)
        if draw_curve(ax, curve[curve["codec"] == codec], colour, label, codec in random, x="x"):
            drawn.add(codec)
        if codec in reference.index and np.isfinite(reference[codec]):
            ax.axhline(reference[codec], color=colour, linestyle="--", linewidth=1.0, alpha=0.8)
            drawn.add(codec)
    style_metric_axis(ax, metric, X_AXES[x_axis])
    if not drawn:
        mark_empty_panel(ax, metric, metric_failures(tidy, metric), _x_range(sweep, x_of))
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
    x_axis: str = "p_flip",
    codec_rates: CodecRates | None = None,
) -> Figure:
    """Paper Fig. 3: one panel per metric, mean score vs P_flip (log axis) per codec, BSC only.

    ``x_axis`` (:data:`X_AXES`) may put the frame error rate ``1-(1-p)^B`` or the flipped bits per
    second ``p x bitrate`` on x instead, which compare codecs of different bit budgets fairly; they
    need each codec's bits per frame and bitrate (``codec_rates``: codec -> CodecInfo or
    ``(bits_per_frame, bitrate_bps)``). The default, P_flip, is the paper's figure.

    Lines are pooled means over utterances and seeds with a 95 % cluster-bootstrap band; each codec's
    clean score is a dashed line in its colour. Only the ``labelling`` (natural binary, as in the paper)
    rows are drawn; clean rows are taken whatever labelling they are filed under. ``metrics`` defaults
    to every registered metric (:func:`nacbench.metrics.metric_names`) with a column in ``tidy``. A
    random-weight codec's curve is dotted and labelled so; a panel is stamped only when all it shows is
    random, and a metric with no finite value anywhere gets a panel that says so
    (see :func:`mark_empty_panel`).
    """
    sweep = tidy[(tidy["model"] == "bsc") & (tidy["labelling"] == labelling)]
    if sweep.empty:
        raise ValueError(f"figure 3: no BSC rows with labelling {labelling!r} in the score table")
    metrics = scored_metrics(sweep) if metrics is None else list(metrics)
    clean = clean_rows(tidy[tidy["codec"].isin(sweep["codec"].unique())])
    codecs = sorted(sweep["codec"].astype(str).unique())
    x_of = error_axis(x_axis, codec_rates)
    for codec in codecs:  # a codec without a rate fails here, before any panel is drawn
        x_of(codec, 0.0)
    colours, random = codec_colours(codecs), random_codecs(tidy)
    n_cols = min(len(metrics), 2)
    n_rows = int(np.ceil(len(metrics) / n_cols))
    fig = Figure(figsize=(5.2 * n_cols, 3.8 * n_rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols, squeeze=False)).ravel()
    legend: dict[str, Artist] = {}
    for ax, metric in zip(axes, metrics, strict=False):
        draw_metric_panel(
            ax, metric, tidy, sweep, clean, colours, random, display_names, n_boot, seed, x_axis, codec_rates
        )
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


def _with_notes(title: str, notes: Sequence[str]) -> str:
    """A figure title with the caller's notes (e.g. in-sample fits) as lines under it."""
    return "\n".join([title, *notes])


def _random_handle() -> Line2D:
    return Line2D([], [], color="black", linestyle=RANDOM_LINESTYLE, label=f"dotted: {RANDOM_LABEL}")


def quantizer_handles(quantizers: set[str]) -> list[Artist]:
    """Legend entries of the quantizers present, in :data:`nacbench.swap.QUANTIZERS` order."""
    from nacbench.swap import QUANTIZERS

    return [
        Line2D(
            [],
            [],
            color=QUANTIZER_STYLES[q].colour,
            marker=QUANTIZER_STYLES[q].marker,
            label=QUANTIZER_STYLES[q].label,
        )
        for q in QUANTIZERS
        if q in quantizers
    ]


def figure_quantizer_swap(
    tidy: pd.DataFrame,
    rows: Sequence[Mapping[str, Any]],
    out_stem: Path,
    metrics: Sequence[str] = ("stoi", "pesq", "si_sdr"),
    display_names: Mapping[str, str] | None = None,
    labelling: str = "natural",
    n_boot: int = 1000,
    seed: int = 0,
    notes: Sequence[str] = (),
) -> Figure:
    """The quantizer swap: one row of panels per base codec x main budget, one column per metric; in
    each, the native quantizer, the post-hoc FSQ and the post-hoc RVQ vs P_flip (log x) with 95 %
    cluster-bootstrap bands, each codec's clean mean dashed in its colour.

    The three share the encoder, decoder, utterances and bit-error positions, so the gaps between the
    lines are the quantizers' doing; :func:`nacbench.analysis.swap.paired_differences` puts intervals on
    them. Quantizers keep their colour and marker (:data:`QUANTIZER_STYLES`) across panels; a
    random-weight codec's curve is dotted, its panel's title says so and a panel showing only such
    curves is stamped, as in :func:`figure3`. ``rows`` is :func:`nacbench.swap.study_rows`; ``notes``
    go under the title. Metrics without a column in ``tidy`` are left out.
    """
    from nacbench.analysis.swap import study_frame, study_scores
    from nacbench.swap import QUANTIZERS

    study = study_frame(rows)
    main = study[study["main"]]
    if main.empty:
        raise ValueError("quantizer swap figure: the study has no main budget")
    scores = study_scores(tidy, list(main["codec"]), labelling)
    metrics = [m for m in metrics if m in scores.columns]
    if not metrics:
        raise KeyError(f"quantizer swap figure: the score table has none of the metrics {metrics}")
    sweep, clean = scores[scores["model"] == "bsc"], scores[scores["model"] == "clean"]
    random = random_codecs(scores)
    budgets = list(dict.fromkeys(zip(main["base"], main["bits"], strict=True)))
    n_rows, n_cols = len(budgets), len(metrics)
    fig = Figure(figsize=(4.4 * n_cols, 3.4 * n_rows + 0.8), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for j, metric in enumerate(metrics):
        curve = mean_ci(sweep, ["codec", "p_flip"], metric, n_boot=n_boot, seed=seed)
        reference = mean_ci(clean, ["codec"], metric, n_boot=0, seed=seed).set_index("codec")["mean"]
        for i, (base, bits) in enumerate(budgets):
            ax = axes[i, j]
            budget = main[(main["base"] == base) & (main["bits"] == bits)]
            codec_of = dict(zip(budget["quantizer"], budget["codec"], strict=True))
            drawn: set[str] = set()
            for quantizer in (q for q in QUANTIZERS if q in codec_of):
                codec, style = codec_of[quantizer], QUANTIZER_STYLES[quantizer]
                is_random = codec in random
                label = random_label(style.label, is_random)
                stats = curve[curve["codec"] == codec]
                if draw_curve(ax, stats, style.colour, label, is_random, marker=style.marker):
                    drawn.add(codec)
                if codec in reference.index and np.isfinite(reference[codec]):
                    ax.axhline(reference[codec], color=style.colour, linestyle="--", linewidth=1.0, alpha=0.8)
                    drawn.add(codec)
            style_metric_axis(ax, metric)
            name = (display_names or {}).get(str(base), str(base))
            # the title says so only when every curve is random; a mixed panel's dotted curves say which
            ax.set_title(random_label(f"{name}, {bits} bits/frame", set(codec_of.values()) <= random))
            if not drawn:
                failed = tidy[tidy["codec"].isin(list(codec_of.values()))] if "codec" in tidy else tidy
                mark_empty_panel(ax, metric, metric_failures(failed, metric), p_flip_range(sweep))
            elif drawn <= random:
                stamp_panel(ax)
    handles = quantizer_handles(set(main["quantizer"]))
    if random & set(main["codec"]):
        handles.append(_random_handle())
    handles.append(_clean_handle())
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles))
    title = f"Quantizer swap at equal bits per frame (BSC, {labelling} labelling; mean, 95% CI)"
    fig.suptitle(_with_notes(title, notes))
    save_figure(fig, out_stem)
    return fig


def _tested_range(breakdown: pd.DataFrame) -> tuple[float, float]:
    """The smallest and largest P_flip any point of a break-down table was tested at."""
    tested = [float(p) for text in breakdown["p_tested"].dropna().astype(str) for p in text.split(",") if p]
    tested = [p for p in tested if p > 0]
    return (min(tested), max(tested)) if tested else (1e-3, 0.5)


def _error_bar(
    p: np.ndarray, low: np.ndarray, high: np.ndarray, ci_note: Sequence[str], y_range: tuple[float, float]
) -> np.ndarray:
    """``[2, n]`` error-bar lengths below and above ``p``; a bound that lies beyond the tested range
    (NaN, with a note saying so) reaches the axis edge, a bound missing for another reason is not drawn."""
    notes = [str(n) for n in ci_note]
    low = np.where(
        np.isfinite(low),
        low,
        [y_range[0] if "lower bound" in n else q for n, q in zip(notes, p, strict=True)],
    )
    high = np.where(
        np.isfinite(high),
        high,
        [y_range[1] if "upper bound" in n else q for n, q in zip(notes, p, strict=True)],
    )
    return np.clip(np.vstack([p - low, high - p]), 0.0, None)


def figure_rate_robustness(
    breakdown: pd.DataFrame,
    out_stem: Path,
    display_names: Mapping[str, str] | None = None,
    notes: Sequence[str] = (),
    empty_text: str = NO_RATE_SWEEP,
) -> Figure:
    """Break-down P_flip (log y, 95 % CI error bars) vs bits per frame (log2 x), one panel per base
    codec, one line per quantizer: does a quantizer's robustness survive a lower rate?

    ``breakdown`` is :func:`nacbench.analysis.swap.rate_breakdown`. A codec that never breaks down
    within the tested P_flip has no number; it is drawn as a hollow upward arrow at the top of the axis
    (one that is already broken down at the smallest P_flip: a downward arrow at the bottom), with its
    interval's finite bound as a bar, so it is neither lost nor mistaken for a measured value; the
    legend says what the arrows mean. Random weights are marked as in :func:`figure3`. Without any
    point (no rate sweep configured) the figure is still written, one panel saying so (``empty_text``,
    by default :data:`NO_RATE_SWEEP`), so the report's output always exists.
    """
    from nacbench.analysis.breakdown import REASON_ALREADY_BELOW, REASON_NEVER
    from nacbench.swap import QUANTIZERS

    if breakdown.empty:
        fig = Figure(figsize=(5.5, 3.2), layout="constrained")
        ax = fig.subplots()
        ax.set_xticks([])
        ax.set_yticks([])
        ax.text(0.5, 0.5, empty_text, transform=ax.transAxes, ha="center", va="center", fontsize=10)
        fig.suptitle(_with_notes("Break-down P_flip vs bits per frame", notes))
        save_figure(fig, out_stem)
        return fig
    metric, margin = str(breakdown["metric"].iloc[0]), float(breakdown["margin"].iloc[0])
    p_lo, p_hi = _tested_range(breakdown)
    y_range = (p_lo / 4.0, p_hi * 4.0)
    top, bottom = p_hi * 2.0, p_lo / 2.0  # where points beyond the tested range are drawn
    random = random_codecs(breakdown)
    bases = list(dict.fromkeys(breakdown["base"].astype(str)))
    fig = Figure(figsize=(4.6 * len(bases), 3.8), layout="constrained")
    axes = fig.subplots(1, len(bases), squeeze=False, sharey=True)[0]
    offsets = {q: 2.0 ** (0.06 * (i - 1)) for i, q in enumerate(QUANTIZERS)}  # keep error bars apart
    arrows = {"never": False, "already": False}
    for ax, base in zip(axes, bases, strict=True):
        of_base = breakdown[breakdown["base"].astype(str) == base]
        drawn: set[str] = set()
        for quantizer in (q for q in QUANTIZERS if q in set(of_base["quantizer"])):
            rows = of_base[of_base["quantizer"] == quantizer].sort_values("bits")
            style, is_random = QUANTIZER_STYLES[quantizer], bool(set(rows["codec"]) & random)
            x = rows["bits"].to_numpy(dtype=float) * offsets[quantizer]
            p = rows["p_breakdown"].to_numpy(dtype=float)
            low, high = rows["ci_low"].to_numpy(dtype=float), rows["ci_high"].to_numpy(dtype=float)
            ok = np.isfinite(p)
            if ok.any():
                ax.errorbar(
                    x[ok],
                    p[ok],
                    yerr=_error_bar(p[ok], low[ok], high[ok], list(rows["ci_note"].fillna("")[ok]), y_range),
                    color=style.colour,
                    marker=style.marker,
                    markersize=4.5,
                    linestyle=RANDOM_LINESTYLE if is_random else "-",
                    capsize=2.5,
                    label=random_label(style.label, is_random),
                )
                drawn |= set(rows["codec"][ok])
            for reason, y, marker, key, bound, edge in (
                (REASON_NEVER, top, "^", "never", low, y_range[1]),
                (REASON_ALREADY_BELOW, bottom, "v", "already", high, y_range[0]),
            ):
                hit = (rows["reason"] == reason).to_numpy()
                if not hit.any():
                    continue
                arrows[key] = True
                drawn |= set(rows["codec"][hit])
                ax.plot(
                    x[hit],
                    np.full(hit.sum(), y),
                    linestyle="none",
                    marker=marker,
                    markersize=8,
                    markerfacecolor="none",
                    color=style.colour,
                )
                finite = hit & np.isfinite(bound)
                ax.vlines(x[finite], bound[finite], edge, color=style.colour, alpha=0.5, linewidth=1.0)
        ax.set_xscale("log", base=2)
        bits = sorted(set(of_base["bits"].astype(int)))
        ax.set_xticks(bits, [str(b) for b in bits])
        ax.minorticks_off()
        ax.set_yscale("log")
        ax.set_ylim(*y_range)
        for edge in (p_lo, p_hi):
            ax.axhline(edge, color="grey", linestyle=":", linewidth=0.8)
        ax.set_xlabel("bits per frame")
        ax.grid(True, which="major", alpha=0.3)
        name = (display_names or {}).get(base, base)
        ax.set_title(random_label(name, set(of_base["codec"]) <= random))
        if not drawn:
            ax.text(
                0.5,
                0.5,
                f"{EMPTY_PANEL}: no break-down point or clean score",
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=9,
            )
        elif drawn <= random:
            stamp_panel(ax)
    axes[0].set_ylabel(f"break-down {PFLIP_LABEL}")
    handles = quantizer_handles(set(breakdown["quantizer"]))
    if arrows["never"]:
        handles.append(
            Line2D(
                [],
                [],
                color="black",
                marker="^",
                markerfacecolor="none",
                linestyle="none",
                label=f"never breaks down within tested P_flip (up to {p_hi:g})",
            )
        )
    if arrows["already"]:
        handles.append(
            Line2D(
                [],
                [],
                color="black",
                marker="v",
                markerfacecolor="none",
                linestyle="none",
                label=f"already broken down at smallest tested P_flip ({p_lo:g})",
            )
        )
    if random & set(breakdown["codec"]):
        handles.append(_random_handle())
    handles.append(Line2D([], [], color="grey", linestyle=":", label="tested P_flip range"))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 3))
    worse = "falls {:g} below" if get_metric(metric).higher_is_better else "rises {:g} above"
    title = f"Break-down P_flip vs bits per frame ({metric} {worse.format(margin)} clean; 95% CI)"
    fig.suptitle(_with_notes(title, notes))
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


#: one marker per concealment of the packet-loss study (colour is the codec's, the line style marks
#: random weights as everywhere else)
CONCEALMENT_MARKERS: Final[Mapping[str, str]] = {
    "repeat": "o",
    "silence": "x",
    "plc": "s",
    "mean-latent": "^",
}
FER_LABEL = "frame (packet) erasure rate"


def loss_panels(tidy: pd.DataFrame) -> list[tuple[str, float]]:
    """The random loss models of ``tidy``'s packet-loss rows as (model, mean burst) panels, i.i.d.
    first, then Gilbert by burst length (NaN burst for i.i.d.)."""
    rows = tidy.loc[tidy["model"].isin(["iid", "gilbert"]), ["model", "burst_length"]]
    unique = rows.drop_duplicates()  # NaN bursts (i.i.d.) are one panel: NaN != NaN in a set
    panels = [(str(m), float(b)) for m, b in zip(unique["model"], unique["burst_length"], strict=True)]
    return sorted(panels, key=lambda mb: (mb[0] != "iid", 0.0 if np.isnan(mb[1]) else mb[1]))


def figure_packet_loss(
    tidy: pd.DataFrame,
    out_stem: Path,
    metrics: Sequence[str],
    display_names: Mapping[str, str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> Figure:
    """The packet-loss study: one row of panels per metric, one column per loss model (i.i.d., then
    Gilbert at each mean burst), each the metric vs FER (log x) per codec x concealment with 95 %
    cluster-bootstrap bands, and each codec's clean mean dashed in its colour.

    A codec keeps its colour in every panel; the concealment is the marker (:data:`CONCEALMENT_MARKERS`).
    Random-weight codecs are dotted and labelled, and a panel showing only them is stamped, as in
    :func:`figure3`. Loss patterns (no nominal FER) are in the tables, not here.
    """
    panels = loss_panels(tidy)
    if not panels:
        raise ValueError("packet-loss figure: no i.i.d. or Gilbert rows in the score table")
    metrics = [m for m in metrics if m in scored_metrics(tidy)]
    if not metrics:
        raise KeyError("packet-loss figure: the score table has none of the study's metrics")
    lossy = tidy[tidy["model"].isin(["iid", "gilbert"])]
    clean = clean_rows(tidy)
    codecs = sorted(lossy["codec"].astype(str).unique())
    colours, random = codec_colours(codecs), random_codecs(tidy)
    fig = Figure(figsize=(4.6 * len(panels), 3.3 * len(metrics) + 0.9), layout="constrained")
    axes = fig.subplots(len(metrics), len(panels), squeeze=False)
    legend: dict[str, Artist] = {}
    for i, metric in enumerate(metrics):
        curve = mean_ci(lossy, ["codec", "concealment", "model", "burst_length", "fer"], metric, n_boot, seed)
        reference = mean_ci(clean, ["codec"], metric, n_boot=0, seed=seed).set_index("codec")["mean"]
        for j, (model, burst) in enumerate(panels):
            ax = axes[i, j]
            in_panel = (curve["model"] == model) & (
                curve["burst_length"].isna() if np.isnan(burst) else curve["burst_length"] == burst
            )
            drawn: set[str] = set()
            for (codec, concealment), stats in curve[in_panel].groupby(["codec", "concealment"], sort=True):
                is_random = codec in random
                label = _label(str(codec), display_names, is_random) + f", {concealment}"
                marker = CONCEALMENT_MARKERS.get(str(concealment), "o")
                if draw_curve(ax, stats, colours[codec], label, is_random, x="fer", marker=marker):
                    drawn.add(str(codec))
            for codec in drawn:
                if codec in reference.index and np.isfinite(reference[codec]):
                    ax.axhline(
                        reference[codec], color=colours[codec], linestyle="--", linewidth=1.0, alpha=0.8
                    )
            style_metric_axis(ax, metric, FER_LABEL)
            ax.set_title("i.i.d. losses" if model == "iid" else f"Gilbert bursts, mean {burst:g} packets")
            if not drawn:
                fers = lossy["fer"].to_numpy(dtype=float)
                fers = fers[fers > 0]
                span = (float(fers.min()) / 1.5, float(fers.max()) * 1.5) if fers.size else (1e-3, 1.0)
                mark_empty_panel(ax, metric, metric_failures(lossy, metric), span)
            elif drawn <= random:
                stamp_panel(ax)
            legend |= dict(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
    fig.legend(
        [*legend.values(), _clean_handle()],
        [*legend, "clean (no losses)"],
        loc="outside lower center",
        ncols=4,
    )
    fig.suptitle("Scores under packet loss (mean, 95% CI; the marker is the concealment)")
    save_figure(fig, out_stem)
    return fig
