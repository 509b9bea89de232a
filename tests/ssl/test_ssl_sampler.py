"""The replay batch sampler."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from lamer.ssl.sampler import ReplayBatchSampler


def corpus(seed: int = 0):
    rng = np.random.default_rng(seed)
    lengths = {f"new{i:03d}": int(rng.integers(8000, 80000)) for i in range(103)}
    replay = {}
    for lang, count in (("eng", 40), ("fra", 7), ("deu", 15)):
        for i in range(count):
            utt = f"{lang}{i:03d}"
            lengths[utt] = int(rng.integers(8000, 80000))
            replay[utt] = lang
    return lengths, replay


@pytest.mark.parametrize("batch_size, share", [(8, 0.25), (10, 0.1), (6, 0.5), (7, 0.3)])
def test_every_batch_is_within_one_utterance_of_the_replay_share(batch_size, share):
    lengths, replay = corpus()
    sampler = ReplayBatchSampler(lengths, replay, batch_size, share, seed=1)
    batches = sampler.generate(5)
    assert sorted(u for b in batches for u in b if u not in replay) == sorted(u for u in lengths if u not in replay)
    for batch in batches:
        n_replay = sum(u in replay for u in batch)
        assert abs(n_replay - share * len(batch)) <= 1.0, (batch, n_replay)
        assert len(set(batch)) == len(batch)
    realised = sampler.last_realised_share
    assert abs(realised - share) < 0.02


def test_replay_is_balanced_over_old_languages_and_length_bucketed():
    lengths, replay = corpus()
    batches = ReplayBatchSampler(lengths, replay, 8, 0.25, seed=0).generate(3)
    per_lang = Counter(replay[u] for b in batches for u in b if u in replay)
    assert max(per_lang.values()) - min(per_lang.values()) <= 1, per_lang  # fra (7 utts) is cycled
    longest = [max(lengths[u] for u in b if u not in replay) for b in batches]
    assert longest == sorted(longest)
    mixed = [b for b in batches if any(u in replay for u in b)]  # the last, partial batch may have none
    longest = longest[:len(mixed)]
    replay_mean = [np.mean([lengths[u] for u in b if u in replay]) for b in mixed]
    assert np.corrcoef(longest, replay_mean)[0, 1] > 0.8  # short new data meets short replay data


def test_batches_depend_only_on_the_seed():
    lengths, replay = corpus()
    a = ReplayBatchSampler(lengths, replay, 8, 0.25).generate(11)
    b = ReplayBatchSampler(lengths, replay, 8, 0.25).generate(11)
    c = ReplayBatchSampler(lengths, replay, 8, 0.25).generate(12)
    assert a == b and a != c


def test_distributed_ranks_split_every_batch():
    lengths, replay = corpus()
    full = ReplayBatchSampler(lengths, replay, 8, 0.25).generate(4)
    ranks = [ReplayBatchSampler(lengths, replay, 8, 0.25, rank=r, world_size=2).generate(4) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1])
    for whole, part0, part1 in zip([b for b in full if len(b) >= 2], *ranks):
        assert sorted(part0 + part1) == sorted(whole)


def test_bad_settings_are_refused_with_reasons():
    lengths, replay = corpus()
    with pytest.raises(ValueError, match="replay_share"):
        ReplayBatchSampler(lengths, replay, 8, 1.0)
    with pytest.raises(ValueError, match="no replay utterances"):
        ReplayBatchSampler(lengths, {}, 8, 0.25)
    with pytest.raises(ValueError, match="ghost"):
        ReplayBatchSampler(lengths, {**replay, "ghost": "eng"}, 8, 0.25)
    with pytest.raises(ValueError, match="no room"):
        ReplayBatchSampler(lengths, replay, 2, 0.8)


def test_share_zero_keeps_the_replay_sample_out_of_the_batches():
    """A system without replay (replay_share 0) trains on the new utterances only, although the
    replay sample is in its training data (there for the k-means codebook, as with replay)."""
    lengths, replay = corpus()
    batches = ReplayBatchSampler(lengths, replay, 8, 0.0, seed=1).generate(5)
    trained = [u for b in batches for u in b]
    assert sorted(trained) == sorted(u for u in lengths if u not in replay)
