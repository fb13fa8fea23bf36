"""The metric registry's core: :class:`Metric`, :class:`MetricError`, :data:`METRICS` and the decorator
that fills it (the rules it enforces are in :mod:`nacbench.metrics`).

It lives apart from the package's ``__init__`` so that each metric module imports it without importing
back into the package that imports the metric modules (no import cycle).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

MetricFn = Callable[..., float]


class MetricError(ValueError):
    """A metric that cannot be computed for this pair; ``reason`` is recorded next to the NaN."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Metric:
    """A named metric: ``fn(ref, deg, rate, **params) -> float`` plus what a reader needs to know."""

    name: str
    higher_is_better: bool
    description: str
    fn: MetricFn

    def compute(self, ref: np.ndarray, deg: np.ndarray, rate: int, **params: Any) -> float:
        """Score ``deg`` against ``ref`` (same length, mono, at ``rate``); raise MetricError if undefined."""
        ref64, deg64 = check_pair(ref, deg)
        value = float(self.fn(ref64, deg64, int(rate), **params))
        if np.isnan(value):
            # a NaN without a reason is exactly the silent failure this registry exists to prevent
            raise MetricError(f"{self.name} returned NaN")
        return value

    def check_params(self, params: dict[str, Any]) -> None:
        """Raise TypeError naming the metric when ``params`` holds keys its function does not take.

        Called once per run, before any audio is scored, so a typo in config fails loudly instead of
        turning every utterance into NaN.
        """
        signature = inspect.signature(self.fn)
        try:
            signature.bind(None, None, 0, **params)
        except TypeError as exc:
            accepted = [p for p in signature.parameters if p not in ("ref", "deg", "rate")]
            raise TypeError(
                f"metric {self.name!r}: bad parameters {sorted(params)} ({exc}); accepted: {accepted}"
            ) from exc


#: metric name -> Metric; filled by the @register_metric decorators of the modules imported below
METRICS: dict[str, Metric] = {}


def register_metric(name: str, *, higher_is_better: bool, description: str) -> Callable[[MetricFn], MetricFn]:
    """Register ``fn(ref, deg, rate, **params) -> float`` under ``name``; a second use of a name is an error."""

    def decorator(fn: MetricFn) -> MetricFn:
        if name in METRICS:
            raise ValueError(f"metric {name!r} is already registered (by {METRICS[name].fn.__module__})")
        METRICS[name] = Metric(name=name, higher_is_better=higher_is_better, description=description, fn=fn)
        return fn

    return decorator


def get_metric(name: str) -> Metric:
    """The metric called ``name``; KeyError listing the known names otherwise."""
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {sorted(METRICS)}") from None


def check_pair(ref: np.ndarray, deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both signals as float64 1-D arrays of equal, non-zero length with finite samples.

    Metrics never trim: the caller (:func:`nacbench.metrics.scoring.score_pair`) trims once, so that
    every metric sees the same samples.
    """
    ref64 = np.asarray(ref, dtype=np.float64)
    deg64 = np.asarray(deg, dtype=np.float64)
    if ref64.ndim != 1 or deg64.ndim != 1:
        raise MetricError(f"signals must be mono 1-D arrays, got shapes {ref64.shape} and {deg64.shape}")
    if ref64.shape != deg64.shape:
        raise MetricError(f"signals differ in length ({len(ref64)} vs {len(deg64)}); trim them first")
    if len(ref64) == 0:
        raise MetricError("empty signals")
    for label, sig in (("reference", ref64), ("degraded", deg64)):
        if not np.all(np.isfinite(sig)):
            raise MetricError(f"{label} signal has NaN or infinite samples")
    return ref64, deg64
