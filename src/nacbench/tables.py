"""The report's tables: paper Tables 2 and 3, a per-condition summary, and metric-failure counts.

Table builders are pure (rows or a tidy score table in, a DataFrame out); :func:`write_table` is the one
place that touches files, writing the same table three ways (csv for machines, md for reading on the
web, booktabs tex for the paper). Notes — above all "RANDOM WEIGHTS - not a result" — travel with the
table into every human-readable format so a number cannot be quoted without its caveat.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nacbench import artifacts
from nacbench.analysis.summary import mean_ci, pooled_condition_keys
from nacbench.codecs.base import RANDOM_WEIGHTS_LABEL, CodecInfo
from nacbench.metrics import metric_names

__all__ = [
    "UNAVAILABLE",
    "failure_counts",
    "format_cell",
    "random_note",
    "random_rows",
    "summary_table",
    "with_error_axes",
    "table2",
    "table3",
    "table_notes",
    "tex_escape",
    "to_latex",
    "to_markdown",
    "write_table",
]

#: what a Table 2 cell shows when the model's weights could not be loaded: never a number
UNAVAILABLE = "n/a (weights unavailable)"
RANDOM_INIT = "random init"
#: trained weights as released, or a classical codec as specified (Codec2, G.711): nothing random
PUBLISHED = "published"

_QUANTIZER_NAMES = {"fsq": "FSQ", "rvq": "RVQ", "parametric": "Parametric", "other": "Other"}
_TEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


# ----------------------------------------------------------------------------------------- rendering


def format_cell(value: Any, float_format: str = "{:.4g}") -> str:
    """Text for one cell: NaN/None as "n/a", integral numbers without decimals, floats to 4 digits."""
    if value is None or (isinstance(value, float | np.floating) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return float_format.format(float(value))
    return str(value)


def _formatted(df: pd.DataFrame, float_format: str) -> pd.DataFrame:
    return df.apply(lambda col: col.map(lambda v: format_cell(v, float_format))).astype(str)


def random_rows(df: pd.DataFrame) -> pd.Series:
    """Which rows are built on random weights: a true ``random_weights`` cell or a "random init"
    ``Weights`` cell (the two ways a table marks a row)."""
    flags = pd.Series(False, index=df.index)
    if "random_weights" in df.columns:
        flags |= df["random_weights"].astype("boolean").fillna(False).astype(bool)
    if "Weights" in df.columns:
        flags |= df["Weights"].astype(str).str.contains(RANDOM_INIT, regex=False)
    return flags


def random_note(df: pd.DataFrame) -> str | None:
    """The warning for a table with random-weight rows, naming those rows when others are real.

    Like the figures' stamp, it covers what is random and no more: in a table that mixes a real codec
    (Lyra, Codec2) with random-weight ones, the real rows stay results and the note says which are not.
    """
    flags = random_rows(df)
    if not flags.any():
        return None
    if flags.all():
        return RANDOM_WEIGHTS_LABEL
    marker = "random_weights = yes" if "random_weights" in df.columns else f"Weights = {RANDOM_INIT}"
    return (
        f"{RANDOM_WEIGHTS_LABEL}: the {int(flags.sum())} of {len(df)} rows with {marker}; "
        "the other rows are built on published weights or classical codecs"
    )


def table_notes(df: pd.DataFrame, notes: Iterable[str] = ()) -> list[str]:
    """The caller's notes, plus the table's own (``df.attrs["notes"]``) and a random-weights warning
    whenever a row is marked as random-weight (see :func:`random_note`)."""
    out = [*notes, *df.attrs.get("notes", [])]
    warning = random_note(df)
    if warning and not any(RANDOM_WEIGHTS_LABEL.lower() in n.lower() for n in out):
        out.insert(0, warning)
    return list(dict.fromkeys(out))  # keep order, drop repeats


def to_markdown(
    df: pd.DataFrame, caption: str, notes: Sequence[str] = (), float_format: str = "{:.4g}"
) -> str:
    """A caption line, a pipe table and one bold line per note under it."""
    align = tuple("right" if pd.api.types.is_numeric_dtype(df[c]) else "left" for c in df.columns)
    body = _formatted(df, float_format).to_markdown(index=False, disable_numparse=True, colalign=align)
    lines = [f"**{caption}**", "", body, ""]
    lines += [f"**Note:** {note}  " for note in notes]
    return "\n".join(lines).rstrip() + "\n"


def tex_escape(text: str) -> str:
    """Escape LaTeX's special characters (one pass, so escapes are not escaped again)."""
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in str(text))


def to_latex(df: pd.DataFrame, caption: str, notes: Sequence[str] = (), float_format: str = "{:.4g}") -> str:
    """A booktabs ``table`` with the caption on top and the notes as footnote-size lines underneath.

    Hand-rolled rather than ``Styler.to_latex`` so every cell and header is escaped the same way and the
    output does not depend on jinja2's presence.
    """
    cells = _formatted(df, float_format)
    align = "".join("r" if pd.api.types.is_numeric_dtype(df[c]) else "l" for c in df.columns)
    rows = [" & ".join(tex_escape(v) for v in row) + r" \\" for row in cells.itertuples(index=False)]
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{tex_escape(caption)}}}",
        rf"\begin{{tabular}}{{{align}}}",
        r"\toprule",
        " & ".join(tex_escape(c) for c in df.columns) + r" \\",
        r"\midrule",
        *rows,
        r"\bottomrule",
        r"\end{tabular}",
    ]
    for note in notes:
        text = tex_escape(note)
        if RANDOM_WEIGHTS_LABEL.lower() in note.lower():
            text = rf"\textbf{{\textcolor{{red}}{{{text}}}}}"
        lines.append(rf"\par\footnotesize {text}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def write_table(
    df: pd.DataFrame, stem: Path, caption: str, notes: Sequence[str] = (), float_format: str = "{:.4g}"
) -> dict[str, Path]:
    """Write ``stem.csv`` (full precision), ``stem.md`` and ``stem.tex``; return the three paths.

    The notes (the caller's, the table's ``attrs["notes"]`` and an automatic random-weights warning) go
    under the markdown table and under the LaTeX tabular. The csv gets them as leading ``#`` comment
    lines only if there are any, so a plain table stays a plain csv (read it with ``comment="#"``).
    The tex uses ``\\textcolor`` for the warning: include ``xcolor`` and ``booktabs``.
    """
    stem = Path(stem)
    all_notes = table_notes(df, notes)
    header = "".join(f"# {note}\n" for note in all_notes)
    render = {
        ".csv": lambda: header + df.to_csv(index=False),
        ".md": lambda: to_markdown(df, caption, all_notes, float_format),
        ".tex": lambda: to_latex(df, caption, all_notes, float_format),
    }
    paths = {}
    for suffix in artifacts.TABLE_FORMATS:  # the formats the workflow's multiext expects, defined there
        paths[suffix.lstrip(".")] = path = stem.with_name(stem.name + suffix)
        with artifacts.atomic_path(path) as tmp:
            tmp.write_text(render[suffix]())
    return paths


# ------------------------------------------------------------------------------------------ tables


def _weights_label(info_random: bool, available: bool = True) -> str:
    if not available:
        return UNAVAILABLE
    return RANDOM_INIT if info_random else PUBLISHED


def _number(value: float) -> int | float:
    """Show 24.0 as 24 but keep 22.05 as it is."""
    return int(value) if float(value).is_integer() else float(value)


def table3(infos: Sequence[CodecInfo]) -> pd.DataFrame:
    """Paper Table 3 (compared FSQ and RVQ models), extended with the bit budget each codec transmits.

    The rate is the output sample rate, as the paper lists it (NeuCodec 24, StableCodec 16, DAC 24,
    EnCodec 24 kHz). Bits come from the codebook sizes, exactly as the channel stage writes them.
    """
    rows = []
    for info in infos:
        bits = sorted(set(info.bits_per_codebook))
        rows.append(
            {
                "Model": info.display_name or info.name,
                "Rate (kHz)": _number(info.output_sample_rate / 1000),
                "Quantizer": _QUANTIZER_NAMES.get(info.quantizer, str(info.quantizer)),
                "Codebooks": info.n_codebooks,
                "FSQ levels": ",".join(map(str, info.fsq_levels)) if info.fsq_levels else "",
                "Bits/codebook": ",".join(map(str, bits)) if len(bits) > 1 else bits[0],
                "Bits/frame": info.bits_per_frame,
                "Frame rate (Hz)": _number(info.frame_rate),
                "Bitrate (kbps)": info.bitrate_bps / 1000,
                "Weights": _weights_label(info.random_weights),
            }
        )
    return pd.DataFrame(rows)


_TABLE2_MEASURED = {"WER (%)": "wer", "CER (%)": "cer", "STOI": "stoi", "PESQ": "pesq", "encRTF": "enc_rtf"}


def _millions(count: Any) -> float:
    return float(count) / 1e6 if count is not None else np.nan


def parameter_note(encoder: str, params: dict[str, Any]) -> str | None:
    """The per-module sums behind an encoder's parameter columns, as a line under Table 2.

    The paper gives rounded figures (NeuCodec 35 / 600, Distilled 21 / 21 M) without saying which
    modules they cover; this line says exactly which modules ours count, so a difference can be traced.
    """
    parts = params.get("parts") or {}
    if not parts:
        return None
    columns = []
    for column in ("acoustic", "semantic"):
        items = {k.split(".", 1)[1]: v for k, v in parts.items() if k.startswith(f"{column}_encoder.")}
        if items:
            terms = " + ".join(f"{name} {_millions(v):.2f}" for name, v in items.items())
            columns.append(f"{column} {_millions(sum(items.values())):.2f} = {terms}")
    text = f"{encoder} encoder parameters (M): " + "; ".join(columns)
    if params.get("encoder_total") is not None:
        text += (
            f"; with the fusion layer and the FSQ input projection {_millions(params['encoder_total']):.2f}"
        )
    if params.get("semantic_note"):
        text += f" (semantic model {params['semantic_note']})"
    return text


def table2(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Paper Table 2: parameters (millions) and autoencoding scores per encoder/decoder pair.

    A row with ``available=False`` keeps its parameter counts (they come from the architecture) but its
    measured cells read :data:`UNAVAILABLE` — never a number from elsewhere — and its reason is added to
    ``attrs["notes"]``. Random-weight rows are labelled "random init" (and trigger the warning note).
    Each encoder whose ``params`` carry per-module ``parts`` gets one :func:`parameter_note`.
    """
    out, notes = [], []
    for row in rows:
        params = row.get("params") or {}
        acoustic, semantic = _millions(params.get("acoustic")), _millions(params.get("semantic"))
        total = _millions(params["total"]) if params.get("total") is not None else acoustic + semantic
        available = bool(row.get("available", True))
        record: dict[str, Any] = {
            "Encoder": row["encoder"],
            "Decoder": row["decoder"],
            "Acoustic (M)": acoustic,
            "Semantic (M)": semantic,
            "Total (M)": total,
        }
        for column, key in _TABLE2_MEASURED.items():
            value = row.get(key)
            record[column] = (np.nan if value is None else float(value)) if available else UNAVAILABLE
        record["Device"] = row.get("device", "")
        record["ASR model"] = row.get("asr_model", "")
        record["Weights"] = _weights_label(bool(row.get("random_weights", False)), available)
        note = parameter_note(row["encoder"], params)
        if note and note not in notes:
            notes.append(note)
        if not available:
            notes.append(
                f"{row['encoder']} / {row['decoder']}: {UNAVAILABLE}: {row.get('reason') or 'no reason given'}"
            )
        out.append(record)
    df = pd.DataFrame(out)
    df.attrs["notes"] = notes
    return df


def failure_counts(tidy: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Per codec x (dataset) x channel x labelling: rows, NaN count per metric, and the distinct reasons.

    A mean is only as good as the scores behind it; this table says how many were missing and why. When
    the score table carries the channel's out-of-range counts (a codebook that is not a power of two),
    it also says how many utterances and indices fell outside their codebook and which policy
    (``study_a.out_of_range``) turned them back into indices: those scores depend on that choice.
    ``metrics`` defaults to every registered metric that has a column in ``tidy``.
    """
    keys = [c for c in ("codec", "dataset", "channel", "labelling") if c in tidy.columns]
    present = [m for m in (metric_names() if metrics is None else metrics) if m in tidy.columns]
    nan_flags = tidy[present].apply(pd.to_numeric, errors="coerce").isna()
    nan_flags.columns = [f"nan_{m}" for m in present]
    errors = (
        tidy["error"].fillna("").astype(str) if "error" in tidy.columns else pd.Series("", index=tidy.index)
    )
    frame = pd.concat([tidy[keys], nan_flags, errors.rename("error")], axis=1)
    grouped = frame.groupby(keys, sort=True, dropna=False)
    counts = grouped[list(nan_flags.columns)].sum().astype(int)
    counts.insert(0, "n_rows", grouped.size())

    def reasons(series: pd.Series) -> str:
        return "; ".join(sorted({r for r in series if r}))

    if "out_of_range" in tidy.columns:
        oor = pd.to_numeric(tidy["out_of_range"], errors="coerce").fillna(0).astype(np.int64)
        policy = tidy.get("out_of_range_policy", pd.Series("", index=tidy.index)).fillna("").astype(str)
        by = [tidy[k] for k in keys]
        counts["utterances_out_of_range"] = (oor > 0).groupby(by, sort=True, dropna=False).sum().astype(int)
        counts["indices_out_of_range"] = oor.groupby(by, sort=True, dropna=False).sum().astype(int)
        counts["out_of_range_policy"] = policy.groupby(by, sort=True, dropna=False).agg(reasons)
    counts["reasons"] = grouped["error"].agg(reasons)
    if "random_weights" in tidy.columns:  # each row says whether its failures come from random weights
        flags = tidy["random_weights"].astype("boolean").fillna(False).astype(bool)
        counts["random_weights"] = flags.groupby([tidy[k] for k in keys], sort=True, dropna=False).any()
    return counts.reset_index()


def with_error_axes(summary: pd.DataFrame, infos: Sequence[CodecInfo]) -> pd.DataFrame:
    """``summary`` with the error axes that compare codecs of different bit budgets fairly, next to
    P_flip: ``bits_per_frame``, ``frame_error_rate`` (1-(1-p)^B, :func:`nacbench.channel.frame_error_rate`)
    and ``flipped_bits_per_s`` (p x bitrate), inserted after ``p_flip``. Clean rows get 0."""
    from nacbench.channel import flipped_bits_per_second, frame_error_rate

    by_name = {info.name: info for info in infos}
    missing = sorted(set(summary["codec"]) - set(by_name))
    if missing:
        raise KeyError(f"no codec.json given for codec(s) {missing} of the summary")
    bits = summary["codec"].map(lambda c: by_name[c].bits_per_frame)
    rate = summary["codec"].map(lambda c: by_name[c].bitrate_bps)
    p = summary["p_flip"].astype(float)
    out = summary.copy()
    at = list(out.columns).index("p_flip") + 1
    out.insert(at, "bits_per_frame", bits.astype(int))
    out.insert(at + 1, "frame_error_rate", [frame_error_rate(q, b) for q, b in zip(p, bits, strict=True)])
    out.insert(
        at + 2, "flipped_bits_per_s", [flipped_bits_per_second(q, r) for q, r in zip(p, rate, strict=True)]
    )
    return out


def summary_table(
    tidy: pd.DataFrame, metrics: Sequence[str] | None = None, n_boot: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """Per codec x labelling x condition (clean, or channel model + P_flip): mean and 95 % CI per metric.

    Seeds are pooled; the interval is the utterance-level cluster bootstrap of
    :func:`nacbench.analysis.summary.mean_ci`. Columns: the keys, ``n_utterances``, then
    ``{metric}_mean``, ``{metric}_ci_low``, ``{metric}_ci_high`` for each metric (by default every
    registered metric with a column in ``tidy``, in registry order), and ``random_weights``.
    """
    keys = pooled_condition_keys(tidy)
    metrics = list(metric_names() if metrics is None else metrics)
    present = [m for m in metrics if m in tidy.columns]
    if not present:
        raise KeyError(f"tidy score table has none of the metrics {list(metrics)}")
    long = pd.concat([mean_ci(tidy, keys, m, n_boot=n_boot, seed=seed) for m in present], ignore_index=True)
    # merged on the key columns, not pivoted: a key that is NaN for some conditions (a packet-loss
    # condition's FER, a bit-error one's concealment) must still match itself, which merge does and an
    # index alignment does not
    result = long.groupby(keys, dropna=False, sort=True)["n_utterances"].max().reset_index()
    for m in present:
        part = long.loc[long["metric"] == m, [*keys, "mean", "ci_low", "ci_high"]]
        part = part.rename(columns={stat: f"{m}_{stat}" for stat in ("mean", "ci_low", "ci_high")})
        result = result.merge(part, on=keys, how="left")
    if "random_weights" in tidy.columns:
        random = tidy.groupby("codec")["random_weights"].any().rename("random_weights")
        result = result.merge(random, left_on="codec", right_index=True, how="left")
    return result
