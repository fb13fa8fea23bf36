"""The reference-free quality metrics (DNSMOS P.835 SIG / BAK / OVRL, PLCMOS v2): registry entries, known
orderings, agreement with speechmos, NaN-plus-reason failures, config checks, and one session per process."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO, SHARED, speech_like

from nacbench.config import ConfigError, metric_errors, validate_config
from nacbench.metrics import METRIC_LABELS, METRICS, MetricError, dnsmos, metric_names, plcmos
from nacbench.metrics import speechmos_models as models
from nacbench.metrics.scoring import check_metric_params, score_pair

RATE = 16_000
DNSMOS = ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl")
MOS_METRICS = (*DNSMOS, "plcmos")


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    return speech_like(5.0, seed=0).astype(np.float64)


def with_noise(x: np.ndarray, snr_db: float, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(len(x))
    return x + noise * np.sqrt(np.mean(x**2) / np.mean(noise**2) / 10 ** (snr_db / 10))


def with_dropouts(x: np.ndarray, fraction: float, frame: int = 320, seed: int = 2) -> np.ndarray:
    """``x`` with ``fraction`` of its 20 ms frames (at 16 kHz) set to zero, chosen at random."""
    y = x.copy()
    frames = len(x) // frame
    for i in np.random.default_rng(seed).choice(frames, round(fraction * frames), replace=False):
        y[i * frame : (i + 1) * frame] = 0.0
    return y


def score(name: str, deg: np.ndarray, rate: int = RATE) -> float:
    """A reference-free score through the registry (the reference is unused; the decoded signal stands in)."""
    return METRICS[name].compute(deg, deg, rate)


def test_registry_entries() -> None:
    names = metric_names()
    assert names[:4] == ("stoi", "pesq", "si_sdr", "mel_mse")  # the paper's four still lead every table
    assert names[4:8] == MOS_METRICS
    for name in MOS_METRICS:
        metric = METRICS[name]
        assert metric.higher_is_better and metric.unit == "MOS"
        assert metric.needs == frozenset()  # reference-free
        assert "reference-free" in metric.description
    assert [METRICS[n].label for n in MOS_METRICS] == ["DNSMOS SIG", "DNSMOS BAK", "DNSMOS OVRL", "PLCMOS v2"]
    assert METRIC_LABELS["dnsmos_ovrl"] == "DNSMOS OVRL (MOS) ↑"


def test_opt_in_not_in_the_shipped_configs() -> None:
    for path in [REPO / "config.yaml", *sorted((REPO / "configs").glob("*.yaml"))]:
        configured = (yaml.safe_load(path.read_text()) or {}).get("metrics") or {}
        assert not set(configured) & set(MOS_METRICS), path.name


def test_dnsmos_rates_clean_speech_above_noisy(clean: np.ndarray) -> None:
    noisy = with_noise(clean, snr_db=0.0)
    assert score("dnsmos_ovrl", clean) > score("dnsmos_ovrl", noisy) + 0.5
    assert score("dnsmos_bak", clean) > score("dnsmos_bak", noisy) + 0.5
    assert score("dnsmos_sig", clean) > score("dnsmos_sig", noisy) + 0.5
    assert all(1.0 <= score(name, clean) <= 5.0 for name in DNSMOS)


def test_plcmos_rates_clean_speech_above_dropouts(clean: np.ndarray) -> None:
    dropped = with_dropouts(clean, 0.2)
    assert np.mean(dropped[clean != 0] == 0) == pytest.approx(0.2, abs=0.03)  # (the pauses are zeros already)
    assert score("plcmos", clean) > score("plcmos", dropped) + 0.2


def test_dnsmos_equals_speechmos(clean: np.ndarray) -> None:
    """Under 16 s the windows are the reference implementation's; its P.808 score is not computed."""
    from speechmos import dnsmos as reference

    expected = reference.run(clean.astype(np.float32), RATE)
    got = dnsmos.p835_scores(clean.astype(np.float32), RATE)
    assert got.sig == pytest.approx(expected["sig_mos"], abs=1e-5)
    assert got.bak == pytest.approx(expected["bak_mos"], abs=1e-5)
    assert got.ovrl == pytest.approx(expected["ovrl_mos"], abs=1e-5)


def test_plcmos_equals_speechmos_with_our_raters(clean: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    """speechmos draws its raters from numpy's global stream (np.random.normal); given ours, it agrees."""
    from speechmos import plcmos as reference

    monkeypatch.setattr(np.random, "normal", np.random.RandomState(plcmos.RATER_SEED).normal)
    expected = reference.run(clean, RATE)["plcmos"]
    monkeypatch.undo()
    assert score("plcmos", clean) == pytest.approx(expected, abs=1e-5)
    assert score("plcmos", clean) == score("plcmos", clean)  # fixed raters: the same number every call


def test_dnsmos_windows() -> None:
    """Every window is 9.01 s, one starting each second, floor(seconds) - 9 of them (at least one); a clip
    shorter than a window is doubled until it fills one (1 s -> 16 s: 7 windows), as the reference does."""
    ramp = np.arange(20 * RATE, dtype=np.float64)
    frames = dnsmos.windows(ramp)
    assert frames.shape == (11, dnsmos.WINDOW) == (11, 144_160)
    assert all(frames[i, 0] == i * RATE and frames[i, -1] == i * RATE + dnsmos.WINDOW - 1 for i in range(11))
    assert len(dnsmos.windows(ramp[: int(9.5 * RATE)])) == 1
    short = dnsmos.windows(ramp[:RATE])
    assert short.shape == (7, dnsmos.WINDOW) and np.array_equal(
        short[0], np.tile(ramp[:RATE], 10)[: dnsmos.WINDOW]
    )


def test_too_short_is_refused_with_the_reason() -> None:
    x = speech_like(2.0, seed=3).astype(np.float64)
    with pytest.raises(MetricError, match=r"too short for DNSMOS: 15999 samples .* need at least 16000"):
        score("dnsmos_ovrl", x[: dnsmos.MIN_SAMPLES - 1])
    # PLCMOS's limit is its network's: 7 STFT frames; one sample fewer and onnxruntime would fail
    assert math.isfinite(score("plcmos", x[: plcmos.MIN_SAMPLES]))
    with pytest.raises(MetricError, match="too short for PLCMOS: 1280 samples"):
        score("plcmos", x[: plcmos.MIN_SAMPLES - 1])


@pytest.mark.parametrize("rate", [8_000, 24_000, 48_000])
@pytest.mark.parametrize("name", MOS_METRICS)
def test_other_rates_are_refused_not_resampled(name: str, rate: int, clean: np.ndarray) -> None:
    with pytest.raises(MetricError, match=f"needs 16000 Hz audio .* got {rate} Hz"):
        score(name, clean, rate)


@pytest.mark.parametrize("name", MOS_METRICS)
def test_nan_and_silence_are_refused(name: str, clean: np.ndarray) -> None:
    bad = clean.copy()
    bad[100] = np.nan
    with pytest.raises(MetricError, match="NaN"):
        score(name, bad)  # the registry's own check
    with pytest.raises(MetricError, match="NaN or infinite"):
        METRICS[name].fn(clean, bad, RATE)  # and the metric's, when called directly
    with pytest.raises(MetricError, match="all zeros"):
        score(name, np.zeros(2 * RATE))


def test_overshoot_is_clipped_as_playback_would(clean: np.ndarray) -> None:
    loud = 4.0 * clean  # peaks at 2.0: speechmos itself would refuse it
    assert score("plcmos", loud) == score("plcmos", np.clip(loud, -1.0, 1.0))


def test_one_network_pass_for_the_three_dnsmos_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    session = models.onnx_session(dnsmos.MODEL)
    runs = []

    class Counting:
        def run(self, *args, **kwargs):
            runs.append(1)
            return session.run(*args, **kwargs)

    monkeypatch.setattr(dnsmos, "onnx_session", lambda model: Counting())
    monkeypatch.setattr(dnsmos, "_recent", type(dnsmos._recent)())
    x = speech_like(3.0, seed=4).astype(np.float64)
    scores = [score(name, x) for name in DNSMOS]
    assert len(runs) == 1
    assert tuple(scores) == dnsmos.p835_scores(x, RATE)
    score("dnsmos_ovrl", with_noise(x, 10.0))
    assert len(runs) == 2


def test_each_model_is_loaded_once_per_process(monkeypatch: pytest.MonkeyPatch, clean: np.ndarray) -> None:
    import onnxruntime

    made = []
    real = onnxruntime.InferenceSession

    def counting(path, *args, **kwargs):
        made.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", counting)
    models.onnx_session.cache_clear()
    monkeypatch.setattr(dnsmos, "_recent", type(dnsmos._recent)())
    for deg in (clean, with_noise(clean, 20.0), with_noise(clean, 5.0)):
        score("dnsmos_ovrl", deg)
        score("plcmos", deg)
    assert sorted(made) == ["plcmos_v2.onnx", "sig_bak_ovr.onnx"]
    assert models.onnx_session(dnsmos.MODEL) is models.onnx_session(dnsmos.MODEL)
    options = models.onnx_session(plcmos.MODEL).get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)  # one core per score job


def test_missing_package_is_a_metric_error(monkeypatch: pytest.MonkeyPatch, clean: np.ndarray) -> None:
    def no_package(name):
        raise ModuleNotFoundError(f"No module named {name!r}")

    monkeypatch.setattr(models.resources, "files", no_package)
    models.onnx_session.cache_clear()
    try:
        with pytest.raises(MetricError, match="needs the 'speechmos' package"):
            score("plcmos", clean)
    finally:
        monkeypatch.undo()
        models.onnx_session.cache_clear()


def test_scoring_stage_records_nan_with_the_reason(clean: np.ndarray) -> None:
    params = {"si_sdr": {}, "dnsmos_ovrl": {}, "plcmos": {}}
    check_metric_params(params)  # no need beyond the audio: accepted by the score stage
    row = score_pair(clean, with_noise(clean, 20.0), params)
    assert row["error"] == "" and all(math.isfinite(row[m]) for m in params)
    short = score_pair(clean[: RATE // 2], clean[: RATE // 2], params)
    assert math.isnan(short["dnsmos_ovrl"]) and math.isfinite(short["plcmos"])
    assert "dnsmos_ovrl: too short for DNSMOS" in short["error"]


def _config_with(metrics: dict) -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["metrics"].update(metrics)
    return config


def test_config_accepts_them_and_refuses_unknown_parameters() -> None:
    validate_config(_config_with({name: {} for name in MOS_METRICS}))
    for name in MOS_METRICS:
        assert METRICS[name].param_errors({}, RATE) == []
        assert METRICS[name].param_errors({"model_type": "x"}, RATE)[0][0] == "model_type"
        errors = metric_errors(_config_with({name: {"model_type": "dnsmos_personalized"}}))
        assert errors == [f"metrics.{name}.model_type: not a parameter of metric {name!r}; accepted: []"]
        with pytest.raises(ConfigError, match=f"metrics.{name}: .*'model_type' was unexpected"):
            validate_config(_config_with({name: {"model_type": "dnsmos_personalized"}}))


def test_real_librispeech_utterance_scores_in_range() -> None:
    files = sorted((SHARED / "corpus" / "LibriSpeech").rglob("*.flac"))
    if not files:
        pytest.skip("no LibriSpeech under ../shared/corpus")
    from nacbench.audio import read_audio

    wav = read_audio(files[0]).astype(np.float64)
    ovrl = score("dnsmos_ovrl", wav)
    assert 2.5 <= ovrl <= 4.5, (files[0].name, ovrl)
    assert 3.0 <= score("dnsmos_sig", wav) <= 5.0
    assert 3.0 <= score("plcmos", wav) <= 5.0  # clean read speech: no concealment to hear
