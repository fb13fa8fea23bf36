"""Shared fixtures: where ../shared lives, one reduced offline run of the workflow for the end-to-end
tests (the notebook, rerun and report tests read its results), and generated speech-like audio for the
tests that need audio but no real speech."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

#: a reduced form of configs/offline.yaml: real codecs only, two P_flip values, small labelling study
REDUCED_OVERLAY = {
    "study_a": {
        "codecs": ["lyra", "codec2-3200"],
        "channels": {"bsc": {"p_flip": [0.01, 0.1], "seeds": [0, 1]}},
        "listen_utterances": 2,
        "wer_utterances": 1,
    },
    "study_labelling": {"codecs": ["lyra"], "labellings": ["natural", "gray", "random", "distortion-aware"]},
    # the quantizer swap on real Lyra, reduced: one seed, the budgets 120 and 16, a two-point rate sweep
    "study_swap": {
        "codecs": ["lyra"],
        "seeds": [0],
        "rate_sweep": {"bits": [16, 120], "p_flip": [0.1], "seeds": [0]},
    },
    "study_b": {
        "rows": [],
        "reference_codec": None,
        "distilled_codec": None,
        "extra_codecs": ["lyra"],
    },
    # packet loss on real Lyra (repeat, silence) and Opus (its own PLC), i.i.d. and bursty, two rates
    "study_packet_loss": {
        "codecs": ["lyra", "opus-12k"],
        "fer": [0.05, 0.2],
        "bursts": [3],
        "concealments": ["repeat", "silence"],
        "wer_utterances": 1,
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


def speech_like(seconds: float, seed: int, rate: int = 16_000) -> np.ndarray:
    """A few seconds of generated speech-like audio: a voiced source (gliding f0, harmonics shaped by two
    formants that change every syllable), syllable envelopes at 4 Hz with pauses, and noise bursts
    between syllables. Enough structure for codecs and STOI's envelope statistics; no words."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 140.0 + 30.0 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 2 * np.pi))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    syllable = (t / 0.25).astype(int)  # 4 syllables per second
    f1 = rng.uniform(300, 800, syllable.max() + 1)[syllable]
    f2 = rng.uniform(900, 2200, syllable.max() + 1)[syllable]
    voiced = np.zeros_like(t)
    for h in range(1, 26):
        gain = np.exp(-(((h * f0 - f1) / 150) ** 2)) + 0.7 * np.exp(-(((h * f0 - f2) / 250) ** 2)) + 0.03
        voiced += gain * np.sin(h * phase)
    within = (t / 0.25) % 1.0
    envelope = np.sin(np.pi * within) ** 2 * (syllable % 4 != 3)  # every fourth syllable is a pause
    noise = np.diff(rng.standard_normal(t.size + 1)) * 0.15 * (within < 0.12)  # high-passed bursts
    wav = voiced * envelope + noise
    return (0.5 * wav / np.abs(wav).max()).astype(np.float32)


def write_librispeech_like(root: Path, n_utterances: int, seconds: float = 2.5) -> Path:
    """``root/LibriSpeech/test-clean/1/10/1-10-XXXX.flac`` of :func:`speech_like` audio with a
    transcript file: a corpus the LibriSpeech reader accepts, made in a test's tmp_path."""
    chapter = root / "LibriSpeech" / "test-clean" / "1" / "10"
    chapter.mkdir(parents=True)
    lines = []
    for i in range(n_utterances):
        utt = f"1-10-{i:04d}"
        sf.write(chapter / f"{utt}.flac", speech_like(seconds + 0.25 * i, seed=i), 16_000, subtype="PCM_16")
        lines.append(f"{utt} GENERATED UTTERANCE {i}")
    (chapter / "1-10.trans.txt").write_text("\n".join(lines) + "\n")
    return root


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


@pytest.fixture(autouse=True)
def _hub_lock_file_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the repository's hub-revisions.lock.yaml: each gets a lock file path of
    its own (nacbench.codecs.revisions records first downloads there)."""
    monkeypatch.setenv(
        "NACBENCH_HUB_LOCK", str(tmp_path_factory.mktemp("hublock") / "hub-revisions.lock.yaml")
    )
