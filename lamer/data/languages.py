"""Map corpus locale codes (Common Voice ``zh-CN``, FLEURS ``cmn_hans_cn``) to ISO 639-3 codes.

Everything after data preparation speaks ISO 639-3 (``eng``, ``cmn``, ``fas``). Where a corpus
does not tell varieties apart, the macrolanguage code is used (``ara``, ``fas``, ``msa``,
``swa``, ``est``, ``lav``, ``mon``, ``nep``, ``orm``, ``pus``, ``uzb``, ``aze``, ``ori``,
``sqi``), so that both corpora give the same code for the same language. Chinese is split by
spoken language: Mandarin ``cmn``, Cantonese ``yue``, Min Nan ``nan``.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from lamer.data.errors import DataError

# How a transcript names its language (the ML-SUPERB convention): ``[iso]``, the tag first in
# references and probe texts, anywhere in a hypothesis (see lamer.eval.kaldi_text).
LANGUAGE_TAG = re.compile(r"\[([^\[\]\s]+)\]")

# Common Voice locales (folder names of a release), v1 to v17+.
COMMONVOICE_LOCALES: dict[str, str] = {
    "ab": "abk", "af": "afr", "am": "amh", "an": "arg", "ar": "ara", "as": "asm", "ast": "ast",
    "az": "aze", "ba": "bak", "bas": "bas", "be": "bel", "bg": "bul", "bn": "ben", "br": "bre",
    "bs": "bos", "ca": "cat", "ckb": "ckb", "cnh": "cnh", "cs": "ces", "cv": "chv", "cy": "cym",
    "da": "dan", "de": "deu", "dsb": "dsb", "dv": "div", "dyu": "dyu", "el": "ell", "en": "eng",
    "eo": "epo", "es": "spa", "et": "est", "eu": "eus", "fa": "fas", "fi": "fin", "fr": "fra",
    "fy-NL": "fry", "ga-IE": "gle", "gl": "glg", "gn": "grn", "ha": "hau", "he": "heb",
    "hi": "hin", "hsb": "hsb", "ht": "hat", "hu": "hun", "hy-AM": "hye", "ia": "ina", "id": "ind",
    "ig": "ibo", "is": "isl", "it": "ita", "ja": "jpn", "ka": "kat", "kab": "kab", "kk": "kaz",
    "kmr": "kmr", "ko": "kor", "ky": "kir", "lb": "ltz", "lg": "lug", "lij": "lij", "ln": "lin",
    "lo": "lao", "lt": "lit", "ltg": "ltg", "lv": "lav", "mdf": "mdf", "mhr": "mhr", "mk": "mkd",
    "ml": "mal", "mn": "mon", "mr": "mar", "mrj": "mrj", "ms": "msa", "mt": "mlt", "my": "mya",
    "myv": "myv", "nan-tw": "nan", "nb-NO": "nob", "ne-NP": "nep", "nhi": "nhi", "nl": "nld",
    "nn-NO": "nno", "nso": "nso", "oc": "oci", "or": "ori", "os": "oss", "pa-IN": "pan",
    "pl": "pol", "ps": "pus", "pt": "por", "quy": "quy", "rm-sursilv": "roh",
    "rm-vallader": "roh", "ro": "ron", "ru": "rus", "rw": "kin", "sah": "sah", "sat": "sat",
    "sc": "srd", "sd": "snd", "sk": "slk", "skr": "skr", "sl": "slv", "so": "som", "sq": "sqi",
    "sr": "srp", "sv-SE": "swe", "sw": "swa", "ta": "tam", "te": "tel", "tg": "tgk", "th": "tha",
    "ti": "tir", "tig": "tig", "tk": "tuk", "tok": "tok", "tr": "tur", "tt": "tat", "tw": "twi",
    "ug": "uig", "uk": "ukr", "ur": "urd", "uz": "uzb", "vi": "vie", "vot": "vot", "xh": "xho",
    "yi": "yid", "yo": "yor", "yue": "yue", "zgh": "zgh", "zh-CN": "cmn", "zh-HK": "yue",
    "zh-TW": "cmn", "zu": "zul",
}

# FLEURS language configs (the 102 folders of google/fleurs).
FLEURS_CONFIGS: dict[str, str] = {
    "af_za": "afr", "am_et": "amh", "ar_eg": "ara", "as_in": "asm", "ast_es": "ast",
    "az_az": "aze", "be_by": "bel", "bg_bg": "bul", "bn_in": "ben", "bs_ba": "bos",
    "ca_es": "cat", "ceb_ph": "ceb", "ckb_iq": "ckb", "cmn_hans_cn": "cmn", "cs_cz": "ces",
    "cy_gb": "cym", "da_dk": "dan", "de_de": "deu", "el_gr": "ell", "en_us": "eng",
    "es_419": "spa", "et_ee": "est", "fa_ir": "fas", "ff_sn": "ful", "fi_fi": "fin",
    "fil_ph": "fil", "fr_fr": "fra", "ga_ie": "gle", "gl_es": "glg", "gu_in": "guj",
    "ha_ng": "hau", "he_il": "heb", "hi_in": "hin", "hr_hr": "hrv", "hu_hu": "hun",
    "hy_am": "hye", "id_id": "ind", "ig_ng": "ibo", "is_is": "isl", "it_it": "ita",
    "ja_jp": "jpn", "jv_id": "jav", "ka_ge": "kat", "kam_ke": "kam", "kea_cv": "kea",
    "kk_kz": "kaz", "km_kh": "khm", "kn_in": "kan", "ko_kr": "kor", "ky_kg": "kir",
    "lb_lu": "ltz", "lg_ug": "lug", "ln_cd": "lin", "lo_la": "lao", "lt_lt": "lit",
    "luo_ke": "luo", "lv_lv": "lav", "mi_nz": "mri", "mk_mk": "mkd", "ml_in": "mal",
    "mn_mn": "mon", "mr_in": "mar", "ms_my": "msa", "mt_mt": "mlt", "my_mm": "mya",
    "nb_no": "nob", "ne_np": "nep", "nl_nl": "nld", "nso_za": "nso", "ny_mw": "nya",
    "oc_fr": "oci", "om_et": "orm", "or_in": "ori", "pa_in": "pan", "pl_pl": "pol",
    "ps_af": "pus", "pt_br": "por", "ro_ro": "ron", "ru_ru": "rus", "sd_in": "snd",
    "sk_sk": "slk", "sl_si": "slv", "sn_zw": "sna", "so_so": "som", "sr_rs": "srp",
    "sv_se": "swe", "sw_ke": "swa", "ta_in": "tam", "te_in": "tel", "tg_tj": "tgk",
    "th_th": "tha", "tr_tr": "tur", "uk_ua": "ukr", "umb_ao": "umb", "ur_pk": "urd",
    "uz_uz": "uzb", "vi_vn": "vie", "wo_sn": "wol", "xh_za": "xho", "yo_ng": "yor",
    "yue_hant_hk": "yue", "zu_za": "zul",
}

CORPUS_TABLES: dict[str, dict[str, str]] = {"commonvoice": COMMONVOICE_LOCALES, "fleurs": FLEURS_CONFIGS}

_ISO3 = re.compile(r"^[a-z]{3}$")


def parse_lang_map(spec: str | None) -> dict[str, str]:
    """Parse ``--lang-map`` text ``"xx=yyy,zz-ZZ=www"`` into ``{locale: iso3}``."""
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in (spec or "").split(","))):
        locale, sep, iso3 = item.partition("=")
        if not sep or not locale.strip() or not _ISO3.match(iso3.strip()):
            raise DataError(f"--lang-map entry {item!r}: expected LOCALE=iso3, e.g. 'xx=yyy'")
        mapping[locale.strip()] = iso3.strip()
    return mapping


def to_iso3(locale: str, corpus: str, extra: Mapping[str, str] | None = None) -> str:
    """ISO 639-3 code of a corpus locale (``corpus`` is ``commonvoice`` or ``fleurs``).

    ``extra`` (from ``--lang-map``) takes precedence over the built-in table. A Common Voice
    locale with a region (``xx-YY``) not in the table falls back to its language part.
    Raises :class:`DataError` naming the locale when it is unknown.
    """
    if extra and locale in extra:
        return extra[locale]
    table = CORPUS_TABLES[corpus]
    if locale in table:
        return table[locale]
    if corpus == "commonvoice" and locale.split("-")[0] in table:
        return table[locale.split("-")[0]]
    raise DataError(
        f"unknown {corpus} locale {locale!r}: pass its ISO 639-3 code with --lang-map {locale}=xxx"
    )


def resolve_locales(locales: Sequence[str], corpus: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{locale: iso3}`` for the requested locales; two locales with one code is an error.

    Data goes to ``DATA/<iso3>/``, so two locales sharing a code (``zh-CN`` and ``zh-TW``)
    would overwrite each other: give one of them another code with ``--lang-map``.
    """
    resolved: dict[str, str] = {}
    for locale in locales:
        iso3 = to_iso3(locale, corpus, extra)
        clash = [other for other, code in resolved.items() if code == iso3]
        if clash:
            raise DataError(f"{corpus} locales {clash[0]!r} and {locale!r} both map to {iso3!r}; "
                            f"separate them with --lang-map {locale}=xxx")
        resolved[locale] = iso3
    return resolved
