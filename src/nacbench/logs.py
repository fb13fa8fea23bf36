"""Per-job logging: every rule writes a log under results/logs/, progress bars included.

Rule scripts run ``with job_log(snakemake.log[0]) as log:``; inside, ``log`` is a logger writing to
that file, :func:`progress` draws tqdm bars into it, and an exception escaping the block is written to
the log with its traceback before it propagates (so a failing job's log says what it was doing).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TypeVar

from tqdm import tqdm

T = TypeVar("T")
_stream: IO[str] = sys.stderr


@contextlib.contextmanager
def job_log(path: str | Path | None, name: str = "nacbench") -> Iterator[logging.Logger]:
    global _stream
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    if path is None:
        yield logger
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", buffering=1) as handle:
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
            _stream = previous
            logger.removeHandler(handler)


def progress(items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    """tqdm into the current job log (or stderr outside a job)."""
    yield from tqdm(items, desc=desc, total=total, file=_stream, mininterval=5.0, ascii=True)
