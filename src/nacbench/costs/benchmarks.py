"""The measured run's benchmark files: where they are, what each path says, and the audio behind each.

Every heavy rule writes a Snakemake benchmark TSV (``<results>/benchmarks/{rule}/{codec}/{dataset}/...``,
see :func:`nacbench.artifacts.benchmark_file`). Each file is joined with the audio its job processed
(manifest + shard). The only file reading of the estimate is here (:func:`read_benchmark_tsv`,
:func:`load_benchmarks`, :func:`manifest_durations`) and in :mod:`nacbench.costs.runlog`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from nacbench import artifacts
from nacbench.costs import CostError
from nacbench.data.manifest import DatasetError, read_manifest, select_shard
from nacbench.plan import Config

# ------------------------------------------------------------- the measured run's files (results layout)


def manifest_durations(results: Path, config: Config) -> dict[str, np.ndarray]:
    """Utterance durations of every dataset whose manifest the measured run wrote."""
    out = {}
    for name in config["data"]:
        path = Path(artifacts.manifest(results, name))
        if path.exists():
            try:
                out[name] = read_manifest(path)["duration_s"].to_numpy(dtype=float)
            except DatasetError as exc:  # names the file
                raise CostError(str(exc)) from exc
    return out


# ------------------------------------------------------------------------------ one job per file


@dataclass(frozen=True)
class BenchmarkJob:
    """One measured job: its key (what its path or logged wildcards say), what Snakemake recorded, and
    the audio it processed."""

    key: artifacts.JobPath
    path: str
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    audio_s: float | None  # None: the job does not process audio (e.g. a labelling search)
    source: str = "benchmark"  # "benchmark" (Snakemake benchmark TSV) or "log" (start/finish timestamps)


def parse_benchmark_path(
    path: Path, results: Path, datasets: Collection[str], codecs: Collection[str]
) -> artifacts.JobPath:
    """Rule, codec, dataset, channel and shard of a benchmark file, read by
    :func:`nacbench.artifacts.parse_job_path` (the one parser of job paths)."""
    try:
        job = artifacts.parse_job_path(path, results, list(datasets), list(codecs))
    except artifacts.ArtifactError as exc:
        raise CostError(str(exc)) from exc
    if job.folder != "benchmarks":
        raise CostError(f"{path}: not a benchmark file (under {job.folder}/)")
    return job


def _number(value: Any) -> float:
    """A benchmark field as float; Snakemake writes ``NA`` (not sampled) or ``-`` (none): NaN."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


class BenchmarkTimes(TypedDict):
    """What one benchmark file says about its job (the measurement fields of :class:`BenchmarkJob`)."""

    wall_s: float
    cpu_s: float
    max_rss_mb: float


def read_benchmark_tsv(path: Path) -> BenchmarkTimes:
    """Wall seconds (median over the file's repeats), CPU seconds (median) and peak RSS (max, MiB).

    Snakemake writes one row per ``repeat(...)`` of the job; jobs faster than its sampling interval
    carry ``NA`` for memory and CPU, which stays NaN here rather than becoming zero.
    """
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise CostError(f"{path}: cannot read benchmark TSV ({exc})") from exc
    missing = [c for c in ("s", "max_rss", "cpu_time") if c not in df.columns]
    if missing or df.empty:
        raise CostError(f"{path}: not a Snakemake benchmark TSV (missing columns {missing} or no rows)")
    wall = np.array([_number(v) for v in df["s"]])
    if not np.isfinite(wall).all():
        raise CostError(f"{path}: non-numeric wall time in column 's': {list(df['s'])}")
    cpu = np.array([_number(v) for v in df["cpu_time"]])
    rss = np.array([_number(v) for v in df["max_rss"]])
    return BenchmarkTimes(
        wall_s=float(np.median(wall)),
        cpu_s=float(np.nanmedian(cpu)) if np.isfinite(cpu).any() else math.nan,
        max_rss_mb=float(np.nanmax(rss)) if np.isfinite(rss).any() else math.nan,
    )


def shard_audio_seconds(durations: np.ndarray, shard: int, n_shards: int) -> float:
    """Audio seconds of one shard, selected by the pipeline's own ``select_shard`` (manifest order)."""
    frame = pd.DataFrame({"duration_s": np.asarray(durations, dtype=float)})
    try:
        return float(select_shard(frame, shard, n_shards)["duration_s"].sum())
    except ValueError as exc:
        raise CostError(str(exc)) from exc


def job_audio_seconds(
    key: artifacts.JobPath, durations: Mapping[str, np.ndarray], config: Config
) -> float | None:
    """The audio a job processed: its shard's, the whole dataset's (no shard), or None (no dataset)."""
    if key.dataset is None:
        return None
    if key.dataset not in durations:
        raise CostError(f"benchmark of rule {key.rule}: no manifest durations for dataset {key.dataset!r}")
    d = durations[key.dataset]
    if key.shard is None:
        return float(np.sum(d))
    return shard_audio_seconds(d, int(key.shard), int(config["data"][key.dataset]["shards"]))


def load_benchmarks(
    results: Path, config: Config, durations: Mapping[str, np.ndarray]
) -> tuple[list[BenchmarkJob], list[str]]:
    """Every benchmark file of the run in ``results``, parsed and joined with its audio seconds.

    Returns the jobs and, separately, ``"path: reason"`` for each file that could not be used (an
    unknown layout, a dataset without a manifest, an unreadable file), so one odd file from an
    external rule does not hide the rest and is never dropped silently.
    """
    jobs, skipped = [], []
    for path in artifacts.find_job_files(results, "benchmarks"):
        try:
            key = parse_benchmark_path(path, results, config["data"], config["codecs"])
            jobs.append(
                BenchmarkJob(
                    key=key,
                    path=str(path),
                    audio_s=job_audio_seconds(key, durations, config),
                    **read_benchmark_tsv(path),
                )
            )
        except CostError as exc:
            skipped.append(f"{path}: {exc}")
    return jobs, skipped
