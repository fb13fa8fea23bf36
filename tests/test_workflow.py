"""The workflow as users run it: DAGs of the shipped configs and profiles, and one reduced offline run
(shared fixture) checked for its artifacts, its statistics and its rerun behaviour."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, snakemake, write_overlay

from nacbench.artifacts import load_shard

STAGES = ("manifest", "encode", "channel", "decode", "score", "tidy_scores", "figure3", "table3", "table2")


def job_counts(dry_run_stdout: str) -> dict[str, int]:
    """Parse the 'Job stats' table of a dry run."""
    counts: dict[str, int] = {}
    lines = dry_run_stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Job stats"))
    for line in lines[start + 3 :]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts


def test_full_config_dry_run_lists_every_stage() -> None:
    counts = job_counts(snakemake("-n").stdout)
    for stage in (*STAGES, "download_dataset", "asr_reference", "asr_decoded", "enc_rtf", "code_analysis"):
        assert counts.get(stage, 0) > 0, f"no {stage} jobs in the full dry run: {counts}"
    # 5 codecs x 8 conditions x 20 shards on LibriSpeech + 2 codecs clean x 6 shards on Arctic
    assert counts["score"] == 5 * 8 * 20 + 2 * 6
    assert counts["encode"] == 5 * 20 + 2 * 6


@pytest.mark.parametrize("profile", ["profiles/default", "profiles/slurm"])
def test_profiles_dry_run(profile: str) -> None:
    out = snakemake("-n", "--profile", profile).stdout
    assert job_counts(out)["score"] > 0


@pytest.mark.slow
def test_offline_run_writes_study_a_artifacts(offline_run: dict[str, Path]) -> None:
    results = offline_run["results"]
    for name in ("figure3.pdf", "figure3.png", "labelling.pdf", "labelling.png"):
        assert (results / "figures" / name).stat().st_size > 0
    for stem in (
        "table3",
        "study_a_summary",
        "study_a_breakdown",
        "failures",
        "labelling_breakdown",
        "expected_distortion",
    ):
        for ext in ("csv", "md", "tex"):
            assert (results / "tables" / f"{stem}.{ext}").stat().st_size > 0
    tidy = pd.read_parquet(results / "tables" / "scores_librispeech.parquet")
    assert set(tidy.codec) == {"lyra", "codec2-3200"}
    assert set(tidy.labelling) == {"natural", "gray", "random", "distortion-aware"}
    clean = tidy[(tidy.channel == "clean") & (tidy.codec == "lyra")]
    assert clean.stoi.between(0.85, 1.0).all()  # real weights: a real result
    assert not tidy.random_weights.any()
    # bit errors hurt: mean STOI at P_flip 0.1 is below clean for both codecs
    natural = tidy[tidy.labelling == "natural"]
    means = natural.groupby(["codec", "p_flip"]).stoi.mean()
    for codec in ("lyra", "codec2-3200"):
        assert means[(codec, 0.1)] < means[(codec, 0.0)] - 0.05
    assert (results / "tables" / "asr_wer.csv").exists()


@pytest.mark.slow
def test_recorded_flip_counts_match_p_flip(offline_run: dict[str, Path]) -> None:
    results = offline_run["results"]
    checked = 0
    for path in (results / "channel").rglob("*.npz"):
        channel = path.parent.name
        if channel == "clean":
            continue
        p = float(channel.split("-")[1][1:])
        shard = load_shard(path)
        n, k = int(shard.extras["bits_sent"].sum()), int(shard.extras["bits_flipped"].sum())
        sigma = math.sqrt(n * p * (1 - p))
        assert abs(k - n * p) <= 5 * sigma, f"{path}: {k} flips of {n} bits at P_flip {p}"
        checked += 1
    assert checked >= 8


@pytest.mark.slow
def test_rerun_does_nothing(offline_run: dict[str, Path]) -> None:
    out = snakemake("-n", "--configfile", "configs/offline.yaml", str(offline_run["overlay"])).stdout
    assert "Nothing to be done" in out


@pytest.mark.slow
def test_changing_seeds_reruns_only_channel_and_later(offline_run: dict[str, Path], tmp_path: Path) -> None:
    overlay = yaml.safe_load(offline_run["overlay"].read_text())
    overlay["study_a"]["channels"]["bsc"]["seeds"] = [0, 1, 2]
    changed = tmp_path / "seeds.yaml"
    changed.write_text(yaml.safe_dump(overlay))
    counts = job_counts(snakemake("-n", "--configfile", "configs/offline.yaml", str(changed)).stdout)
    assert counts.get("channel", 0) > 0
    for upstream in ("manifest", "codec_info", "encode", "codewords", "labelling"):
        assert upstream not in counts, f"changing seeds reran {upstream}: {counts}"


@pytest.mark.slow
def test_report_renders(offline_run: dict[str, Path], tmp_path: Path) -> None:
    report = tmp_path / "report.zip"
    snakemake("--report", str(report), "--configfile", "configs/offline.yaml", str(offline_run["overlay"]))
    assert report.stat().st_size > 10_000


@pytest.mark.slow
def test_interrupted_run_resumes_without_recomputing(shared_dir: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    overlay = write_overlay(
        tmp_path / "overlay.yaml",
        results,
        {"study_labelling": {"codecs": [], "labellings": ["natural"]}},
    )
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "2",
        "--configfile",
        "configs/offline.yaml",
        str(overlay),
    ]
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 600
    try:
        while time.time() < deadline and not list((results / "metrics").rglob("*.parquet")):
            time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # as hard as a power cut: no cleanup by Snakemake
        proc.wait()
    finished = {p: p.stat().st_mtime_ns for p in (results / "codes").rglob("*.npz")}
    assert finished, "the run was killed before any job finished"
    # a hard kill leaves Snakemake's lock behind (README: unlock once, then restart)
    snakemake("--unlock", "--configfile", "configs/offline.yaml", str(overlay))
    snakemake("--cores", "2", "--configfile", "configs/offline.yaml", str(overlay))
    assert {p: p.stat().st_mtime_ns for p in finished} == finished, "finished jobs were recomputed"
    assert (results / "figures" / "figure3.png").exists()
    assert not list(results.rglob("*.tmp*")), "a temporary file survived"
    out = snakemake("-n", "--configfile", "configs/offline.yaml", str(overlay)).stdout
    assert "Nothing to be done" in out


def test_channel_streams_are_identical_across_processes() -> None:
    """Named random streams do not depend on the process (no hash() seeds)."""
    code = (
        "import numpy as np; from nacbench.seeds import derive_rng; "
        "print(derive_rng(0, 'lyra', 'librispeech', '000', 'bsc', 0.01, 0.0).integers(0, 2**31, 3).tolist())"
    )
    runs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    }
    assert len(runs) == 1
    assert len(json.loads(runs.pop())) == 3


def test_snakemake_lint_is_clean() -> None:
    out = snakemake("--lint")
    assert "Congratulations, your workflow is in a good condition!" in out.stdout + out.stderr


def test_ruff_is_clean() -> None:
    ruff = [sys.executable, "-m", "ruff"]
    for args in (["check", "."], ["format", "--check", "."]):
        proc = subprocess.run([*ruff, *args], cwd=REPO, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_is_clean() -> None:
    """The package type-checks under pyproject.toml's [tool.mypy] (stubs: envs/requirements-dev.txt)."""
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "src/nacbench"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# a type-ignore comment, and the form every one must have: error codes in brackets, then a comment
# that says why (the pattern is split so that this file does not match itself)
_TYPE_IGNORE = re.compile(r"#\s*type:\s*" + "ignore")
_EXPLAINED_TYPE_IGNORE = re.compile(r"#\s*type:\s*" + r"ignore\[[\w-]+(\s*,\s*[\w-]+)*\]\s*#\s*\S")


def unexplained_type_ignores(text: str) -> list[str]:
    """Lines of ``text`` with a type-ignore comment that names no error code or gives no reason."""
    return [
        line.strip()
        for line in text.splitlines()
        if _TYPE_IGNORE.search(line) and not _EXPLAINED_TYPE_IGNORE.search(line)
    ]


def test_unexplained_type_ignores_are_found() -> None:
    ignore = "# type: " + "ignore"
    assert unexplained_type_ignores(f"x = f()  {ignore}[arg-type]  # a wrong type on purpose\n") == []
    assert unexplained_type_ignores(f"x = f()  {ignore}[arg-type, misc]  # why\n") == []
    for bad in (f"x = f()  {ignore}", f"x = f()  {ignore}[arg-type]", f"x = f()  {ignore}  # why"):
        assert unexplained_type_ignores(bad) == [bad]


def test_every_type_ignore_names_its_code_and_reason() -> None:
    """Issue 11: no type-ignore without a reason, in the package, tests, workflow, benchmarks or notebooks."""
    files = [REPO / "Snakefile"] + [
        path
        for folder in ("src", "tests", "workflow", "benchmarks", "notebooks")
        for path in sorted((REPO / folder).rglob("*"))
        if path.suffix in (".py", ".smk", ".ipynb")
    ]
    found = {
        str(path.relative_to(REPO)): lines
        for path in files
        if (lines := unexplained_type_ignores(path.read_text(encoding="utf-8")))
    }
    assert not found, found
