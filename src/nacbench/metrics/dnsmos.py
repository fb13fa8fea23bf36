"""DNSMOS P.835 (Reddy, Gopal & Cutler, ICASSP 2022): reference-free SIG, BAK and OVRL scores.

One network predicts the three ITU-T P.835 ratings of a clip (speech signal, background noise, overall
quality; 1 to 5, higher is better) from the waveform alone. They are registered as three metrics,
``dnsmos_sig``, ``dnsmos_bak`` and ``dnsmos_ovrl``, so a user adds each by name under ``metrics:``; the
network runs once per clip whichever of them are configured (:func:`p835_scores` keeps the last few
clips' scores, keyed by a digest of the samples) and once per process it is loaded
(:func:`nacbench.metrics.speechmos_models.onnx_session`). The model file is speechmos's
``dnsmos_models/sig_bak_ovr.onnx`` (the DNS Challenge's non-personalised model); the P.808 score that
speechmos also computes (another network) is not.

Reference-free: the metrics declare no :class:`~nacbench.metrics.Need` and ignore ``ref``. Opt-in: not
in the shipped configs (each costs a network pass per second of audio in every score job).

The computation follows the DNS Challenge's ``dnsmos_local.py`` (and speechmos):

* 16 kHz only (refused otherwise, never resampled); samples clipped to [-1, 1], not normalised
  (:func:`~nacbench.metrics.speechmos_models.rated_signal`);
* the network reads 9.01 s windows; a shorter clip is repeated (doubled until it fills one window), as
  the reference does. Clips under 1 s are refused: their window would hold ten copies or more;
* windows start every second, ``max(1, floor(seconds) - 9)`` of them; each window's raw outputs go
  through the published second-order calibration polynomials, and the scores are their means.

One deliberate difference: the reference cuts window ``i`` as ``audio[int(i * 16000) : int((i + 9.01) *
16000)]`` and skips windows that come out short; in floating point ``(i + 9.01) * 16000`` falls just
below an integer for i = 7 to 23, so clips of 17 s to 33 s silently lose those windows there. Here every
window is exactly 144160 samples, so scores equal the reference's up to 16 s and use all windows beyond.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from nacbench.metrics.base import Need, register_metric
from nacbench.metrics.speechmos_models import MODEL_RATE, onnx_session, rated_signal

#: the P.835 model inside the speechmos package
MODEL = "dnsmos_models/sig_bak_ovr.onnx"
#: the network's input: 9.01 s at 16 kHz
WINDOW = int(9.01 * MODEL_RATE)
#: one window per second
HOP = MODEL_RATE
#: shortest clip scored (1 s): below it the 9.01 s window would be ten or more repeats of the clip
MIN_SAMPLES = MODEL_RATE
#: calibration polynomials (highest power first) from raw network outputs to P.835 MOS, as published
#: with the model (DNS Challenge dnsmos_local.py, non-personalised)
POLYNOMIALS = {
    "sig": (-0.08397278, 1.22083953, 0.0052439),
    "bak": (-0.13166888, 1.60915514, -0.39604546),
    "ovrl": (-0.06766283, 1.11546468, 0.04602535),
}
#: the registered metrics, one per P.835 scale
DNSMOS_METRICS = ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl")
#: how many clips' scores :func:`p835_scores` keeps (the three metrics score the same clip in a row)
RECENT = 4


class P835Scores(NamedTuple):
    """The three DNSMOS P.835 ratings of one clip (MOS, about 1 to 5)."""

    sig: float
    bak: float
    ovrl: float


#: digest of a clip's samples -> its scores, most recent last
_recent: OrderedDict[bytes, P835Scores] = OrderedDict()


def windows(audio: np.ndarray) -> np.ndarray:
    """``[n, WINDOW]`` float32 network inputs of one clip (repeated to fill a window if shorter)."""
    while len(audio) < WINDOW:
        audio = np.concatenate([audio, audio])
    count = max(1, len(audio) // HOP - 9)
    starts = np.arange(count) * HOP
    return np.stack([audio[s : s + WINDOW] for s in starts]).astype(np.float32)


def p835_scores(deg: np.ndarray, rate: int) -> P835Scores:
    """SIG, BAK and OVRL of ``deg`` (16 kHz, at least 1 s); :class:`MetricError` where undefined."""
    audio = rated_signal(deg, rate, "DNSMOS", MIN_SAMPLES)
    key = hashlib.blake2b(audio.tobytes(), digest_size=16).digest()
    if key in _recent:
        _recent.move_to_end(key)
        return _recent[key]
    session = onnx_session(MODEL)
    raw = np.asarray(session.run(None, {"input_1": windows(audio)})[0], dtype=np.float64)  # [n, 3]
    mos = [np.polyval(POLYNOMIALS[name], raw[:, i]).mean() for i, name in enumerate(P835Scores._fields)]
    scores = P835Scores(*(float(m) for m in mos))
    _recent[key] = scores
    while len(_recent) > RECENT:
        _recent.popitem(last=False)
    return scores


#: reference-free: nothing besides the decoded audio
_REFERENCE_FREE: frozenset[Need] = frozenset()
_SOURCE = "DNSMOS P.835 (Reddy et al. 2022), speechmos's ONNX model, reference-free"


@register_metric(
    "dnsmos_sig",
    label="DNSMOS SIG",
    unit="MOS",
    higher_is_better=True,
    description=f"speech signal quality (P.835 SIG), {_SOURCE}",
    needs=_REFERENCE_FREE,
)
def dnsmos_sig(ref: np.ndarray, deg: np.ndarray, rate: int) -> float:
    """P.835 SIG of ``deg`` (``ref`` unused)."""
    del ref
    return p835_scores(deg, rate).sig


@register_metric(
    "dnsmos_bak",
    label="DNSMOS BAK",
    unit="MOS",
    higher_is_better=True,
    description=f"background noise intrusiveness (P.835 BAK; 5 = not noticeable), {_SOURCE}",
    needs=_REFERENCE_FREE,
)
def dnsmos_bak(ref: np.ndarray, deg: np.ndarray, rate: int) -> float:
    """P.835 BAK of ``deg`` (``ref`` unused)."""
    del ref
    return p835_scores(deg, rate).bak


@register_metric(
    "dnsmos_ovrl",
    label="DNSMOS OVRL",
    unit="MOS",
    higher_is_better=True,
    description=f"overall quality (P.835 OVRL), {_SOURCE}",
    needs=_REFERENCE_FREE,
)
def dnsmos_ovrl(ref: np.ndarray, deg: np.ndarray, rate: int) -> float:
    """P.835 OVRL of ``deg`` (``ref`` unused)."""
    del ref
    return p835_scores(deg, rate).ovrl
