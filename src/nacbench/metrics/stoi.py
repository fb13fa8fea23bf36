"""STOI: classic short-time objective intelligibility (Taal et al. 2011) via pystoi; eSTOI on request.

The paper reports STOI; we compute the *classic* measure by default (``extended=False``) and say so
in every table. pystoi works at 10 kHz internally and resamples its inputs itself: that is part of
the metric's definition (Taal's reference code does the same), not a pipeline resampling step.

pystoi's sentinel: when fewer than 30 STFT frames (N = 384 ms at 10 kHz) are left *after its silent
frame removal*, it returns 1e-5 with only a RuntimeWarning. The duration threshold therefore depends
on the content (a 1 s file that is mostly silence fails too), so we catch the warning itself rather
than guess a length, and raise :class:`MetricError` instead of passing the 1e-5 on.
"""

from __future__ import annotations

import warnings

import numpy as np
from pystoi import stoi as _pystoi

from nacbench.metrics.base import MetricError, register_metric

#: pystoi's message when it falls back to its 1e-5 sentinel
_TOO_FEW_FRAMES = "Not enough STFT frames"


@register_metric(
    "stoi",
    label="STOI (classic)",
    unit="",
    higher_is_better=True,
    description="classic STOI (Taal et al. 2011, pystoi); extended=True gives eSTOI (Jensen & Taal 2016)",
)
def stoi(ref: np.ndarray, deg: np.ndarray, rate: int, extended: bool = False) -> float:
    """STOI of ``deg`` against ``ref`` in [0, 1] (eSTOI can be slightly negative)."""
    if not np.any(ref):
        # pystoi keeps every frame of an all-zero reference and quietly returns 0.0
        raise MetricError("reference is all zeros: STOI undefined")
    if not np.any(deg):
        # pystoi returns 0.0 here: a score that reads like very bad but real speech, not an undefined one
        raise MetricError("degraded signal is all zeros: STOI undefined")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = float(_pystoi(ref, deg, rate, extended=extended))
        except ValueError as exc:  # shorter than one 256-sample frame at 10 kHz: empty frame array
            raise MetricError(f"too short for STOI ({len(ref) / rate:.3f} s): {exc}") from exc
    if any(_TOO_FEW_FRAMES in str(w.message) for w in caught):
        raise MetricError(
            f"too short for STOI: fewer than 30 frames (384 ms) of speech after silence removal "
            f"in {len(ref) / rate:.3f} s of audio"
        )
    return value
