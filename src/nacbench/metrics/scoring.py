"""Score decoded audio against its original: one row per utterance, NaN plus a reason on failure.

``metric_params`` maps each metric to score (a name in :data:`nacbench.metrics.METRICS`) to its
parameters, straight from config, e.g. ``{"stoi": {}, "pesq": {}, "si_sdr": {}, "mel_mse": {"n_mels": 80}}``.
All scoring happens at :data:`nacbench.audio.SCORING_RATE` (16 kHz); the caller resamples once with
:func:`nacbench.audio.resample` before it gets here.

Failure handling is in layers, so that one bad utterance costs its own row and nothing more:

* a metric that cannot be computed raises MetricError -> that metric is NaN, its reason is in ``error``;
* any other exception while scoring an utterance -> all its metrics NaN, the exception in ``error``;
* a worker process that dies (e.g. a segfault in a C library) -> the utterances it took down are
  re-run one per fresh worker, and only the one that kills its worker again gets NaN.

Configuration mistakes (an unknown metric, a parameter a metric does not take) are *not* per-utterance
failures: :func:`check_metric_params` raises before anything is scored.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np
import pandas as pd

from nacbench.audio import SCORING_RATE, trim_to_common_length
from nacbench.metrics import MetricError, Need, get_metric

MetricParams = dict[str, dict[str, Any]]
Pair = tuple[str, np.ndarray, np.ndarray]
#: progress(n_done, n_total), called after each utterance
Progress = Callable[[int, int], None]

ERROR_COLUMN = "error"


def check_metric_params(metric_params: MetricParams) -> None:
    """Raise KeyError/TypeError for unknown metrics or parameters, naming the offending entry."""
    if not metric_params:
        raise ValueError("no metrics to score: metric_params is empty")
    for name, params in metric_params.items():
        metric = get_metric(name)
        metric.check_params(dict(params or {}))
        beyond = sorted(need.value for need in metric.needs - {Need.REFERENCE})
        if beyond:
            raise ValueError(
                f"metric {name!r} needs {beyond}, but the score stage passes only the decoded audio and "
                "its reference signal"
            )


def score_pair(ref16k: np.ndarray, deg16k: np.ndarray, metric_params: MetricParams) -> dict[str, Any]:
    """Every metric of ``metric_params`` on one pair, trimmed to the shorter length first.

    Returns ``{metric: float, ..., "error": "metric: reason; ..."}``; ``error`` is "" when every
    metric was computed.
    """
    ref, deg = trim_to_common_length(np.asarray(ref16k), np.asarray(deg16k))
    row: dict[str, Any] = {}
    errors: list[str] = []
    for name, params in metric_params.items():
        try:
            row[name] = get_metric(name).compute(ref, deg, SCORING_RATE, **(params or {}))
        except MetricError as exc:
            row[name] = math.nan
            errors.append(f"{name}: {exc.reason}")
    row[ERROR_COLUMN] = "; ".join(errors)
    return row


def failed_row(metric_params: MetricParams, reason: str) -> dict[str, Any]:
    """The row of an utterance that could not be scored at all."""
    return {**dict.fromkeys(metric_params, math.nan), ERROR_COLUMN: reason}


def _score_one(pair: Pair, metric_params: MetricParams) -> dict[str, Any]:
    """Worker entry point (module level, so spawn can pickle it): never raises for bad audio."""
    utt_id, ref, deg = pair
    try:
        return {"utt_id": utt_id, **score_pair(ref, deg, metric_params)}
    except Exception as exc:  # the point of this layer: one utterance's crash stays in its row
        return {"utt_id": utt_id, **failed_row(metric_params, f"crash: {type(exc).__name__}: {exc}")}


def score_many(
    pairs: Sequence[Pair],
    metric_params: MetricParams,
    processes: int = 1,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Score ``(utt_id, ref16k, deg16k)`` pairs; one row per utterance, in input order.

    Columns: ``utt_id``, one per metric (in ``metric_params`` order), ``error``. With ``processes > 1``
    the pairs are scored in a pool of spawned processes (spawn, not fork: the parent may hold torch
    threads, and fork with threads can deadlock); results are put back in input order.
    """
    check_metric_params(metric_params)
    columns = ["utt_id", *metric_params, ERROR_COLUMN]
    if not pairs:
        return pd.DataFrame(columns=columns)
    ids = [pair[0] for pair in pairs]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate utt_id in pairs; every utterance must be scored once")
    done = _Counter(len(pairs), progress)
    if processes <= 1:
        rows = [done.tick(_score_one(pair, metric_params)) for pair in pairs]
    else:
        rows = _score_in_pool(pairs, metric_params, processes, done)
    return pd.DataFrame(rows, columns=columns)


class _Counter:
    """Counts finished utterances and reports them to the optional progress callback."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self.progress = total, 0, progress

    def tick(self, row: dict[str, Any]) -> dict[str, Any]:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)
        return row


def _score_in_pool(
    pairs: Sequence[Pair], metric_params: MetricParams, processes: int, done: _Counter
) -> list[dict[str, Any]]:
    """Pool scoring; utterances lost to a dead worker are retried alone, each in a fresh worker."""
    rows: dict[int, dict[str, Any]] = {}
    lost = _run_pool(list(range(len(pairs))), pairs, metric_params, processes, rows, done)
    for index in lost:
        # one at a time, so an utterance that really kills its worker cannot take others with it
        if _run_pool([index], pairs, metric_params, 1, rows, done):
            rows[index] = {
                "utt_id": pairs[index][0],
                **failed_row(metric_params, "crash: worker process died"),
            }
            done.tick(rows[index])
    return [rows[i] for i in range(len(pairs))]


def _run_pool(
    indices: list[int],
    pairs: Sequence[Pair],
    metric_params: MetricParams,
    processes: int,
    rows: dict[int, dict[str, Any]],
    done: _Counter,
) -> list[int]:
    """Score ``indices`` into ``rows``; return the indices whose worker died before answering."""
    context = multiprocessing.get_context("spawn")
    lost: list[int] = []
    with ProcessPoolExecutor(max_workers=min(processes, len(indices)), mp_context=context) as pool:
        futures: dict[Future[dict[str, Any]], int] = {
            pool.submit(_score_one, pairs[i], metric_params): i for i in indices
        }
        for future, index in futures.items():
            try:
                rows[index] = done.tick(future.result())
            except BrokenProcessPool:
                lost.append(index)
    return lost
