"""The measured run's startup records: each job's fixed cost as the job measured it, not as a fit guesses.

Every job writes a startup record beside its log (:func:`nacbench.artifacts.startup_file`, format
:mod:`nacbench.startup`): the seconds of its fixed phases (process start-up, imports, model construction,
weights, device) and of its work. A regression of wall time on audio seconds can only separate the
fixed per-job cost from the per-second rate when the measured jobs differ enough in size, which a small
measured run rarely gives; the record measures the fixed cost directly. Here, per rule x codec:

- the overhead is the median of the jobs' ``fixed_s`` (min and max kept: the estimate's range);
- the rate is the median over jobs of ``(wall_s - fixed_s) / audio``: the work phase plus what the
  phases do not cover (reading inputs, writing outputs), which grows with the audio too;
- the audio of a job is the record's ``audio_s`` (the audio it read; else its shard's, from the path)
  times the number of conditions it served (``conditions``: a list of condition names or a count;
  one when absent), because a job that decodes one shard under three conditions works three times.

A run from before the records (none under ``logs/``) falls back to the regression
(:mod:`nacbench.costs.fit`), and the report says so per rule x codec.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nacbench import artifacts
from nacbench.costs import CostError
from nacbench.costs.benchmarks import BenchmarkJob, job_audio_seconds
from nacbench.costs.fit import RECORD_SOURCE, CostModel, one_group
from nacbench.plan import Config
from nacbench.startup import PHASES, RECORD_VERSION, read_record

#: record fields a job sets when it failed (its fixed phases may be complete, its work is not)
FAILURE_FIELDS = ("failed", "error")


class StartupRecordError(CostError):
    """A startup record the estimator cannot use: damaged, or written in another record version.

    Raised rather than skipped: a record version the estimator does not know means the phases may
    mean something else, and falling back to the regression silently would hide that.
    """


@dataclass(frozen=True)
class RecordedJob:
    """One job as its startup record describes it."""

    key: artifacts.JobPath
    path: str
    fixed_s: float  # sum of the fixed phases (start-up, imports, construct, weights, device)
    variable_s: float  # wall - fixed: the work phase plus reading and writing; grows with the audio
    work_s: float
    wall_s: float
    audio_s: float | None  # audio processed: per-condition audio x conditions; None: no audio
    conditions: int
    device: str | None
    cpu_s: float = math.nan  # CPU seconds, the job's and its waited-for children's (NaN: older record)
    max_rss_mb: float = math.nan  # peak resident memory (NaN: a record from before it held one)


def condition_count(value: Any, path: str | Path) -> int:
    """Conditions a job served: the length of a list of names, a positive count, or 1 when absent."""
    if value is None:
        return 1
    if isinstance(value, list | tuple):
        if not value:
            raise StartupRecordError(f"{path}: 'conditions' is an empty list")
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise StartupRecordError(f"{path}: 'conditions' must be a list of names or a count >= 1, got {value!r}")


def _seconds(value: Any, name: str, path: Path, unit: str = "seconds") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise StartupRecordError(f"{path}: {name!r} must be a non-negative number of {unit}, got {value!r}")
    return float(value)


def unphased_reason(data: Mapping[str, Any]) -> str:
    """Why a record cannot split its job's time into fixed cost and work, or ``""`` when it can.

    A job whose code marks no phase records everything after start-up as ``other``: its ``fixed_s``
    would be the process start alone, and the model build would count as work.
    """
    phases = data.get("phases") or {}
    marked = [p for p in PHASES if p != "startup" and phases.get(p)]
    if not marked and data.get("other_s"):
        return "no phase marked after start-up (the job's code does not mark its phases): fixed cost unknown"
    return ""


def recorded_job(
    path: Path, data: Mapping[str, Any], key: artifacts.JobPath, shard_audio_s: float | None
) -> RecordedJob:
    """A record's numbers checked and joined with its audio (``shard_audio_s``: from the job's path)."""
    fixed, wall = _seconds(data.get("fixed_s"), "fixed_s", path), _seconds(data.get("wall_s"), "wall_s", path)
    phases = data["phases"]
    if not isinstance(phases, Mapping):
        raise StartupRecordError(f"{path}: 'phases' is not a mapping")
    work = _seconds(phases.get("work"), "phases.work", path)
    audio = data.get("audio_s", shard_audio_s)
    if audio is not None:
        audio = _seconds(audio, "audio_s", path)
    n = condition_count(data.get("conditions"), path)
    device = data.get("device")
    cpu, rss = (
        math.nan if data.get(name) is None else _seconds(data[name], name, path, unit)
        for name, unit in (("cpu_s", "seconds"), ("max_rss_mb", "MB"))
    )
    return RecordedJob(
        key=key,
        path=str(path),
        fixed_s=fixed,
        variable_s=max(0.0, wall - fixed),
        work_s=work,
        wall_s=wall,
        audio_s=None if audio is None else audio * n,
        conditions=n,
        device=None if device is None else str(device),
        cpu_s=cpu,
        max_rss_mb=rss,
    )


def load_startup_records(
    results: Path, config: Config, durations: Mapping[str, np.ndarray]
) -> tuple[list[RecordedJob], list[str]]:
    """Every startup record under ``results/logs``, parsed and joined with its audio.

    Returns the jobs and ``"path: reason"`` for each record left out (a path of no configured job, a
    failed job, a job whose code marks no phases, a dataset without a manifest); an empty list for a
    run that wrote none (an older run).
    A damaged record or one of another version raises :class:`StartupRecordError` naming the file.
    """
    if not artifacts.job_folder(results, "logs").is_dir():
        return [], []
    jobs, skipped = [], []
    for path in artifacts.find_job_files(results, "startup"):
        try:
            key = artifacts.parse_job_path(path, results, list(config["data"]), list(config["codecs"]))
        except artifacts.ArtifactError as exc:
            skipped.append(f"{path}: {exc}")
            continue
        try:
            data = read_record(path)
        except ValueError as exc:  # names the file and the version it expects
            raise StartupRecordError(f"{exc} (this estimator reads record version {RECORD_VERSION})") from exc
        failed = [f for f in FAILURE_FIELDS if data.get(f)]
        if failed:
            skipped.append(
                f"{path}: the job failed ({failed[0]}: {data[failed[0]]!r}); its phases are partial"
            )
            continue
        reason = unphased_reason(data)
        if reason:
            skipped.append(f"{path}: {reason}")
            continue
        try:
            shard_audio = None if "audio_s" in data else job_audio_seconds(key, durations, config)
        except CostError as exc:
            skipped.append(f"{path}: {exc}")
            continue
        jobs.append(recorded_job(path, data, key, shard_audio))
    return jobs, skipped


def _spread(values: np.ndarray) -> tuple[float, float]:
    return float(values.min()), float(values.max())


def fit_record_model(jobs: Sequence[RecordedJob], max_rss_mb: float = math.nan) -> CostModel:
    """The cost model of one rule x codec from its jobs' records (all must share rule and codec).

    The overhead is the median measured fixed cost; the rate the median of ``variable_s / audio``
    over the jobs that processed audio. A rule whose jobs process no audio costs its median wall time
    per job. Peak memory is the largest the records measured; ``max_rss_mb`` (from the group's
    benchmark files) stands in for records from before they held it, and for external codecs' jobs.
    """
    rule, codec = one_group(jobs, "fit_record_model")
    fixed = np.array([j.fixed_s for j in jobs])
    wall = np.array([j.wall_s for j in jobs])
    devices = sorted({j.device for j in jobs if j.device})
    measured_rss = [j.max_rss_mb for j in jobs if math.isfinite(j.max_rss_mb)]
    common: dict[str, Any] = {
        "rule": rule,
        "codec": codec,
        "n_jobs": len(jobs),
        "max_rss_mb": max(measured_rss) if measured_rss else max_rss_mb,
        "datasets": tuple(sorted({j.key.dataset for j in jobs if j.key.dataset})),
        "wall_median_s": float(np.median(wall)),
        "source": RECORD_SOURCE,
        "cpu_rate_median": math.nan,
        "device": "+".join(devices) or None,
    }
    with_audio = [j for j in jobs if j.audio_s]
    if not with_audio:
        median = float(np.median(wall))
        return CostModel(
            method="per-job",
            overhead_s=median,
            overhead_range_s=_spread(wall),
            rate=0.0,
            rate_median=math.nan,
            rms_residual_s=float(np.sqrt(np.mean((wall - median) ** 2))),
            note=f"median wall time of {len(jobs)} recorded job(s)",
            **common,
        )
    audio = np.array([j.audio_s for j in with_audio], dtype=float)
    rates = np.array([j.variable_s for j in with_audio]) / audio
    cpu_rates = np.array([j.cpu_s for j in with_audio]) / audio
    if np.isfinite(cpu_rates).any():
        common["cpu_rate_median"] = float(np.nanmedian(cpu_rates))
    overhead, rate = float(np.median(fixed)), float(np.median(rates))
    all_audio = np.array([j.audio_s or 0.0 for j in jobs], dtype=float)
    residual = wall - (overhead + rate * all_audio)
    served = sum(j.conditions for j in jobs)
    return CostModel(
        method="startup-records",
        overhead_s=overhead,
        overhead_range_s=_spread(fixed),
        rate=rate,
        rate_range=_spread(rates),
        rate_median=rate,
        rms_residual_s=float(np.sqrt(np.mean(residual**2))),
        audio_range_s=_spread(audio),
        note=(
            f"fixed cost measured by {len(jobs)} job(s) (median {overhead:.2f} s, "
            f"{fixed.min():.2f}-{fixed.max():.2f}); rate = median over {len(with_audio)} job(s) of "
            f"(wall - fixed) / audio s" + (f"; {served} conditions served" if served != len(jobs) else "")
        ),
        **common,
    )


def fit_record_models(
    jobs: Iterable[RecordedJob], benchmarks: Iterable[BenchmarkJob] = ()
) -> dict[tuple[str, str | None], CostModel]:
    """One model per rule x codec present among the records; peak memory from the benchmark files."""
    groups: dict[tuple[str, str | None], list[RecordedJob]] = {}
    for job in jobs:
        groups.setdefault((job.key.rule, job.key.codec), []).append(job)
    rss: dict[tuple[str, str | None], list[float]] = {}
    for b in benchmarks:
        if math.isfinite(b.max_rss_mb):
            rss.setdefault((b.key.rule, b.key.codec), []).append(b.max_rss_mb)
    return {
        k: fit_record_model(v, max(rss[k]) if k in rss else math.nan)
        for k, v in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
    }
