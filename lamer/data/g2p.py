"""Phones of a text by espeak-ng's grapheme-to-phoneme rules, for the phone error rate (PER).

CER follows spelling: two languages written alike read alike to it, and a script change
(Mandarin, Hindi, Arabic) changes what an edit means. PER compares what is said: reference and
hypothesis are both turned into phones by espeak-ng (``espeak_TextToPhonemes``, IPA) with the
voice of the reference language (:func:`espeak_voice`) and compared phone by phone.

What a phone is (:func:`phonemize`):

- one phoneme of espeak-ng's phoneme table for the voice, as espeak-ng writes it in IPA: an
  affricate (``tʃ``), a diphthong (``aɪ``) or a palatalised consonant (``rʲ``) is one phone;
- a length mark and a tone (espeak-ng's tone numbers) stay with their phone (``øː`` is not
  ``ø``; Mandarin ``ɑu2`` is not ``ɑu5``), so a wrong length or tone is a substitution;
- stress marks (``ˈ ˌ``, written before a stressed vowel) are removed: stress is no phone, and
  its position follows the syllable count rather than what was heard;
- word and clause boundaries are not phones (a missing space costs no phone edit; CER counts it);
- a word espeak-ng reads in another language than the voice's is one phone (below);
- the few phonemes without an IPA spelling in espeak-ng's tables keep espeak-ng's own name
  (French reducible vowels ``ə-``, ``e-``; Russian ``u"``, ``ɪ^``; Mandarin ``i.``), which is
  still one phone, and the same one in reference and hypothesis.

Words read in another language. A word espeak-ng cannot read with the voice it reads in another
language, writing the switch of phoneme table (``(en)``, then ``(vi)`` back), and a non-word or a
letter of another script often comes out spelled in English: Vietnamese "khạct" as 22 phones,
each Tamil letter in German as "tamil" and the letter, with the German letters beside it spelled
too. espeak-ng has no option against it (none in its API, command line or voice files; the
switches come from its rules, dictionaries and scripts). Kept, such phones made one unreadable
hypothesis word cost dozens of edits (a 700% utterance PER in the demo). So when espeak-ng
switches in a text, the text is cut into pieces, its words cut again where the script changes
("gutசொல்": "gut", "சொல்"), each piece is read alone, and a piece read (in part) in another
language is ONE phone named by its reading (``<k_eɪ_eɪ_tʃ_…>``), which only the same reading
matches; the other pieces are read together as before. Why one phone: an unreadable hypothesis
word then costs at most what a wholly wrong word costs (the reference word's phones, or one
insertion) and still costs that, and a correct one costs nothing; a reference word espeak-ng
reads in another language (French "rythme", German "homepage": at most 0.3% of a synthetic
language's 2000 most frequent words) weighs one phone. In a script written without spaces
(Chinese, Thai) a piece may be a sentence: there each run of words read in another language is
one phone. espeak-ng switches back before a clause ends (measured: 88 voices, 6893 clauses with
switches, one closing table per voice), so a clause's last switch names the voice's own table.
Not caught, as espeak-ng writes no switch: a non-word or another script's letter that it names
with the voice's own words (German "skchs" as five German letter names; Latin letters in Tamil,
Arabic letters in English, Chinese in German; Hindi's names of stray signs).

The conversion is deterministic: the same phones for the same (voice, text), whatever was
converted or synthesised before in the process (measured: 1800 sentences in 12 languages, in
both orders, with synthesis in between), and it is cached per (voice, text).

A PER is as good as espeak-ng's rules for the language. The voice of a language comes from one
place: the synthetic corpus's table (:data:`lamer.data.synth.language_table.LANGUAGES`) for its
languages, and :data:`VOICES` for the other languages of lamer's corpus tables
(:mod:`lamer.data.languages`) that espeak-ng speaks; Japanese is left out (espeak-ng reads kana
only: kanji come out as the English words "Chinese letter").

The synthetic corpus: its audio was spoken by espeak-ng from the raw sentence (capitalised,
punctuated), and its data dirs hold the normalised text (lower case, no punctuation; for all 6000
sentences measured, 500 per language, the data prep's normalisation of the raw sentence is the
corpus's transcription). The phonemes espeak-ng synthesises are those ``espeak_TextToPhonemes``
gives for the same text and voice (but for a word read in another language, one phone here): one
translator does both (checked against the synthesiser's phoneme events,
:attr:`lamer.data.synth.espeak.EspeakSynthesizer.spoken_phonemes`: the same phoneme sequence for
1800 sentences of the 12 languages, speaker variants included, compared in
espeak-ng's phoneme names; in IPA only the spelling of Portuguese nasal diphthongs, cut at the
events' 8 bytes, and of Turkish ``ɯɯ`` differs). The normalised text gives the same phones as
the raw sentence for 98.98% of the 6000 sentences; 59 of the other 61 differ by one phone and 2
by two (0.027% of the 233684 phones), where punctuation changes espeak-ng's reading: a comma ends
a clause, which stops sandhi across it (Spanish ``b`` for ``β`` after it, Polish and Greek
voicing assimilation, a French liaison), and a capitalised word may be read as an abbreviation
(Spanish ``Sr`` as "señor", ``sr`` as two letter names). The reference is the G2P of the data
dir's text, for the synthetic corpus as for real ones: a hypothesis is text without the raw
sentence's punctuation and can only be converted that way, so a correct transcript scores 0,
where a reference of the spoken phonemes would charge it about 0.03% for the lost commas; no
sidecar of spoken phonemes is written.
"""
from __future__ import annotations

import ctypes
import functools
import re
import unicodedata
from collections.abc import Sequence

from lamer.data.espeak_ng import espeak_library
from lamer.data.synth.language_table import LANGUAGES

# Languages of lamer's corpus tables that the synthetic corpus does not speak, with the
# espeak-ng voice that reads them (ISO 639-3 -> voice, as espeak-ng's voice list names it).
VOICES: dict[str, str] = {
    "afr": "af", "amh": "am", "arg": "an", "asm": "as", "aze": "az", "bak": "ba", "bel": "be",
    "ben": "bn", "bos": "bs", "bul": "bg", "cat": "ca", "ces": "cs", "chv": "cv", "cym": "cy",
    "dan": "da", "epo": "eo", "est": "et", "eus": "eu", "gle": "ga", "grn": "gn", "guj": "gu",
    "hat": "ht", "heb": "he", "hrv": "hr", "hye": "hy", "ina": "ia", "ind": "id", "isl": "is",
    "kan": "kn", "kat": "ka", "kaz": "kk", "kir": "ky", "kmr": "ku", "lav": "lv", "lit": "lt",
    "ltg": "ltg", "ltz": "lb", "mal": "ml", "mar": "mr", "mkd": "mk", "mlt": "mt", "mri": "mi",
    "msa": "ms", "mya": "my", "nep": "ne", "nob": "nb", "ori": "or", "orm": "om", "pan": "pa",
    "quy": "qu", "ron": "ro", "slk": "sk", "slv": "sl", "snd": "sd", "sqi": "sq", "srp": "sr",
    "swa": "sw", "tat": "tt", "tel": "te", "tha": "th", "tir": "ti", "tuk": "tk", "uig": "ug",
    "ukr": "uk", "urd": "ur", "uzb": "uz", "yue": "yue",
}

# espeak_TextToPhonemes: text is UTF-8; phonemes in IPA (bit 1), separated by '_' (bits 8-15).
_TEXT_UTF8 = 1
_SEPARATOR = "_"
_PHONEMES_IPA = 0x02 | (ord(_SEPARATOR) << 8)
_LANGUAGE_SWITCH = re.compile(r"\(([^()]*)\)")  # espeak-ng's "(en)": a change of phoneme table
_NO_STRESS = str.maketrans("", "", "ˈˌ")
_CACHE_SIZE = 1 << 16
# Scripts written without spaces between words (first words of their letters' Unicode names).
_WITHOUT_SPACES = frozenset({"CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN"})
# An output word of espeak-ng: its phones, and whether any of them was read in another language.
Word = tuple[tuple[str, ...], bool]
# Recorded with every PER (g2p_version): phones of other rules do not compare.
RULES = "a word read in another language is one phone"


class G2PError(ValueError):
    """A language without an espeak-ng voice; the message names it."""


def espeak_voice(iso3: str) -> str:
    """The espeak-ng voice that reads language ``iso3``; :class:`G2PError` naming an unknown one."""
    for lang in LANGUAGES.values():
        if lang.iso3 == iso3:
            return lang.espeak_voice
    if iso3 in VOICES:
        return VOICES[iso3]
    raise G2PError(f"no espeak-ng voice for language {iso3!r}: lamer.data.g2p.VOICES names the languages "
                   "it reads (add the voice there if espeak-ng speaks the language)")


def g2p_version() -> str:
    """The G2P, its version and lamer's rules, to record beside phone error rates:
    ``espeak-ng <version> (espeakng-loader <version>); <RULES>``."""
    return f"{espeak_library().version}; {RULES}"


def phonemize(text: str, voice: str) -> list[str]:
    """The phones of ``text`` read with espeak-ng ``voice`` (see the module docstring for what a
    phone is, and for a word read in another language); ``[]`` for a text without any (empty,
    punctuation only). ``ValueError`` for a voice espeak-ng does not have."""
    return list(_phonemize(voice, text))


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _phonemize(voice: str, text: str) -> tuple[str, ...]:
    words = _read(voice, text)
    if not any(foreign for _, foreign in words):
        return tuple(phone for phones, _ in words for phone in phones)
    phones: list[str] = []
    native: list[str] = []  # pieces read in the voice's language, read together (sandhi between them kept)
    for piece, script in _pieces(text):
        alone = _read(voice, piece)
        if any(foreign for _, foreign in alone):
            phones += _one_phone_per_foreign_run(_read(voice, " ".join(native)))
            native = []
            if script in _WITHOUT_SPACES:  # the piece may be a whole sentence: only its foreign runs go
                phones += _one_phone_per_foreign_run(alone)
            else:
                phones.append(_foreign_phone([phone for word, _ in alone for phone in word]))
        else:
            native.append(piece)
    return tuple(phones + _one_phone_per_foreign_run(_read(voice, " ".join(native))))


def _foreign_phone(phones: Sequence[str]) -> str:
    """Phones read in another language as one phone, named by them: only the same reading matches it."""
    return f"<{_SEPARATOR.join(phones)}>"


def _one_phone_per_foreign_run(words: Sequence[Word]) -> list[str]:
    """The phones of output words, each run of words read in another language one phone."""
    phones: list[str] = []
    run: list[str] = []
    for word_phones, foreign in (*words, ((), False)):
        if foreign:
            run += word_phones
            continue
        if run:
            phones.append(_foreign_phone(run))
            run = []
        phones += word_phones
    return phones


def _pieces(text: str) -> list[tuple[str, str | None]]:
    """The words of ``text``, each cut where its script changes, with their script: the first
    word of a letter's Unicode name (``LATIN``, ``TAMIL``, ``CJK``); marks, digits and signs go
    with the letters before them, and a piece without letters has no script."""
    pieces: list[tuple[str, str | None]] = []
    for word in text.split():
        start, script = 0, None
        for i, char in enumerate(word):
            category = unicodedata.category(char)
            if not category.startswith("L") or category == "Lm":
                continue
            char_script = unicodedata.name(char, "").split(" ")[0]
            if script is not None and char_script != script:
                pieces.append((word[start:i], script))
                start = i
            script = char_script
        pieces.append((word[start:], script))
    return pieces


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _read(voice: str, text: str) -> tuple[Word, ...]:
    """espeak-ng's reading of ``text`` with ``voice``, word by word."""
    espeak = espeak_library()
    espeak.set_voice(voice)
    buffer = ctypes.create_string_buffer(text.encode("utf-8"))
    position = ctypes.c_void_p(ctypes.addressof(buffer))
    words: list[Word] = []
    # One clause per call; espeak-ng moves the pointer on, and sets it to NULL after the last.
    while position.value and ctypes.string_at(position.value, 1) != b"\0":
        clause = espeak.lib.espeak_TextToPhonemes(ctypes.byref(position), _TEXT_UTF8, _PHONEMES_IPA)
        if clause is None:
            break
        words += _clause_words(clause.decode("utf-8"))
    return tuple(words)


def _clause_words(clause: str) -> list[Word]:
    """The words of one clause as espeak-ng writes it (words between spaces, phones between
    separators, a change of phoneme table as ``(name)``), stress marks removed."""
    tables = _LANGUAGE_SWITCH.findall(clause)
    own = tables[-1] if tables else None  # espeak-ng switches back before the clause ends
    table = own
    words: list[Word] = []
    for word in clause.translate(_NO_STRESS).split():
        phones: list[str] = []
        foreign = False
        for i, part in enumerate(_LANGUAGE_SWITCH.split(word)):  # text, table name, text, ...
            if i % 2:
                table = part
                continue
            read = [phone for phone in part.split(_SEPARATOR) if phone]
            foreign = foreign or (bool(read) and table != own)
            phones += read
        if phones:
            words.append((tuple(phones), foreign))
    return words
