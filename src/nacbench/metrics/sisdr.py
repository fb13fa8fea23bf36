"""SI-SDR: scale-invariant signal-to-distortion ratio, zero-mean (Le Roux et al., ICASSP 2019).

Both signals have their mean removed first (the paper's definition), so a DC offset in the decoder's
output does not count as distortion; the optimal scaling of the reference then makes the score
independent of the degraded signal's gain. Computed in float64: with float32 the energy ratio of a
near-perfect reconstruction loses several dB to rounding.
"""

from __future__ import annotations

import numpy as np

from nacbench.metrics.base import MetricError, register_metric


@register_metric(
    "si_sdr",
    label="SI-SDR",
    unit="dB",
    higher_is_better=True,
    description="zero-mean SI-SDR in dB (Le Roux et al. 2019), float64",
)
def sisdr(ref: np.ndarray, deg: np.ndarray, rate: int) -> float:
    """SI-SDR of ``deg`` against ``ref`` in dB; +inf when ``deg`` is an exact scaled copy of ``ref``.

    ``rate`` is unused (SI-SDR is rate-free) but part of the metric signature.
    """
    del rate
    # tested before mean removal: a constant's mean is not always exact, leaving ~1e-17 "signal"
    if np.ptp(ref) == 0.0:
        raise MetricError("reference is constant (all zeros after mean removal): SI-SDR undefined")
    if np.ptp(deg) == 0.0:
        raise MetricError("degraded signal is constant (all zeros after mean removal): SI-SDR undefined")
    ref = ref - ref.mean()
    deg = deg - deg.mean()
    ref_energy = float(np.dot(ref, ref))
    target = (np.dot(deg, ref) / ref_energy) * ref
    noise = deg - target
    target_energy = float(np.dot(target, target))
    noise_energy = float(np.dot(noise, noise))
    if noise_energy == 0.0:
        return float("inf")
    if target_energy == 0.0:
        return float("-inf")
    return float(10.0 * np.log10(target_energy / noise_energy))
