"""The measured models applied to a planned job list, per rule x codec, and summarised per rule."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from nacbench.costs.fit import GPU_CHECK_SOURCE, RECORD_SOURCE, CostModel
from nacbench.costs.jobs import PlannedJob
from nacbench.plan import Config


@dataclass
class RuleCodecEstimate:
    """The full configuration's jobs of one rule x codec and what the measurement says they cost."""

    rule: str
    codec: str | None
    jobs: int
    audio_s: float | None
    wall_s: float | None  # None: not measured
    model: CostModel | None
    caveats: list[str] = field(default_factory=list)
    wall_range_s: tuple[float, float] | None = None  # low and high totals (rate-only bounds, spreads)
    figures: str = ""  # what kind of measurement stands behind the estimate (:func:`figure_kind`)

    @property
    def measured(self) -> bool:
        return self.wall_s is not None


#: :func:`figure_kind` labels, in the order the summary lists them
FIGURE_KINDS = (
    "GPU",
    "GPU machine, CPU codec",
    "GPU (measured run)",
    "CPU stand-in for GPU",
    "CPU",
)


def figure_kind(e: RuleCodecEstimate, gpu_rules: Collection[str]) -> str:
    """What the estimate of a rule x codec rests on: a GPU figure, or a CPU one standing in for it.

    ``GPU``: the GPU check's figure of a codec that computes on the GPU; ``GPU machine, CPU codec``:
    the check's figure of a codec that computes on the CPU (Lyra's TFLite) -- a real figure for the
    target machine; ``GPU (measured run)``: the measured run's jobs ran on CUDA (their records say
    so); ``CPU stand-in for GPU``: a rule that runs on the GPU in the full run, estimated from CPU
    timings (usually far slower); ``CPU``: a CPU rule timed on the CPU. Empty when not measured.
    """
    if e.model is None or e.wall_s is None:
        return ""
    device = e.model.device or ""
    if e.model.source == GPU_CHECK_SOURCE:
        return FIGURE_KINDS[0] if device.startswith("cuda") else FIGURE_KINDS[1]
    if device.startswith("cuda"):
        return FIGURE_KINDS[2]
    return FIGURE_KINDS[3] if e.rule in gpu_rules else FIGURE_KINDS[4]


def label_figures(estimates: Sequence[RuleCodecEstimate], gpu_rules: Collection[str]) -> None:
    """Set every estimate's ``figures`` (:func:`figure_kind`)."""
    for e in estimates:
        e.figures = figure_kind(e, gpu_rules)


def _figures_text(group: Sequence[RuleCodecEstimate]) -> str:
    """``GPU: dac, encodec; CPU stand-in for GPU: stablecodec`` (codecs named only where a rule has them)."""
    by_kind: dict[str, list[str]] = {}
    for e in group:
        if e.figures:
            by_kind.setdefault(e.figures, []).append(e.codec or "")
    parts = []
    for kind in sorted(
        by_kind, key=lambda k: FIGURE_KINDS.index(k) if k in FIGURE_KINDS else len(FIGURE_KINDS)
    ):
        codecs = [c for c in by_kind[kind] if c]
        parts.append(f"{kind}: {', '.join(codecs)}" if codecs and len(by_kind) > 1 else kind)
    return "; ".join(parts)


def option_differences(codec: str, full: Config, measured: Config) -> list[str]:
    """Codec options that differ between the two runs, besides where the weights come from."""
    ignore = {"random_weights", "weights", "model_dir", "decoder_weights", "conda_env"}
    a = {k: v for k, v in full["codecs"].get(codec, {}).items() if k not in ignore}
    b = {k: v for k, v in measured["codecs"].get(codec, {}).items() if k not in ignore}
    return [
        f"{k}: full {a.get(k)!r} vs measured {b.get(k)!r}"
        for k in sorted(set(a) | set(b))
        if a.get(k) != b.get(k)
    ]


def run_caveats(rule: str, codec: str | None, full: Config, measured: Config) -> list[str]:
    """What makes the measurement of ``rule`` x ``codec`` unlike the full configuration's jobs."""
    out = []
    if codec is not None and codec in measured["codecs"]:
        if measured["codecs"][codec].get("random_weights"):
            out.append("random weights")
        diffs = option_differences(codec, full, measured)
        if diffs:
            out.append("codec options differ: " + "; ".join(diffs))
    if rule == "enc_rtf" and full["study_b"]["enc_rtf"] != measured["study_b"]["enc_rtf"]:
        out.append(
            f"enc_rtf settings differ: full {full['study_b']['enc_rtf']} vs measured {measured['study_b']['enc_rtf']}"
        )
    if rule.startswith("asr"):
        fa, ma = full["study_b"]["asr"], measured["study_b"]["asr"]
        if (fa["backend"], fa["model"]) != (ma["backend"], ma["model"]):
            out.append(
                f"ASR measured with {ma['backend']} {ma['model']}, full run uses {fa['backend']} "
                f"{fa['model']}: not representative (a much smaller model is a lower bound)"
            )
    return out


def estimate(
    planned: Sequence[PlannedJob],
    models: Mapping[tuple[str, str | None], CostModel],
    full: Config,
    measured: Config,
) -> list[RuleCodecEstimate]:
    """Apply the measured models to the planned jobs, grouped by rule x codec, in plan order.

    A group without a model of its own rule x codec stays unmeasured (``wall_s`` None) with the reason;
    nothing is borrowed from another codec.
    """
    groups: dict[tuple[str, str | None], list[PlannedJob]] = {}
    for job in planned:
        groups.setdefault((job.rule, job.codec), []).append(job)
    measured_rules = {rule for rule, _ in models}
    out = []
    for (rule, codec), jobs in groups.items():
        audio = [j.audio_s for j in jobs]
        total_audio = (
            float(sum(a for a in audio if a is not None)) if any(a is not None for a in audio) else None
        )
        model = models.get((rule, codec))
        if model is not None and model.source == GPU_CHECK_SOURCE:
            caveats = list(
                model.caveats
            )  # measured by the GPU check: the measured run's caveats do not apply
        else:
            caveats = run_caveats(rule, codec, full, measured) + list(model.caveats if model else ())
        wall: float | None = None
        wall_range: tuple[float, float] | None = None
        if model is None:
            if rule not in measured_rules:
                caveats.insert(0, "not measured: no benchmark files for this rule")
            elif codec is not None and codec not in measured["codecs"]:
                caveats.insert(0, f"not measured: codec {codec!r} was not in the measured run")
            else:
                caveats.insert(0, f"not measured: no measured {rule} job of codec {codec!r}")
        elif model.method != "per-job" and any(a is None for a in audio):
            caveats.insert(0, "not measured: the audio of these jobs is unknown")
        else:
            wall = float(sum(model.predict(a) for a in audio))
            wall_range = model.predict_range(audio)
            if "log" in model.source.split("+"):
                caveats.insert(0, "timed from Snakemake log timestamps (1 s resolution), no memory")
        out.append(RuleCodecEstimate(rule, codec, len(jobs), total_audio, wall, model, caveats, wall_range))
    return out


@dataclass(frozen=True)
class RuleSummary:
    """One row of the summary table: a rule's jobs and the part of its time that was measured."""

    rule: str
    jobs: int
    jobs_measured: int
    wall_h: float | None  # over the measured jobs only; None when none were measured
    range_h: tuple[float, float]  # bounds over the measured jobs (equal to wall_h where fitted)
    max_rss_mb: float
    measured_on: str  # codecs whose models were used, or why none
    figures: str = ""  # GPU figures or CPU stand-ins, per codec (:func:`figure_kind`)

    @property
    def complete(self) -> bool:
        return self.jobs == self.jobs_measured


#: per-row caveats that make a measurement unlike the full run's job; the summary flags them
FLAGGED_CAVEATS = {"codec options differ": "options differ", "ASR measured with": "other ASR model"}


def _measured_on(e: RuleCodecEstimate) -> str:
    """``codec (n jobs[, log][, flags])`` for the summary table."""
    if e.model is None:
        return f"{e.codec or e.rule} (not measured)"
    if e.model.source == GPU_CHECK_SOURCE:
        return f"{e.codec or e.rule} (GPU check)"
    tags = [f"{e.model.n_jobs} job{'s' if e.model.n_jobs != 1 else ''}"]
    if e.model.source == RECORD_SOURCE:
        tags.append("startup records")
    elif "log" in e.model.source.split("+"):
        tags.append("log")
    tags += [tag for prefix, tag in FLAGGED_CAVEATS.items() if any(c.startswith(prefix) for c in e.caveats)]
    return f"{e.codec or e.rule} ({', '.join(tags)})"


def summarise(estimates: Sequence[RuleCodecEstimate]) -> list[RuleSummary]:
    """Per rule: jobs, estimated hours over the measured jobs, peak memory, and which codecs measured."""
    rules: dict[str, list[RuleCodecEstimate]] = {}
    for e in estimates:
        rules.setdefault(e.rule, []).append(e)
    out = []
    for rule, group in rules.items():
        done = [e for e in group if e.measured]
        rss = [e.model.max_rss_mb for e in done if e.model and np.isfinite(e.model.max_rss_mb)]
        missing = [e.codec or "-" for e in group if not e.measured]
        if done:
            used = ", ".join(_measured_on(e) for e in done)
            if missing:
                used += "; not measured: " + ", ".join(missing)
        else:
            reasons = {e.caveats[0] if e.caveats else "not measured" for e in group}
            used = reasons.pop() if len(reasons) == 1 else "not measured: " + ", ".join(missing)
        out.append(
            RuleSummary(
                rule=rule,
                jobs=sum(e.jobs for e in group),
                jobs_measured=sum(e.jobs for e in done),
                wall_h=sum(e.wall_s or 0.0 for e in done) / 3600 if done else None,
                range_h=(
                    sum((e.wall_range_s or (e.wall_s, e.wall_s))[0] or 0.0 for e in done) / 3600,
                    sum((e.wall_range_s or (e.wall_s, e.wall_s))[1] or 0.0 for e in done) / 3600,
                ),
                max_rss_mb=max(rss) if rss else math.nan,
                measured_on=used,
                figures=_figures_text(group),
            )
        )
    return out
