"""Signal metrics and the scoring stage: known values, invariances, and NaN-plus-reason failures."""

from __future__ import annotations

import math
import os
from pathlib import Path

import librosa
import numpy as np
import pytest

from nacbench.audio import read_audio
from nacbench.metrics import METRIC_LABELS, METRICS, MetricError, Need, get_metric, register_metric
from nacbench.metrics.scoring import check_metric_params, score_many, score_pair

RATE = 16_000
ALL_METRICS: dict[str, dict] = {"stoi": {}, "pesq": {}, "si_sdr": {}, "mel_mse": {}}


@pytest.fixture(scope="module")
def speech(shared_dir: Path) -> list[np.ndarray]:
    """Three real CMU-Arctic utterances (16 kHz), as float64."""
    wav_dir = shared_dir / "corpus/cmu_arctic/cmu_us_bdl_arctic/wav"
    return [read_audio(wav_dir / f"arctic_a000{i}.wav").astype(np.float64) for i in (1, 2, 3)]


def _noisy(x: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(len(x))
    return x + noise * np.sqrt(np.mean(x**2) / np.mean(noise**2) / 10 ** (snr_db / 10))


def test_registry_metadata() -> None:
    assert set(ALL_METRICS) <= set(METRICS)
    assert METRICS["mel_mse"].higher_is_better is False
    assert all(METRICS[m].higher_is_better for m in ("stoi", "pesq", "si_sdr"))
    assert "classic" in METRICS["stoi"].description and "P.862.2" in METRICS["pesq"].description
    assert list(METRICS)[:4] == ["stoi", "pesq", "si_sdr", "mel_mse"]  # the paper's order, every table's
    assert METRIC_LABELS["si_sdr"] == "SI-SDR (dB) ↑" and METRIC_LABELS["mel_mse"] == "Mel-spectrogram MSE ↓"
    # the four are intrusive; the reference-free ones are in test_metrics_mos.py
    assert all(METRICS[m].needs == {Need.REFERENCE} for m in ALL_METRICS)
    with pytest.raises(KeyError, match="unknown metric 'visqol'"):
        get_metric("visqol")


# --- SI-SDR ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 12.5, 30.0])
def test_sisdr_equals_snr_of_orthogonal_noise(snr_db: float) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal(8000)
    x -= x.mean()
    n = rng.standard_normal(8000)
    n -= n.mean()
    n -= (n @ x) / (x @ x) * x  # orthogonal to x and still zero-mean
    n *= np.sqrt((x @ x) / (n @ n) / 10 ** (snr_db / 10))
    assert METRICS["si_sdr"].compute(x, x + n, RATE) == pytest.approx(snr_db, abs=1e-9)


def test_sisdr_is_scale_and_offset_invariant(speech: list[np.ndarray]) -> None:
    x = speech[0]
    y = _noisy(x, 10.0)
    base = METRICS["si_sdr"].compute(x, y, RATE)
    assert 9.0 < base < 11.0
    assert METRICS["si_sdr"].compute(x, 0.25 * y, RATE) == pytest.approx(base, abs=1e-9)
    assert METRICS["si_sdr"].compute(x + 0.3, y - 0.1, RATE) == pytest.approx(base, abs=1e-9)


def test_sisdr_edge_cases() -> None:
    x = np.sin(np.linspace(0, 100, 4000))
    assert METRICS["si_sdr"].compute(x, 2 * x, RATE) == math.inf
    with pytest.raises(MetricError, match="reference is constant"):
        METRICS["si_sdr"].compute(np.full(4000, 0.2), x, RATE)
    with pytest.raises(MetricError, match="degraded signal is constant"):
        METRICS["si_sdr"].compute(x, np.zeros(4000), RATE)


# --- mel-MSE --------------------------------------------------------------------------------------


def test_mel_mse_zero_for_identical_positive_otherwise(speech: list[np.ndarray]) -> None:
    x = speech[0]
    assert METRICS["mel_mse"].compute(x, x, RATE) == 0.0
    low, high = (METRICS["mel_mse"].compute(x, _noisy(x, snr), RATE) for snr in (5.0, 25.0))
    assert low > high > 0.0


def test_mel_mse_matches_librosa(speech: list[np.ndarray]) -> None:
    """Our numpy STFT + librosa filterbank equals librosa's own mel spectrogram (pins the numbers)."""
    x, y = speech[1], _noisy(speech[1], 10.0)
    params = {
        "n_fft": 512,
        "hop_length": 160,
        "win_length": 400,
        "n_mels": 64,
        "f_min": 50.0,
        "f_max": 7600.0,
    }
    mels = [
        librosa.feature.melspectrogram(
            y=s,
            sr=RATE,
            n_fft=512,
            hop_length=160,
            win_length=400,
            n_mels=64,
            fmin=50.0,
            fmax=7600.0,
            power=2.0,
            pad_mode="reflect",
        )
        for s in (x, y)
    ]
    want = np.mean((np.log10(np.maximum(mels[0], 1e-5)) - np.log10(np.maximum(mels[1], 1e-5))) ** 2)
    got = METRICS["mel_mse"].compute(x, y, RATE, **params, power=2.0, log=True, log_floor=1e-5)
    assert got == pytest.approx(want, rel=1e-9)
    linear = METRICS["mel_mse"].compute(x, y, RATE, **params, power=2.0, log=False)
    assert linear == pytest.approx(np.mean((mels[0] - mels[1]) ** 2), rel=1e-9)


def test_mel_mse_refuses_bad_settings(speech: list[np.ndarray]) -> None:
    x = speech[0][:8000]
    with pytest.raises(MetricError, match="Nyquist"):
        METRICS["mel_mse"].compute(x, x, 8000, f_max=8000.0)
    with pytest.raises(MetricError, match="too short"):
        METRICS["mel_mse"].compute(x[:300], x[:300], RATE)


@pytest.mark.parametrize(
    "params",
    [
        {"f_min": 9000.0, "f_max": 8000.0},  # every band empty but one: a near-perfect score before
        {"f_min": 8000.0, "f_max": 8000.0},
        {"n_fft": 256, "win_length": 256, "n_mels": 128},  # more bands than FFT bins can fill
    ],
)
def test_mel_mse_empty_filterbank_is_an_error_not_a_score(params: dict) -> None:
    """Before: f_min above f_max scored 0.0 (every band empty, both spectra at the log floor)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(RATE)
    with pytest.raises(MetricError, match="below f_max|bands are empty"):
        METRICS["mel_mse"].compute(x, x + rng.standard_normal(RATE), RATE, **params)


@pytest.mark.parametrize(
    ("params", "field", "text"),
    [
        ({"f_min": 9000.0, "f_max": 8000.0}, "f_min", "below f_max"),
        ({"win_length": 2048}, "win_length", "longer than n_fft"),
        ({"f_max": 12000.0}, "f_max", "Nyquist"),
        ({"n_fft": 0}, "n_fft", "positive integer"),
        ({"hop_length": -3}, "hop_length", "positive integer"),
        ({"n_fft": 256, "win_length": 256, "n_mels": 128}, "n_mels", "empty"),
        ({"nfft": 512}, "nfft", "not a parameter"),
    ],
)
def test_mel_mse_param_errors_name_the_parameter(params: dict, field: str, text: str) -> None:
    (problem,) = METRICS["mel_mse"].param_errors(params, RATE)
    assert problem[0] == field and text in problem[1]
    assert METRICS["mel_mse"].param_errors({}, RATE) == []


def test_a_metric_needing_text_is_refused_by_the_score_stage() -> None:
    @register_metric(
        "toy_text", label="t", unit="", higher_is_better=True, description="", needs=frozenset(Need)
    )
    def toy_text(ref, deg, rate):
        return 0.0

    try:
        with pytest.raises(ValueError, match="needs \\['transcript'\\]"):
            check_metric_params({"toy_text": {}})
    finally:
        METRICS.pop("toy_text")


# --- STOI and PESQ --------------------------------------------------------------------------------


def test_stoi_on_real_speech(speech: list[np.ndarray]) -> None:
    x = speech[0]
    assert METRICS["stoi"].compute(x, x, RATE) == pytest.approx(1.0, abs=1e-6)
    noisy = METRICS["stoi"].compute(x, _noisy(x, 0.0), RATE)
    assert 0.5 < noisy < 0.95
    assert METRICS["stoi"].compute(x, _noisy(x, 0.0), RATE, extended=True) < noisy


def test_pesq_on_real_speech(speech: list[np.ndarray]) -> None:
    x = speech[0]
    assert METRICS["pesq"].compute(x, x, RATE) == pytest.approx(4.6439, abs=1e-3)  # P.862.2 ceiling
    assert 1.0 < METRICS["pesq"].compute(x, _noisy(x, 10.0), RATE) < 2.5
    assert METRICS["pesq"].compute(x[::2], x[::2], 8000) == pytest.approx(4.5486, abs=1e-3)  # nb mode


def test_pesq_refuses_other_rates(speech: list[np.ndarray]) -> None:
    with pytest.raises(MetricError, match="16000 Hz"):
        METRICS["pesq"].compute(speech[0], speech[0], 22_050)
    with pytest.raises(MetricError, match="not defined at 8000"):
        METRICS["pesq"].compute(speech[0], speech[0], 8000, mode="wb")


@pytest.mark.parametrize(
    ("ref_slice", "deg_kind", "failing", "reason"),
    [
        (
            slice(0, 3200),
            "copy",
            {"stoi", "pesq"},
            {"stoi": "too short for STOI", "pesq": "BufferTooShortError"},
        ),
        (
            slice(None),
            "zeros",
            {"stoi", "pesq", "si_sdr"},
            {"stoi": "degraded signal is all zeros", "pesq": "degraded signal is all zeros"},
        ),
        (
            slice(None),
            "ref_zeros",
            {"stoi", "pesq", "si_sdr"},
            {"stoi": "reference is all zeros", "pesq": "No utterances"},
        ),
    ],
)
def test_failures_become_nan_with_reason(speech, ref_slice, deg_kind, failing, reason) -> None:
    x = speech[0][ref_slice]
    ref, deg = {"copy": (x, x.copy()), "zeros": (x, np.zeros_like(x)), "ref_zeros": (np.zeros_like(x), x)}[
        deg_kind
    ]
    row = score_pair(ref, deg, ALL_METRICS)
    assert {m for m in ALL_METRICS if math.isnan(row[m])} == failing
    for metric, text in reason.items():
        assert f"{metric}: " in row["error"] and text in row["error"]
    assert not any(math.isnan(row[m]) for m in set(ALL_METRICS) - failing)


def test_pystoi_sentinel_is_what_we_guard_against(speech: list[np.ndarray]) -> None:
    """The library really returns 1e-5 for short input; if that ever changes this guard can go."""
    from pystoi import stoi

    with pytest.warns(RuntimeWarning, match="Not enough STFT frames"):
        assert stoi(speech[0][:3200], speech[0][:3200], RATE) == pytest.approx(1e-5)


# --- scoring stage --------------------------------------------------------------------------------


def test_score_pair_trims_to_shorter_and_reports_no_error(speech: list[np.ndarray]) -> None:
    x = speech[0]
    row = score_pair(x, np.concatenate([x, np.ones(500)]), ALL_METRICS)
    assert row["error"] == "" and row["si_sdr"] == math.inf and row["mel_mse"] == 0.0
    assert list(row) == [*ALL_METRICS, "error"]


def test_config_mistakes_raise_before_scoring() -> None:
    with pytest.raises(KeyError, match="visqol"):
        check_metric_params({"visqol": {}})
    with pytest.raises(TypeError, match="mel_mse.*n_mel"):
        check_metric_params({"mel_mse": {"n_mel": 80}})
    check_metric_params({"mel_mse": {"n_mels": 64}, "stoi": {"extended": True}})


def test_score_stage_and_config_share_one_parameter_rule() -> None:
    """The score stage's check raises exactly the problems config validation reports: one rule."""
    metric = get_metric("mel_mse")
    params = {"n_mel": 80, "bogus": 1}
    problems = metric.param_errors(params, 16000)
    assert [name for name, _ in problems] == ["n_mel", "bogus"]
    with pytest.raises(TypeError) as raised:
        metric.check_params(params)
    for name, why in problems:
        assert f"{name}: {why}" in str(raised.value)


class _KillsWorker:
    """Unpickling this calls os._exit in the worker: a stand-in for a segfault in a C metric library."""

    def __reduce__(self):
        return (os._exit, (3,))


def _pairs(speech: list[np.ndarray]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    pairs = [(f"utt{i}", x, _noisy(x, 5.0 + 5 * i, seed=i)) for i, x in enumerate(speech)]
    pairs.insert(1, ("short", speech[0][:3000], speech[0][:3000]))
    pairs.append(("not_audio", np.array(["a", "b"]), np.array(["a", "b"])))
    return pairs


def test_score_many_pool_equals_serial_and_keeps_order(speech: list[np.ndarray]) -> None:
    pairs = _pairs(speech)
    seen: list[tuple[int, int]] = []
    serial = score_many(pairs, ALL_METRICS, processes=1, progress=lambda d, n: seen.append((d, n)))
    pooled = score_many(pairs, ALL_METRICS, processes=2)
    assert seen[-1] == (len(pairs), len(pairs))
    assert list(serial["utt_id"]) == [p[0] for p in pairs] == list(pooled["utt_id"])
    assert list(serial.columns) == ["utt_id", *ALL_METRICS, "error"]
    assert serial.equals(pooled)
    assert serial.loc[0, "error"] == "" and np.isfinite(serial.loc[0, list(ALL_METRICS)].astype(float)).all()
    assert "too short for STOI" in serial.loc[1, "error"]
    assert (
        serial.loc[4, "error"].startswith("crash: ValueError")
        and serial.loc[4, list(ALL_METRICS)].isna().all()
    )


def test_score_many_survives_a_dying_worker(speech: list[np.ndarray]) -> None:
    pairs = [
        ("ok0", speech[0], speech[0]),
        ("dies", speech[1], _KillsWorker()),
        ("ok1", speech[2], speech[2]),
    ]
    out = score_many(pairs, {"si_sdr": {}, "mel_mse": {}}, processes=2)  # type: ignore[arg-type]  # a stand-in that kills the worker instead of an array, on purpose
    assert list(out["utt_id"]) == ["ok0", "dies", "ok1"]
    assert out.loc[1, "error"] == "crash: worker process died" and math.isnan(out.loc[1, "si_sdr"])
    assert out.loc[[0, 2], "si_sdr"].tolist() == [math.inf, math.inf]


def test_score_many_rejects_duplicate_ids_and_handles_empty(speech: list[np.ndarray]) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        score_many([("a", speech[0], speech[0])] * 2, ALL_METRICS)
    assert list(score_many([], ALL_METRICS).columns) == ["utt_id", *ALL_METRICS, "error"]
