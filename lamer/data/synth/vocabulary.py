"""Word lists for the synthetic sentences, from wordfreq's frequency lists.

A word is kept when it is at least ``MIN_WORD_LETTERS`` long, uses only the language's native
letters (which drops digits, apostrophe forms such as ``l'`` and most names and loanwords) and,
for a language other than English written in Latin letters, is not also among the
``ENGLISH_LIST_SIZE`` most frequent English words unless it carries a letter of its own (``é``,
``ł``, ``ü``): that removes English loans such as ``internet`` or ``show`` together with a few
native homographs (``die``, ``son``), which costs nothing in a word-salad corpus.
"""
from __future__ import annotations

import functools

import wordfreq

from lamer.data.synth.language_table import LANGUAGES, SynthLanguage

MIN_WORD_LETTERS = 2
ENGLISH_LIST_SIZE = 5000
# How far down the frequency list to look for the requested number of words.
SOURCE_LIST_SIZE = 30000


def _restore_final_sigma(word: str) -> str:
    """wordfreq case-folds Greek final ``ς`` to ``σ``; spell the word end correctly again."""
    return word[:-1] + "ς" if word.endswith("σ") else word


@functools.lru_cache(maxsize=1)
def _english_words() -> frozenset[str]:
    return frozenset(wordfreq.top_n_list("en", ENGLISH_LIST_SIZE))


def _is_kept(word: str, lang: SynthLanguage) -> bool:
    if len(word) < MIN_WORD_LETTERS or not set(word) <= lang.letters:
        return False
    if lang.key != "en" and lang.script == "Latin" and word in _english_words():
        return bool(set(word) & lang.own_letters)
    return True


def word_list(lang_key: str, size: int) -> list[str]:
    """The ``size`` most frequent usable words of a language, most frequent first.

    Raises ``ValueError`` when wordfreq cannot supply that many words after filtering.
    """
    lang = LANGUAGES[lang_key]
    words: list[str] = []
    for raw in wordfreq.top_n_list(lang.wordfreq_code, SOURCE_LIST_SIZE):
        word = _restore_final_sigma(raw) if lang.iso3 == "ell" else raw
        if _is_kept(word, lang):
            words.append(word)
            if len(words) == size:
                return words
    raise ValueError(
        f"wordfreq has only {len(words)} usable {lang_key} words (asked for {size}); "
        f"lower --vocab-size"
    )
