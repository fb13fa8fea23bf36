"""Job wall times from a Snakemake log, for the rules that declare no ``benchmark:``."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from nacbench.artifacts import JobPath
from nacbench.costs.benchmarks import BenchmarkJob, job_audio_seconds
from nacbench.plan import Config

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
    """A logged job in the benchmark shape: key from its wildcards (as its ``logs/`` path would give
    them), no CPU or memory figures."""
    wc = dict(job.wildcards)
    key = JobPath(
        "logs",
        job.rule,
        wc.get("codec"),
        wc.get("dataset"),
        wc.get("channel"),
        wc.get("shard"),
        wc.get("labelling"),
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
