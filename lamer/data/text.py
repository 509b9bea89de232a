"""Transcript normalisation that works for any script.

Decisions are driven by Unicode character categories, not by per-script whitelists, so that
Latin with diacritics, Cyrillic, Greek, Arabic, Persian, CJK, Devanagari, Tamil and scripts not
thought of here all keep their letters:

- NFC composition first, so that ``e`` + combining acute and ``é`` are one character.
- Letters (L*), combining marks (M*, the vowel signs of Indic scripts and Arabic harakat) and
  digits (N*) are kept.
- An apostrophe or hyphen between two kept characters stays (``l'ardoise``, ``dix-sept``), and
  so does a ``.``, ``,`` or ``:`` between two digits (``3.5``, ``3:2``); every other
  punctuation (P*), symbol (S*) or separator becomes a word break.
- Zero-width joiner/non-joiner stay between letters (Persian and Indic spelling needs them);
  other format characters (C*) vanish.
- Lower-casing with locale care: in Turkish and Azerbaijani ``I`` is the capital of ``ı`` and
  ``İ`` the capital of ``i``.
- Languages written without spaces (Chinese, Japanese, Thai, ...) drop punctuation instead of
  turning it into a space.
"""
from __future__ import annotations

import unicodedata

# Dotted/dotless i pairs: these languages' lower case of "I" is "ı".
DOTLESS_I_LANGS = frozenset({"tur", "aze", "crh", "gag", "tat", "kaa"})
# Languages written without spaces between words.
UNSPACED_LANGS = frozenset({"cmn", "yue", "nan", "jpn", "tha", "lao", "mya", "khm", "bod"})

_APOSTROPHES = frozenset("'\u2019\u02bc\u2018")
_HYPHENS = frozenset("-\u2010\u2011")
_JOINERS = frozenset("\u200c\u200d")
_NUMBER_SEPARATORS = frozenset(".,:")


def _is_word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LMN"


def lower_for(text: str, iso3: str) -> str:
    """Lower-case ``text`` with the casing rules of language ``iso3``."""
    if iso3 in DOTLESS_I_LANGS:
        text = text.replace("I", "ı").replace("İ", "i")
    return text.lower()


def normalize_text(text: str, iso3: str) -> str:
    """Normalised transcript of ``text`` in language ``iso3``: NFC, lower case, no punctuation.

    Returns words separated by single spaces; an empty string when nothing speakable is left.
    """
    chars = unicodedata.normalize("NFC", lower_for(unicodedata.normalize("NFC", text), iso3))
    breaker = "" if iso3 in UNSPACED_LANGS else " "
    out: list[str] = []
    for i, char in enumerate(chars):
        between_words = 0 < i < len(chars) - 1 and _is_word_char(chars[i - 1]) and _is_word_char(chars[i + 1])
        if _is_word_char(char):
            out.append(char)
        elif char in _APOSTROPHES and between_words:
            out.append("'")
        elif char in _HYPHENS and between_words:
            out.append("-")
        elif char in _NUMBER_SEPARATORS and between_words and chars[i - 1].isdigit() and chars[i + 1].isdigit():
            out.append(char)
        elif char in _JOINERS and between_words:
            out.append(char)
        elif unicodedata.category(char) in ("Cf", "Cn", "Co", "Cs"):
            continue  # invisible: bidi marks, BOM, soft hyphen
        else:
            out.append(breaker if unicodedata.category(char)[0] != "Z" else " ")
    return " ".join("".join(out).split())
