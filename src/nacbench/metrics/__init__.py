"""Signal metrics, one module per metric, registered by name with their metadata (VERSA style).

Two rules set this registry apart from its peers (README, "Faithful scoring"):

* no metric resamples: each states the rates it accepts and raises :class:`MetricError` otherwise, so
  every rate change in the pipeline goes through :func:`nacbench.audio.resample`;
* no metric returns a sentinel: when a value cannot be computed (signal too short, all zeros, the
  library's own error) the metric raises :class:`MetricError` with the reason, and the scoring stage
  records NaN plus that reason instead of a number that would poison the means.

Metrics are looked up in :data:`METRICS` by name; importing this package registers the built-in ones:
the paper's four intrusive metrics (``stoi``, ``pesq``, ``si_sdr``, ``mel_mse``) and the reference-free,
opt-in quality models ``dnsmos_sig``, ``dnsmos_bak``, ``dnsmos_ovrl`` (DNSMOS P.835) and ``plcmos``
(PLCMOS v2), which declare no :class:`Need` and score the decoded audio alone. Each entry also carries
what a reader of a figure or table needs (label, unit, whether higher is better) and what the metric
needs besides the decoded audio (:class:`Need`), so plots, tables, summaries and break-down points
read them here and adding a metric is one module (plus its import at the bottom of this file): nothing else lists metrics.
"""

from __future__ import annotations

# The metric modules are imported for their registration side effect, in the paper's order (STOI, PESQ,
# SI-SDR, mel-MSE), then the reference-free ones: it is the order of every table and figure.
# isort: off
from nacbench.metrics.base import (
    METRIC_LABELS,
    METRICS,
    TRANSCRIPT_METRICS,
    Metric,
    MetricError,
    Need,
    check_pair,
    get_metric,
    metric_names,
    register_metric,
)
from nacbench.metrics import stoi  # noqa: F401
from nacbench.metrics import pesq  # noqa: F401
from nacbench.metrics import sisdr  # noqa: F401
from nacbench.metrics import melmse  # noqa: F401
from nacbench.metrics import dnsmos  # noqa: F401
from nacbench.metrics import plcmos  # noqa: F401

# isort: on

__all__ = [
    "METRICS",
    "METRIC_LABELS",
    "TRANSCRIPT_METRICS",
    "Metric",
    "MetricError",
    "Need",
    "check_pair",
    "get_metric",
    "metric_names",
    "register_metric",
]
