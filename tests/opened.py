"""Which files a block of code opens, counted from Python's audit events (``sys.addaudithook``):
nothing is patched, every reader of the process is seen (PyYAML's through ours, ESPnet's, torch's)."""
from __future__ import annotations

import contextlib
import os
import sys
from collections import Counter
from collections.abc import Iterator

_recording: list[Counter] = []


def _hook(event: str, args: tuple) -> None:
    if event == "open" and _recording and isinstance(args[0], (str, bytes, os.PathLike)):
        _recording[-1][os.path.realpath(os.fsdecode(args[0]))] += 1


sys.addaudithook(_hook)  # once per process (a hook cannot be removed); it counts only inside opened()


@contextlib.contextmanager
def opened() -> Iterator[Counter]:
    """A Counter of the files opened inside the block, by real path."""
    counts: Counter = Counter()
    _recording.append(counts)
    try:
        yield counts
    finally:
        _recording.pop()


def times(counts: Counter, path: str | os.PathLike) -> int:
    """How often ``path`` was opened."""
    return counts[os.path.realpath(path)]
