"""Signal metrics, one module per metric, registered by name with their metadata (VERSA style).

Two rules set this registry apart from its peers (DESIGN.md, "Faithfulness rules"):

* no metric resamples: each states the rates it accepts and raises :class:`MetricError` otherwise, so
  every rate change in the pipeline goes through :func:`nacbench.audio.resample`;
* no metric returns a sentinel: when a value cannot be computed (signal too short, all zeros, the
  library's own error) the metric raises :class:`MetricError` with the reason, and the scoring stage
  records NaN plus that reason instead of a number that would poison the means.

Metrics are looked up in :data:`METRICS` by name; importing this package registers the four built-in
ones (``stoi``, ``pesq``, ``si_sdr``, ``mel_mse``).
"""

from __future__ import annotations

# the metric modules are imported for their registration side effect (each registers itself in METRICS)
from nacbench.metrics import melmse, pesq, sisdr, stoi  # noqa: F401
from nacbench.metrics.base import METRICS, Metric, MetricError, check_pair, get_metric, register_metric

__all__ = ["METRICS", "Metric", "MetricError", "check_pair", "get_metric", "register_metric"]
