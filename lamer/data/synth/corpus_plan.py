"""What the synthetic corpus will contain: every utterance's language, split, speaker, text,
file names and random seed, decided up front and deterministically from the settings."""
from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass

import numpy as np

from lamer.data.synth.language_table import SynthLanguage
from lamer.data.synth.sentences import Sentence, draw_sentence
from lamer.data.synth.speakers import Speaker
from lamer.data.synth.vocabulary import word_list

# Common Voice clip numbers start here (real ones are 8-digit upload counters).
CV_CLIP_BASE = 40_000_000
# Redraws allowed before giving up on finding a sentence not used yet.
MAX_SENTENCE_DRAWS = 100


@dataclass(frozen=True)
class SynthConfig:
    """Settings that fully determine a language's synthetic corpus (with the language)."""

    utts_per_lang: int
    seed: int = 0
    vocab_size: int = 1000
    num_speakers: int = 24
    dev_speakers: int = 4
    test_speakers: int = 4
    dev_fraction: float = 0.1
    test_fraction: float = 0.1
    min_words: int = 3
    max_words: int = 12

    def __post_init__(self) -> None:
        if self.utts_per_lang < 3:
            raise ValueError(f"utts_per_lang={self.utts_per_lang}: need at least 3 (one per split)")
        if self.vocab_size < 1:
            raise ValueError(f"vocab_size={self.vocab_size}: need at least one word")
        if not 1 <= self.min_words <= self.max_words:
            raise ValueError(f"word counts {self.min_words}..{self.max_words} are not a valid range")
        if not (0 < self.dev_fraction < 1 and 0 < self.test_fraction < 1
                and self.dev_fraction + self.test_fraction < 1):
            raise ValueError(
                f"dev_fraction={self.dev_fraction}, test_fraction={self.test_fraction}: "
                "each must be in (0, 1) and their sum below 1"
            )
        split_sizes(self)


@dataclass(frozen=True)
class PlannedUtterance:
    """One utterance to synthesise and where it goes in both corpus layouts."""

    lang: SynthLanguage
    index: int
    split: str
    speaker: Speaker
    sentence: Sentence
    cv_clip: str
    """Common Voice clip file name, ``common_voice_<locale>_<n>.mp3``."""
    fleurs_file: str
    """FLEURS audio file name, ``<20 digits>.wav``."""
    seed: int
    """Seeds this utterance's jitter, noise and espeak-ng's own noise."""


def _rng(seed: int, lang: SynthLanguage, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(lang.key.encode()), *stream])


def split_sizes(config: SynthConfig) -> dict[str, int]:
    """Utterances per split for one language: at least one dev and one test utterance."""
    dev = max(1, round(config.utts_per_lang * config.dev_fraction))
    test = max(1, round(config.utts_per_lang * config.test_fraction))
    train = config.utts_per_lang - dev - test
    if train < 1:
        raise ValueError(
            f"{config.utts_per_lang} utterances per language leave none for train after {dev} dev "
            f"and {test} test; lower the dev/test fractions"
        )
    return {"train": train, "dev": dev, "test": test}


def _fleurs_file_name(seed: int, lang: SynthLanguage, index: int) -> str:
    digest = hashlib.sha256(f"lamer-synth-fleurs:{seed}:{lang.key}:{index}".encode()).hexdigest()
    return f"{int(digest[:16], 16)}.wav"


def _draw_new_sentence(rng: np.random.Generator, words: list[str], lang: SynthLanguage,
                       config: SynthConfig, seen: set[str]) -> Sentence:
    for _ in range(MAX_SENTENCE_DRAWS):
        sentence = draw_sentence(rng, words, lang, config.min_words, config.max_words)
        if sentence.transcription not in seen:
            seen.add(sentence.transcription)
            return sentence
    raise ValueError(
        f"{lang.key}: cannot find {config.utts_per_lang} different sentences from "
        f"{config.vocab_size} words of {config.min_words}-{config.max_words} words; raise --vocab-size"
    )


def plan_language(lang: SynthLanguage, config: SynthConfig, pool: list[Speaker]) -> list[PlannedUtterance]:
    """Plan ``config.utts_per_lang`` utterances of ``lang``: train, then dev, then test ones.

    Within a split, utterances go round-robin to that split's speakers in a per-language
    shuffled order, so every speaker reads about as much in every language. Sentences are
    unique within the language.
    """
    words = word_list(lang.key, config.vocab_size)
    text_rng, speaker_rng = _rng(config.seed, lang, 1), _rng(config.seed, lang, 2)
    seeds = np.random.SeedSequence([config.seed, zlib.crc32(lang.key.encode()), 3]).generate_state(
        config.utts_per_lang
    )
    seen: set[str] = set()
    planned: list[PlannedUtterance] = []
    for split, size in split_sizes(config).items():
        speakers = [speaker for speaker in pool if speaker.split == split]
        order = [speakers[i] for i in speaker_rng.permutation(len(speakers))]
        for k in range(size):
            sentence = _draw_new_sentence(text_rng, words, lang, config, seen)
            index = len(planned)
            planned.append(
                PlannedUtterance(
                    lang=lang,
                    index=index,
                    split=split,
                    speaker=order[k % len(order)],
                    sentence=sentence,
                    cv_clip=f"common_voice_{lang.cv_locale}_{CV_CLIP_BASE + index}.mp3",
                    fleurs_file=_fleurs_file_name(config.seed, lang, index),
                    seed=int(seeds[index]),
                )
            )
    if len({utt.fleurs_file for utt in planned}) != len(planned):
        raise RuntimeError(f"FLEURS file names collide for {lang.key} with seed {config.seed}; use another seed")
    return planned
