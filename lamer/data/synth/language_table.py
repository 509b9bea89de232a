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
| fi  | fi           | fi       | fi        | fi_fi         | fin       | Latin  |
| hu  | hu           | hu       | hu        | hu_hu         | hun       | Latin  |
| vi  | vi           | vi       | vi        | vi_vn         | vie       | Latin  |
| zh  | cmn          | zh       | zh-CN     | cmn_hans_cn   | cmn       | Han    |
| ko  | ko           | ko       | ko        | ko_kr         | kor       | Hangul |
| hi  | hi           | hi       | hi        | hi_in         | hin       | Devanagari |
| ta  | ta           | ta       | ta        | ta_in         | tam       | Tamil  |
| ar  | ar           | ar       | ar        | ar_eg         | ara       | Arabic |
| fa  | fa           | fa       | fa        | fa_ir         | fas       | Arabic |

German comes from wordfreq case-folded, so ``ß`` is spelled ``ss`` (the Swiss spelling). The
languages after Greek are far from the base languages of the demo (English, French, German) in
sound: tones (Vietnamese, Mandarin), vowel length and harmony (Finnish, Hungarian), retroflex and
aspirated stops (Hindi, Tamil), pharyngeals and emphatics (Arabic), uvulars (Persian); which the
demo extends its base model with was chosen by measurement (egs2/mini_lamer/ssl1/RESULTS.md).
Their letters: Finnish without the loan letters ``b c f q w x z`` (and Swedish ``å``), Hungarian
without ``q w x``, Vietnamese without ``f j w z`` and with its tone-marked vowels; Mandarin the
CJK unified ideographs (a word is one to four characters, written with a space between words as
the sentences are word salad), Korean the precomposed Hangul syllables, Hindi and Tamil the
letters and vowel signs of their Unicode blocks (no digits), Arabic its 36 letters of the basic
block without tatweel and harakat (wordfreq's lists carry none), Persian its 32 letters with the
hamza forms, written with Persian ``ک``/``ی`` rather than Arabic ``ك``/``ي``.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

_LATIN = "abcdefghijklmnopqrstuvwxyz"
# Vietnamese: the 12 vowel letters, each alone or with one of the 5 tone marks (grave, acute,
# hook above, tilde, dot below), composed as NFC writes them.
_VIETNAMESE_VOWELS = "aăâeêioôơuưy"
_VIETNAMESE_TONES = "\u0300\u0301\u0309\u0303\u0323"


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


def _vietnamese() -> frozenset[str]:
    toned = {unicodedata.normalize("NFC", vowel + tone) for vowel in _VIETNAMESE_VOWELS for tone in _VIETNAMESE_TONES}
    return _latin(drop="fjwz", add="đ" + _VIETNAMESE_VOWELS) | toned


def _block(first: int, last: int) -> frozenset[str]:
    """The letters and combining marks (vowel signs, virama) of a Unicode block; no digits or
    punctuation (Devanagari's danda)."""
    return frozenset(c for c in map(chr, range(first, last + 1)) if unicodedata.category(c)[0] in "LM")


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
        SynthLanguage("fi", "fi", "fi", "fi", "fi_fi", "fin", "Latin", _latin(drop="bcfqwxz", add="äö")),
        SynthLanguage("hu", "hu", "hu", "hu", "hu_hu", "hun", "Latin", _latin(drop="qwx", add="áéíóöőúüű")),
        SynthLanguage("vi", "vi", "vi", "vi", "vi_vn", "vie", "Latin", _vietnamese()),
        SynthLanguage("zh", "cmn", "zh", "zh-CN", "cmn_hans_cn", "cmn", "Han", _block(0x4E00, 0x9FFF)),
        SynthLanguage("ko", "ko", "ko", "ko", "ko_kr", "kor", "Hangul", _block(0xAC00, 0xD7A3)),
        SynthLanguage("hi", "hi", "hi", "hi", "hi_in", "hin", "Devanagari", _block(0x0900, 0x097F)),
        SynthLanguage("ta", "ta", "ta", "ta", "ta_in", "tam", "Tamil", _block(0x0B80, 0x0BFF)),
        SynthLanguage("ar", "ar", "ar", "ar", "ar_eg", "ara", "Arabic",
                      frozenset("ءآأؤإئابةتثجحخدذرزسشصضطظعغفقكلمنهوىي")),
        SynthLanguage("fa", "fa", "fa", "fa", "fa_ir", "fas", "Arabic",
                      frozenset("ءآأؤئابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهی")),
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
