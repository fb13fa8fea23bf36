"""Helpers for ``notebooks/inspect_results.ipynb``: find, load and draw what any run left in ``results/``.

(Named ``explore``, not ``inspect``: a module called ``inspect`` shadows the standard library's
whenever its folder is on ``sys.path``.)

The notebook must open *any* run (the full study, the offline overlay, a run cut short, one without a
labelling study), so nothing here assumes a condition exists: everything starts from what is on disk
(:func:`list_conditions`) and the notebook picks the first available codec, dataset and channel.

Figures are :class:`matplotlib.figure.Figure` objects built without pyplot (as in :mod:`nacbench.plots`),
so they can be tested headless and shown in the notebook with ``display``. Nothing here writes into the
results folder. Anything drawn from random-weight codecs gets "(random weights)" in its labels (and a
dotted line), and a panel or figure showing nothing else the red
:data:`nacbench.codecs.base.RANDOM_WEIGHTS_LABEL`,
as in the report's figures: a screenshot of the notebook must not pass for a
result.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf
from matplotlib import colors
from matplotlib.figure import Figure

from nacbench import artifacts
from nacbench.analysis.summary import POOLED_KEYS
from nacbench.artifacts import CodeShard, load_channel_counts, load_shard, load_utterance_ids
from nacbench.channel import codes_to_bits
from nacbench.codecs.base import RANDOM_WEIGHTS_LABEL, CodecInfo
from nacbench.conditions import (
    CHANNEL_MODELS,
    CHANNEL_PARAMETERS,
    CONDITION_COLUMNS,
    LABELLINGS,
    condition_columns,
)
from nacbench.data.manifest import read_manifest
from nacbench.plots import (
    PFLIP_LABEL,
    RANDOM_LABEL,
    clean_rows,
    codec_colours,
    draw_metric_panel,
    p_flip_range,
    random_codecs,
    random_label,
    stamp_panel,
    stamp_random,
    style_metric_axis,
)
from nacbench.tables import failure_counts

__all__ = [
    "CodeExample",
    "bit_errors",
    "code_example",
    "codec_info",
    "condition_label",
    "condition_overview",
    "failure_table",
    "figure_bit_errors",
    "figure_codes",
    "figure_flip_rates",
    "figure_metric_curve",
    "figure_utterance_scatter",
    "first_listened",
    "flip_counts",
    "list_conditions",
    "listening_table",
    "load_pair",
    "load_scores",
    "original_audio_path",
    "pick_channel",
    "pick_example",
    "pooled_flip_rates",
    "random_codecs",
    "read_for_listening",
    "shard_utterances",
]

_MODEL_ORDER = {name: i for i, name in enumerate(CHANNEL_MODELS)}
_LABELLING_ORDER = {name: i for i, name in enumerate(LABELLINGS)}
#: scatter markers of :data:`nacbench.conditions.LABELLINGS`, in its order (one per labelling)
_LABELLING_MARKERS = ("o", "s", "^", "D")


# ------------------------------------------------------------------------------------------- discovery


def codec_info(results: str | Path, codec: str) -> CodecInfo | None:
    """The codec's ``codes/{codec}/codec.json``, or ``None`` when the encode stage has not written it."""
    path = Path(artifacts.codec_info(results, codec))
    return CodecInfo.read(path) if path.is_file() else None


def _sort_conditions(df: pd.DataFrame) -> pd.DataFrame:
    """Clean first, then BSC, then GE; natural labelling first; then P_flip, seed and shard ascending."""
    if df.empty:
        return df.reset_index(drop=True)
    order = df.assign(
        _m=df["model"].map(_MODEL_ORDER).fillna(9), _l=df["labelling"].map(_LABELLING_ORDER).fillna(9)
    )
    keys = ["codec", "dataset", "_l", "_m", "p_flip", "burst_length", "seed", "shard"]
    return order.sort_values(keys, kind="stable").drop(columns=["_m", "_l"]).reset_index(drop=True)


def list_conditions(results: str | Path) -> pd.DataFrame:
    """Every (codec, dataset, channel, shard) that has a channel artifact or a listening folder.

    Columns: :data:`CONDITION_COLUMNS`, ``has_codes`` (the channel ``.npz`` exists), ``n_listen``
    (FLAC files kept for listening) and ``random_weights`` (from ``codec.json``; ``NA`` if absent).
    Folders whose name is not a channel name are skipped with a warning rather than failing the
    notebook: a half-finished or hand-edited run should still be inspectable.
    """
    results = Path(results)
    found: dict[tuple[str, str, str, str], dict[str, object]] = {}
    shards, odd_shards = artifacts.find(results, "channel_shard")
    for a in shards:
        key = (str(a.codec), str(a.dataset), str(a.channel), str(a.shard))
        found.setdefault(key, {"has_codes": False, "n_listen": 0})["has_codes"] = True
    folders, odd_folders = artifacts.find(results, "listen_dir")
    for a in folders:
        key = (str(a.codec), str(a.dataset), str(a.channel), str(a.shard))
        found.setdefault(key, {"has_codes": False, "n_listen": 0})["n_listen"] = len(
            artifacts.listened_utterances(a.path)
        )
    rows = [{**condition_columns(*key), **flags} for key, flags in found.items()]
    skipped = [p.relative_to(results).as_posix() for p in [*odd_shards, *odd_folders]]
    if skipped:
        warnings.warn(f"{results}: skipped folders that are not channel names: {skipped[:5]}", stacklevel=2)
    columns = [*CONDITION_COLUMNS, "has_codes", "n_listen", "random_weights"]
    if not rows:
        return pd.DataFrame(columns=columns)
    df = pd.DataFrame(rows)
    infos = {codec: codec_info(results, codec) for codec in df["codec"].unique()}
    df["random_weights"] = df["codec"].map(
        {c: (pd.NA if info is None else info.random_weights) for c, info in infos.items()}
    )
    return _sort_conditions(df[columns])


def condition_overview(conditions: pd.DataFrame) -> pd.DataFrame:
    """One short row per (codec, dataset, model, labelling): which P_flips, seeds and shards exist,
    and how many listening files were kept. The full :func:`list_conditions` table can run to
    hundreds of rows; this is the one to read first."""
    keys = ["codec", "dataset", "model", "labelling"]
    columns = [*keys, "p_flip", "seeds", "shards", "has_codes", "n_listen", "random_weights"]
    if conditions.empty:
        return pd.DataFrame(columns=columns)

    def listed(values: pd.Series) -> str:
        return ", ".join(format(v, "g") for v in sorted(set(values)))

    grouped = conditions.groupby(keys, sort=False)
    overview = grouped.agg(
        p_flip=("p_flip", listed),
        seeds=("seed", listed),
        shards=("shard", "nunique"),
        has_codes=("has_codes", "all"),
        n_listen=("n_listen", "sum"),
        random_weights=("random_weights", "first"),
    )
    return overview.reset_index()[columns]


def pick_example(
    conditions: pd.DataFrame, codec: str | None = None, dataset: str | None = None
) -> tuple[str, str]:
    """(codec, dataset) to show: the given ones, else the first (in :func:`list_conditions` order) that
    has both channel artifacts and a perturbed condition, else the first with anything at all."""
    rows = conditions
    if codec is not None:
        rows = rows[rows["codec"] == codec]
    if dataset is not None:
        rows = rows[rows["dataset"] == dataset]
    if rows.empty:
        raise LookupError(
            f"no conditions for codec={codec!r}, dataset={dataset!r}; the run has "
            f"{sorted(set(zip(conditions['codec'], conditions['dataset'], strict=True)))}"
        )
    perturbed = rows[rows["has_codes"].astype(bool) & (rows["model"] != "clean")]
    first = (perturbed if not perturbed.empty else rows).iloc[0]
    return str(first["codec"]), str(first["dataset"])


def pick_channel(
    conditions: pd.DataFrame,
    codec: str,
    dataset: str,
    p_flip: float,
    model: str = "bsc",
    shard: str | None = None,
) -> pd.Series | None:
    """The natural-labelling ``model`` condition of (codec, dataset) whose P_flip is nearest ``p_flip``
    on a log scale (then: ``shard`` if it has one, lowest seed, first shard), among those with a channel
    artifact; ``None`` if there is none."""
    rows = conditions[
        (conditions["codec"] == codec)
        & (conditions["dataset"] == dataset)
        & (conditions["model"] == model)
        & (conditions["labelling"] == "natural")
        & conditions["has_codes"].astype(bool)
        & (conditions["p_flip"] > 0)
    ]
    if rows.empty:
        return None
    distance = np.abs(np.log(rows["p_flip"].to_numpy(float)) - np.log(float(p_flip)))
    rows = rows.assign(_d=distance, _other=rows["shard"] != shard)
    rows = rows.sort_values(["_d", "_other", "p_flip", "seed", "shard"], kind="stable")
    return rows.iloc[0].drop(["_d", "_other"])


def condition_label(row: pd.Series | Mapping[str, Any]) -> str:
    """A short human name for a condition: "clean", "BSC P_flip=0.01 (seed 0)", "GE ... gray" ..."""
    if row["model"] == "clean":
        text = "clean (codec, no bit errors)"
    else:
        text = f"{str(row['model']).upper()} P_flip={float(row['p_flip']):g}"
        if row["model"] == "ge":
            text += f", bursts of {float(row['burst_length']):g} bits"
        text += f" (seed {int(row['seed'])})"
    if row["labelling"] != "natural":
        text += f", {row['labelling']} labelling"
    flag = row.get("random_weights")
    if flag is not None and not pd.isna(flag) and bool(flag):
        text += f" ({RANDOM_WEIGHTS_LABEL})"
    return text


# ------------------------------------------------------------------------------------------- listening


def listening_table(
    results: str | Path,
    conditions: pd.DataFrame,
    codec: str,
    dataset: str,
    utt: str,
    labelling: str = "natural",
    first_seed_only: bool = True,
) -> pd.DataFrame:
    """Conditions of (codec, dataset) under which ``utt`` was kept for listening, with its FLAC path.

    Ordered clean first, then by P_flip. With ``first_seed_only`` a P_flip appears once (its lowest
    seed): the seeds are draws of the same channel, and one is enough to hear it.
    """
    rows = conditions[
        (conditions["codec"] == codec)
        & (conditions["dataset"] == dataset)
        & (conditions["labelling"] == labelling)
        & (conditions["n_listen"] > 0)
    ].copy()
    rows["path"] = [
        artifacts.listen_flac(artifacts.listen_dir(results, codec, dataset, ch, sh), utt)
        for ch, sh in zip(rows["channel"], rows["shard"], strict=True)
    ]
    rows = rows[[p.is_file() for p in rows["path"]]]
    if first_seed_only and not rows.empty:
        rows = rows.drop_duplicates(subset=list(CHANNEL_PARAMETERS), keep="first")
    return rows.reset_index(drop=True)


def original_audio_path(
    results: str | Path, dataset: str, utt: str, workdir: str | Path | None = None
) -> Path:
    """Path of ``utt``'s original recording, from ``data/{dataset}/manifest.tsv``.

    The dataset readers write absolute paths. A relative one (a hand-written manifest) is taken
    relative to ``workdir``, the directory the workflow ran in (the repository root, where Snakemake
    resolves relative paths), by default the current directory: not to the results folder's parent,
    which for ``results/offline`` is ``results/``.
    """
    manifest_path = Path(artifacts.manifest(results, dataset))
    manifest = read_manifest(manifest_path)
    match = manifest.loc[manifest["utt_id"] == utt, "path"]
    if match.empty:
        raise KeyError(f"{manifest_path}: no utterance {utt!r}")
    path = Path(match.iloc[0])
    return (
        path if path.is_absolute() else Path(workdir if workdir is not None else Path.cwd()).resolve() / path
    )


def read_for_listening(path: str | Path) -> tuple[np.ndarray, int]:
    """(mono float32 samples, sample rate) of any audio file, at its own rate (playback needs no
    resampling, and the listening copies keep each codec's output rate)."""
    wav, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return wav.mean(axis=1), int(rate)


def first_listened(
    results: str | Path, conditions: pd.DataFrame, codec: str, dataset: str
) -> tuple[str, str] | None:
    """(utterance, shard) of the first utterance (by id) kept for listening for (codec, dataset), looked
    up under the clean channel first; ``None`` when the run kept none. Every condition keeps the same
    listening subset, so the clean channel's choice is heard under every P_flip."""
    rows = conditions[
        (conditions["codec"] == codec) & (conditions["dataset"] == dataset) & (conditions["n_listen"] > 0)
    ]
    for row in rows.itertuples(index=False):
        stems = artifacts.listened_utterances(
            artifacts.listen_dir(results, codec, dataset, row.channel, row.shard)
        )
        if stems:
            return stems[0], str(row.shard)
    return None


# --------------------------------------------------------------------------------------- codes and bits


def _utterance(shard: CodeShard, path: Path, utt: str) -> np.ndarray:
    try:
        return shard.codes[shard.utt_ids.index(utt)]
    except ValueError:
        raise KeyError(f"{path}: no utterance {utt!r} (it holds {shard.utt_ids[:5]}...)") from None


def load_pair(
    results: str | Path, codec: str, dataset: str, channel: str, shard: str, utt: str
) -> tuple[np.ndarray, np.ndarray]:
    """(clean codes, received codes) of one utterance, each ``[n_codebooks, frames]``.

    Clean codes come from the encode stage (``codes/{codec}/{dataset}/{shard}.npz``), received ones from
    the channel stage (``channel/{codec}/{dataset}/{channel}/{shard}.npz``). For a non-natural labelling
    the received codes are already mapped back to the codec's own indices, as the decoder saw them.
    """
    clean_path = Path(artifacts.codes_shard(results, codec, dataset, shard))
    received_path = Path(artifacts.channel_shard(results, codec, dataset, channel, shard))
    for path in (clean_path, received_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such code artifact")
    clean = _utterance(load_shard(clean_path), clean_path, utt)
    received = _utterance(load_shard(received_path), received_path, utt)
    if clean.shape != received.shape:
        raise ValueError(
            f"{utt}: clean codes {clean.shape} ({clean_path}) and received codes {received.shape} "
            f"({received_path}) differ in shape"
        )
    return clean, received


def bit_errors(clean: np.ndarray, received: np.ndarray, bits_per_codebook: Sequence[int]) -> np.ndarray:
    """Which transmitted bits differ between two code matrices: uint8 ``[bits_per_frame, frames]``.

    Rows are the bits of one frame in stream order (codebook 0's bits first, most significant first),
    columns are frames: the layout of :func:`nacbench.channel.codes_to_bits`, folded so it can be drawn.
    For a natural-labelling channel (and no out-of-range clamping) this is exactly the channel's error
    pattern; for another labelling it is the difference in the codec's own index bits.
    """
    clean, received = np.asarray(clean), np.asarray(received)
    if clean.shape != received.shape:
        raise ValueError(f"code matrices differ in shape: {clean.shape} vs {received.shape}")
    per_frame = int(sum(int(w) for w in bits_per_codebook))
    xor = codes_to_bits(clean, bits_per_codebook) ^ codes_to_bits(received, bits_per_codebook)
    return xor.reshape(clean.shape[1], per_frame).T


@dataclass(frozen=True)
class CodeExample:
    """One utterance's codes before and after one channel condition, with what is needed to draw them."""

    codec: str
    dataset: str
    utt: str
    condition: pd.Series
    clean: np.ndarray
    received: np.ndarray
    bits_per_codebook: tuple[int, ...]
    random_weights: bool

    @property
    def errors(self) -> np.ndarray:
        """The bit error pattern ``[bits_per_frame, frames]`` (see :func:`bit_errors`)."""
        return bit_errors(self.clean, self.received, self.bits_per_codebook)

    @property
    def title(self) -> str:
        return f"{self.codec} · {self.dataset} · {self.utt} · {condition_label(self.condition)}"


def shard_utterances(results: str | Path, codec: str, dataset: str, shard: str) -> list[str]:
    """Utterance ids of one clean code shard, in stored order."""
    return load_utterance_ids(artifacts.codes_shard(results, codec, dataset, shard))


def _shard_holding(results: Path, codec: str, dataset: str, utt: str) -> str | None:
    for shard in artifacts.find(results, "codes_shard", codec=codec, dataset=dataset)[0]:
        if utt in load_utterance_ids(shard.path):
            return shard.shard
    return None


def code_example(
    results: str | Path,
    conditions: pd.DataFrame,
    codec: str,
    dataset: str,
    p_flip: float,
    utt: str | None = None,
    model: str = "bsc",
) -> CodeExample | None:
    """Codes of ``utt`` (default: the first of the chosen shard) clean and under the natural-labelling
    ``model`` condition nearest ``p_flip``; ``None`` when (codec, dataset) has no such condition."""
    results = Path(results)
    preferred = _shard_holding(results, codec, dataset, utt) if utt is not None else None
    chosen = pick_channel(conditions, codec, dataset, p_flip, model=model, shard=preferred)
    if chosen is None:
        return None
    shard = str(chosen["shard"])
    if utt is None or shard != preferred:
        utt = shard_utterances(results, codec, dataset, shard)[0]
    info = codec_info(results, codec)
    if info is None:
        raise FileNotFoundError(f"{artifacts.codec_info(results, codec)}: missing; cannot lay out the bits")
    clean, received = load_pair(results, codec, dataset, str(chosen["channel"]), shard, utt)
    return CodeExample(
        codec, dataset, utt, chosen, clean, received, info.bits_per_codebook, info.random_weights
    )


def flip_counts(results: str | Path, conditions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Bits sent and flipped per channel artifact (summed over its utterances), as the channel stage
    recorded them; one row per artifact with :data:`CONDITION_COLUMNS`, ``bits_sent``, ``bits_flipped``,
    ``out_of_range`` and ``n_utterances``."""
    conditions = list_conditions(results) if conditions is None else conditions
    rows = []
    for row in conditions[conditions["has_codes"].astype(bool)].itertuples(index=False):
        path = artifacts.channel_shard(results, row.codec, row.dataset, row.channel, row.shard)
        per_utt = load_channel_counts(path)
        counts = {k: int(v.sum()) for k, v in per_utt.items()}
        counts["n_utterances"] = int(per_utt["bits_sent"].size)
        rows.append({c: getattr(row, c) for c in CONDITION_COLUMNS} | counts)
    columns = [*CONDITION_COLUMNS, "bits_sent", "bits_flipped", "out_of_range", "n_utterances"]
    return pd.DataFrame(rows, columns=columns)


def pooled_flip_rates(
    counts: pd.DataFrame,
    by: Sequence[str] = POOLED_KEYS,
) -> pd.DataFrame:
    """Measured bit error rate per group, pooled over shards and seeds, beside the nominal P_flip.

    ``z`` is (measured - nominal) / binomial standard error of the pooled count: |z| well above 3 means
    the channel did not do what its name says. Labellings are kept apart by default because all of a
    condition's labellings see the same errors (common random numbers): pooling them would count the
    same flips several times.
    """
    by = [c for c in by if c in counts.columns]
    grouped = counts.groupby(by, sort=True, dropna=False)[["bits_sent", "bits_flipped"]].sum().reset_index()
    sent = grouped["bits_sent"].to_numpy(float)
    nominal = grouped["p_flip"].to_numpy(float) if "p_flip" in grouped else np.full(len(grouped), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        measured = np.where(
            sent > 0, grouped["bits_flipped"].to_numpy(float) / np.where(sent > 0, sent, 1), np.nan
        )
        se = np.sqrt(nominal * (1.0 - nominal) / sent)
        z = np.where(se > 0, (measured - nominal) / np.where(se > 0, se, 1.0), np.nan)
    return grouped.assign(measured=measured, nominal=nominal, z=z)


# --------------------------------------------------------------------------------------------- scores


def load_scores(results: str | Path, dataset: str | None = None) -> tuple[str, pd.DataFrame] | None:
    """(dataset, tidy score table) from ``tables/scores_<dataset>.parquet``; the first dataset in name
    order when ``dataset`` is None; ``None`` when the run has no score table yet."""
    if dataset is not None:
        path = Path(artifacts.tidy_scores(results, dataset))
        return (dataset, artifacts.read_parquet(path)) if path.is_file() else None
    found = artifacts.find(results, "tidy_scores")[0]
    if not found:
        return None
    return str(found[0].dataset), artifacts.read_parquet(found[0].path)


def failure_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """:func:`nacbench.tables.failure_counts` (NaN scores and their reasons, ``random_weights`` per row);
    a table without the flag has no row it can vouch for as random."""
    table = failure_counts(tidy)
    return table if "random_weights" in table.columns else table.assign(random_weights=False)


# --------------------------------------------------------------------------------------------- figures


def _label(codec: str, random: Iterable[str]) -> str:
    return random_label(codec, codec in set(random))


def _all_random(codecs: Iterable[str], random: Iterable[str]) -> bool:
    """Stamp a panel only when everything in it is built on random weights (as the report does)."""
    codecs = set(codecs)
    return bool(codecs) and codecs <= set(random)


def _finish(fig: Figure, random_weights: bool) -> Figure:
    if random_weights:
        stamp_random(fig)
    return fig


def figure_codes(clean: np.ndarray, received: np.ndarray, title: str, random_weights: bool = False) -> Figure:
    """Clean and received code matrices (codebook x frame) on one colour scale, plus where they differ."""
    fig = Figure(figsize=(11, 6.5), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    vmax = max(int(np.max(clean, initial=0)), int(np.max(received, initial=0)), 1)
    for ax, codes, name in zip(axes[:2], (clean, received), ("clean", "received"), strict=True):
        image = ax.imshow(codes, aspect="auto", interpolation="nearest", cmap="viridis", vmin=0, vmax=vmax)
        ax.set_ylabel(f"{name}\ncodebook")
    fig.colorbar(image, ax=axes[:2].tolist(), label="code index")
    changed = np.asarray(clean) != np.asarray(received)
    axes[2].imshow(changed, aspect="auto", interpolation="nearest", cmap="Greys", vmin=0, vmax=1)
    axes[2].set_ylabel("changed\ncodebook")
    axes[2].set_xlabel("frame")
    axes[2].set_title(
        f"{int(changed.sum())} of {changed.size} codes changed ({changed.mean():.2%})", fontsize=9
    )
    fig.suptitle(title + (f" {RANDOM_LABEL}" if random_weights else ""))
    return _finish(fig, random_weights)


def figure_bit_errors(
    errors: np.ndarray, bits_per_codebook: Sequence[int], title: str, random_weights: bool = False
) -> Figure:
    """The bit error pattern (black = flipped), with a line between codebooks when they are wider
    than one bit, so a flip's position in its index (MSB at the top) can be read off."""
    errors = np.asarray(errors)
    fig = Figure(figsize=(11, 4), layout="constrained")
    ax = fig.subplots()
    ax.imshow(errors, aspect="auto", interpolation="nearest", cmap="Greys", vmin=0, vmax=1)
    widths = [int(w) for w in bits_per_codebook]
    if max(widths) > 1 and len(widths) <= 64:
        for edge in np.cumsum(widths)[:-1]:
            ax.axhline(edge - 0.5, color="tab:red", linewidth=0.4, alpha=0.5)
    ax.set_xlabel("frame")
    ax.set_ylabel("bit in frame (codebook-major, MSB first)")
    rate = errors.mean() if errors.size else float("nan")
    ax.set_title(f"{title}: {int(errors.sum())} of {errors.size} bits differ ({rate:.3%})")
    if random_weights:
        ax.set_title(ax.get_title() + f" {RANDOM_LABEL}")
    return _finish(fig, random_weights)


def figure_flip_rates(pooled: pd.DataFrame, random: Iterable[str] = ()) -> Figure:
    """Measured vs nominal bit error rate per codec (log-log, perturbed channels only), with y = x."""
    random = set(random)
    rows = pooled[pooled["nominal"] > 0]
    fig = Figure(figsize=(5.5, 4.5), layout="constrained")
    ax = fig.subplots()
    codecs = sorted(rows["codec"].astype(str).unique())
    colours = codec_colours(codecs)
    markers = dict(zip(LABELLINGS, _LABELLING_MARKERS, strict=True))
    keys = [c for c in ("codec", "model", "labelling") if c in rows.columns]
    for key, group in rows.groupby(keys, sort=True):
        found = dict(zip(keys, key, strict=True))
        codec, model, labelling = (str(found.get(k, "")) for k in ("codec", "model", "labelling"))
        bursty = model == "ge"  # hollow markers: a bursty channel beside the BSC at the same rate
        ax.scatter(
            group["nominal"],
            group["measured"],
            marker=markers.get(labelling, "x"),
            facecolors="none" if bursty else colours[codec],
            edgecolors=colours[codec],
            label=f"{_label(codec, random)}, {model.upper()}, {labelling}",
            alpha=0.8,
        )
    if not rows.empty:
        span = np.array([rows["nominal"].min() / 2, min(1.0, rows["nominal"].max() * 2)])
        ax.plot(span, span, color="grey", linestyle="--", linewidth=1, label="measured = nominal")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    ax.set_xlabel(PFLIP_LABEL)
    ax.set_ylabel("measured flip rate (bits flipped / sent)")
    ax.set_title("Bit errors the channel stage recorded")
    return _finish(fig, _all_random(codecs, random))


def _sweep(tidy: pd.DataFrame, labelling: str) -> pd.DataFrame:
    return tidy[(tidy["model"] == "bsc") & (tidy["labelling"] == labelling)]


def figure_metric_curve(
    tidy: pd.DataFrame, metric: str = "stoi", labelling: str = "natural", n_boot: int = 200, seed: int = 0
) -> Figure:
    """Mean ``metric`` vs P_flip per codec (BSC, one labelling) with a 95 % utterance bootstrap band,
    each codec's clean mean dashed; a quick re-plot of Fig. 3's panel, not a replacement for it."""
    sweep, random = _sweep(tidy, labelling), random_codecs(tidy)
    codecs = sorted(sweep["codec"].astype(str).unique())
    fig = Figure(figsize=(6, 4.2), layout="constrained")
    ax = fig.subplots()
    if not sweep.empty:
        clean = clean_rows(tidy[tidy["codec"].isin(codecs)])
        draw_metric_panel(ax, metric, tidy, sweep, clean, codec_colours(codecs), random, None, n_boot, seed)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, f"no BSC rows with labelling {labelling!r}", ha="center", transform=ax.transAxes)
        style_metric_axis(ax, metric)
        ax.set_xlim(*p_flip_range(sweep))
    ax.set_title(f"{metric} vs P_flip ({labelling} labelling; dashed = clean)")
    return fig


def figure_utterance_scatter(tidy: pd.DataFrame, metric: str = "stoi", labelling: str = "natural") -> Figure:
    """Per utterance (and seed): its clean score against its score under each BSC P_flip, one panel per
    codec. Points far below the diagonal are the utterances a channel hurts most; the spread at one
    P_flip shows how much a mean hides."""
    sweep, random = _sweep(tidy, labelling), random_codecs(tidy)
    keys = [c for c in ("codec", "dataset", "utt_id") if c in tidy.columns]
    clean = tidy[tidy["model"] == "clean"].drop_duplicates(subset=keys)[[*keys, metric]]
    pairs = sweep.merge(clean, on=keys, suffixes=("", "_clean"))
    codecs = sorted(pairs["codec"].astype(str).unique()) or ["(none)"]
    fig = Figure(
        figsize=(4.2 * min(len(codecs), 3), 3.9 * int(np.ceil(len(codecs) / 3))), layout="constrained"
    )
    axes = fig.subplots(int(np.ceil(len(codecs) / 3)), min(len(codecs), 3), squeeze=False).ravel()
    p_values = pairs["p_flip"].to_numpy(float)
    norm = colors.LogNorm(vmin=p_values.min(), vmax=p_values.max()) if p_values.size else None
    mappable = None
    for ax, codec in zip(axes, codecs, strict=False):
        group = pairs[pairs["codec"] == codec]
        x, y = group[f"{metric}_clean"].to_numpy(float), group[metric].to_numpy(float)
        scored = np.isfinite(x) & np.isfinite(y)  # a pair needs both scores; the rest are counted
        if scored.any():
            mappable = ax.scatter(
                x[scored], y[scored], c=group["p_flip"][scored], cmap="plasma", norm=norm, s=14, alpha=0.8
            )
            low, high = min(x[scored].min(), y[scored].min()), max(x[scored].max(), y[scored].max())
            ax.plot([low, high], [low, high], color="grey", linestyle="--", lw=1)
        else:
            ax.text(0.5, 0.5, "no scored clean/BSC pairs", ha="center", transform=ax.transAxes)
        missing = int((~scored).sum())
        ax.text(
            0.02,
            0.02,
            f"{int(scored.sum())} pairs, {missing} without both scores",
            transform=ax.transAxes,
            fontsize=8,
            color="0.3",
        )
        ax.set_title(_label(codec, random))
        if codec in random:
            stamp_panel(ax)  # one codec per panel: the stamp marks exactly its panel
        ax.set_xlabel(f"{metric}, clean")
        ax.set_ylabel(f"{metric}, after the channel")
    for ax in axes[len(codecs) :]:
        ax.set_visible(False)
    if mappable is not None:
        fig.colorbar(mappable, ax=axes[: len(codecs)].tolist(), label=PFLIP_LABEL)
    fig.suptitle(f"Per-utterance {metric}: clean vs BSC ({labelling} labelling)")
    return fig
