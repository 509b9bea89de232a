"""Word-salad sentences: random frequent words, written like a sentence of the language."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lamer.data.synth.language_table import SynthLanguage

# Sentence-final marks and how often each is drawn; a comma may split a longer sentence.
FINAL_MARKS = (".", "?", "!")
FINAL_MARK_PROBS = (0.8, 0.12, 0.08)
COMMA_PROB = 0.25
MIN_WORDS_FOR_COMMA = 6
# Spanish opens questions and exclamations with inverted marks; Greek asks with ";", Arabic and
# Persian with "؟"; Hindi ends a statement with the danda, Mandarin with full-width marks.
OPENING_MARKS = {"spa": {"?": "¿", "!": "¡"}}
CLOSING_MARKS = {"ell": {"?": ";"}, "ara": {"?": "؟"}, "fas": {"?": "؟"}, "hin": {".": "।"},
                 "cmn": {".": "。", "?": "？", "!": "！"}}
COMMAS = {"ara": "،", "fas": "،", "cmn": "，"}


@dataclass(frozen=True)
class Sentence:
    """A sentence as read aloud (``raw``: capitalised, punctuated) and its normalised form
    (``transcription``: the lower-case words separated by single spaces)."""

    raw: str
    transcription: str


def draw_sentence(rng: np.random.Generator, words: list[str], lang: SynthLanguage,
                  min_words: int, max_words: int) -> Sentence:
    """Draw ``min_words``..``max_words`` words uniformly from ``words`` and punctuate them."""
    count = int(rng.integers(min_words, max_words + 1))
    chosen = [words[i] for i in rng.integers(0, len(words), size=count)]
    shown = list(chosen)
    if count >= MIN_WORDS_FOR_COMMA and rng.random() < COMMA_PROB:
        comma_after = int(rng.integers(1, count - 2))
        shown[comma_after] += COMMAS.get(lang.iso3, ",")
    mark = FINAL_MARKS[int(rng.choice(len(FINAL_MARKS), p=FINAL_MARK_PROBS))]
    opening = OPENING_MARKS.get(lang.iso3, {}).get(mark, "")
    closing = CLOSING_MARKS.get(lang.iso3, {}).get(mark, mark)
    raw = opening + lang.capitalize(" ".join(shown)) + closing
    return Sentence(raw=raw, transcription=" ".join(chosen))
