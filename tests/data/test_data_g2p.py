"""espeak-ng's G2P for the phone error rate: known words' phones, what counts as a phone, the
voice table, and that the text's phones are the phonemes the synthesiser spoke."""
from __future__ import annotations

import re
import subprocess
import sys

import editdistance
import pytest

from lamer.data.espeak_ng import espeak_library
from lamer.data.g2p import VOICES, G2PError, espeak_voice, g2p_version, phonemize
from lamer.data.languages import CORPUS_TABLES
from lamer.data.synth.espeak import get_synthesizer
from lamer.data.synth.language_table import LANGUAGES
from lamer.data.text import normalize_text

SPEAKER = dict(rate=175, pitch=50, pitch_range=50, word_gap=0, seed=3)


@pytest.mark.parametrize("text, voice, phones", [
    ("the cat sat", "en-us", ["ð", "ə", "k", "æ", "t", "s", "æ", "t"]),
    ("schön", "de", ["ʃ", "øː", "n"]),  # the length mark stays with its vowel
    ("привет", "ru", ["p", "rʲ", "i", "vʲ", "e", "t"]),  # a palatalised consonant is one phone
    ("gato", "es-419", ["ɡ", "a", "t", "o"]),
    ("你好", "cmn", ["n", "i2", "χ", "ɑu2"]),  # tones stay with their phone
])
def test_phones_of_known_words(text, voice, phones):
    assert phonemize(text, voice) == phones


def test_stress_marks_are_removed():
    # espeak-ng writes h_ə_l_ˈoʊ and ˌa_n_i_m_ˈa_l_e_s
    assert phonemize("hello", "en-us") == ["h", "ə", "l", "oʊ"]
    assert phonemize("animales", "es-419") == ["a", "n", "i", "m", "a", "l", "e", "s"]


def test_a_tone_change_is_a_different_phone():
    good, number = phonemize("你好", "cmn"), phonemize("你号", "cmn")
    assert good[:3] == number[:3] and (good[3], number[3]) == ("ɑu2", "ɑu5")


def test_word_boundaries_are_no_phones():
    assert phonemize("hello world", "en-us") == phonemize("hello", "en-us") + phonemize("world", "en-us")


def test_a_word_read_in_another_language_is_one_phone_named_by_its_reading():
    # French reads "world" as English: espeak-ng writes (en)_w_ˈɜː_l_d_(fr)
    assert phonemize("hello world", "fr") == ["ɛ", "l", "o", "<w_ɜː_l_d>"]
    # Vietnamese spells "khạct" out in English letter names, 22 phones
    assert len(phonemize("khạct", "vi")) == 1 and phonemize("tôi khạct", "vi")[:3] == phonemize("tôi", "vi")
    # German names each Cyrillic letter ("kyrillisch" and the English letter name): one word, one phone
    assert len(phonemize("привет", "de")) == 1


def test_a_word_is_cut_where_its_script_changes():
    # German spells "gut" out letter by letter when Tamil letters follow it in one word
    assert phonemize("gutசொல்", "de") == phonemize("gut", "de") + phonemize("சொல்", "de")
    assert phonemize("gut", "de") == ["ɡ", "uː", "t"] and len(phonemize("சொல்", "de")) == 1


def test_in_a_script_without_spaces_only_the_words_read_in_another_language_are_one_phone():
    # Mandarin reads 兄 in English; the sentence around it keeps its phones
    phones = phonemize("我的兄弟很好", "cmn")
    assert phones[:4] == phonemize("我的", "cmn") and phones[-2:] == phonemize("好", "cmn")
    assert [p for p in phones if p.startswith("<")] == ["<k_ʃ_ə_ŋ_w_ɒ_n>"] and len(phones) == 12


def phone_edits(ref: str, hyp: str, voice: str) -> int:
    """Phone edits of a hypothesis against a reference, as lamer.eval.scoring counts them for the PER."""
    return editdistance.eval(phonemize(ref, voice), phonemize(hyp, voice))


# A hypothesis word espeak-ng reads in another language costs one phone (an insertion, or with
# the reference word's other phones deleted, a wholly wrong word), never its spelled-out letters.
@pytest.mark.parametrize("voice, ref, hyp, edits", [
    ("de", "ich habe gut gesagt", "ich habe gutசொல் gesagt", 1),  # Tamil letters in German: 32 edits before
    ("de", "ich habe es gut gesagt", "ich ச habe ஒ es gut gesagt", 2),  # each Tamil letter "tamil ...": 13
    ("vi", "tôi khác đi", "tôi khạct đi", 3),  # a Vietnamese non-word for "khác" [x aː5 k]: 22
    ("fr", "je suis ici", "je suis strength ici", 1),  # an English word in French: 6
    ("de", "das ist நான் gut", "das ist ஒரு நான் gut", 1),  # the same foreign word, in any context: 3
])
def test_a_word_read_in_another_language_costs_one_phone(voice, ref, hyp, edits):
    assert phone_edits(ref, hyp, voice) == edits
    assert phone_edits(ref, ref, voice) == 0 and phone_edits(hyp, hyp, voice) == 0


def test_a_substitution_still_counts_beside_a_word_read_in_another_language():
    assert phone_edits("ich habe gut gesagt", "ich habe mut gesagt", "de") == 1
    # with a Tamil letter in both, the German words are read together as before
    assert phone_edits("ich habe gut gesagt ச", "ich habe mut gesagt ச", "de") == 1
    assert phonemize("ich habe gut gesagt ச", "de")[:-1] == phonemize("ich habe gut gesagt", "de")


def test_text_without_phones_gives_none():
    assert phonemize("", "en-us") == [] and phonemize("?! ...", "fr") == []


def test_the_same_text_gives_the_same_phones_whatever_came_before():
    text = "Les amis de mes amis, disait-il."
    code = f"from lamer.data.g2p import phonemize; print(phonemize({text!r}, 'fr'))"
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                           check=True).stdout.strip()  # a process that converted nothing before
    phonemize("Ein ganz anderer Satz, mit Komma.", "de")
    get_synthesizer().synthesize("something else entirely", "en-us+m1", **SPEAKER)
    after = phonemize(text, "fr")
    assert str(after) == fresh and after == phonemize(text, "fr")
    assert after[:8] == ["l", "e-", "z", "a", "m", "i", "d", "ə-"]


def test_an_unknown_voice_is_an_error():
    with pytest.raises(ValueError, match="no voice 'xx-nowhere'"):
        phonemize("hello", "xx-nowhere")


def test_voices_come_from_the_synthetic_table_then_the_real_corpus_table():
    assert espeak_voice("eng") == "en-us" and espeak_voice("spa") == "es-419"  # the synthetic corpus's voices
    assert espeak_voice("cmn") == "cmn" and espeak_voice("vie") == "vi"
    with pytest.raises(G2PError, match="no espeak-ng voice for language 'xyz'"):
        espeak_voice("xyz")
    with pytest.raises(G2PError, match="'jpn'"):  # espeak-ng reads kanji as "Chinese letter"
        espeak_voice("jpn")


def test_every_voice_is_in_espeaks_voice_list_and_every_language_is_lamers():
    known = set(CORPUS_TABLES["commonvoice"].values()) | set(CORPUS_TABLES["fleurs"].values())
    synthetic = {lang.iso3 for lang in LANGUAGES.values()}
    assert set(VOICES) <= known and not set(VOICES) & synthetic  # one table per language
    voices = espeak_library().voices
    assert {"en-us", "cmn", "vi", "fr"} <= voices
    assert [v for v in list(VOICES.values()) + [lang.espeak_voice for lang in LANGUAGES.values()]
            if v not in voices] == []


def test_the_version_names_espeak_the_wheel_and_the_rules():
    assert re.fullmatch(r"espeak-ng \d+\.\d+\S* \(espeakng-loader \d+\.\d+\S*\); "
                        r"a word read in another language is one phone", g2p_version())


def _sounds(phonemes: list[str]) -> str:
    """A phoneme sequence as one string without stress, length, pauses or language switches: the
    synthesiser's events name a palatalised consonant as two phonemes (``v``, ``ʲ``) and leave
    out the length mark, which the G2P writes as one phone ``vʲ`` and with ``ː``."""
    return re.sub(r"\([^()]*\)|[ˈˌː]", "", "".join(phonemes))


@pytest.mark.parametrize("raw, iso3, voice", [
    ("The quick brown fox jumps over the lazy dog.", "eng", "en-us"),
    ("¿Dónde está la biblioteca?", "spa", "es-419"),
    ("Мы живём в большом городе.", "rus", "ru"),
])
def test_the_texts_phones_are_what_the_synthesiser_spoke(raw, iso3, voice):
    synth = get_synthesizer()
    synth.synthesize(raw, f"{voice}+m3", **SPEAKER)
    spoken = synth.spoken_phonemes
    assert len(spoken) > 15
    assert _sounds(spoken) == _sounds(phonemize(raw, voice))
    # the data dir holds the normalised text, which reads the same
    assert phonemize(normalize_text(raw, iso3), voice) == phonemize(raw, voice)


def test_a_comma_the_normalised_text_lost_changes_one_phone():
    synth = get_synthesizer()
    synth.synthesize("Animales, veces.", "es-419+f2", **SPEAKER)
    spoken, text = phonemize("Animales, veces.", "es-419"), phonemize("animales veces", "es-419")
    assert _sounds(synth.spoken_phonemes) == _sounds(spoken)
    # after the comma's pause "veces" starts with b; run on from "animales", with β
    assert [(a, b) for a, b in zip(spoken, text) if a != b] == [("b", "β")] and len(spoken) == len(text)
