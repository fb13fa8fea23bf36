"""Wall time of a whole offline run from empty, and where its CPU time goes.

Runs ``snakemake --cores N --configfile CONFIG`` ``--repeats`` times, each into a fresh results folder
(``--results``, deleted first), and measures per run: the wall clock, the CPU seconds of all its
processes (user and system, from the kernel's accounting of the waited-for children), the CPU seconds
of the Snakemake process itself (sampled from ``/proc``: scheduling, DAG updates and job bookkeeping,
which no job's startup record sees), the number of jobs, and the sum of the jobs' own wall seconds by
phase from their startup records (``nacbench.startup``). Prints the median and range over the repeats,
and writes JSON with ``--out``.

Run it alone on the machine: another process on the same cores changes the wall clock, not the work.

    python benchmarks/bench_offline_run.py --configfile configs/offline.yaml --repeats 1
    python benchmarks/bench_offline_run.py --configfile benchmarks/offline_issue12.yaml
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from nacbench.artifacts import find_job_files  # noqa: E402 (the repository's own package)
from nacbench.startup import PHASES, read_record  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _own_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` itself (not its children), or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14, 15 of stat)


def _sample_cpu(pid: int, last: list[float], done: threading.Event) -> None:
    """Keep the latest CPU reading of ``pid`` in ``last[0]`` until ``done`` (the final reading is lost
    with the process, so the sampling period bounds the error: 0.5 s of CPU at most)."""
    while not done.wait(0.5):
        value = _own_cpu_s(pid)
        if value is not None:
            last[0] = value


_STAMP = re.compile(r"\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
_RULE = re.compile(r"(?:local)?rule (\w+):$")
_FIELD = re.compile(r"\s+(jobid|threads): (\d+)$")
_FINISHED = re.compile(r"Finished jobid: (\d+)")


def core_occupancy(log: str, cores: int) -> dict[str, float]:
    """From Snakemake's log: the core-seconds no job held (each job holds its ``threads``, capped at
    ``cores``), and the seconds with a single job running. Snakemake stamps events to the second, so
    both are good to a few seconds; they say whether the scheduler kept the cores busy, not how well
    each job used its threads."""
    events: list[tuple[datetime.datetime, int, str]] = []
    stamp, job, threads = None, None, {}
    for line in log.splitlines():
        if m := _STAMP.match(line):
            stamp = datetime.datetime.strptime(re.sub(" +", " ", m.group(1)), "%a %b %d %H:%M:%S %Y")
        elif _RULE.match(line):
            job = None
        elif (m := _FIELD.match(line)) and stamp is not None:
            if m.group(1) == "jobid":
                job = m.group(2)
                threads[job] = 1
                events.append((stamp, +1, job))
            elif job is not None:
                threads[job] = min(int(m.group(2)), cores)
        elif (m := _FINISHED.match(line)) and stamp is not None:
            events.append((stamp, -1, m.group(1)))
    idle = single = 0.0
    running: set[str] = set()
    for (t, step, jobid), (t_next, _, _) in zip(events, events[1:], strict=False):
        running.add(jobid) if step > 0 else running.discard(jobid)
        dt = (t_next - t).total_seconds()
        idle += dt * max(0, cores - sum(threads[j] for j in running))
        single += dt * (len(running) == 1)
    return {"idle_core_s": round(idle, 1), "single_job_s": round(single, 1)}


def run_once(configfile: str, results: Path, cores: int, extra: list[str]) -> dict[str, Any]:
    """One run from an empty results folder; its figures."""
    shutil.rmtree(results, ignore_errors=True)
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        str(cores),
        "--configfile",
        configfile,
        "--config",
        f"results={results}",
        *extra,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    log = results.parent / f"{results.name}.snakemake.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        last, done = [0.0], threading.Event()
        sampler = threading.Thread(target=_sample_cpu, args=(process.pid, last, done), daemon=True)
        sampler.start()
        rc = process.wait()
        done.set()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if rc != 0:
        raise SystemExit(f"snakemake failed (rc={rc}); its log: {log}")
    records = [read_record(path) for path in find_job_files(results, "startup")]
    phases = {p: round(sum(r["phases"].get(p) or 0.0 for r in records), 1) for p in PHASES}
    text = log.read_text()
    jobs = sum(1 for line in text.splitlines() if _RULE.match(line))
    return {
        "wall_s": round(wall, 1),
        "user_s": round(after.ru_utime - before.ru_utime, 1),
        "system_s": round(after.ru_stime - before.ru_stime, 1),
        "snakemake_own_cpu_s": round(last[0], 1),
        "jobs": jobs,
        **core_occupancy(text, cores),
        "jobs_with_records": len(records),
        "record_wall_s": round(sum(r["wall_s"] for r in records), 1),
        "record_phases_s": phases,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configfile", default="configs/offline.yaml")
    parser.add_argument("--results", type=Path, default=REPO / "results" / "bench_offline_run")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path)
    parser.add_argument("snakemake_args", nargs="*", help="passed on to snakemake (after --)")
    args = parser.parse_args()
    runs = [
        run_once(args.configfile, args.results.resolve(), args.cores, args.snakemake_args)
        for _ in range(args.repeats)
    ]
    walls = [r["wall_s"] for r in runs]
    summary = {
        "configfile": args.configfile,
        "cores": args.cores,
        "repeats": args.repeats,
        "wall_s_median": statistics.median(walls),
        "wall_s_range": [min(walls), max(walls)],
        "runs": runs,
    }
    for r in runs:
        print(
            f"{r['jobs']} jobs in {r['wall_s'] / 60:.1f} min: CPU user {r['user_s']:.0f} s + system "
            f"{r['system_s']:.0f} s (Snakemake itself {r['snakemake_own_cpu_s']:.0f} s); cores idle "
            f"{r['idle_core_s']:.0f} core-s, one job running {r['single_job_s']:.0f} s; jobs' records "
            f"{r['record_wall_s']:.0f} s: "
            + ", ".join(f"{k} {v:.0f}" for k, v in r["record_phases_s"].items())
        )
    print(f"median wall {summary['wall_s_median'] / 60:.1f} min over {args.repeats} run(s)")
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
