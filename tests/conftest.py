"""Shared fixtures: where ../shared lives, and one reduced offline run of the workflow for the
end-to-end tests (the notebook, rerun and report tests read its results)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

#: a reduced form of configs/offline.yaml: real codecs only, two P_flip values, small labelling study
REDUCED_OVERLAY = {
    "study_a": {
        "codecs": ["lyra", "codec2-3200"],
        "channels": {"bsc": {"p_flip": [0.01, 0.1], "seeds": [0, 1]}},
        "listen_utterances": 2,
    },
    "study_labelling": {"codecs": ["lyra"], "labellings": ["natural", "gray", "random", "distortion-aware"]},
    "study_b": {
        "rows": [],
        "reference_codec": None,
        "distilled_codec": None,
        "extra_codecs": ["lyra"],
    },
}


def snakemake(
    *args: str, cwd: Path = REPO, check: bool = True, timeout: int = 1800
) -> subprocess.CompletedProcess:
    """Run the workflow as a user would (targets before --configfile, which takes several values)."""
    cmd = [sys.executable, "-m", "snakemake", *args]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def write_overlay(path: Path, results: Path, extra: dict | None = None) -> Path:
    overlay = {"results": str(results), **REDUCED_OVERLAY, **(extra or {})}
    path.write_text(yaml.safe_dump(overlay, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared (offline corpus and models) is not beside the checkout")
    return SHARED


@pytest.fixture(scope="session")
def offline_run(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Run the reduced offline workflow once per session; returns its results dir and overlay file."""
    base = tmp_path_factory.mktemp("offline_run")
    results = base / "results"
    overlay = write_overlay(base / "overlay.yaml", results)
    snakemake("--cores", "2", "--configfile", "configs/offline.yaml", str(overlay))
    return {"results": results, "overlay": overlay}


@pytest.fixture
def toy_metric():
    """A metric registered by a test alone (lower is better, with a unit), removed from the registry
    afterwards: whatever lists metrics must pick it up without any other code knowing it."""
    from nacbench.metrics import METRICS, register_metric

    @register_metric(
        "toy", label="Toy distance", unit="furlongs", higher_is_better=False, description="test only"
    )
    def toy(ref, deg, rate):
        return float(abs(ref - deg).mean())

    try:
        yield METRICS["toy"]
    finally:
        METRICS.pop("toy", None)
