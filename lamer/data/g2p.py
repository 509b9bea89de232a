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
- espeak-ng's language switches (``(en)`` before a word it reads as English) are removed, and
  the phones of the switched word kept;
- the few phonemes without an IPA spelling in espeak-ng's tables keep espeak-ng's own name
  (French reducible vowels ``ə-``, ``e-``; Russian ``u"``, ``ɪ^``; Mandarin ``i.``), which is
  still one phone, and the same one in reference and hypothesis.

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
gives for the same text and voice: one translator does both (checked against the synthesiser's
phoneme events, :attr:`lamer.data.synth.espeak.EspeakSynthesizer.spoken_phonemes`: the same
phoneme sequence for 1800 sentences of the 12 languages, speaker variants included, compared in
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
_LANGUAGE_SWITCH = re.compile(r"\([^()]*\)")
_NO_STRESS = str.maketrans("", "", "ˈˌ")
_CACHE_SIZE = 1 << 16


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
    """The G2P and its version, to record beside phone error rates:
    ``espeak-ng <version> (espeakng-loader <version>)``."""
    return espeak_library().version


def phonemize(text: str, voice: str) -> list[str]:
    """The phones of ``text`` read with espeak-ng ``voice`` (see the module docstring for what a
    phone is); ``[]`` for a text without any (empty, punctuation only). ``ValueError`` for a
    voice espeak-ng does not have."""
    return list(_phonemize(voice, text))


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _phonemize(voice: str, text: str) -> tuple[str, ...]:
    espeak = espeak_library()
    espeak.set_voice(voice)
    buffer = ctypes.create_string_buffer(text.encode("utf-8"))
    position = ctypes.c_void_p(ctypes.addressof(buffer))
    phones: list[str] = []
    # One clause per call; espeak-ng moves the pointer on, and sets it to NULL after the last.
    while position.value and ctypes.string_at(position.value, 1) != b"\0":
        clause = espeak.lib.espeak_TextToPhonemes(ctypes.byref(position), _TEXT_UTF8, _PHONEMES_IPA)
        if clause is None:
            break
        words = _LANGUAGE_SWITCH.sub("", clause.decode("utf-8")).translate(_NO_STRESS).split()
        phones += [phone for word in words for phone in word.split(_SEPARATOR) if phone]
    return tuple(phones)
