"""The replay sample of an old language for a continual stage: how long it is and which utterances.

Its length (:class:`ReplayBudget`) is the plan's ``replay`` amount: ``minutes`` of the old
language, or a ``fraction`` of the duration of the stage's new languages' training data (all of
them together; the same budget for every old language). The utterances are chosen from the old
language's training data dir by a strategy of :mod:`lamer.data.selection`, from a seed, and
written as a data dir of their own (under its lock, :func:`lamer.data.subsets.write_locked`),
whose ``report.json`` records the source, strategy, seed, budget and what was drawn.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lamer.data.datadir_io import Utterance, read_data_dir
from lamer.data.selection import select_duration, total_duration
from lamer.data.subsets import write_locked

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayBudget:
    """How much audio a replay sample holds: ``minutes``, or ``fraction`` of the total duration of the
    data dirs ``of`` (the stage's new languages). Exactly one of the two is given."""

    minutes: float | None = None
    fraction: float | None = None
    of: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if (self.minutes is None) == (self.fraction is None):
            raise ValueError("a replay budget is minutes or a fraction of the new data dirs, exactly one of them")
        if (self.fraction is None) != (not self.of):
            raise ValueError("a replay fraction goes with the new data dirs it is a fraction of (and only it)")

    def seconds(self) -> float:
        """The budget in seconds; a fraction reads the new data dirs' durations."""
        if self.minutes is not None:
            return self.minutes * 60.0
        return self.fraction * sum(total_duration(read_data_dir(new)) for new in self.of)


def write_replay(src: Path, out: Path, budget: ReplayBudget, strategy: str, seed: int,
                 lock_timeout: float | None = None) -> Sequence[Utterance]:
    """Draw the replay sample of ``budget`` from the data dir ``src`` by ``strategy`` from ``seed`` and
    write it to ``out``; returns its utterances."""
    utts = read_data_dir(src)
    seconds = budget.seconds()
    chosen = select_duration(utts, seconds, strategy, seed)
    write_locked(chosen, out, {"source": str(src), "strategy": strategy, "seed": seed,
                               "budget_seconds": round(seconds, 3), "seconds": round(total_duration(chosen), 3),
                               "utterances": len(chosen)}, lock_timeout)
    logger.info("%s: %d utterances, %.1f of %.1f s budget", out, len(chosen), total_duration(chosen), seconds)
    return chosen
