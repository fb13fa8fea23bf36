"""Audio I/O and the pipeline's one resampler.

Every sample-rate change in the pipeline goes through :func:`resample`, so all codecs are fed and
scored through the same filter (README, "Faithful scoring": one resampler, no silent resampling).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

#: the rate every dataset is stored at and every score is computed at
SCORING_RATE = 16_000


class AudioError(ValueError):
    """An audio file that cannot be used; the message names the file and the problem."""


def read_audio(path: str | Path, expected_rate: int | None = SCORING_RATE) -> np.ndarray:
    """Read a mono file as float32 in [-1, 1]; refuse other sample rates instead of resampling them."""
    path = Path(path)
    try:
        wav, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises several types for unreadable or truncated files
        raise AudioError(f"{path}: cannot read audio ({exc})") from exc
    if expected_rate is not None and rate != expected_rate:
        raise AudioError(f"{path}: sample rate {rate} Hz, expected {expected_rate} Hz")
    if wav.shape[1] != 1:
        raise AudioError(f"{path}: {wav.shape[1]} channels, expected mono")
    if wav.shape[0] == 0:
        raise AudioError(f"{path}: no samples")
    return wav[:, 0]


def write_audio(path: str | Path, wav: np.ndarray, rate: int) -> None:
    """Write mono audio for listening: 24-bit FLAC, clipped to [-1, 1] as playback would."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.clip(wav, -1.0, 1.0), rate, format="FLAC", subtype="PCM_24")


def write_decoded(path: str | Path, wav: np.ndarray, rate: int) -> None:
    """Write decoded audio for scoring: 32-bit float WAV, lossless and unclipped.

    A codec (random weights especially) may overshoot [-1, 1]; clipping or quantising here would
    change the scores, so the scorer reads exactly what the decoder produced.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.asarray(wav, dtype=np.float32), rate, format="WAV", subtype="FLOAT")


def apply_gain_db(wav: np.ndarray, gain_db: float) -> np.ndarray:
    """``wav`` scaled by ``gain_db`` decibels (amplitude factor 10^(gain/20)), as float32."""
    return (np.asarray(wav, dtype=np.float32) * np.float32(10.0 ** (float(gain_db) / 20.0))).astype(
        np.float32
    )


def resample(wav: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling by the exact rational factor (Kaiser window, scipy defaults).

    Returns float32; a no-op (same object values, new dtype) when the rates match. The output length
    is ``ceil(len * rate_out / rate_in)``, as resample_poly gives.
    """
    wav = np.asarray(wav, dtype=np.float32)
    if rate_in == rate_out:
        return wav
    ratio = Fraction(rate_out, rate_in)
    from scipy.signal import resample_poly  # 0.5 s to import: only jobs that resample pay it

    return resample_poly(wav, ratio.numerator, ratio.denominator).astype(np.float32)


def trim_to_common_length(ref: np.ndarray, deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut both signals to the shorter length (codecs pad to whole frames)."""
    n = min(len(ref), len(deg))
    return ref[:n], deg[:n]
