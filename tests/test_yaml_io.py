"""lamer.yaml_io, the one YAML reader: plain data only, every key once, aliases and size bounded,
one-line errors that name the place and never print an expanded value."""
from __future__ import annotations

import time
import tracemalloc

import pytest
import yaml

from lamer.yaml_io import MAX_ALIASES, MAX_BYTES, YamlError, brief, load_mapping, load_yaml, parse_yaml, quoted


def billion_laughs(key: str = "lol") -> str:
    """Nine levels of nine aliases: a few hundred bytes whose value is 9^9 (about 387 million) strings."""
    levels = [f'{key}: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join(levels) + "\n"


def refusal(text: str | bytes, tmp_path) -> str:
    """The one-line error of reading ``text`` from a file."""
    path = tmp_path / "conf.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    with pytest.raises(YamlError) as err:
        load_yaml(path)
    message = str(err.value)
    assert message.startswith(f"{path}") and "\n" not in message
    return message[len(str(path)):]


def test_plain_yaml_reads_as_pyyaml_safe_load_reads_it(tmp_path):
    text = ("a: 1\nb: [x, 2.5, true, null]\nc: {d: 2024-01-01, e: 'quoted # not a comment'}\n"
            "base: &base {lr: 0.1, epochs: 2}\nrun:\n  <<: *base\n  epochs: 3\ns: !!str 12\n")
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    assert load_yaml(tmp_path / "c.yaml") == yaml.safe_load(text)
    assert load_yaml(tmp_path / "c.yaml")["run"] == {"lr": 0.1, "epochs": 3}  # a merged key may be overridden
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    assert load_yaml(tmp_path / "empty.yaml") is None and load_mapping(tmp_path / "empty.yaml") == {}


def test_the_top_level_mapping_knows_its_lines(tmp_path):
    (tmp_path / "plan.yaml").write_text("# header\na: 1\n\nb:\n  - 2\n")
    mapping = load_mapping(tmp_path / "plan.yaml")
    assert mapping == {"a": 1, "b": [2]} and mapping.lines == {"a": 2, "b": 4}
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(YamlError, match="list.yaml: expected a mapping at the top level"):
        load_mapping(tmp_path / "list.yaml")


@pytest.mark.parametrize("text, key, line, first", [
    ("rank: 4\nalpha: 8\nrank: 64\n", "'rank'", 3, 1),
    ("conf:\n  lr: 1\n  lr: 2\n", "'lr'", 3, 2),
    ("- {a: 1, b: 2, a: 3}\n", "'a'", 1, 1),
    ("1: x\n1: y\n", "1", 2, 1),
    ("base: &b {x: 1}\nrun: {<<: *b, y: 2, y: 3}\n", "'y'", 2, 2),
])
def test_a_key_given_twice_is_refused_with_both_lines(tmp_path, text, key, line, first):
    assert yaml.safe_load(text) is not None  # PyYAML keeps the last value silently
    assert refusal(text, tmp_path) == (f":{line}: key {key} is given twice in one mapping (first at line {first}); "
                                       "keep one")


@pytest.mark.parametrize("text, tag", [
    ('!!python/object/apply:os.system ["touch {marker}"]\n', "!!python/object/apply:os.system"),
    ('run: !!python/object/apply:os.system ["touch {marker}"] #\n', "!!python/object/apply:os.system"),
    ("f: !!python/name:os.system\n", "!!python/name:os.system"),
    ("x: !!binary aGk=\n", "!!binary"),
    ("x: !!set {{a, b}}\n", "!!set"),
    ("x: !custom 3\n", "!custom"),
    ("? !!python/tuple [a, b]\n: 1\n", "!!python/tuple"),
])
def test_a_tag_beyond_plain_yaml_is_refused_and_nothing_runs(tmp_path, text, tag):
    marker = tmp_path / "PWNED"
    message = refusal(text.format(marker=marker), tmp_path)
    assert message.startswith(f":1: tag '{tag}' is refused") and "quote the value" in message
    assert not marker.exists()


def test_the_billion_laughs_stop_at_once_in_bounded_memory(tmp_path):
    tracemalloc.start()
    started = time.monotonic()
    try:
        message = refusal(billion_laughs(), tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 5 and peak < 10 << 20
    assert message.startswith(":7: this value holds more than 1000000 values") and len(message) < 200


def test_aliases_are_counted_and_a_recursive_one_refused(tmp_path):
    many = "a: &a 1\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n"
    assert refusal(many, tmp_path).startswith(f":2: more than {MAX_ALIASES} aliases")
    few = "a: &a 1\nb: [" + ", ".join(["*a"] * MAX_ALIASES) + "]\n"
    assert parse_yaml(few)["b"] == [1] * MAX_ALIASES
    assert refusal("a: &a [1, *a]\n", tmp_path).startswith(":1: an alias inside the value it names")


def test_size_encoding_and_syntax_errors_are_one_line(tmp_path):
    assert refusal(b"a: '" + b"x" * MAX_BYTES + b"'\n", tmp_path) == (
        f": more than {MAX_BYTES} bytes; a YAML config is at most that long")
    assert refusal(b"a: \xff\n", tmp_path) == ": not UTF-8 text (byte 3); save it as UTF-8"
    assert refusal("a: [1, 2\nb: 3\n", tmp_path).startswith(":2: not valid YAML: while parsing a flow sequence")
    assert refusal("a: \x01\n", tmp_path).startswith(": not valid YAML: unacceptable character #x0001")
    assert refusal("[" * 5000 + "]" * 5000, tmp_path) == ": not valid YAML: lists or mappings nested too deeply"
    with pytest.raises(YamlError, match="absent.yaml: cannot read: No such file or directory"):
        load_yaml(tmp_path / "absent.yaml")


def test_text_and_streams_are_read_as_files_are(tmp_path):
    with pytest.raises(YamlError, match="^--frontend_conf path_or_url:1: tag '!!python/name:os.system' is refused"):
        parse_yaml("!!python/name:os.system", "--frontend_conf path_or_url")
    (tmp_path / "c.yaml").write_text("a: 1\na: 2\n")
    with open(tmp_path / "c.yaml", encoding="utf-8") as stream, pytest.raises(YamlError, match=":2: key 'a'"):
        parse_yaml(stream, stream.name)


HOSTILE_PATHS = [
    "exp/run #2/base/upstream.pt", "exp/a: b/upstream.pt", "exp/{x}/[y]/up.pt",
    '!!python/object/apply:os.system ["x"] #', "&anchor *alias ? - |",
    "'single' \"double\" \\back", "tab\tnewline\nend", "ü ß 中文 \U0001f600",
    "", " ", "null", "true", "1e3", "0x1F", "~", "\x85\u2028\ufeff", "\x00\x7f",
]


@pytest.mark.parametrize("value", HOSTILE_PATHS)
def test_a_quoted_value_reads_back_byte_for_byte(value):
    text = quoted(value)
    assert "\n" not in text
    assert parse_yaml(text) == value and yaml.safe_load(text) == value
    assert parse_yaml(f"path_or_url: {text}") == {"path_or_url": value}


def test_brief_bounds_what_an_error_shows():
    shared = ["lol"] * 9
    for _ in range(8):
        shared = [shared] * 9
    assert len(brief(shared)) <= 200 and len(brief("x" * 10_000)) < 100
    assert brief("en") == "'en'" and brief([1, 2]) == "[1, 2]"
