"""Per-language settings of a recipe: ``<lang-dir>/<iso3>/lang.yaml``.

A recipe keeps what is specific to one language in a folder named by the language's ISO 639-3
code, the name its data gets (``data/<iso3>/``; a ``--lang-map`` code where one is given), so
that data preparation and the token builder, which only sees ``[iso3]`` tags, find the same
file. Both sections are optional; a language without a folder gets the defaults::

    text:                      # transcript normalisation overrides (lamer.data.text.TextRules)
      replace: {"œ": "oe"}     # literal, applied in file order to the raw text
      unicode_form: NFKC       # NFC (default) or NFKC
      lowercase: true          # default true
      remove: "\\u0640"         # characters deleted without a word break
      keep: "·"                # punctuation/symbol characters kept inside words
      spaced: false            # default: by language (Chinese, Japanese, Thai, ... unspaced)
    tokens:                    # the char token list of the probe (lamer.probe.inputs)
      coverage: 0.999          # keep the most frequent characters covering this share
      min_count: 2             # and only characters seen at least this often

Every key is checked: an unknown key or a wrong type is an error naming the file and key.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lamer.data.errors import DataError
from lamer.data.text import DEFAULT_RULES, TextRules
from lamer.yaml_io import YamlError, brief, load_yaml

LANG_FILE = "lang.yaml"
_LANG_DIR_NAME = re.compile(r"^[a-z]{3}$")


@dataclass(frozen=True)
class TokenRules:
    """Which characters of one language get a token; the others become ``<unk>``.

    Counted on the language's training transcripts, the word separator left out (it is always
    a token): the most frequent characters (ties by code point) are kept until they make up
    ``coverage`` of the language's character occurrences, and of those only the ones seen at
    least ``min_count`` times. The defaults keep every character.
    """

    coverage: float = 1.0
    min_count: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.coverage <= 1:
            raise ValueError(f"coverage: {self.coverage} is not in (0, 1]")
        if self.min_count < 1:
            raise ValueError(f"min_count: {self.min_count} is below 1")

    def select(self, counts: Mapping[str, int]) -> set[str]:
        """The characters of ``counts`` (character -> occurrences) that keep their token."""
        total = sum(counts.values())
        kept: set[str] = set()
        covered = 0
        for char in sorted(counts, key=lambda c: (-counts[c], c)):
            if covered >= self.coverage * total:
                break
            covered += counts[char]
            if counts[char] >= self.min_count:
                kept.add(char)
        return kept

    def changes(self) -> dict[str, object]:
        """The settings that differ from the defaults, JSON-ready."""
        defaults = TokenRules()
        return {name: getattr(self, name) for name in ("coverage", "min_count")
                if getattr(self, name) != getattr(defaults, name)}


@dataclass(frozen=True)
class LangConfig:
    """The settings of one language, and the file they came from (for reports and errors)."""

    path: Path
    text: TextRules = DEFAULT_RULES
    tokens: TokenRules = TokenRules()


# key -> (accepted YAML types, what to write there); each section is read through this table
_TEXT_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "replace": ((dict,), "a mapping of string to string"),
    "unicode_form": ((str,), "NFC or NFKC"),
    "lowercase": ((bool,), "true or false"),
    "remove": ((str,), "a string of characters"),
    "keep": ((str,), "a string of characters"),
    "spaced": ((bool, type(None)), "true, false or null (by language)"),
}
_TOKEN_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "coverage": ((float, int), "a number in (0, 1]"),
    "min_count": ((int,), "an integer >= 1"),
}
_SECTIONS = {"text": _TEXT_KEYS, "tokens": _TOKEN_KEYS}


def _section(path: Path, name: str, value: object) -> dict[str, object]:
    """The checked keys of one section: unknown keys and wrong types name the file and key."""
    keys = _SECTIONS[name]
    if not isinstance(value, dict):
        raise DataError(f"{path}: {name}: expected a mapping of {', '.join(keys)}, got {brief(value)}")
    for key, item in value.items():
        if key not in keys:
            raise DataError(f"{path}: unknown key {name}.{key}; allowed: {', '.join(keys)}")
        types, what = keys[key]
        # YAML true/false are ints to Python: refuse them where a number is meant
        if not isinstance(item, types) or (isinstance(item, bool) and bool not in types):
            raise DataError(f"{path}: {name}.{key}: expected {what}, got {brief(item)}")
    replace = value.get("replace", {})
    for old, new in replace.items():
        if not isinstance(old, str) or not isinstance(new, str):
            raise DataError(f"{path}: text.replace: {brief(old)}: {brief(new)} is not a string to string pair "
                            "(quote both)")
    return value


def read_lang_config(path: Path) -> LangConfig:
    """Read and check one ``lang.yaml``; raises :class:`DataError` naming the file and key."""
    path = Path(path)
    try:
        raw = load_yaml(path)
    except YamlError as err:
        raise DataError(str(err)) from None
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a mapping with sections {', '.join(_SECTIONS)}, got {type(raw).__name__}")
    unknown = sorted(map(str, set(raw) - set(_SECTIONS)))
    if unknown:
        raise DataError(f"{path}: unknown key {unknown[0]}; allowed: {', '.join(_SECTIONS)}")
    text = _section(path, "text", raw.get("text", {}))
    tokens = _section(path, "tokens", raw.get("tokens", {}))
    try:
        text_rules = TextRules(
            replace=tuple(text.get("replace", {}).items()),
            unicode_form=text.get("unicode_form", DEFAULT_RULES.unicode_form),
            lowercase=text.get("lowercase", DEFAULT_RULES.lowercase),
            remove=frozenset(text.get("remove", "")),
            keep=frozenset(text.get("keep", "")),
            spaced=text.get("spaced"),
        )
    except ValueError as err:
        raise DataError(f"{path}: text.{err}") from err
    try:
        token_rules = TokenRules(**tokens)
    except ValueError as err:
        raise DataError(f"{path}: tokens.{err}") from err
    return LangConfig(path, text_rules, token_rules)


def load_lang_configs(lang_dir: Path | None, languages: Iterable[str]) -> dict[str, LangConfig]:
    """The configs of those ``languages`` (ISO 639-3 codes) that have a folder in ``lang_dir``.

    ``None`` gives no configs. Every file of the languages asked for is read and checked before
    any is used, so a bad one stops a run before any work. Raises :class:`DataError` when
    ``lang_dir`` is missing, when one of its folders is not named by a code (``fr`` instead of
    ``fra``: it would be silently ignored), or when a language's folder lacks ``lang.yaml``.
    """
    if lang_dir is None:
        return {}
    lang_dir = Path(lang_dir)
    if not lang_dir.is_dir():
        raise DataError(f"{lang_dir}: no such per-language directory")
    for entry in sorted(lang_dir.iterdir()):
        if entry.is_dir() and not _LANG_DIR_NAME.match(entry.name):
            raise DataError(f"{entry}: per-language folders are named by the ISO 639-3 code the data gets "
                            f"(data/<code>/, e.g. fra for Common Voice fr or FLEURS fr_fr)")
    configs = {}
    for lang in dict.fromkeys(languages):
        folder = lang_dir / lang
        if folder.is_dir():
            if not (folder / LANG_FILE).is_file():
                raise DataError(f"{folder}: no {LANG_FILE}; write one or remove the folder")
            configs[lang] = read_lang_config(folder / LANG_FILE)
    return configs
