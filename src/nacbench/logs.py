"""Per-job logging: every rule writes a log under results/logs/, progress bars included.

Rule scripts run ``with job_log(snakemake.log) as log:``; inside, ``log`` is a logger writing to the
job's (first) log file, :func:`progress` draws tqdm bars into it, and an exception escaping the block is
written to the log with its traceback before it propagates (so a failing job's log says what it was
doing). A rule whose ``log:`` also names a ``startup`` file gets the job's seconds by phase recorded
there (:mod:`nacbench.startup`), and summarised at the end of its log.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

from tqdm import tqdm

from nacbench.startup import recording

T = TypeVar("T")
_stream: IO[str] = sys.stderr


@contextlib.contextmanager
def job_log(log: Any, name: str = "nacbench") -> Iterator[logging.Logger]:
    """Log a job to ``log``: a path, None (stderr), or Snakemake's ``snakemake.log`` (its first file is
    the log; a ``startup`` entry, if any, receives the job's startup record)."""
    global _stream
    path, startup = _log_files(log)
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    if path is None:
        yield logger
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", buffering=1) as handle, recording(startup) as record:
        handler = logging.StreamHandler(handle)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        previous, _stream = _stream, handle
        try:
            yield logger
        except BaseException:
            logger.exception("job failed")
            raise
        finally:
            if startup is not None:
                logger.info("%s", record.summary())
            _stream = previous
            logger.removeHandler(handler)


def _log_files(log: Any) -> tuple[str | Path | None, str | None]:
    """(log file, startup record file or None) from what a rule script passes to :func:`job_log`."""
    if log is None or isinstance(log, str | Path):
        return log, None
    startup = getattr(log, "startup", None)
    return log[0], str(startup) if startup else None


def progress(items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    """tqdm into the current job log (or stderr outside a job)."""
    yield from tqdm(items, desc=desc, total=total, file=_stream, mininterval=5.0, ascii=True)
