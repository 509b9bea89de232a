"""The languages the synthetic corpus can speak, and how each corpus and tool names them.

One row per language: the espeak-ng voice, the wordfreq list, the Common Voice locale folder,
the FLEURS config folder, the ISO 639-3 code used downstream, and the letters a word of the
language may be written with. Those letters are the *native* alphabet: Spanish and Italian
without ``k``/``w`` (and Italian without ``j``/``x``/``y``), Portuguese without ``k``/``w``/``y``,
Polish without ``q``/``v``/``x``, Turkish without ``q``/``w``/``x``; a word using another letter is
almost always a loanword or a name, so the word lists drop it.

| key | espeak voice | wordfreq | CV locale | FLEURS config | ISO 639-3 | script |
|-----|--------------|----------|-----------|---------------|-----------|--------|
| en  | en-us        | en       | en        | en_us         | eng       | Latin  |
| fr  | fr           | fr       | fr        | fr_fr         | fra       | Latin  |
| de  | de           | de       | de        | de_de         | deu       | Latin  |
| es  | es-419       | es       | es        | es_419        | spa       | Latin  |
| it  | it           | it       | it        | it_it         | ita       | Latin  |
| nl  | nl           | nl       | nl        | nl_nl         | nld       | Latin  |
| pt  | pt-br        | pt       | pt        | pt_br         | por       | Latin  |
| pl  | pl           | pl       | pl        | pl_pl         | pol       | Latin  |
| sv  | sv           | sv       | sv-SE     | sv_se         | swe       | Latin  |
| tr  | tr           | tr       | tr        | tr_tr         | tur       | Latin  |
| ru  | ru           | ru       | ru        | ru_ru         | rus       | Cyrillic |
| el  | el           | el       | el        | el_gr         | ell       | Greek  |

German comes from wordfreq case-folded, so ``ß`` is spelled ``ss`` (the Swiss spelling).
"""
from __future__ import annotations

from dataclasses import dataclass

_LATIN = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class SynthLanguage:
    """How one language of the synthetic corpus is named by each tool and corpus."""

    key: str
    espeak_voice: str
    wordfreq_code: str
    cv_locale: str
    fleurs_config: str
    iso3: str
    script: str
    letters: frozenset[str]
    """Lower-case letters a word of this language may contain."""

    @property
    def own_letters(self) -> frozenset[str]:
        """Letters outside the plain English a-z (diacritics, other scripts)."""
        return self.letters - frozenset(_LATIN)

    def capitalize(self, text: str) -> str:
        """Upper-case the first character, with Turkish dotted/dotless i rules where they apply."""
        if not text:
            return text
        first = text[0]
        if self.iso3 == "tur" and first in "iı":
            first = "İ" if first == "i" else "I"
        else:
            first = first.upper()
        return first + text[1:]


def _latin(drop: str = "", add: str = "") -> frozenset[str]:
    return frozenset(c for c in _LATIN if c not in drop) | frozenset(add)


LANGUAGES: dict[str, SynthLanguage] = {
    lang.key: lang
    for lang in (
        SynthLanguage("en", "en-us", "en", "en", "en_us", "eng", "Latin", _latin()),
        SynthLanguage("fr", "fr", "fr", "fr", "fr_fr", "fra", "Latin", _latin(add="àâæçéèêëîïôœùûüÿ")),
        SynthLanguage("de", "de", "de", "de", "de_de", "deu", "Latin", _latin(add="äöü")),
        SynthLanguage("es", "es-419", "es", "es", "es_419", "spa", "Latin", _latin(drop="kw", add="áéíñóúü")),
        SynthLanguage("it", "it", "it", "it", "it_it", "ita", "Latin", _latin(drop="jkwxy", add="àèéìíîòóùú")),
        SynthLanguage("nl", "nl", "nl", "nl", "nl_nl", "nld", "Latin", _latin(add="áéíóúàèëïöü")),
        SynthLanguage("pt", "pt-br", "pt", "pt", "pt_br", "por", "Latin", _latin(drop="kwy", add="áâãàçéêíóôõú")),
        SynthLanguage("pl", "pl", "pl", "pl", "pl_pl", "pol", "Latin", _latin(drop="qvx", add="ąćęłńóśźż")),
        SynthLanguage("sv", "sv", "sv", "sv-SE", "sv_se", "swe", "Latin", _latin(add="åäöé")),
        SynthLanguage("tr", "tr", "tr", "tr", "tr_tr", "tur", "Latin", _latin(drop="qwx", add="çğıöşüâîû")),
        SynthLanguage("ru", "ru", "ru", "ru", "ru_ru", "rus", "Cyrillic",
                      frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюя")),
        SynthLanguage("el", "el", "el", "el", "el_gr", "ell", "Greek",
                      frozenset("αβγδεζηθικλμνξοπρσςτυφχψωάέήίόύώϊϋΐΰ")),
    )
}


def resolve_languages(keys: list[str]) -> list[SynthLanguage]:
    """Look up language keys (``en``, ``fr``, ...); raise ``ValueError`` naming an unknown one."""
    unknown = [key for key in keys if key not in LANGUAGES]
    if unknown:
        raise ValueError(
            f"unknown synthetic-corpus language(s) {', '.join(unknown)}; "
            f"available: {', '.join(LANGUAGES)}"
        )
    if len(set(keys)) != len(keys):
        raise ValueError(f"language list {','.join(keys)} names a language twice")
    return [LANGUAGES[key] for key in keys]
