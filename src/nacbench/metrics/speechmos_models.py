"""The ONNX models that the ``speechmos`` package ships, loaded once per process, and the checks shared by
the reference-free metrics built on them (:mod:`~nacbench.metrics.dnsmos`, :mod:`~nacbench.metrics.plcmos`).

Not a metric itself. ``speechmos`` (Microsoft's DNS / PLC challenge models, MIT licence) is used as the
carrier of the model files only: its ``run()`` functions are not called, because

* they refuse samples outside [-1, 1] (no normalisation, no clipping) and take no other rate than 16 kHz
  (no resampling either, for arrays; a *file path* would be resampled by ``librosa.load``);
* each creates sessions with onnxruntime's default thread pool (every core), while a score job has one
  core (``threads: 1`` in ``workflow/rules/score.smk``) and may spread over worker processes;
* PLCMOS draws its rater embeddings from numpy's *global* random state: scores change from call to call
  and every call moves the global stream.

Here each model gets one single-threaded CPU session per process (:func:`onnx_session`, cached), and
the metric modules compute the models' inputs themselves, matching speechmos's numbers where it is
deterministic (tests/test_metrics_mos.py checks both against it).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from nacbench.metrics.base import MetricError

#: the only rate the DNSMOS and PLCMOS v2 models are trained for; no metric here resamples
MODEL_RATE = 16_000


@cache
def onnx_session(model: str) -> Any:
    """The onnxruntime session of ``model`` (a path inside the speechmos package), made once per process.

    One intra-op and one inter-op thread: scoring runs one core per job (or per pool worker). A missing
    package or model file raises :class:`MetricError` (not cached, so an install mid-run is picked up).
    """
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise MetricError(f"needs the 'onnxruntime' package (envs/requirements.txt): {exc}") from exc
    try:
        path = resources.files("speechmos").joinpath(model)
    except ModuleNotFoundError as exc:
        raise MetricError(
            f"needs the 'speechmos' package, which ships the ONNX models (envs/requirements.txt): {exc}"
        ) from exc
    if not path.is_file():
        raise MetricError(f"the installed speechmos package has no model file {model!r}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only; a failing run raises anyway
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def rated_signal(deg: np.ndarray, rate: int, metric: str, min_samples: int) -> np.ndarray:
    """``deg`` as the float64 signal a listener would hear: mono, at 16 kHz, clipped to [-1, 1].

    Decoded audio is kept unclipped for the intrusive metrics (:func:`nacbench.audio.write_decoded`);
    these models rate what is played back, so samples beyond full scale are clipped here, as playback
    (and :func:`nacbench.audio.write_audio`) would. Nothing is rescaled: the models hear the level the
    decoder produced. Raises :class:`MetricError` for another rate, fewer than ``min_samples`` samples,
    NaN or infinite samples, and an all-zero signal (nothing to rate; the intrusive metrics refuse it too).
    """
    wav = np.asarray(deg, dtype=np.float64)
    if rate != MODEL_RATE:
        raise MetricError(
            f"{metric} needs {MODEL_RATE} Hz audio (its model's rate), got {rate} Hz; "
            "resample with nacbench.audio.resample before scoring"
        )
    if wav.ndim != 1:
        raise MetricError(f"{metric} needs a mono 1-D signal, got shape {wav.shape}")
    if len(wav) < min_samples:
        raise MetricError(
            f"too short for {metric}: {len(wav)} samples ({len(wav) / rate:.3f} s), "
            f"need at least {min_samples} ({min_samples / rate:.3f} s)"
        )
    if not np.all(np.isfinite(wav)):
        raise MetricError(f"degraded signal has NaN or infinite samples: {metric} undefined")
    if not np.any(wav):
        raise MetricError(f"degraded signal is all zeros: {metric} undefined")
    return np.clip(wav, -1.0, 1.0)
