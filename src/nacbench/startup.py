"""Where a job's seconds go: process start-up, imports, model construction, weights, device, work.

A job that loads a model spends most of its wall time before the first utterance on a small run, and
the full-run estimate needs that fixed cost measured, not separated from the work by regression. Each
job script runs inside :func:`nacbench.logs.job_log`, which opens a :class:`StartupRecord`; the code
that builds a model marks its phases with :func:`phase` (a no-op timer outside a job), and at the end
the record is logged and written as JSON next to the job's log (the rule's ``log: startup=...`` file,
path from :func:`nacbench.artifacts.startup_file`).

Phases (:data:`PHASES`), each the wall seconds spent in it, summed over its occurrences:

- ``startup``: process start to the job body: the interpreter, Snakemake's script preamble and the
  module-level imports of the job script (from ``/proc``; absent where the OS does not say);
- ``imports``: heavy imports done on demand inside the stage (torch, a codec package);
- ``construct``: building the model's modules (random initialisation included);
- ``weights``: reading checkpoint weights into them;
- ``device``: moving the model to its device and initialising that device;
- ``work``: what the job is for (encoding, transmitting, decoding, scoring).

Whatever the phases do not cover (reading inputs, writing outputs) is ``other``:
``wall_s = sum(phases) + other``. :data:`FIXED_PHASES` are the job's fixed cost, paid whatever the
amount of audio.

The record also holds the job's CPU seconds (``cpu_s``) and peak resident memory (``max_rss_mb``), from
the kernel's accounting of the process and the children it waited for (a scorer's worker pool): what a
Snakemake ``benchmark:`` file gave, measured exactly rather than sampled. The sampling was not free:
reading a multi-GB process's memory map twice a second took most of Snakemake's own CPU time.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: the phases a record separates, in the order a job goes through them
PHASES: tuple[str, ...] = ("startup", "imports", "construct", "weights", "device", "work")
#: the phases that do not grow with the audio a job processes: its fixed cost
FIXED_PHASES: tuple[str, ...] = ("startup", "imports", "construct", "weights", "device")
#: schema version of the JSON record (bump when a field changes meaning)
RECORD_VERSION = 1


def process_usage() -> tuple[float, float]:
    """(CPU seconds, peak resident MB) of this process and the children it waited for: user + system
    time summed, the peak the larger of its own and its largest child's (``ru_maxrss``: KB on Linux,
    bytes on macOS)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    unit = 1 if sys.platform == "darwin" else 1024
    return cpu, max(own.ru_maxrss, children.ru_maxrss) * unit / 2**20


def process_age_s() -> float | None:
    """Seconds since this process started (Linux ``/proc``), or None where that cannot be read."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started_ticks = int(fields[19])  # field 22 of stat(5); the two before ")" are pid and comm
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - started_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class StartupRecord:
    """The phases of one job; ``info`` holds what the job adds (codec, device, conditions, audio_s)."""

    started: float = field(default_factory=time.perf_counter)
    startup_s: float | None = field(default_factory=process_age_s)
    seconds: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    _open: str | None = None

    def add(self, name: str, seconds: float) -> None:
        if name not in PHASES or name == "startup":
            raise ValueError(f"unknown job phase {name!r}; phases: {PHASES[1:]}")
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def to_json(self) -> dict[str, Any]:
        body = time.perf_counter() - self.started
        start = None if self.startup_s is None else round(self.startup_s, 4)
        phases = {"startup": start, **{p: round(self.seconds.get(p, 0.0), 4) for p in PHASES[1:]}}
        covered = sum(self.seconds.values())
        known = [v for p in FIXED_PHASES if (v := phases[p]) is not None]
        cpu_s, max_rss_mb = process_usage()
        return {
            "version": RECORD_VERSION,
            "phases": phases,
            "other_s": round(max(0.0, body - covered), 4),
            "wall_s": round(body + (self.startup_s or 0.0), 4),
            "fixed_s": round(sum(known), 4),
            "startup_measured": self.startup_s is not None,
            "cpu_s": round(cpu_s, 3),
            "max_rss_mb": round(max_rss_mb, 1),
            **self.info,
        }

    def summary(self) -> str:
        data = self.to_json()
        parts = [f"{p} {v:.2f}s" for p, v in data["phases"].items() if v]
        return (
            f"job time {data['wall_s']:.2f}s: " + ", ".join(parts) + f", other {data['other_s']:.2f}s; "
            f"CPU {data['cpu_s']:.2f}s, peak memory {data['max_rss_mb']:.0f} MB"
        )


_current: StartupRecord | None = None


@contextlib.contextmanager
def recording(path: str | Path | None) -> Iterator[StartupRecord]:
    """Record this job's phases; write them to ``path`` (JSON) at the end, also when the job fails."""
    global _current
    previous, _current = _current, StartupRecord()
    record = _current
    try:
        yield record
    finally:
        _current = previous
        if path is not None:
            write_record(record, path)


def write_record(record: StartupRecord, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(record.to_json(), indent=1, sort_keys=True) + "\n")


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """Count the block's wall time to phase ``name`` of the current job (nothing outside a job).

    Phases do not nest: an inner phase's time is taken out of the outer one, so a model build that
    reads weights inside ``construct`` reports both without counting the weights twice.
    """
    record = _current
    if record is None:
        yield
        return
    outer, record._open = record._open, name
    start = time.perf_counter()
    inner_before = sum(record.seconds.values())
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        inner = sum(record.seconds.values()) - inner_before
        record.add(name, elapsed - inner)
        record._open = outer


def note(**info: Any) -> None:
    """Add facts to the current job's record (the codec, the device, conditions served, audio seconds)."""
    if _current is not None:
        _current.info.update(info)


def read_record(path: str | Path) -> Mapping[str, Any]:
    """A startup record written by :func:`recording`; a damaged one is a ValueError naming the file."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable job startup record ({exc})") from exc
    if not isinstance(data, dict) or data.get("version") != RECORD_VERSION or "phases" not in data:
        raise ValueError(f"{path}: not a version-{RECORD_VERSION} job startup record")
    return data
