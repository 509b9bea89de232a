"""Data dirs drawn from another: a subset of some hours and a speaker-disjoint train/dev/test split,
each written under its output's lock (:mod:`lamer.data.lock`: one writer per output) with a
``report.json`` saying where it came from. The replay sample is drawn the same way
(:mod:`lamer.data.replay`). The choices themselves are :mod:`lamer.data.selection`'s."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from lamer.data.datadir_io import Utterance, read_data_dir, write_data_dir
from lamer.data.lock import output_lock
from lamer.data.selection import SplitSizes, select_duration, speaker_disjoint_split, total_duration

logger = logging.getLogger(__name__)


def write_locked(utts: Sequence[Utterance], out: Path, extra: dict[str, object], lock_timeout: float | None) -> None:
    """Write the data dir ``out`` of ``utts`` (``extra`` as its report.json) under its lock, waiting for
    another writer at most ``lock_timeout`` seconds (None: without limit)."""
    with output_lock(out, lock_timeout):
        write_data_dir(utts, out, extra=extra)


def write_subset(src: Path, out: Path, hours: float, strategy: str, seed: int,
                 lock_timeout: float | None = None) -> list[Utterance]:
    """At most ``hours`` of audio of the data dir ``src``, chosen by ``strategy`` from ``seed``
    (:func:`~lamer.data.selection.select_duration`), written to ``out``; returns its utterances."""
    chosen = select_duration(read_data_dir(src), hours * 3600.0, strategy, seed)
    write_locked(chosen, out, {"source": str(src), "strategy": strategy, "seed": seed,
                               "hours": round(total_duration(chosen) / 3600, 4), "utterances": len(chosen)},
                 lock_timeout)
    logger.info("%s: %d utterances, %.3f h", out, len(chosen), total_duration(chosen) / 3600)
    return chosen


def write_split(src: Path, out: Path, sizes: SplitSizes, seed: int,
                lock_timeout: float | None = None) -> dict[str, list[Utterance]]:
    """The data dir ``src`` split by speaker into ``out/train``, ``out/dev`` and ``out/test``
    (:func:`~lamer.data.selection.speaker_disjoint_split`); an empty part is not written. Returns
    the parts."""
    parts = speaker_disjoint_split(read_data_dir(src), sizes, seed)
    for name, utts in parts.items():
        if utts:
            write_locked(utts, out / name, {"source": str(src), "seed": seed, "utterances": len(utts)}, lock_timeout)
            logger.info("%s: %d utterances", out / name, len(utts))
    return parts
