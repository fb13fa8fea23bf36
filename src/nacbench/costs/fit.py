"""Per rule x codec cost models fitted on the measured jobs: ``wall_s = overhead_s + rate * audio_s``."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np
from scipy.optimize import nnls

from nacbench.costs import CostError
from nacbench.costs.benchmarks import BenchmarkJob

#: a fit needs this many jobs with pairwise different audio durations; fewer cannot separate the
#: fixed per-job overhead from the per-second rate
MIN_FIT_DURATIONS = 3
#: durations closer than this (seconds) count as the same when deciding whether a fit is possible
DURATION_RESOLUTION_S = 0.01
#: ``CostModel.source`` of a model built from the GPU check's figures, not from the measured run
GPU_CHECK_SOURCE = "gpu_check"
#: ``CostModel.source`` of a model whose overhead the jobs' startup records measured
RECORD_SOURCE = "startup-record"


@dataclass(frozen=True)
class CostModel:
    """Measured cost of one rule x codec: ``wall_s = overhead_s + rate * audio_s`` per job.

    ``method`` says how the two numbers were obtained: ``least-squares`` (non-negative fit over jobs
    of different durations), ``rate-only`` (too few distinct durations to separate a per-job overhead:
    all the time is attributed to the rate, the median of wall/audio), ``per-job`` (the rule processes
    no audio: the median wall time of a job is the overhead), ``startup-records`` (the overhead is the
    fixed cost the jobs measured themselves, :mod:`nacbench.costs.records`; only the rate is taken from
    the work) or ``gpu-figures`` (throughput and start-up from the GPU check,
    :mod:`nacbench.costs.gpu`).

    ``overhead_range_s`` and ``rate_range`` are the spread of the measurements behind the two numbers
    (min and max over jobs or repeats) where they were measured separately; ``device`` is where they
    were measured (``cpu``, ``cuda:<GPU>``, None when the source does not say); ``gpu_mem_mb`` the peak
    GPU memory a job reserved (the GPU check), which sets how many jobs share a GPU; ``caveats`` what
    makes this measurement unlike the estimated jobs, said by the source itself.
    """

    rule: str
    codec: str | None
    n_jobs: int
    method: str
    overhead_s: float
    rate: float  # wall seconds per audio second (0 for per-job rules)
    rate_median: float  # median over jobs of wall / audio (NaN for per-job rules)
    cpu_rate_median: float  # median over jobs of CPU seconds / audio (NaN when not sampled or no audio)
    max_rss_mb: float  # peak resident memory over the jobs (NaN when never sampled)
    rms_residual_s: float  # of the model over the measured jobs
    wall_median_s: float  # median wall seconds of a measured job
    datasets: tuple[str, ...]
    audio_range_s: tuple[float, float] | None = None  # shortest and longest measured job (audio seconds)
    source: str = "benchmark"
    note: str = ""
    overhead_range_s: tuple[float, float] | None = None
    rate_range: tuple[float, float] | None = None
    device: str | None = None
    gpu_mem_mb: float = math.nan
    caveats: tuple[str, ...] = ()

    def predict(self, audio_s: float | None) -> float:
        """Wall seconds of one job processing ``audio_s`` seconds (ignored for per-job rules)."""
        if self.method == "per-job":
            return self.overhead_s
        if audio_s is None:
            raise CostError(f"rule {self.rule}: the model scales with audio but the job has none")
        return self.overhead_s + self.rate * audio_s

    def predict_range(self, audio_s: Sequence[float | None]) -> tuple[float, float] | None:
        """Low and high total wall seconds of jobs processing ``audio_s`` (one entry per job).

        ``rate-only``: all time as overhead vs. all as rate. With ``a, b >= 0`` and
        ``a + b * x_measured = w_measured``, any linear cost lies between these two attributions, so
        the pair bounds what an unseparated measurement can say. Models with measured spreads
        (``overhead_range_s``, ``rate_range``): every job at the lowest measured overhead and rate vs.
        every job at the highest. None for a least-squares fit (no spread kept).
        """
        audio = [float(a) for a in audio_s if a is not None]
        if self.method == "rate-only":
            as_rate = float(sum(self.rate * a for a in audio))
            as_overhead = len(audio) * self.wall_median_s
            return min(as_rate, as_overhead), max(as_rate, as_overhead)
        if self.overhead_range_s is None and self.rate_range is None:
            return None
        low_a, high_a = self.overhead_range_s or (self.overhead_s, self.overhead_s)
        low_b, high_b = self.rate_range or (self.rate, self.rate)
        total = 0.0 if self.method == "per-job" else sum(audio)
        n = len(audio_s)
        return n * low_a + low_b * total, n * high_a + high_b * total


class _Common(TypedDict):
    """The fields of a :class:`CostModel` that do not depend on how it was fitted."""

    rule: str
    codec: str | None
    n_jobs: int
    max_rss_mb: float
    datasets: tuple[str, ...]
    wall_median_s: float
    source: str


def fit_overhead_rate(audio_s: np.ndarray, wall_s: np.ndarray) -> tuple[float, float]:
    """Least-squares ``wall = a + b * audio`` with ``a, b >= 0`` (a negative overhead or rate is noise)."""
    design = np.column_stack([np.ones_like(audio_s, dtype=float), np.asarray(audio_s, dtype=float)])
    (a, b), _ = nnls(design, np.asarray(wall_s, dtype=float))
    return float(a), float(b)


def one_group(jobs: Sequence[Any], what: str) -> tuple[str, str | None]:
    """The (rule, codec) all ``jobs`` share (anything with a ``key`` :class:`JobPath`); a CostError
    naming ``what`` when there are none or several."""
    if not jobs:
        raise CostError(f"{what}: no jobs")
    keys = {(j.key.rule, j.key.codec) for j in jobs}
    if len(keys) != 1:
        raise CostError(f"{what}: jobs of several rule x codec groups {sorted(keys, key=str)}")
    return keys.pop()


def fit_cost_model(jobs: Sequence[BenchmarkJob]) -> CostModel:
    """The cost model of one rule x codec from its measured jobs (all must share rule and codec)."""
    rule, codec = one_group(jobs, "fit_cost_model")
    wall = np.array([j.wall_s for j in jobs])
    cpu = np.array([j.cpu_s for j in jobs])
    rss = np.array([j.max_rss_mb for j in jobs])
    max_rss = float(np.nanmax(rss)) if np.isfinite(rss).any() else math.nan
    datasets = tuple(sorted({j.key.dataset for j in jobs if j.key.dataset}))
    sources = {j.source for j in jobs}
    common = _Common(
        rule=rule,
        codec=codec,
        n_jobs=len(jobs),
        max_rss_mb=max_rss,
        datasets=datasets,
        wall_median_s=float(np.median(wall)),
        source="+".join(sorted(sources)),
    )
    with_audio = [j.audio_s is not None for j in jobs]
    if not any(with_audio):
        median = float(np.median(wall))
        return CostModel(
            method="per-job",
            overhead_s=median,
            rate=0.0,
            rate_median=math.nan,
            cpu_rate_median=math.nan,
            rms_residual_s=float(np.sqrt(np.mean((wall - median) ** 2))),
            **common,
        )
    if not all(with_audio):
        raise CostError(f"rule {rule}, codec {codec}: some jobs process audio and some do not")
    audio = np.array([j.audio_s for j in jobs], dtype=float)
    if (audio <= 0).any():
        bad = [j.path for j in jobs if not j.audio_s or j.audio_s <= 0]
        raise CostError(f"rule {rule}, codec {codec}: jobs with no audio seconds: {bad}")
    rate_median = float(np.median(wall / audio))
    cpu_ratio = cpu / audio
    cpu_rate = float(np.nanmedian(cpu_ratio)) if np.isfinite(cpu_ratio).any() else math.nan
    n_distinct = len(np.unique(np.round(audio / DURATION_RESOLUTION_S)))
    if len(jobs) >= MIN_FIT_DURATIONS and n_distinct >= MIN_FIT_DURATIONS:
        a, b = fit_overhead_rate(audio, wall)
        method, note = "least-squares", f"fit over {len(jobs)} jobs, {n_distinct} distinct durations"
    else:
        a, b = 0.0, rate_median
        method = "rate-only"
        note = (
            f"{len(jobs)} job(s) with {n_distinct} distinct duration(s) (< {MIN_FIT_DURATIONS}): "
            "per-job overhead not separable, all time attributed to the rate"
        )
    residual = wall - (a + b * audio)
    return CostModel(
        audio_range_s=(float(audio.min()), float(audio.max())),
        method=method,
        overhead_s=a,
        rate=b,
        rate_median=rate_median,
        cpu_rate_median=cpu_rate,
        rms_residual_s=float(np.sqrt(np.mean(residual**2))),
        note=note,
        **common,
    )


def fit_cost_models(jobs: Iterable[BenchmarkJob]) -> dict[tuple[str, str | None], CostModel]:
    """One model per rule x codec present among ``jobs``."""
    groups: dict[tuple[str, str | None], list[BenchmarkJob]] = {}
    for job in jobs:
        groups.setdefault((job.key.rule, job.key.codec), []).append(job)
    return {
        k: fit_cost_model(v) for k, v in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
    }
