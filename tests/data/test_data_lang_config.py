"""Per-language lang.yaml files: strict reading, folder naming, token selection, shipped examples."""
from pathlib import Path

import pytest

from lamer.data.errors import DataError
from lamer.data.lang_config import TokenRules, load_lang_configs, read_lang_config
from lamer.data.text import TextRules, normalize_text

REPO_ROOT = Path(__file__).resolve().parents[2]
RECIPE_LANG_DIRS = sorted(REPO_ROOT.glob("egs2/*/ssl1/local/lang"))


def _lang_dir(root: Path, files: dict[str, str]) -> Path:
    """A per-language folder with ``lang.yaml`` text per language code."""
    for lang, text in files.items():
        (root / lang).mkdir(parents=True)
        (root / lang / "lang.yaml").write_text(text, encoding="utf-8")
    return root


def test_full_file_is_read_into_rules(tmp_path):
    path = _lang_dir(tmp_path, {"cat": """
text:
  replace: {"ŀ": "l·", "Ŀ": "L·"}
  unicode_form: NFKC
  lowercase: false
  remove: "\\u0640"
  keep: "·"
  spaced: true
tokens:
  coverage: 0.99
  min_count: 3
"""}) / "cat" / "lang.yaml"
    config = read_lang_config(path)
    assert config.path == path
    assert config.text == TextRules(replace=(("ŀ", "l·"), ("Ŀ", "L·")), unicode_form="NFKC", lowercase=False,
                                    remove=frozenset("\u0640"), keep=frozenset("·"), spaced=True)
    assert config.tokens == TokenRules(coverage=0.99, min_count=3)


def test_empty_file_and_missing_sections_are_the_defaults(tmp_path):
    files = {"deu": "", "fra": "tokens: {min_count: 2}\n", "yue": "text: {spaced: null}\n"}
    configs = load_lang_configs(_lang_dir(tmp_path, files), ["deu", "fra", "yue"])
    assert configs["deu"].text == TextRules() and configs["deu"].tokens == TokenRules()
    assert configs["yue"].text == TextRules()
    assert configs["fra"].text == TextRules() and configs["fra"].tokens == TokenRules(min_count=2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("text: {lowercse: false}\n", r"unknown key text\.lowercse; allowed: replace, unicode_form"),
        ("tokenz: {min_count: 2}\n", "unknown key tokenz; allowed: text, tokens"),
        ("tokens: {type: bpe}\n", r"unknown key tokens\.type"),
        ("text: {lowercase: 'no'}\n", r"text\.lowercase: expected true or false, got 'no'"),
        ("text: {keep: [a, b]}\n", r"text\.keep: expected a string of characters"),
        ("text: {replace: [a, b]}\n", r"text\.replace: expected a mapping"),
        ("text: {replace: {'a': 1}}\n", r"text\.replace: 'a': 1 is not a string to string pair"),
        ("text: {unicode_form: NFD}\n", r"text\.unicode_form: 'NFD' is not one of NFC, NFKC"),
        ("text: {keep: '·', remove: '·'}\n", r"text\.remove and keep both name '·'"),
        ("tokens: {min_count: 1.5}\n", r"tokens\.min_count: expected an integer"),
        ("tokens: {min_count: true}\n", r"tokens\.min_count: expected an integer"),
        ("tokens: {min_count: 0}\n", r"tokens\.min_count: 0 is below 1"),
        ("tokens: {coverage: 1.5}\n", r"tokens\.coverage: 1\.5 is not in \(0, 1\]"),
        ("tokens: 0.99\n", r"tokens: expected a mapping of coverage, min_count"),
        ("- text\n", "expected a mapping with sections text, tokens, got list"),
        ("text: {keep: '·'\n", "not valid YAML"),
        ("tokens: {min_count: 2}\ntokens: {min_count: 9}\n", ":2: key 'tokens' is given twice in one mapping"),
        ("text:\n  lowercase: false\n  lowercase: true\n", ":3: key 'lowercase' is given twice in one mapping"),
        ("text: {keep: !!python/object/apply:os.system [true]}\n", ":1: tag '!!python/object/apply:os.system' is"),
    ],
)
def test_bad_files_name_the_file_and_key(tmp_path, text, message):
    lang_dir = _lang_dir(tmp_path, {"cat": text})
    with pytest.raises(DataError, match=message) as err:
        load_lang_configs(lang_dir, ["cat"])
    assert str(lang_dir / "cat" / "lang.yaml") in str(err.value)


def test_lang_dir_layout_is_checked(tmp_path):
    assert load_lang_configs(None, ["fra"]) == {}
    with pytest.raises(DataError, match="no such per-language directory"):
        load_lang_configs(tmp_path / "absent", ["fra"])
    lang_dir = _lang_dir(tmp_path / "lang", {"fra": "text: {replace: {'œ': oe}}\n"})
    assert load_lang_configs(lang_dir, ["eng", "spa"]) == {}  # languages without a folder: defaults
    assert set(load_lang_configs(lang_dir, ["eng", "fra"])) == {"fra"}
    (lang_dir / "fr").mkdir()  # a locale instead of the code would be ignored silently
    with pytest.raises(DataError, match="fr: per-language folders are named by the ISO 639-3 code"):
        load_lang_configs(lang_dir, ["fra"])
    (lang_dir / "fr").rmdir()
    (lang_dir / "deu").mkdir()
    with pytest.raises(DataError, match="deu: no lang.yaml"):
        load_lang_configs(lang_dir, ["deu"])
    assert set(load_lang_configs(lang_dir, ["fra"])) == {"fra"}  # only the languages asked for are read


def test_every_language_file_is_read_before_any_is_used(tmp_path):
    lang_dir = _lang_dir(tmp_path, {"deu": "text: {replace: {'ß': ss}}\n", "fra": "text: {bogus: 1}\n"})
    with pytest.raises(DataError, match="bogus"):
        load_lang_configs(lang_dir, ["deu", "fra"])


def test_token_selection_by_coverage_and_min_count():
    counts = {"a": 50, "b": 30, "c": 10, "d": 5, "e": 3, "f": 1, "g": 1}  # 100 occurrences
    assert TokenRules().select(counts) == set(counts)
    assert TokenRules(coverage=0.9).select(counts) == {"a", "b", "c"}
    assert TokenRules(coverage=0.91).select(counts) == {"a", "b", "c", "d"}
    assert TokenRules(coverage=0.99).select(counts) == {"a", "b", "c", "d", "e", "f"}  # f before g: code point
    assert TokenRules(min_count=3).select(counts) == {"a", "b", "c", "d", "e"}
    assert TokenRules(coverage=0.9, min_count=20).select(counts) == {"a", "b"}
    assert TokenRules(min_count=3).changes() == {"min_count": 3} and TokenRules().changes() == {}


@pytest.mark.parametrize("lang_dir", RECIPE_LANG_DIRS, ids=lambda p: p.parts[-4])
def test_recipe_language_files_are_valid(lang_dir):
    languages = sorted(p.name for p in lang_dir.iterdir() if p.is_dir())
    configs = load_lang_configs(lang_dir, languages)
    assert languages and set(configs) == set(languages)
    for config in configs.values():
        assert config.text.changes() or config.tokens.changes(), f"{config.path} changes nothing"
        assert config.path.read_text(encoding="utf-8").startswith("#"), f"{config.path}: say why in a comment"


def test_recipes_have_language_files():
    assert {p.parts[-4] for p in RECIPE_LANG_DIRS} == {"commonvoice", "fleurs"}


def test_recipe_rules_do_what_their_comments_say():
    cv = REPO_ROOT / "egs2" / "commonvoice" / "ssl1" / "local" / "lang"
    configs = load_lang_configs(cv, ["cat", "fra", "ara", "jpn"])
    assert normalize_text("La coŀlecció i el paral·lel.", "cat", configs["cat"].text) == "la col·lecció i el paral·lel"
    assert normalize_text("Un cœur d’or.", "fra", configs["fra"].text) == "un coeur d'or"
    assert normalize_text("كَتَبَ الوَلَدُ كتـــاب.", "ara", configs["ara"].text) == "كتب الولد كتاب"
    assert normalize_text("ＣＤを２枚、ｶﾀﾛｸﾞで。", "jpn", configs["jpn"].text) == "cdを2枚カタログで"
