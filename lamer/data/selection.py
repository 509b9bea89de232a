"""Choosing utterances from a data dir: replay samples, subsets by duration, speaker-disjoint splits.

All choices are deterministic given the seed (NumPy's PCG64 over the sorted data dir).

Strategies for a duration budget:

- ``random``: utterances in a seeded random order.
- ``speaker_balanced``: speakers in a seeded random order, each speaker's utterances shuffled,
  taken round-robin (one utterance per speaker per round), so that many voices are heard
  before any voice is heard twice.

An utterance is taken when it still fits in the budget, so the total never exceeds it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lamer.data.datadir_io import Utterance
from lamer.data.errors import DataError

STRATEGIES = ("random", "speaker_balanced")


def _by_speaker(utts: Sequence[Utterance]) -> dict[str, list[Utterance]]:
    groups: dict[str, list[Utterance]] = {}
    for utt in sorted(utts, key=lambda u: u.utt_id):
        groups.setdefault(utt.speaker, []).append(utt)
    return groups


def _ordered(utts: Sequence[Utterance], strategy: str, rng: np.random.Generator) -> list[Utterance]:
    """Every utterance once, in the order the strategy takes them."""
    if strategy == "random":
        pool = sorted(utts, key=lambda u: u.utt_id)
        return [pool[i] for i in rng.permutation(len(pool))]
    if strategy == "speaker_balanced":
        groups = _by_speaker(utts)
        speakers = [sorted(groups)[i] for i in rng.permutation(len(groups))]
        queues = [[groups[s][i] for i in rng.permutation(len(groups[s]))] for s in speakers]
        longest = max(map(len, queues), default=0)
        return [queue[r] for r in range(longest) for queue in queues if r < len(queue)]
    raise DataError(f"unknown selection strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")


def select_duration(utts: Sequence[Utterance], seconds: float, strategy: str = "random",
                    seed: int = 0) -> list[Utterance]:
    """Utterances totalling at most ``seconds``, chosen by ``strategy`` (see module doc), sorted by id."""
    if seconds <= 0:
        raise DataError(f"duration budget must be positive, got {seconds} s")
    chosen, total = [], 0.0
    for utt in _ordered(utts, strategy, np.random.default_rng(seed)):
        if total + utt.duration <= seconds:
            chosen.append(utt)
            total += utt.duration
    return sorted(chosen, key=lambda u: u.utt_id)


def total_duration(utts: Sequence[Utterance]) -> float:
    """Sum of utterance durations in seconds."""
    return float(sum(u.duration for u in utts))


@dataclass(frozen=True)
class SplitSizes:
    """Shares of the speakers that go to dev and test; the rest is train."""

    dev: float
    test: float

    def __post_init__(self) -> None:
        if self.dev < 0 or self.test < 0 or self.dev + self.test >= 1:
            raise DataError(f"dev {self.dev} and test {self.test} fractions must be >= 0 and sum to < 1")


def speaker_disjoint_split(utts: Sequence[Utterance], sizes: SplitSizes, seed: int = 0) -> dict[str, list[Utterance]]:
    """Split utterances into train/dev/test so that no speaker is in two of them.

    Speakers are shuffled by seed and assigned greedily until dev, then test, hold their share of
    the total duration; at least one speaker goes to each non-empty share when there are enough.
    """
    groups = _by_speaker(utts)
    speakers = [sorted(groups)[i] for i in np.random.default_rng(seed).permutation(len(groups))]
    if len(speakers) < 1 + (sizes.dev > 0) + (sizes.test > 0):
        raise DataError(f"{len(speakers)} speaker(s) cannot make speaker-disjoint train/dev/test splits")
    total = total_duration(utts)
    splits: dict[str, list[Utterance]] = {"train": [], "dev": [], "test": []}
    remaining = list(speakers)
    for name, share, reserved in (("dev", sizes.dev, 1 + (sizes.test > 0)), ("test", sizes.test, 1)):
        # keep `reserved` speakers for the shares still to fill (test, then train)
        while (share > 0 and len(remaining) > reserved
               and (not splits[name] or total_duration(splits[name]) < share * total)):
            splits[name].extend(groups[remaining.pop()])
    for spk in remaining:
        splits["train"].extend(groups[spk])
    return {name: sorted(part, key=lambda u: u.utt_id) for name, part in splits.items()}
