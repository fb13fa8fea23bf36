"""PESQ: ITU-T P.862.2 wide-band at 16 kHz (P.862 narrow-band at 8 kHz), via the ``pesq`` package.

The pipeline scores at 16 kHz, so the mode is wide-band unless a caller passes 8 kHz audio (then
narrow-band: P.862.2 is not defined at 8 kHz). Any other rate is refused rather than resampled.

The library signals failure in three ways, all turned into :class:`MetricError` with its reason:
``BufferTooShortError`` (under 0.25 s), ``NoUtterancesError`` (no speech found in the reference, e.g.
an all-zero reference), and a bare ``ValueError`` ("cannot convert float NaN to integer") for an
all-zero degraded signal. With ``on_error=RETURN_VALUES`` it would return -6, -7 or NaN instead,
which is why that mode is never used here.
"""

from __future__ import annotations

import numpy as np
from pesq import PesqError
from pesq import pesq as _pesq

from nacbench.metrics.base import MetricError, register_metric

#: sample rate -> the only PESQ mode defined for it
MODE_FOR_RATE = {16_000: "wb", 8_000: "nb"}


@register_metric(
    "pesq",
    label="PESQ wide-band",
    unit="MOS-LQO",
    higher_is_better=True,
    description="PESQ MOS-LQO, wide-band P.862.2 at 16 kHz (narrow-band P.862 at 8 kHz), ludlows/pesq",
)
def pesq(ref: np.ndarray, deg: np.ndarray, rate: int, mode: str | None = None) -> float:
    """PESQ of ``deg`` against ``ref``: about 1.0 (bad) to 4.64 (identical, wide-band)."""
    expected = MODE_FOR_RATE.get(rate)
    if expected is None:
        raise MetricError(f"PESQ needs 16000 Hz (wb) or 8000 Hz (nb) audio, got {rate} Hz")
    mode = mode or expected
    if mode != expected:
        raise MetricError(f"PESQ mode {mode!r} is not defined at {rate} Hz (use {expected!r})")
    if not np.any(deg):
        # checked here because the library's own message for this case is an opaque NaN conversion
        raise MetricError("degraded signal is all zeros: PESQ undefined")
    try:
        return float(_pesq(rate, ref, deg, mode))
    except PesqError as exc:  # BufferTooShortError, NoUtterancesError, ...; messages arrive as bytes
        raise MetricError(f"pesq {type(exc).__name__}: {_message(exc)}") from exc
    except ValueError as exc:
        raise MetricError(f"pesq ValueError: {exc}") from exc


def _message(exc: Exception) -> str:
    """The library's reason as text (cypesq raises with a bytes message)."""
    arg = exc.args[0] if exc.args else ""
    return arg.decode(errors="replace") if isinstance(arg, bytes) else str(arg)
