"""What a full reproduction costs, extrapolated from the per-job benchmarks of a measured run.

Every heavy rule writes a Snakemake benchmark TSV (``results/benchmarks/{rule}/{codec}/{dataset}/...``).
This module joins each of those files with the audio its job processed (manifest + shard), fits a
per-rule x codec cost model ``wall_s = overhead_s + rate * audio_s``, plans the job list of another
configuration with :mod:`nacbench.plan` (the same functions the Snakefile asks for its targets), and
applies the models to it. It never makes a number up: a job whose rule x codec was not measured stays
"not measured", and every estimate keeps the measurement it came from.

Pure functions only (the file reading is limited to :func:`read_benchmark_tsv` and
:func:`load_benchmarks`); ``benchmarks/estimate_full_run.py`` is the command-line edge.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from nacbench import plan

Config = Mapping[str, Any]

#: the columns every Snakemake benchmark TSV starts with (extended format appends more)
BENCHMARK_COLUMNS = ("s", "h:m:s", "max_rss", "max_vms", "max_uss", "max_pss", "io_in", "io_out")
#: a fit needs this many jobs with pairwise different audio durations; fewer cannot separate the
#: fixed per-job overhead from the per-second rate
MIN_FIT_DURATIONS = 3
#: durations closer than this (seconds) count as the same when deciding whether a fit is possible
DURATION_RESOLUTION_S = 0.01
SHARD_RE = re.compile(r"\d{3}")

#: Published sizes of corpora whose full form is not at hand. LibriSpeech test-clean: 2620 utterances
#: (the test-clean distribution on openslr.org/12) and 5.40 hours (Panayotov et al. 2015, "LibriSpeech:
#: an ASR corpus based on public domain audio books", ICASSP, Table 1); 19,452 s is the sum of the
#: utterance durations (5.40 h rounded to two decimals).
PUBLISHED_SIZES: dict[tuple[str, str], tuple[int, float, str]] = {
    ("librispeech", "test-clean"): (
        2620,
        19452.0,
        "published size: 2620 utterances (openslr.org/12 test-clean), 5.40 h = 19,452 s "
        "(Panayotov et al. 2015, LibriSpeech, Table 1)",
    ),
}


class CostError(ValueError):
    """A benchmark file, manifest or configuration that cannot be used; the message names it."""


# ---------------------------------------------------------------- reading benchmarks


@dataclass(frozen=True)
class JobKey:
    """What a benchmark file's path says about its job (``None`` where the rule has no such wildcard)."""

    rule: str
    codec: str | None = None
    dataset: str | None = None
    channel: str | None = None
    shard: str | None = None
    other: str | None = None  # any remaining wildcard, e.g. the labelling name


@dataclass(frozen=True)
class BenchmarkJob:
    """One measured job: its key, what Snakemake recorded, and the audio it processed."""

    key: JobKey
    path: str
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    audio_s: float | None  # None: the job does not process audio (e.g. a labelling search)
    source: str = "benchmark"  # "benchmark" (Snakemake benchmark TSV) or "log" (start/finish timestamps)


def parse_benchmark_path(rel: Path, datasets: Collection[str], codecs: Collection[str]) -> JobKey:
    """Read rule, codec, dataset, channel and shard from a path relative to ``results/benchmarks``.

    The workflow writes ``{rule}/[{codec}/][{dataset}/[{channel}/]{shard}].tsv`` (``bench_path`` in
    common.smk). Names are recognised by what they are (a configured dataset, a configured codec, a
    three-digit shard) rather than by position, so rules with fewer wildcards (``manifest/{dataset}``,
    ``asr_reference/{dataset}/{shard}``, ``labelling/{codec}/{labelling}``) and external codecs' rule
    files that follow the same convention parse without a per-rule table.
    """
    parts = list(rel.with_suffix("").parts)
    if len(parts) < 2:
        raise CostError(f"{rel}: expected benchmarks/<rule>/.../<job>.tsv")
    rule, rest = parts[0], parts[1:]
    shard = rest.pop() if SHARD_RE.fullmatch(rest[-1]) else None
    codec = rest.pop(0) if rest and rest[0] in codecs else None
    dataset = channel = None
    if rest and rest[0] in datasets:
        dataset = rest.pop(0)
        if rest and shard is not None:
            channel = "/".join(rest)
            rest = []
    if shard is not None and dataset is None:
        raise CostError(f"{rel}: shard {shard} without a configured dataset (known: {sorted(datasets)})")
    return JobKey(rule, codec, dataset, channel, shard, "/".join(rest) or None)


def _number(value: Any) -> float:
    """A benchmark field as float; Snakemake writes ``NA`` (not sampled) or ``-`` (none): NaN."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def read_benchmark_tsv(path: Path) -> dict[str, float]:
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
    return {
        "wall_s": float(np.median(wall)),
        "cpu_s": float(np.nanmedian(cpu)) if np.isfinite(cpu).any() else math.nan,
        "max_rss_mb": float(np.nanmax(rss)) if np.isfinite(rss).any() else math.nan,
    }


def shard_audio_seconds(durations: np.ndarray, shard: int, n_shards: int) -> float:
    """Audio seconds of one shard: utterance ``i`` of the manifest belongs to shard ``i % n_shards``.

    Mirrors ``nacbench.data.manifest.select_shard`` (striding, manifest order).
    """
    if not 0 <= shard < n_shards:
        raise CostError(f"shard {shard} out of range for {n_shards} shard(s)")
    return float(np.asarray(durations, dtype=float)[shard::n_shards].sum())


def job_audio_seconds(key: JobKey, durations: Mapping[str, np.ndarray], config: Config) -> float | None:
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
    bench_dir: Path, config: Config, durations: Mapping[str, np.ndarray]
) -> tuple[list[BenchmarkJob], list[str]]:
    """Every ``*.tsv`` under ``bench_dir``, parsed and joined with its audio seconds.

    Returns the jobs and, separately, ``"path: reason"`` for each file that could not be used (an
    unknown layout, a dataset without a manifest, an unreadable file), so one odd file from an
    external rule does not hide the rest and is never dropped silently.
    """
    jobs, skipped = [], []
    for path in sorted(bench_dir.rglob("*.tsv")):
        try:
            key = parse_benchmark_path(path.relative_to(bench_dir), config["data"], config["codecs"])
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


# ---------------------------------------------------------------- timing from the Snakemake log

_TIMESTAMP_RE = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
_START_RE = re.compile(r"^(?:local)?rule (\w+):$")
_FINISH_RE = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")


@dataclass(frozen=True)
class LoggedJob:
    """A finished job as the Snakemake log shows it: wall time from its start and finish stamps."""

    rule: str
    jobid: int
    wildcards: tuple[tuple[str, str], ...]
    outputs: tuple[str, ...]
    wall_s: float


def parse_snakemake_log(text: str) -> list[LoggedJob]:
    """Finished jobs of one Snakemake log (its console output or ``.snakemake/log/*.log``).

    Rules without a ``benchmark:`` directive leave only this trace. Snakemake stamps each job's start
    and its "Finished jobid" line with whole seconds, so a time is good to about one second; failed
    jobs never finish and are left out. A job restarted in a later log appears in that log too: the
    caller keeps the last one per output (see :func:`latest_logged_jobs`).
    """
    now: datetime | None = None
    started: dict[int, dict[str, Any]] = {}
    block: dict[str, Any] | None = None
    out = []
    for line in text.splitlines():
        if m := _TIMESTAMP_RE.match(line):
            now = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
            block = None
        elif m := _START_RE.match(line):
            block = {"rule": m.group(1), "start": now, "wildcards": (), "outputs": ()}
        elif block is not None and line.startswith("    ") and ": " in line:
            key, _, value = line.strip().partition(": ")
            if key == "jobid":
                started[int(value)] = block
            elif key == "wildcards":
                block["wildcards"] = tuple(tuple(kv.split("=", 1)) for kv in value.split(", ") if "=" in kv)
            elif key == "output":
                block["outputs"] = tuple(v.strip() for v in value.split(","))
        elif m := _FINISH_RE.match(line):
            block = None
            job = started.pop(int(m.group(1)), None)
            if job is not None and job["rule"] == m.group(2) and job["start"] is not None and now is not None:
                wall = (now - job["start"]).total_seconds()
                out.append(LoggedJob(job["rule"], int(m.group(1)), job["wildcards"], job["outputs"], wall))
        elif not line.startswith("    "):
            block = None
    return out


def latest_logged_jobs(logs: Sequence[Sequence[LoggedJob]], results: str) -> list[LoggedJob]:
    """Jobs from several logs (oldest first) that wrote under ``results``, the last run of each output."""
    prefix = results.rstrip("/") + "/"
    latest: dict[tuple[str, tuple[str, ...]], LoggedJob] = {}
    for log in logs:
        for job in log:
            if job.outputs and all(o.startswith(prefix) for o in job.outputs):
                latest[(job.rule, job.outputs)] = job
    return list(latest.values())


def logged_to_benchmark(
    job: LoggedJob, config: Config, durations: Mapping[str, np.ndarray], source_name: str
) -> BenchmarkJob:
    """A logged job in the benchmark shape: key from its wildcards, no CPU or memory figures."""
    wc = dict(job.wildcards)
    key = JobKey(
        job.rule, wc.get("codec"), wc.get("dataset"), wc.get("channel"), wc.get("shard"), wc.get("labelling")
    )
    return BenchmarkJob(
        key=key,
        path=f"{source_name}#jobid={job.jobid}",
        wall_s=job.wall_s,
        cpu_s=math.nan,
        max_rss_mb=math.nan,
        audio_s=job_audio_seconds(key, durations, config),
        source="log",
    )


# ---------------------------------------------------------------- cost models


@dataclass(frozen=True)
class CostModel:
    """Measured cost of one rule x codec: ``wall_s = overhead_s + rate * audio_s`` per job.

    ``method`` says how the two numbers were obtained: ``least-squares`` (non-negative fit over jobs
    of different durations), ``rate-only`` (too few distinct durations to separate a per-job overhead:
    all the time is attributed to the rate, the median of wall/audio) or ``per-job`` (the rule processes
    no audio: the median wall time of a job is the overhead).
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

    def predict(self, audio_s: float | None) -> float:
        """Wall seconds of one job processing ``audio_s`` seconds (ignored for per-job rules)."""
        if self.method == "per-job":
            return self.overhead_s
        if audio_s is None:
            raise CostError(f"rule {self.rule}: the model scales with audio but the job has none")
        return self.overhead_s + self.rate * audio_s

    def predict_range(self, audio_s: Sequence[float]) -> tuple[float, float] | None:
        """For ``rate-only`` models, the total over jobs when all time is overhead vs. all is rate.

        With ``a, b >= 0`` and ``a + b * x_measured = w_measured``, any linear cost lies between these
        two attributions, so the pair bounds what an unseparated measurement can say. None otherwise.
        """
        if self.method != "rate-only":
            return None
        as_rate = float(sum(self.rate * a for a in audio_s))
        as_overhead = len(audio_s) * self.wall_median_s
        return min(as_rate, as_overhead), max(as_rate, as_overhead)


def fit_overhead_rate(audio_s: np.ndarray, wall_s: np.ndarray) -> tuple[float, float]:
    """Least-squares ``wall = a + b * audio`` with ``a, b >= 0`` (a negative overhead or rate is noise)."""
    design = np.column_stack([np.ones_like(audio_s, dtype=float), np.asarray(audio_s, dtype=float)])
    (a, b), _ = nnls(design, np.asarray(wall_s, dtype=float))
    return float(a), float(b)


def fit_cost_model(jobs: Sequence[BenchmarkJob]) -> CostModel:
    """The cost model of one rule x codec from its measured jobs (all must share rule and codec)."""
    if not jobs:
        raise CostError("fit_cost_model: no jobs")
    keys = {(j.key.rule, j.key.codec) for j in jobs}
    if len(keys) != 1:
        raise CostError(f"fit_cost_model: jobs of several rule x codec groups {sorted(keys, key=str)}")
    rule, codec = keys.pop()
    wall = np.array([j.wall_s for j in jobs])
    cpu = np.array([j.cpu_s for j in jobs])
    rss = np.array([j.max_rss_mb for j in jobs])
    max_rss = float(np.nanmax(rss)) if np.isfinite(rss).any() else math.nan
    datasets = tuple(sorted({j.key.dataset for j in jobs if j.key.dataset}))
    sources = {j.source for j in jobs}
    common = {
        "rule": rule,
        "codec": codec,
        "n_jobs": len(jobs),
        "max_rss_mb": max_rss,
        "datasets": datasets,
        "wall_median_s": float(np.median(wall)),
        "source": "+".join(sorted(sources)),
    }
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


# ---------------------------------------------------------------- planning a configuration


@dataclass(frozen=True)
class DatasetAudio:
    """How much audio a configuration's dataset holds, and where that number comes from."""

    name: str
    n_utterances: int
    total_s: float
    source: str

    def shard_seconds(self, shard: int, n_shards: int) -> float:
        """Audio of one shard at the dataset's mean duration (shard ``i`` gets utterances ``i::n``)."""
        count = len(range(shard, self.n_utterances, n_shards))
        return count * self.total_s / self.n_utterances if self.n_utterances else 0.0


@dataclass(frozen=True)
class PlannedJob:
    """One job of a configuration's DAG, by rule and wildcards, with the audio it will process."""

    rule: str
    codec: str | None = None
    dataset: str | None = None
    channel: str | None = None
    shard: str | None = None
    audio_s: float | None = None


def used_datasets(config: Config) -> list[str]:
    """Datasets the configuration's targets reach (their manifests are built)."""
    names = set(plan.scored_datasets(config))
    if _has_study_b(config):
        names.add(config["study_b"]["dataset"])
    return sorted(names)


def _has_study_b(config: Config) -> bool:
    return bool(plan.study_b_codecs(config) or config["study_b"]["rows"])


def used_codecs(config: Config) -> list[str]:
    """Codecs with at least one condition (each gets one codec_info job)."""
    return sorted({c.codec for c in plan.conditions(config)} | set(plan.study_b_codecs(config)))


def plan_jobs(config: Config, audio: Mapping[str, DatasetAudio] | None = None) -> list[PlannedJob]:
    """Every job ``snakemake`` (target ``all``) would run for ``config``, except the target rule itself.

    Follows the rule files: one encode per codec x dataset x shard, one channel/decode/score per
    condition x shard (``plan.conditions``), ASR on the Study B dataset, the labelling rules per
    labelling codec, and the one-off report rules. ``audio`` gives shard durations; without it every
    ``audio_s`` is None (job counts only). Codecs with ``adapter: external`` run their own rule files:
    their jobs are counted under the generic rule names.
    """
    audio = audio or {}

    def seconds(dataset: str, shard: int | None) -> float | None:
        if dataset not in audio:
            return None
        if shard is None:
            return audio[dataset].total_s
        return audio[dataset].shard_seconds(shard, int(config["data"][dataset]["shards"]))

    def sharded(
        rule: str, dataset: str, codec: str | None = None, channel: str | None = None
    ) -> list[PlannedJob]:
        return [
            PlannedJob(rule, codec, dataset, channel, name, seconds(dataset, int(name)))
            for name in plan.shard_names(config, dataset)
        ]

    jobs = [PlannedJob("save_config")]
    for ds in used_datasets(config):
        if not config["data"][ds].get("root"):
            jobs.append(PlannedJob("download_dataset", dataset=ds))
        jobs.append(PlannedJob("manifest", dataset=ds, audio_s=seconds(ds, None)))
    jobs += [PlannedJob("codec_info", codec=c) for c in used_codecs(config)]
    conditions = plan.conditions(config)
    for codec, ds in sorted({(c.codec, c.dataset) for c in conditions}):
        jobs += sharded("encode", ds, codec)
    for rule in ("channel", "decode", "score"):
        for c in conditions:
            jobs += sharded(rule, c.dataset, c.codec, c.channel)
    if config["study_a"]["codecs"] or config["study_labelling"]["codecs"]:
        ds_a = config["study_a"]["dataset"]  # reads every condition's metrics of the whole dataset
        jobs.append(PlannedJob("tidy_scores", dataset=ds_a, audio_s=seconds(ds_a, None)))
    if config["study_a"]["codecs"]:
        jobs += [PlannedJob("figure3"), PlannedJob("table3")]
    sb = config["study_b"]
    if _has_study_b(config):
        jobs += sharded("asr_reference", sb["dataset"])
        for codec in plan.study_b_codecs(config):
            jobs += sharded("asr_decoded", sb["dataset"], codec, "clean")
        jobs += [PlannedJob("enc_rtf", codec=codec) for codec in plan.study_b_codecs(config)]
        jobs.append(PlannedJob("table2"))
        if sb["reference_codec"] and sb["distilled_codec"]:
            jobs.append(PlannedJob("code_analysis"))
    labellings = [n for n in config["study_labelling"]["labellings"] if n != "natural"]
    for codec in config["study_labelling"]["codecs"]:
        jobs += [PlannedJob("codewords", codec=codec), PlannedJob("expected_distortion", codec=codec)]
        jobs += [PlannedJob("labelling", codec=codec) for _ in labellings]
    if config["study_labelling"]["codecs"]:
        jobs.append(PlannedJob("labelling_report"))
    return jobs


def job_counts(config: Config) -> Counter[str]:
    """Jobs per rule for ``config`` (what ``snakemake -n`` lists, without the target rule ``all``)."""
    return Counter(job.rule for job in plan_jobs(config))


def dataset_audio_from_manifest(name: str, durations: np.ndarray, source: str) -> DatasetAudio:
    d = np.asarray(durations, dtype=float)
    return DatasetAudio(name, int(d.size), float(d.sum()), source)


def full_dataset_audio(
    name: str, full: Config, measured: Config, durations: Mapping[str, np.ndarray]
) -> DatasetAudio | None:
    """Audio of dataset ``name`` under the full configuration, from the best source at hand.

    In order: the measured manifest when the measured run selected the same data (same reader,
    subset, speakers and utterances per speaker); a published corpus size (:data:`PUBLISHED_SIZES`);
    for a speaker x utterances selection, the count times the mean duration of the measured manifest.
    None when none applies.
    """
    spec = full["data"][name]
    ignore = {"shards", "on_error"}  # root stays: a local copy may hold a subset
    same = name in measured["data"] and {k: v for k, v in spec.items() if k not in ignore} == {
        k: v for k, v in measured["data"][name].items() if k not in ignore
    }
    if same and name in durations:
        return dataset_audio_from_manifest(
            name, durations[name], "the measured run's manifest (same selection)"
        )
    published = PUBLISHED_SIZES.get((spec.get("reader", ""), spec.get("subset", "")))
    if published:
        return DatasetAudio(name, published[0], published[1], published[2])
    if spec.get("speakers") and spec.get("utterances_per_speaker") and name in durations:
        d = np.asarray(durations[name], dtype=float)
        if d.size == 0:
            return None
        n = len(spec["speakers"]) * int(spec["utterances_per_speaker"])
        return DatasetAudio(
            name,
            n,
            n * float(d.mean()),
            f"{len(spec['speakers'])} speakers x {spec['utterances_per_speaker']} utterances at the mean "
            f"duration {d.mean():.2f} s of the measured manifest ({d.size} utterances of "
            f"{len(measured['data'][name].get('speakers', []))} speakers)",
        )
    return None


# ---------------------------------------------------------------- estimates


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
    wall_range_s: tuple[float, float] | None = None  # rate-only models: all-overhead vs all-rate totals

    @property
    def measured(self) -> bool:
        return self.wall_s is not None


def _option_differences(codec: str, full: Config, measured: Config) -> list[str]:
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
        diffs = _option_differences(codec, full, measured)
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
        caveats = run_caveats(rule, codec, full, measured)
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
            wall_range = model.predict_range([float(a) for a in audio if a is not None])
            if model.source != "benchmark":
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

    @property
    def complete(self) -> bool:
        return self.jobs == self.jobs_measured


#: per-row caveats that make a measurement unlike the full run's job; the summary flags them
FLAGGED_CAVEATS = {"codec options differ": "options differ", "ASR measured with": "other ASR model"}


def _measured_on(e: RuleCodecEstimate) -> str:
    """``codec (n jobs[, log][, flags])`` for the summary table."""
    if e.model is None:
        return f"{e.codec or e.rule} (not measured)"
    tags = [f"{e.model.n_jobs} job{'s' if e.model.n_jobs != 1 else ''}"]
    if e.model.source != "benchmark":
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
            )
        )
    return out


# ---------------------------------------------------------------- rule declarations

_RULE_RE = re.compile(r"^rule\s+([A-Za-z_][A-Za-z0-9_]*)\s*:", re.MULTILINE)


def rule_declarations(text: str) -> dict[str, dict[str, bool]]:
    """Per rule of a Snakemake rule file: does it declare ``benchmark:`` and a ``gpu`` resource.

    Read from the rule files rather than listed by hand, so the report's "not measured: no benchmark
    directive" and "GPU rule" labels follow the workflow as it is.
    """
    starts = list(_RULE_RE.finditer(text))
    out = {}
    ends = [m.start() for m in starts[1:]] + [len(text)] * bool(starts)
    for match, end in zip(starts, ends, strict=True):
        body = text[match.end() : end]
        out[match.group(1)] = {
            "benchmark": re.search(r"^\s+benchmark\s*:", body, re.MULTILINE) is not None,
            "gpu": re.search(r"^\s+gpu\s*=\s*[1-9]", body, re.MULTILINE) is not None,
        }
    return out
