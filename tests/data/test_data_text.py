"""Text normalisation keeps every script's letters and strips punctuation by Unicode category;
per-language rules override parts of it."""
import unicodedata

import pytest

from lamer.data.text import TextRules, lower_for, normalize_text

ARABIC_MARKS = "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0640"  # harakat and tatweel
PER_SCRIPT = [
        ("Une partie, fûts, fut dirigée vers le port de L'Ardoise.", "fra",
         "une partie fûts fut dirigée vers le port de l'ardoise"),
        ("Morgenstund' hat Gold im Mund.", "deu", "morgenstund hat gold im mund"),
        ("S'empra regularment per evitar l'ambigüitat que podria donar-se.", "cat",
         "s'empra regularment per evitar l'ambigüitat que podria donar-se"),
        ("These are the \"building blocks\" -- of data.", "eng", "these are the building blocks of data"),
        ("Привет, МИР! Ёлка.", "rus", "привет мир ёлка"),
        ("ΟΔΟΣ Καλημέρα; Σοφία.", "ell", "οδος καλημέρα σοφία"),
        ("مرحبا، بالعالم؟", "ara", "مرحبا بالعالم"),
        ("كَتَبَ الوَلَدُ.", "ara", "كَتَبَ الوَلَدُ"),
        ("می\u200cخواهم بروم.", "fas", "می\u200cخواهم بروم"),
        ("你好，世界。我们走吧！", "cmn", "你好世界我们走吧"),
        ("こんにちは、世界。", "jpn", "こんにちは世界"),
        ("हिन्दी भाषा।", "hin", "हिन्दी भाषा"),
        ("தமிழ் மொழி!", "tam", "தமிழ் மொழி"),
        ("İSTANBUL'da IŞIK ılık.", "tur", "istanbul'da ışık ılık"),
        ("qu\u2019« on ne devrait »", "fra", "qu on ne devrait"),  # apostrophe before a quote mark: not inside a word
        ("\ufeffZero\u200bwidth\u00adsoft", "eng", "zerowidthsoft"),
        ("...!?", "eng", ""),
        ("Ratio 3:2, pi is 3.14, 1,000 men. End.", "eng", "ratio 3:2 pi is 3.14 1,000 men end"),
]


@pytest.mark.parametrize(("raw", "iso3", "expected"), PER_SCRIPT)
def test_normalize_text_per_script(raw, iso3, expected):
    assert normalize_text(raw, iso3) == expected
    assert normalize_text(raw, iso3, TextRules()) == expected  # default rules: the behaviour above


def test_decomposed_input_is_composed():
    decomposed = unicodedata.normalize("NFD", "Déjà Vu")
    assert decomposed != "Déjà Vu"
    assert normalize_text(decomposed, "fra") == "déjà vu"


def test_turkish_casing_differs_from_default():
    assert lower_for("IŞIK İzmir", "tur") == "ışık izmir"
    assert lower_for("IŞIK İzmir", "aze") == "ışık izmir"
    assert lower_for("ISTANBUL", "eng") == "istanbul"
    assert normalize_text("İzmir", "eng") == "i\u0307zmir"  # default Unicode lower keeps the dot as a mark


def test_replace_runs_in_order_on_the_raw_text_and_matches_decomposed_input():
    rules = TextRules(replace=(("ß", "ss"), ("ss", "s"), ("Œ", "Oe")))
    assert normalize_text("Draußen ŒUVRE", "deu", rules) == "drausen oeuvre"  # ß -> ss -> s: file order
    assert normalize_text("Draußen ŒUVRE", "deu") == "draußen œuvre"
    decomposed_key = TextRules(replace=((unicodedata.normalize("NFD", "é"), "e"),))
    assert normalize_text(unicodedata.normalize("NFD", "Café é"), "fra", decomposed_key) == "cafe e"
    assert normalize_text("Café", "fra", decomposed_key) == "cafe"
    assert normalize_text("a.b", "eng", TextRules(replace=((".", ""),))) == "ab"  # before punctuation is broken


def test_nfkc_folds_full_width_and_half_width_forms():
    raw = "ＡＢＣ１２３をｶﾀｶﾅで、ﬁ。"
    assert normalize_text(raw, "jpn") == "ａｂｃ１２３をｶﾀｶﾅでﬁ"
    assert normalize_text(raw, "jpn", TextRules(unicode_form="NFKC")) == "abc123をカタカナでfi"


def test_lowercase_off_keeps_case_and_turkish_casing_stays_with_it_on():
    assert normalize_text("Hello, World!", "eng", TextRules(lowercase=False)) == "Hello World"
    assert normalize_text("IŞIK", "tur", TextRules(replace=(("Ş", "S"),))) == "ısık"


def test_remove_deletes_without_a_word_break():
    raw = "كَتَبَ الوَلَدُ كتـــاب."
    assert normalize_text(raw, "ara") == "كَتَبَ الوَلَدُ كتـــاب"
    assert normalize_text(raw, "ara", TextRules(remove=frozenset(ARABIC_MARKS))) == "كتب الولد كتاب"


def test_keep_makes_a_punctuation_mark_part_of_words():
    raw = "La col·lecció, paral·lel."
    assert normalize_text(raw, "cat") == "la col lecció paral lel"
    assert normalize_text(raw, "cat", TextRules(keep=frozenset("·"))) == "la col·lecció paral·lel"


def test_spaced_overrides_the_language_default():
    assert normalize_text("你好，世界。", "cmn") == "你好世界"
    assert normalize_text("你好，世界。", "cmn", TextRules(spaced=True)) == "你好 世界"
    assert normalize_text("one,two", "eng", TextRules(spaced=False)) == "onetwo"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"unicode_form": "NFD"}, "unicode_form: 'NFD'"),
        ({"replace": (("", "x"),)}, "replace: an empty string"),
        ({"keep": frozenset("· ")}, "keep: ' '"),
        ({"remove": frozenset("·"), "keep": frozenset("·")}, "remove and keep both"),
        ({"unicode_form": "NFKC", "keep": frozenset("ﬁ")}, "keep: 'ﬁ' .*changed by NFKC.*'fi'"),
    ],
)
def test_bad_rules_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TextRules(**kwargs)


def test_changes_lists_only_what_differs_from_the_defaults():
    assert TextRules().changes() == {}
    rules = TextRules(replace=(("œ", "oe"),), unicode_form="NFKC", keep=frozenset("·'"), spaced=False)
    assert rules.changes() == {"replace": {"œ": "oe"}, "unicode_form": "NFKC", "keep": "'·", "spaced": False}
