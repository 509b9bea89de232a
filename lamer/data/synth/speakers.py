"""One pool of synthetic speakers shared by every language of the corpus.

A speaker is an espeak-ng voice variant (``m1``..``m8`` male, ``f1``..``f5`` female) with its own
base pitch, pitch range, speaking rate and gap between words. Every language is read by the same
speakers, and the pool is split once into train, dev and test speakers, so a model cannot tell
languages apart by voice and is always tested on unseen voices. The pool depends on the seed
only, not on the languages asked for: a corpus grown by a language later keeps its speakers.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8")
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5")
AGES = ("teens", "twenties", "thirties", "fourties", "fifties", "sixties")
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Speaker:
    """A synthetic voice and the split it belongs to.

    ``pitch`` and ``pitch_range`` are espeak-ng's 0-100 scales, ``rate`` is in words per
    minute, ``word_gap`` in units of 10 ms of extra pause between words.
    """

    index: int
    client_id: str
    split: str
    variant: str
    gender: str
    age: str
    pitch: int
    pitch_range: int
    rate: int
    word_gap: int


def split_speaker_counts(num_speakers: int, dev_speakers: int, test_speakers: int) -> dict[str, int]:
    """Speakers per split; raise ``ValueError`` unless every split gets at least one."""
    train = num_speakers - dev_speakers - test_speakers
    if min(train, dev_speakers, test_speakers) < 1:
        raise ValueError(
            f"a pool of {num_speakers} speakers cannot give {dev_speakers} dev and "
            f"{test_speakers} test speakers and still leave train speakers"
        )
    return {"train": train, "dev": dev_speakers, "test": test_speakers}


def build_speaker_pool(seed: int, num_speakers: int, dev_speakers: int, test_speakers: int) -> list[Speaker]:
    """Draw ``num_speakers`` speakers, alternately male and female, and assign their splits.

    Test speakers come first, then dev, then train, each block alternating genders, so every
    split is balanced by gender. Deterministic in ``seed``.
    """
    counts = split_speaker_counts(num_speakers, dev_speakers, test_speakers)
    split_of = [split for split in ("test", "dev", "train") for _ in range(counts[split])]
    rng = np.random.default_rng([seed, 0x5bea4e5])
    male = list(rng.permutation(MALE_VARIANTS))
    female = list(rng.permutation(FEMALE_VARIANTS))
    pool = []
    for index, split in enumerate(split_of):
        variants = male if index % 2 == 0 else female
        variant = str(variants[(index // 2) % len(variants)])
        pool.append(
            Speaker(
                index=index,
                client_id=hashlib.sha512(f"lamer-synth-speaker:{seed}:{index}".encode()).hexdigest(),
                split=split,
                variant=variant,
                gender="male_masculine" if variant.startswith("m") else "female_feminine",
                age=str(rng.choice(AGES)),
                pitch=int(rng.integers(25, 76)),
                pitch_range=int(rng.integers(20, 91)),
                rate=int(rng.integers(140, 201)),
                word_gap=int(rng.integers(0, 4)),
            )
        )
    return pool
