"""PLCMOS v2 (Diener et al., Interspeech 2023): reference-free rating of packet-loss concealment.

A network trained on listeners' ratings of concealed packet loss predicts a MOS (about 1 to 5, higher is
better) from the decoded audio's log-power spectrogram alone; the packet-loss study's headline metric.
The model file is speechmos's ``plcmos_models/plcmos_v2.onnx`` (the final, no-holdout v2 model), loaded
once per process (:func:`nacbench.metrics.speechmos_models.onnx_session`).

Reference-free: the metric declares no :class:`~nacbench.metrics.Need` and ignores ``ref``. Opt-in: not
in the shipped configs.

The computation follows speechmos's ``plcmos.py``:

* 16 kHz only (refused otherwise, never resampled); samples clipped to [-1, 1], not normalised
  (:func:`~nacbench.metrics.speechmos_models.rated_signal`);
* features: 512-point STFT with a periodic Hamming window and a 256-sample hop, the first frame
  starting 256 samples before the signal (zero padded at both ends); natural log of the power, empty bins
  floored 120 dB below the smallest non-zero one, divided by 20;
* the network also takes a 64-dimensional "rater" embedding; the score is the mean over 15 standard
  normal raters. speechmos draws them from numpy's global random state, so its score moves by about
  0.02 from call to call (the raters' spread over 15 draws) and disturbs every other user of that state.
  Here the 15 raters are fixed (drawn once, the same way, by :func:`nacbench.seeds.plcmos_raters`), so
  a clip always gets the same score and every clip is rated by the same panel; seeding numpy's global
  state with ``RATER_SEED`` just before it, speechmos gives the same number.

The network needs at least 7 STFT frames (its pooling layers fail on fewer): clips of 1280 samples
(80 ms) or less are refused with :class:`MetricError`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from nacbench.metrics.base import Need, register_metric
from nacbench.metrics.speechmos_models import onnx_session, rated_signal
from nacbench.seeds import plcmos_raters

#: the PLCMOS v2 model inside the speechmos package
MODEL = "plcmos_models/plcmos_v2.onnx"
DFT_SIZE = 512
HOP = 256
#: raters averaged per clip (speechmos's embed_rounds), and the seed of their fixed embeddings
RATERS = 15
RATER_SEED = 0
#: fewest STFT frames the network accepts; frames = ceil((samples + DFT_SIZE - HOP) / HOP)
MIN_FRAMES = 7
MIN_SAMPLES = (MIN_FRAMES - 2) * HOP + 1
#: log-power floor below the smallest non-zero bin (dB), and the level of an all-zero spectrum (dB)
FLOOR_DB = -120.0
SILENCE_DB = -80.0


@lru_cache(maxsize=1)
def rater_embeddings() -> np.ndarray:
    """``[RATERS, 64]`` float32 rater embeddings, the same for every clip (read-only)."""
    raters = plcmos_raters(RATER_SEED, RATERS, 64).astype(np.float32)
    raters.setflags(write=False)
    return raters


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    window = np.hamming(DFT_SIZE + 1)[:-1]  # periodic
    window.setflags(write=False)
    return window


def features(audio: np.ndarray) -> np.ndarray:
    """``[1, 1, frames, DFT_SIZE // 2 + 1]`` float32 network input of a float64 clip."""
    lead = DFT_SIZE - HOP
    frames = -(-(len(audio) + lead) // HOP)
    padded = np.zeros((frames - 1) * HOP + DFT_SIZE)
    padded[lead : lead + len(audio)] = audio
    spectrum = np.abs(np.fft.rfft(sliding_window_view(padded, DFT_SIZE)[::HOP] * _window(), axis=-1))
    power = spectrum**2
    nonzero = power > 0
    if np.any(nonzero):
        floor = np.log(power[nonzero].min()) + FLOOR_DB / 10 * np.log(10)
        log_power = np.where(nonzero, np.log(np.where(nonzero, power, 1.0)), floor)
    else:
        log_power = np.full_like(power, SILENCE_DB / 10 * np.log(10))
    return (log_power / 20).astype(np.float32)[np.newaxis, np.newaxis]


@register_metric(
    "plcmos",
    label="PLCMOS v2",
    unit="MOS",
    higher_is_better=True,
    description=(
        "packet-loss concealment quality, PLCMOS v2 (Diener et al. 2023), speechmos's ONNX model, "
        f"mean of {RATERS} fixed raters, reference-free"
    ),
    needs=frozenset[Need](),
)
def plcmos(ref: np.ndarray, deg: np.ndarray, rate: int) -> float:
    """PLCMOS v2 of ``deg`` (``ref`` unused)."""
    del ref
    audio = rated_signal(deg, rate, "PLCMOS", MIN_SAMPLES)
    session = onnx_session(MODEL)
    inputs = features(audio)
    scores = []
    for rater in rater_embeddings():
        (output,) = session.run(None, {"degraded_audio": inputs, "rater_embed": rater[np.newaxis]})
        scores.append(float(np.asarray(output).item()))
    return float(np.mean(scores))
