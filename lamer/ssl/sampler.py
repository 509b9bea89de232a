"""The replay batch sampler: every batch holds a fixed share of replay utterances.

Per epoch (``generate(seed)``):

1. the new-language utterances are sorted by length and cut into chunks of
   ``batch_size - n_replay`` (length bucketing, as ESPnet's sorted samplers do), with
   ``n_replay`` within one of ``replay_share * batch_size`` and averaging to it;
2. the replay utterances are drawn round-robin over the old languages (each language's
   pool shuffled and cycled), so old languages are balanced whatever their sizes;
3. the drawn replay utterances are sorted by length too and dealt to the batches in order,
   so short new utterances meet short replay utterances.

Everything depends only on the seed (ESPnet passes ``seed + epoch``), so a resumed run sees
the same batches. The realised share and the replay utterances per language are logged.
"""
from __future__ import annotations

import logging
import math
from collections import Counter
from pathlib import Path

import numpy as np
from espnet2.samplers.abs_sampler import AbsSampler

from lamer.data.datadir_io import read_table

logger = logging.getLogger(__name__)


def read_lengths(shape_file: Path) -> dict[str, int]:
    """``{utt: length}`` from an ESPnet shape file (``<utt> <len>[,dim]``)."""
    out = {}
    for key, value, origin in read_table(Path(shape_file)):
        try:
            out[key] = int(value.split(",")[0])
        except ValueError:
            raise ValueError(f"{origin}: expected '<utt> <length>', got {value!r}") from None
    return out


class ReplayBatchSampler(AbsSampler):
    """Length-bucketed batches of ``batch_size`` utterances, ``replay_share`` of them replay.

    lengths: ``{utt: samples}`` of all training utterances (new and replay).
    replay_langs: ``{utt: language}`` of the replay utterances (a subset of ``lengths``).
    replay_share: a replay share as :mod:`lamer.ssl.replay_share` checks it where it is given (the
        spec's typed ``replay.share``, :mod:`lamer.ssl.train_spec`); here only its fit with the batch
        size, which only training knows, and with the replay utterances is checked.
    rank / world_size: with torch.distributed, each process keeps its slice of every batch.
    """

    def __init__(self, lengths: dict[str, int], replay_langs: dict[str, str], batch_size: int,
                 replay_share: float, seed: int = 0, rank: int = 0, world_size: int = 1) -> None:
        missing = sorted(set(replay_langs) - set(lengths))
        if missing:
            raise ValueError(f"replay utterance {missing[0]} is not in the training shape file")
        if math.ceil(replay_share * batch_size) >= batch_size:
            raise ValueError(f"batch_size {batch_size} leaves no room for new data at replay_share {replay_share}")
        if replay_share > 0 and not replay_langs:
            raise ValueError("replay_share > 0 but there are no replay utterances")
        self.lengths, self.batch_size, self.replay_share = lengths, batch_size, replay_share
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.new = sorted((u for u in lengths if u not in replay_langs), key=lambda u: (lengths[u], u))
        if not self.new:
            raise ValueError("no new-language utterances: every training utterance is in the replay list")
        self.pools: dict[str, list[str]] = {}
        for utt, lang in sorted(replay_langs.items()):
            self.pools.setdefault(lang, []).append(utt)
        self.languages = sorted(self.pools)
        self.replay_langs = dict(replay_langs)
        self.layout = self._layout()
        self.last_realised_share: float | None = None

    def __len__(self) -> int:
        return len(self.layout)

    def __iter__(self):
        return iter(self.generate(self.seed))

    def _layout(self) -> list[tuple[int, int]]:
        """(new, replay) utterances of every batch.

        Replay counts follow the running total ``round(share * batch_size * (i + 1))``, so a
        fractional target (0.2 of 8 = 1.6) alternates 2, 1, 2, 2, 1... and the epoch's share
        matches it; every batch is within one utterance of ``share * batch_size``. The last
        batch, with fewer new utterances left, gets replay in proportion.
        """
        target = self.replay_share * self.batch_size
        layout, used, index = [], 0, 0
        while used < len(self.new):
            n_replay = round(target * (index + 1)) - round(target * index)
            n_new = self.batch_size - n_replay
            if used + n_new > len(self.new):
                n_new = len(self.new) - used
                n_replay = round(n_new * self.replay_share / (1.0 - self.replay_share))
            layout.append((n_new, n_replay))
            used, index = used + n_new, index + 1
        return layout

    def _draw_replay(self, count: int, rng: np.random.Generator) -> list[str]:
        languages = [self.languages[i] for i in rng.permutation(len(self.languages))]
        queues = {lang: [] for lang in languages}
        drawn = []
        while len(drawn) < count:
            for lang in languages:
                if len(drawn) == count:
                    break
                if not queues[lang]:
                    queues[lang] = [self.pools[lang][i] for i in rng.permutation(len(self.pools[lang]))]
                drawn.append(queues[lang].pop())
        return drawn

    def generate(self, seed: int) -> list[tuple[str, ...]]:
        rng = np.random.default_rng(seed)
        replay = sorted(self._draw_replay(sum(r for _, r in self.layout), rng), key=lambda u: (self.lengths[u], u))
        parts, news, start, used = [], [], 0, 0
        for n_new, n_replay in self.layout:
            parts.append(replay[start:start + n_replay])
            news.append(self.new[used:used + n_new])
            start, used = start + n_replay, used + n_new
        _spread_repeats(parts)
        batches = [tuple(sorted(new + part, key=lambda u: (-self.lengths[u], u))) for new, part in zip(news, parts)]
        self._log_share(batches, replay)
        if self.world_size > 1:
            batches = [b[self.rank::self.world_size] for b in batches if len(b) >= self.world_size]
        return batches

    def _log_share(self, batches: list[tuple[str, ...]], replay: list[str]) -> None:
        total = sum(len(b) for b in batches)
        self.last_realised_share = len(replay) / total if total else 0.0
        per_lang = Counter(self.replay_langs[u] for u in replay)
        logger.info("replay share this epoch: %.3f (target %.3f) over %d batches; replay utterances per language: %s",
                    self.last_realised_share, self.replay_share, len(batches), dict(sorted(per_lang.items())))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(batch_size={self.batch_size}, replay_share={self.replay_share}, "
                f"new={len(self.new)}, replay languages={self.languages}, batches={len(self)})")



def _spread_repeats(parts: list[list[str]]) -> None:
    """Swap repeated utterances out of a batch with the nearest batch that can take them, in place.

    A small language's pool is cycled, and sorting by length puts its copies side by side; a
    swap with a neighbour keeps the length bucketing nearly intact. A repeat stays only when
    no batch can take it (fewer distinct replay utterances than a batch needs).
    """
    for i, part in enumerate(parts):
        for slot, utt in enumerate(part):
            if part.index(utt) == slot:
                continue
            for j in sorted(range(len(parts)), key=lambda k: abs(k - i)):
                other = parts[j]
                pick = next((k for k, v in enumerate(other) if v not in part and utt not in other), None)
                if j != i and pick is not None:
                    part[slot], other[pick] = other[pick], utt
                    break
