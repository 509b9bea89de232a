"""Corpus locale codes map to ISO 639-3; unknown or clashing locales are clear errors."""
import pytest

from lamer.data.errors import DataError
from lamer.data.languages import COMMONVOICE_LOCALES, FLEURS_CONFIGS, parse_lang_map, resolve_locales, to_iso3


@pytest.mark.parametrize(
    ("locale", "iso3"),
    [("zh-CN", "cmn"), ("zh-HK", "yue"), ("sv-SE", "swe"), ("pt", "por"), ("ca", "cat"), ("ja", "jpn"),
     ("ar", "ara"), ("fa", "fas"), ("hi", "hin"), ("ta", "tam"), ("tr", "tur"), ("ru", "rus"), ("el", "ell"),
     ("en", "eng"), ("nl", "nld"), ("es-AR", "spa")],
)
def test_commonvoice_locales(locale, iso3):
    assert to_iso3(locale, "commonvoice") == iso3


@pytest.mark.parametrize(
    ("config", "iso3"),
    [("en_us", "eng"), ("es_419", "spa"), ("cmn_hans_cn", "cmn"), ("fr_fr", "fra"), ("yue_hant_hk", "yue"),
     ("fa_ir", "fas"), ("ar_eg", "ara"), ("pt_br", "por"), ("sv_se", "swe")],
)
def test_fleurs_configs(config, iso3):
    assert to_iso3(config, "fleurs") == iso3


def test_tables_hold_iso3_codes_and_all_fleurs_languages():
    assert len(FLEURS_CONFIGS) == 102
    assert all(len(code) == 3 and code.isalpha() and code.islower()
               for code in [*FLEURS_CONFIGS.values(), *COMMONVOICE_LOCALES.values()])
    # the same language gets the same code from both corpora
    assert {to_iso3(c, "commonvoice") for c in ("de", "fr", "ar", "fa", "et", "sw")} == {
        to_iso3(c, "fleurs") for c in ("de_de", "fr_fr", "ar_eg", "fa_ir", "et_ee", "sw_ke")}


def test_unknown_locale_names_it_and_lang_map_fixes_it():
    with pytest.raises(DataError, match=r"unknown fleurs locale 'xx_yy'.*--lang-map xx_yy="):
        to_iso3("xx_yy", "fleurs")
    assert to_iso3("xx_yy", "fleurs", parse_lang_map("xx_yy=xyz")) == "xyz"
    assert to_iso3("en", "commonvoice", parse_lang_map("en=enm")) == "enm"


def test_bad_lang_map_entry():
    with pytest.raises(DataError, match="'xx=toolong'"):
        parse_lang_map("xx=toolong")


def test_two_locales_with_one_code_clash():
    with pytest.raises(DataError, match="'zh-CN' and 'zh-TW' both map to 'cmn'"):
        resolve_locales(["zh-CN", "zh-TW"], "commonvoice")
    assert resolve_locales(["zh-CN", "zh-TW"], "commonvoice", {"zh-TW": "cmt"}) == {"zh-CN": "cmn", "zh-TW": "cmt"}
