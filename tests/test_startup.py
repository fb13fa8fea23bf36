"""Start-up records: a job's seconds by phase, written beside its log."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nacbench import startup
from nacbench.logs import job_log
from nacbench.startup import FIXED_PHASES, PHASES, phase, read_record


class SnakemakeLog(list):
    """What ``snakemake.log`` is to a script: the files in order, named entries as attributes."""

    def __init__(self, job: Path, startup_file: Path) -> None:
        super().__init__([str(job), str(startup_file)])
        self.job, self.startup = str(job), str(startup_file)


def test_a_job_records_its_phases_and_inner_phases_are_not_counted_twice(tmp_path: Path) -> None:
    log = SnakemakeLog(tmp_path / "decode.log", tmp_path / "decode.startup.json")
    with job_log(log):
        with phase("construct"):
            time.sleep(0.05)
            with phase("weights"):  # read inside the build: counted once, as weights
                time.sleep(0.3)
        with phase("work"):
            time.sleep(0.02)
        startup.note(codec="lyra", conditions=1)
    record = read_record(log.startup)
    phases = record["phases"]
    assert set(phases) == set(PHASES)
    # construct would be >= 0.35 s if the weights inside it were counted twice
    assert phases["weights"] >= 0.3 and 0.05 <= phases["construct"] < 0.3
    assert phases["startup"] is not None and phases["startup"] > 0  # this process started before the test
    assert record["fixed_s"] == pytest.approx(sum(phases[p] for p in FIXED_PHASES), abs=1e-3)
    assert record["wall_s"] >= record["fixed_s"] + phases["work"]
    assert (record["codec"], record["conditions"]) == ("lyra", 1)
    assert "job time" in Path(log.job).read_text()  # the summary closes the log


def test_a_record_holds_the_jobs_cpu_seconds_and_peak_memory(tmp_path: Path) -> None:
    """What Snakemake's benchmark files gave (they are gone from the pipeline's rules: their sampling
    cost Snakemake's own process), from the kernel: a job that holds 200 MB more peaks above that. In a
    fresh interpreter (tens of MB), so the peak is the job's and not the test session's."""
    job = f"""
import time
from nacbench.logs import job_log
from nacbench.startup import phase

class Log(list):
    startup = {str(tmp_path / "x.startup.json")!r}

with job_log(Log([{str(tmp_path / "x.log")!r}])), phase("work"):
    block = bytearray(200 * 2**20)  # touched: resident
    spin = time.process_time() + 0.2
    while time.process_time() < spin:
        pass
"""
    subprocess.run([sys.executable, "-c", job], check=True, timeout=120)
    record = read_record(tmp_path / "x.startup.json")
    assert record["max_rss_mb"] >= 200
    assert record["cpu_s"] >= 0.2
    assert "peak memory" in (tmp_path / "x.log").read_text()


def test_a_failing_job_still_writes_its_record(tmp_path: Path) -> None:
    log = SnakemakeLog(tmp_path / "x.log", tmp_path / "x.startup.json")
    with pytest.raises(RuntimeError), job_log(log), phase("construct"):
        raise RuntimeError("boom")
    assert read_record(log.startup)["phases"]["construct"] >= 0


def test_phases_outside_a_job_cost_nothing_and_plain_paths_write_no_record(tmp_path: Path) -> None:
    with phase("construct"):
        pass
    with job_log(tmp_path / "plain.log"), phase("work"):
        pass
    assert [p.name for p in tmp_path.iterdir()] == ["plain.log"]
    with pytest.raises(ValueError, match="unknown job phase 'warmup'"), job_log(tmp_path / "p.log"):
        startup._current.add("warmup", 1.0)  # type: ignore[union-attr]  # reason: set inside job_log


def test_a_damaged_record_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.startup.json"
    bad.write_text(json.dumps({"version": 0}))
    with pytest.raises(ValueError, match="bad.startup.json: not a version-1"):
        read_record(bad)
