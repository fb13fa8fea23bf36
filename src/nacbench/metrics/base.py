"""The metric registry's core: :class:`Metric`, :data:`METRICS` and :func:`register_metric`.

Kept apart from ``nacbench.metrics.__init__`` so that the metric modules import it without importing
the package that imports them (no import cycle); read the package docstring for the rules.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

MetricFn = Callable[..., float]
#: ``check(params, rate) -> [(parameter, problem), ...]``: settings that cannot give a meaningful score
ParamCheck = Callable[[Mapping[str, Any], int], list[tuple[str, str]]]


class Need(str, Enum):
    """What a metric needs besides the decoded signal; a reference-free metric (DNSMOS, PLCMOS) needs
    nothing (``needs=frozenset()``), and its function ignores the ``ref`` it is passed."""

    #: the original signal (intrusive metrics: STOI, PESQ, SI-SDR, mel-MSE)
    REFERENCE = "reference"
    #: the utterance's transcript (text-based metrics); datasets without text cannot provide it
    TRANSCRIPT = "transcript"


class MetricError(ValueError):
    """A metric that cannot be computed for this pair; ``reason`` is recorded next to the NaN."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Metric:
    """A named metric: ``fn(ref, deg, rate, **params) -> float`` plus what a reader needs to know.

    ``label`` is the name printed in figures and tables, ``unit`` its unit ("" when dimensionless),
    ``higher_is_better`` the direction every comparison (break-down points, arrows on axes) uses.
    """

    name: str
    label: str
    unit: str
    higher_is_better: bool
    description: str
    fn: MetricFn
    needs: frozenset[Need] = frozenset({Need.REFERENCE})
    param_check: ParamCheck | None = field(default=None, compare=False)

    @property
    def axis_label(self) -> str:
        """Label, unit and direction arrow, e.g. ``SI-SDR (dB) ↑``."""
        unit = f" ({self.unit})" if self.unit else ""
        return f"{self.label}{unit} {'↑' if self.higher_is_better else '↓'}"

    def compute(self, ref: np.ndarray, deg: np.ndarray, rate: int, **params: Any) -> float:
        """Score ``deg`` against ``ref`` (same length, mono, at ``rate``); raise MetricError if undefined.

        Both signals are checked even for a reference-free metric, which then ignores ``ref``.
        """
        ref64, deg64 = check_pair(ref, deg)
        value = float(self.fn(ref64, deg64, int(rate), **params))
        if np.isnan(value):
            # a NaN without a reason is exactly the silent failure this registry exists to prevent
            raise MetricError(f"{self.name} returned NaN")
        return value

    def check_params(self, params: Mapping[str, Any]) -> None:
        """Raise TypeError naming the metric when ``params`` holds keys its function does not take.

        Called once per run, before any audio is scored, so a typo in config fails loudly instead of
        turning every utterance into NaN. The rule is :meth:`param_errors`' (one rule for the config
        check and the score stage); only its unknown-name part applies here, as there is no rate.
        """
        unknown = self._unknown_params(params)
        if unknown:
            raise TypeError(f"metric {self.name!r}: " + "; ".join(f"{name}: {why}" for name, why in unknown))

    def _unknown_params(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        accepted = [p for p in inspect.signature(self.fn).parameters if p not in ("ref", "deg", "rate")]
        return [
            (k, f"not a parameter of metric {self.name!r}; accepted: {accepted}")
            for k in params
            if k not in accepted
        ]

    def param_errors(self, params: Mapping[str, Any], rate: int) -> list[tuple[str, str]]:
        """Every problem with ``params`` at ``rate`` as ``(parameter, problem)``; empty when usable.

        Config validation calls this for each configured metric, so settings that would give every
        utterance the same error (or, worse, a meaningless number) stop the run before any job starts.
        """
        unknown = self._unknown_params(params)
        if unknown or self.param_check is None:
            return unknown
        return self.param_check(params, int(rate))


#: metric name -> Metric; filled by the @register_metric decorators of the modules imported below
METRICS: dict[str, Metric] = {}


def register_metric(
    name: str,
    *,
    label: str,
    unit: str,
    higher_is_better: bool,
    description: str,
    needs: frozenset[Need] = frozenset({Need.REFERENCE}),
    param_check: ParamCheck | None = None,
) -> Callable[[MetricFn], MetricFn]:
    """Register ``fn(ref, deg, rate, **params) -> float`` under ``name``; a second use of a name is an error.

    Registration order is the order of every table and figure (the built-in metrics are imported in
    the paper's order at the bottom of this module).
    """

    def decorator(fn: MetricFn) -> MetricFn:
        if name in METRICS:
            raise ValueError(f"metric {name!r} is already registered (by {METRICS[name].fn.__module__})")
        METRICS[name] = Metric(
            name=name,
            label=label,
            unit=unit,
            higher_is_better=higher_is_better,
            description=description,
            fn=fn,
            needs=frozenset(needs),
            param_check=param_check,
        )
        return fn

    return decorator


def metric_names() -> tuple[str, ...]:
    """Every registered metric, in registration order (read at call time, so later additions count)."""
    return tuple(METRICS)


def _from_transcripts(ref: np.ndarray, deg: np.ndarray, rate: int, **params: Any) -> float:
    raise MetricError("computed from transcripts by the ASR, not from audio")


#: Rates computed from ASR transcripts rather than audio (``nacbench.asr.wer``): not scoreable under
#: ``metrics:``, but tables, figures and break-down points read their label and direction here, like
#: any metric's. A score table holds them per utterance (``wer``, ``cer``) beside the edit counts.
TRANSCRIPT_METRICS: dict[str, Metric] = {
    name: Metric(
        name=name,
        label=label,
        unit="",
        higher_is_better=False,
        description=f"{label} of Whisper's transcript of the decoded audio (corpus rate: edits / reference {unit})",
        fn=_from_transcripts,
        needs=frozenset(),
    )
    for name, label, unit in (("wer", "WER", "words"), ("cer", "CER", "characters"))
}


class _AxisLabels(Mapping[str, str]):
    """Live read-only view ``metric name -> axis label`` over the registry (see :attr:`Metric.axis_label`)."""

    def __getitem__(self, name: str) -> str:
        return get_metric(name).axis_label

    def __iter__(self) -> Iterator[str]:
        return iter(METRICS)

    def __len__(self) -> int:
        return len(METRICS)


#: metric name -> label for a figure axis (label, unit, direction arrow); a view, never a copy
METRIC_LABELS: Mapping[str, str] = _AxisLabels()


def get_metric(name: str) -> Metric:
    """The metric called ``name`` (a signal metric, or a :data:`TRANSCRIPT_METRICS` one); KeyError
    listing the known names otherwise."""
    metric = METRICS.get(name) or TRANSCRIPT_METRICS.get(name)
    if metric is None:
        raise KeyError(f"unknown metric {name!r}; known: {sorted([*METRICS, *TRANSCRIPT_METRICS])}")
    return metric


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
