"""JSON files written by others: every failure names the file and line, none reaches the parser's recursion."""
import json
import time

import pytest

from lamer.jsonfile import MAX_DEPTH, JSONFileError, read_json, read_json_object


def test_nesting_up_to_the_bound_is_read_and_one_level_more_is_named(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    assert read_json(path) is not None
    path.write_text('{"a":\n' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}")
    with pytest.raises(JSONFileError, match=rf"x.json:2: JSON nested deeper than {MAX_DEPTH} levels"):
        read_json(path)


def test_brackets_inside_strings_do_not_count(tmp_path):
    value = {"a": ["[" * 200, "\\\"{{{{" * 50, "\u00e9]]]]"]}
    (tmp_path / "x.json").write_text(json.dumps(value, ensure_ascii=False))
    assert read_json_object(tmp_path / "x.json") == value


def test_an_unterminated_string_of_escaped_quotes_is_a_syntax_error_read_in_linear_time(tmp_path):
    (tmp_path / "x.json").write_text('["' + '\\"' * 200_000)
    start = time.monotonic()
    with pytest.raises(JSONFileError, match=r"x.json:1: invalid JSON \(Unterminated string"):
        read_json(tmp_path / "x.json")
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("content, message", [
    (b'{"a": 1,\n "b": "\xff"}', r"x.json:2: not UTF-8 \(byte 0xff at offset 16\); save the file as UTF-8"),
    (b'{"a": 1,\n}', r"x.json:2: invalid JSON \(Expecting property name"),
    (b"[1, 2]", "x.json: expected a JSON object at the top level, found list"),
])
def test_bad_files_are_named_with_their_line(tmp_path, content, message):
    (tmp_path / "x.json").write_bytes(content)
    with pytest.raises(JSONFileError, match=message):
        read_json_object(tmp_path / "x.json")
