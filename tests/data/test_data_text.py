"""Text normalisation keeps every script's letters and strips punctuation by Unicode category."""
import unicodedata

import pytest

from lamer.data.text import lower_for, normalize_text


@pytest.mark.parametrize(
    ("raw", "iso3", "expected"),
    [
        ("Une partie, fûts, fut dirigée vers le port de L'Ardoise.", "fra", "une partie fûts fut dirigée vers le port de l'ardoise"),
        ("Morgenstund' hat Gold im Mund.", "deu", "morgenstund hat gold im mund"),
        ("S'empra regularment per evitar l'ambigüitat que podria donar-se.", "cat", "s'empra regularment per evitar l'ambigüitat que podria donar-se"),
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
    ],
)
def test_normalize_text_per_script(raw, iso3, expected):
    assert normalize_text(raw, iso3) == expected


def test_decomposed_input_is_composed():
    decomposed = unicodedata.normalize("NFD", "Déjà Vu")
    assert decomposed != "Déjà Vu"
    assert normalize_text(decomposed, "fra") == "déjà vu"


def test_turkish_casing_differs_from_default():
    assert lower_for("IŞIK İzmir", "tur") == "ışık izmir"
    assert lower_for("IŞIK İzmir", "aze") == "ışık izmir"
    assert lower_for("ISTANBUL", "eng") == "istanbul"
    assert normalize_text("İzmir", "eng") == "i\u0307zmir"  # default Unicode lower keeps the dot as a mark
