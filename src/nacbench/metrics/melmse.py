"""Mel-spectrogram MSE with every parameter pinned in config (``metrics.mel_mse`` in config.yaml).

The paper reports "mel-spectrogram MSE" without its settings, and the number moves by orders of
magnitude with them (power vs magnitude, log base, floor, number of bands), so each one is a config
value recorded with the results. Defaults, chosen to match common codec-evaluation practice at 16 kHz:

==============  =======  ==================================================================
parameter       default  meaning
==============  =======  ==================================================================
n_fft           1024     FFT size (samples)
hop_length      256      frame step (samples)
win_length      1024     Hann window length (<= n_fft; zero-padded to n_fft, centred)
n_mels          80       mel bands (librosa Slaney mel scale, Slaney area normalisation)
f_min           0        lowest band edge (Hz)
f_max           8000     highest band edge (Hz), at most rate / 2
power           1.0      1 = magnitude, 2 = power spectrogram
log             True     compare log10(max(mel, log_floor)) instead of linear mel values
log_floor       1e-5     clamp before the log, so silence does not dominate the error
==============  =======  ==================================================================

Frames are centred with reflect padding of n_fft // 2 at both ends (torchaudio's default; librosa
gives the same numbers with ``pad_mode="reflect"``, its own default being zero padding). The
STFT is plain numpy so the numbers do not depend on a torch build, and the filterbank is librosa's
``filters.mel`` (a pure function of the parameters), cached per parameter set.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
from librosa.filters import mel as _librosa_mel
from numpy.lib.stride_tricks import sliding_window_view

from nacbench.metrics.base import MetricError, register_metric


@lru_cache(maxsize=16)
def mel_filterbank(rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """``[n_mels, n_fft // 2 + 1]`` Slaney-style mel filterbank (librosa defaults: htk=False, norm='slaney')."""
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        # librosa warns about empty bands (and divides by zero width when f_min == f_max); callers check
        # for them (empty_bands) and say what to change
        warnings.filterwarnings("ignore", message="Empty filters detected")
        bank = _librosa_mel(
            sr=rate, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max, htk=False, norm="slaney"
        )
    bank = bank.astype(np.float64)
    bank.setflags(write=False)  # shared through the cache
    return bank


@lru_cache(maxsize=16)
def _window(n_fft: int, win_length: int) -> np.ndarray:
    """Periodic Hann window of ``win_length`` centred in ``n_fft`` samples (librosa's convention)."""
    window = np.zeros(n_fft)
    start = (n_fft - win_length) // 2
    window[start : start + win_length] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win_length) / win_length)
    window.setflags(write=False)
    return window


def mel_spectrogram(
    wav: np.ndarray,
    rate: int,
    *,
    n_fft: int = 1024,
    hop_length: int = 256,
    win_length: int = 1024,
    n_mels: int = 80,
    f_min: float = 0.0,
    f_max: float = 8000.0,
    power: float = 1.0,
) -> np.ndarray:
    """``[n_mels, frames]`` mel spectrogram of a 1-D float64 signal (centred frames, Hann window)."""
    padded = np.pad(wav, n_fft // 2, mode="reflect")
    frames = sliding_window_view(padded, n_fft)[::hop_length]
    spectrum = np.abs(np.fft.rfft(frames * _window(n_fft, win_length), axis=-1)) ** power
    return mel_filterbank(rate, n_fft, n_mels, float(f_min), float(f_max)) @ spectrum.T


#: the parameters that must be positive integers (sizes in samples or bands)
_SIZES = ("n_fft", "hop_length", "win_length", "n_mels")


def empty_bands(rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> int:
    """How many mel bands get no FFT bin at all (too many bands for ``n_fft``, or ``f_min >= f_max``).

    An empty band is a row of zeros: both spectrograms sit at the log floor there and it adds exactly 0
    to the error, so a filterbank with empty bands pulls every score towards a perfect 0.0.
    """
    bank = mel_filterbank(rate, n_fft, n_mels, float(f_min), float(f_max))
    usable = np.isfinite(bank).all(axis=1) & (bank > 0).any(axis=1)
    return int((~usable).sum())


def check_mel_params(params: Mapping[str, Any], rate: int) -> list[tuple[str, str]]:
    """Every setting in ``params`` (config's ``metrics.mel_mse``) that cannot give a meaningful score at
    ``rate``, as ``(parameter, problem)``; the defaults of :func:`mel_mse` fill in what is not given."""
    p = {**MEL_DEFAULTS, **params}
    problems = [(k, f"must be a positive integer, got {p[k]!r}") for k in _SIZES if not _positive_int(p[k])]
    for key in ("power", "log_floor"):
        if not p[key] > 0:
            problems.append((key, f"must be positive, got {p[key]!r}"))
    if not p["f_min"] >= 0:
        problems.append(("f_min", f"must be >= 0 Hz, got {p['f_min']!r}"))
    if not p["f_min"] < p["f_max"]:
        problems.append(("f_min", f"{p['f_min']} Hz must be below f_max ({p['f_max']} Hz)"))
    if p["f_max"] > rate / 2:
        problems.append(("f_max", f"{p['f_max']} Hz is above the Nyquist frequency of {rate} Hz audio"))
    if _positive_int(p["win_length"]) and _positive_int(p["n_fft"]) and p["win_length"] > p["n_fft"]:
        problems.append(("win_length", f"{p['win_length']} is longer than n_fft ({p['n_fft']})"))
    if not problems:
        empty = empty_bands(rate, p["n_fft"], p["n_mels"], p["f_min"], p["f_max"])
        if empty:
            problems.append(
                (
                    "n_mels",
                    f"{empty} of {p['n_mels']} mel bands are empty with n_fft {p['n_fft']} between "
                    f"{p['f_min']} and {p['f_max']} Hz (fewer bands or a larger n_fft)",
                )
            )
    return problems


def _positive_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and bool(value > 0)


@register_metric(
    "mel_mse",
    label="Mel-spectrogram MSE",
    unit="",
    higher_is_better=False,
    description="MSE between (log10) mel spectrograms; all STFT/mel parameters from config",
    param_check=check_mel_params,
)
def mel_mse(
    ref: np.ndarray,
    deg: np.ndarray,
    rate: int,
    n_fft: int = 1024,
    hop_length: int = 256,
    win_length: int = 1024,
    n_mels: int = 80,
    f_min: float = 0.0,
    f_max: float = 8000.0,
    power: float = 1.0,
    log: bool = True,
    log_floor: float = 1e-5,
) -> float:
    """Mean over bands and frames of the squared difference of the two (log) mel spectrograms."""
    # mel_spectrogram's keywords (ints and floats: Any, so that ``**`` may fill each of them)
    stft: dict[str, Any] = {
        "n_fft": n_fft,
        "hop_length": hop_length,
        "win_length": win_length,
        "n_mels": n_mels,
    }
    bands: dict[str, Any] = {"f_min": f_min, "f_max": f_max, "power": power}
    # the same checks as config validation: an empty band adds exactly 0 error, so with f_min >= f_max
    # (every band empty) the score would otherwise be a fake perfect 0.0
    problems = check_mel_params({**stft, **bands, "log_floor": log_floor}, rate)
    if problems:
        raise MetricError("; ".join(f"mel {param}: {problem}" for param, problem in problems))
    if len(ref) <= n_fft // 2:
        # reflect padding needs more than n_fft // 2 samples; shorter clips have no meaningful frame
        raise MetricError(
            f"too short for mel-MSE: {len(ref)} samples, need more than n_fft // 2 = {n_fft // 2}"
        )
    mel_ref = mel_spectrogram(ref, rate, **stft, **bands)
    mel_deg = mel_spectrogram(deg, rate, **stft, **bands)
    if log:
        mel_ref = np.log10(np.maximum(mel_ref, log_floor))
        mel_deg = np.log10(np.maximum(mel_deg, log_floor))
    return float(np.mean((mel_ref - mel_deg) ** 2))


#: the defaults of :func:`mel_mse`'s parameters, read from its signature (defined once, there)
MEL_DEFAULTS: dict[str, Any] = {
    name: param.default
    for name, param in inspect.signature(mel_mse).parameters.items()
    if param.default is not param.empty
}
