"""The progress of a long loop: a tqdm bar on a terminal, a log line per tenth in a log file.

A job's stderr is its log file, where a bar's carriage returns pile up as one line of redraws per
update burst; so the bar is drawn only when stderr is a terminal, and otherwise every tenth of the
total is one INFO line (``synthesising: 30/300 utt (10%)``). Both take the same calls: iterate
over it, or ``update(n)`` it inside ``with``; ``total`` may be set later (a k-means fit learns its
number of steps at its first step).
"""
from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import Any

logger = logging.getLogger(__name__)

STEPS = 10  # lines logged over the whole loop


def progress(iterable: Iterable | None = None, *, total: int | None = None, desc: str, unit: str,
             **bar_options: Any) -> Any:
    """A tqdm bar over ``iterable`` (or counting to ``total``) when stderr is a terminal, else a
    :class:`LogProgress`; ``bar_options`` (tqdm's ``leave``, ``mininterval``) apply to the bar only."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, **bar_options)
    return LogProgress(iterable, total, desc, unit)


class LogProgress:
    """What ``progress`` gives when stderr is not a terminal: tqdm's ``update``, ``total`` and
    iteration, logging a line each time the count passes another tenth of ``total``."""

    def __init__(self, iterable: Iterable | None, total: int | None, desc: str, unit: str):
        if total is None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.n = 0
        self._logged = 0  # tenths logged so far

    def update(self, n: int = 1) -> None:
        """Count ``n`` more; log when a new tenth of the total is reached."""
        self.n += n
        if not self.total:
            return
        tenths = min(STEPS, self.n * STEPS // self.total)
        if tenths > self._logged:
            self._logged = tenths
            logger.info("%s: %d/%d %s (%d%%)", self.desc, self.n, self.total, self.unit, 100 * self.n // self.total)

    def __iter__(self) -> Iterator:
        for item in self.iterable:
            yield item
            self.update()

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None
