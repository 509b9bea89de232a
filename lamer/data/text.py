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

A language can override parts of this with :class:`TextRules` (read from a recipe's
per-language ``lang.yaml`` by :mod:`lamer.data.lang_config`); the default rules are the
behaviour above.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Dotted/dotless i pairs: these languages' lower case of "I" is "ı".
DOTLESS_I_LANGS = frozenset({"tur", "aze", "crh", "gag", "tat", "kaa"})
# Languages written without spaces between words.
UNSPACED_LANGS = frozenset({"cmn", "yue", "nan", "jpn", "tha", "lao", "mya", "khm", "bod"})

_APOSTROPHES = frozenset("'\u2019\u02bc\u2018")
_HYPHENS = frozenset("-\u2010\u2011")
_JOINERS = frozenset("\u200c\u200d")
_NUMBER_SEPARATORS = frozenset(".,:")


UNICODE_FORMS = ("NFC", "NFKC")


@dataclass(frozen=True)
class TextRules:
    """Per-language overrides of :func:`normalize_text`, applied in this order:

    1. ``replace``: literal ``(old, new)`` pairs, applied one after the other to the
       NFC-composed raw text (so an ``old`` written composed or decomposed matches either).
    2. ``unicode_form``: ``NFC`` (default) or ``NFKC`` (also folds compatibility characters:
       full-width Latin and digits, half-width katakana, ligatures, superscripts).
    3. ``lowercase``: lower-case with the language's casing rules (default true).
    4. ``remove``: characters deleted without leaving a word break (Arabic tatweel, harakat).
    5. ``keep``: characters kept as part of a word although they are punctuation or symbols
       (the Catalan middle dot of ``col·lecció``).
    6. ``spaced``: whether punctuation becomes a word break (true) or vanishes (false);
       ``None`` (default) decides by language, see ``UNSPACED_LANGS``.

    ``remove`` and ``keep`` are compared after steps 1-3, so they must be written in the form
    those steps produce; a character in both, or one the Unicode form changes, is an error.
    """

    replace: tuple[tuple[str, str], ...] = ()
    unicode_form: str = "NFC"
    lowercase: bool = True
    remove: frozenset[str] = frozenset()
    keep: frozenset[str] = frozenset()
    spaced: bool | None = None

    def __post_init__(self) -> None:
        if self.unicode_form not in UNICODE_FORMS:
            raise ValueError(f"unicode_form: {self.unicode_form!r} is not one of {', '.join(UNICODE_FORMS)}")
        if any(not old for old, _ in self.replace):
            raise ValueError("replace: an empty string cannot be replaced")
        object.__setattr__(self, "replace",
                           tuple((unicodedata.normalize("NFC", old), new) for old, new in self.replace))
        for name in ("remove", "keep"):
            for char in sorted(getattr(self, name)):
                if len(char) != 1 or char.isspace():
                    raise ValueError(f"{name}: {char!r} is not a single non-space character")
                if unicodedata.normalize(self.unicode_form, char) != char:
                    raise ValueError(f"{name}: {char!r} (U+{ord(char):04X}) is changed by {self.unicode_form} and "
                                     "never reaches this step; "
                                     f"write {unicodedata.normalize(self.unicode_form, char)!r}")
        both = self.remove & self.keep
        if both:
            raise ValueError(f"remove and keep both name {''.join(sorted(both))!r}")

    def changes(self) -> dict[str, object]:
        """The settings that differ from the defaults, JSON-ready (for ``report.json``)."""
        out: dict[str, object] = {}
        if self.replace:
            out["replace"] = dict(self.replace)
        if self.unicode_form != "NFC":
            out["unicode_form"] = self.unicode_form
        if not self.lowercase:
            out["lowercase"] = False
        if self.remove:
            out["remove"] = "".join(sorted(self.remove))
        if self.keep:
            out["keep"] = "".join(sorted(self.keep))
        if self.spaced is not None:
            out["spaced"] = self.spaced
        return out


DEFAULT_RULES = TextRules()


def _is_word_char(char: str, keep: frozenset[str] = frozenset()) -> bool:
    return unicodedata.category(char)[0] in "LMN" or char in keep


def lower_for(text: str, iso3: str) -> str:
    """Lower-case ``text`` with the casing rules of language ``iso3``."""
    if iso3 in DOTLESS_I_LANGS:
        text = text.replace("I", "ı").replace("İ", "i")
    return text.lower()


def normalize_text(text: str, iso3: str, rules: TextRules = DEFAULT_RULES) -> str:
    """Normalised transcript of ``text`` in language ``iso3``: NFC, lower case, no punctuation.

    ``rules`` overrides parts of that for one language (see :class:`TextRules`). Returns words
    separated by single spaces; an empty string when nothing speakable is left.
    """
    chars = unicodedata.normalize("NFC", text)
    for old, new in rules.replace:
        chars = chars.replace(old, new)
    chars = unicodedata.normalize(rules.unicode_form, chars)
    if rules.lowercase:
        chars = unicodedata.normalize(rules.unicode_form, lower_for(chars, iso3))
    if rules.remove:
        chars = "".join(char for char in chars if char not in rules.remove)
    spaced = iso3 not in UNSPACED_LANGS if rules.spaced is None else rules.spaced
    breaker = " " if spaced else ""
    keep = rules.keep
    out: list[str] = []
    for i, char in enumerate(chars):
        between_words = (0 < i < len(chars) - 1 and _is_word_char(chars[i - 1], keep)
                         and _is_word_char(chars[i + 1], keep))
        if _is_word_char(char, keep):
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


def control_characters(text: str) -> list[str]:
    """The control characters of ``text`` (Unicode category Cc: NUL, ESC, DEL, C1 codes, ...) that
    are not whitespace, each once, in code point order. Whitespace controls (tab, carriage return,
    form feed, ...) are blanks and become one space; these others mean a damaged line (a file
    padded with NULs after a crash, a pasted terminal escape), whose words cannot be trusted."""
    return sorted({char for char in text if unicodedata.category(char) == "Cc" and not char.isspace()})
