"""Word lists, sentences, languages and the speaker pool of the synthetic corpus."""
from __future__ import annotations

import re
import unicodedata

import numpy as np
import pytest
import wordfreq

from lamer.data.languages import to_iso3
from lamer.data.synth.corpus_plan import SynthConfig, plan_language, split_sizes
from lamer.data.synth.language_table import LANGUAGES, resolve_languages
from lamer.data.synth.sentences import draw_sentence
from lamer.data.synth.speakers import build_speaker_pool
from lamer.data.synth.vocabulary import ENGLISH_LIST_SIZE, word_list
from lamer.data.text import normalize_text


def test_language_table_agrees_with_corpus_readers():
    assert len(LANGUAGES) >= 8
    for lang in LANGUAGES.values():
        assert to_iso3(lang.cv_locale, "commonvoice") == lang.iso3, lang.key
        assert to_iso3(lang.fleurs_config, "fleurs") == lang.iso3, lang.key


def test_unknown_or_repeated_language_is_refused():
    with pytest.raises(ValueError, match="unknown synthetic-corpus language.*xx.*available: en"):
        resolve_languages(["en", "xx"])
    with pytest.raises(ValueError, match="twice"):
        resolve_languages(["fr", "fr"])


@pytest.mark.parametrize("key", sorted(LANGUAGES))
def test_word_lists_use_native_letters_only(key):
    lang = LANGUAGES[key]
    words = word_list(key, 300)
    assert len(words) == len(set(words)) == 300
    for word in words:
        assert len(word) >= 2 and set(word) <= lang.letters, word
        assert not any(char.isdigit() for char in word)


def test_english_loanwords_dropped_unless_spelled_natively():
    english = set(wordfreq.top_n_list("en", ENGLISH_LIST_SIZE))
    for key in ("fr", "de", "es", "it", "nl", "pt", "pl", "sv", "tr"):
        lang = LANGUAGES[key]
        shared = [w for w in word_list(key, 1000) if w in english]
        assert all(set(w) & lang.own_letters for w in shared), (key, shared)
    # Native-alphabet filter: no k/w in Spanish, no q/v/x in Polish, no q/w/x in Turkish.
    assert not any(set(w) & set("kw") for w in word_list("es", 1000))
    assert not any(set(w) & set("qvx") for w in word_list("pl", 1000))
    assert not any(set(w) & set("qwx") for w in word_list("tr", 1000))


def test_greek_words_end_in_final_sigma():
    words = word_list("el", 1000)
    assert not any(w.endswith("σ") for w in words)
    assert "της" in words


def test_word_list_too_long_is_an_error():
    with pytest.raises(ValueError, match="usable el words"):
        word_list("el", 10**6)


def test_turkish_capitalisation_keeps_dotted_i():
    assert LANGUAGES["tr"].capitalize("istanbul ılık") == "İstanbul ılık"
    assert LANGUAGES["tr"].capitalize("ılık") == "Ilık"
    assert LANGUAGES["en"].capitalize("it is") == "It is"


def _letters(text: str) -> set[str]:
    return {char for char in text if unicodedata.category(char).startswith("L")}


@pytest.mark.parametrize("key", ["en", "es", "tr", "ru", "el"])
def test_sentences_are_3_to_12_words_in_the_languages_letters(key):
    lang = LANGUAGES[key]
    words = word_list(key, 500)
    rng = np.random.default_rng(0)
    for _ in range(200):
        sentence = draw_sentence(rng, words, lang, 3, 12)
        tokens = sentence.transcription.split(" ")
        assert 3 <= len(tokens) <= 12 and set(tokens) <= set(words)
        turkish_cased = sentence.raw.replace("İ", "i").replace("I", "ı") if key == "tr" else sentence.raw
        lowered = turkish_cased.lower()
        assert _letters(lowered) <= lang.letters
        stripped = re.sub(r"[^\w\s]", "", lowered)
        assert stripped.split() == tokens, sentence


def test_spanish_and_greek_punctuation():
    rng = np.random.default_rng(1)
    raws = {key: [draw_sentence(rng, word_list(key, 200), LANGUAGES[key], 3, 5).raw for _ in range(300)]
            for key in ("es", "el")}
    questions = [raw for raw in raws["es"] if raw.endswith("?")]
    assert questions and all(raw.startswith("¿") for raw in questions)
    assert any(raw.endswith(";") for raw in raws["el"]) and not any("?" in raw for raw in raws["el"])


@pytest.mark.parametrize("key", sorted(LANGUAGES))
def test_data_prep_normalises_every_sentence_to_its_transcription(key):
    """What the corpus says it spoke is what prepare_data makes of the sentence read aloud: the
    normaliser keeps every language's script, vowel signs and tone marks included."""
    lang = LANGUAGES[key]
    words = word_list(key, 500)
    rng = np.random.default_rng(2)
    for _ in range(200):
        sentence = draw_sentence(rng, words, lang, 3, 12)
        assert normalize_text(sentence.raw, lang.iso3) == sentence.transcription, sentence


def test_far_languages_scripts_and_native_letters():
    """The letters of the languages far from en/fr/de: their own script only, no digits or
    punctuation of it, and the native spelling of each."""
    vietnamese = LANGUAGES["vi"].letters
    assert {"ệ", "ữ", "ỵ", "đ", "ơ", "ẳ"} <= vietnamese and not vietnamese & set("fjwz")
    assert len(vietnamese) == 22 + 1 + 6 + 12 * 5  # native a-z, đ, ă â ê ô ơ ư, 12 vowels x 5 tones
    assert not LANGUAGES["fi"].letters & set("bcfqwxzå") and {"ä", "ö"} <= LANGUAGES["fi"].letters
    assert {"ő", "ű"} <= LANGUAGES["hu"].letters
    hindi = LANGUAGES["hi"].letters
    assert {"क", "ा", "्", "ं"} <= hindi and not hindi & set("०१२।॥")
    assert {"க", "்", "ை"} <= LANGUAGES["ta"].letters and not LANGUAGES["ta"].letters & set("௧௨")
    assert {"ک", "ی", "پ", "گ"} <= LANGUAGES["fa"].letters and not LANGUAGES["fa"].letters & set("كي\u0640")
    assert {"ك", "ي", "ة"} <= LANGUAGES["ar"].letters and not LANGUAGES["ar"].letters & set("\u0640\u064e")
    assert "中" in LANGUAGES["zh"].letters and "한" in LANGUAGES["ko"].letters
    scripts = {"vi": "LATIN", "zh": "CJK", "ko": "HANGUL", "hi": "DEVANAGARI", "ta": "TAMIL", "ar": "ARABIC",
               "fa": "ARABIC"}
    for key, script in scripts.items():
        for word in word_list(key, 1000):
            assert all(unicodedata.name(char).startswith(script) for char in word), (key, word)


def test_far_languages_punctuation():
    rng = np.random.default_rng(1)
    raws = {key: [draw_sentence(rng, word_list(key, 200), LANGUAGES[key], 6, 8).raw for _ in range(300)]
            for key in ("ar", "fa", "hi", "zh")}
    for key in ("ar", "fa"):
        assert any(raw.endswith("؟") for raw in raws[key]) and any("،" in raw for raw in raws[key])
        assert not any("?" in raw or "," in raw for raw in raws[key])
    assert any(raw.endswith("।") for raw in raws["hi"]) and not any(raw.endswith(".") for raw in raws["hi"])
    assert all(raw[-1] in "。？！" for raw in raws["zh"]) and any("，" in raw for raw in raws["zh"])


def test_speaker_pool_is_deterministic_balanced_and_split():
    pool = build_speaker_pool(7, 24, 4, 4)
    assert pool == build_speaker_pool(7, 24, 4, 4)
    assert pool != build_speaker_pool(8, 24, 4, 4)
    assert [s.split for s in pool].count("train") == 16
    for split in ("train", "dev", "test"):
        genders = {s.gender for s in pool if s.split == split}
        assert genders == {"male_masculine", "female_feminine"}
    assert len({s.client_id for s in pool}) == 24
    assert all(re.fullmatch(r"[0-9a-f]{128}", s.client_id) for s in pool)
    assert len({(s.variant, s.pitch, s.rate) for s in pool}) == 24
    with pytest.raises(ValueError, match="cannot give 4 dev and 4 test"):
        build_speaker_pool(0, 8, 4, 4)


def test_plan_splits_speakers_and_unique_sentences():
    config = SynthConfig(utts_per_lang=60, seed=3)
    pool = build_speaker_pool(3, 24, 4, 4)
    plans = {key: plan_language(LANGUAGES[key], config, pool) for key in ("fr", "ru")}
    assert split_sizes(config) == {"train": 48, "dev": 6, "test": 6}
    for plan in plans.values():
        assert len({u.sentence.transcription for u in plan}) == 60
        assert all(u.speaker.split == u.split for u in plan)
        assert len({u.speaker.index for u in plan}) == 24
    # Every language is read by the same speakers, split the same way.
    assert {(u.speaker.index, u.split) for u in plans["fr"]} == {(u.speaker.index, u.split) for u in plans["ru"]}
    again = plan_language(LANGUAGES["fr"], config, pool)
    assert again == plans["fr"]
    other_seed = plan_language(LANGUAGES["fr"], SynthConfig(utts_per_lang=60, seed=4), pool)
    assert [u.sentence for u in other_seed] != [u.sentence for u in plans["fr"]]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="utts_per_lang=2"):
        SynthConfig(utts_per_lang=2)
    with pytest.raises(ValueError, match="sum below 1"):
        SynthConfig(utts_per_lang=10, dev_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match="leave none for train"):
        SynthConfig(utts_per_lang=10, dev_fraction=0.49, test_fraction=0.49)
    with pytest.raises(ValueError, match="raise --vocab-size"):
        plan_language(LANGUAGES["en"], SynthConfig(utts_per_lang=50, vocab_size=2, min_words=1, max_words=1),
                      build_speaker_pool(0, 24, 4, 4))
