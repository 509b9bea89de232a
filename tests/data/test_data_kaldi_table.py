"""One reader of Kaldi tables for the data dirs, their tools, the probe and the evaluation."""
from __future__ import annotations

import pytest

from lamer.data.errors import DataError
from lamer.data.kaldi_table import KeyIndex, read_utt2lang, table_lines
from lamer.eval import EvalInputError
from lamer.eval.scoring import score_texts


def test_lines_keep_their_number_and_drop_the_line_end_lf_or_crlf(tmp_path):
    path = tmp_path / "text"
    path.write_bytes(b"a  one two \r\n\nb\tx\nc\n")
    lines = list(table_lines(path))
    assert [(line.origin, line.text, line.key, line.rest) for line in lines] == [
        (f"{path}:1", "a  one two ", "a", "one two "),
        (f"{path}:2", "", "", ""),
        (f"{path}:3", "b\tx", "b", "x"),
        (f"{path}:4", "c", "c", ""),
    ]


def test_a_line_that_is_not_utf8_is_named_with_how_to_fix_it(tmp_path):
    path = tmp_path / "utt2spk"
    path.write_bytes(b"a s\nb caf\xe9\n")
    with pytest.raises(DataError, match=rf"^{path}:2: not UTF-8 text \(byte 6 of the line\); convert the file"):
        list(table_lines(path))


def test_a_second_line_of_a_key_names_both_lines(tmp_path):
    path = tmp_path / "utt2lang"
    path.write_text("a eng\nb fra\na deu\n")
    index = KeyIndex("utterance id")
    with pytest.raises(DataError, match=rf"^{path}:3: duplicate utterance id 'a' \(first on line 1\)$"):
        for line in table_lines(path):
            index.add(line)


@pytest.mark.parametrize("text, message", [
    ("a eng\nb\n", r"utt2lang:2: expected '<utt> <iso>', got 1 field\(s\): 'b'"),
    ("a eng\na eng\n", r"utt2lang:2: duplicate utterance id 'a' \(first on line 1\)"),
])
def test_utt2lang_is_read_by_the_data_layer(tmp_path, text, message):
    (tmp_path / "utt2lang").write_text(text)
    with pytest.raises(DataError, match=message):
        read_utt2lang(tmp_path / "utt2lang")
    (tmp_path / "good").write_bytes(b"a eng\r\nb fra\n")
    assert read_utt2lang(tmp_path / "good") == {"a": "eng", "b": "fra"}


def test_scoring_names_the_line_of_a_text_that_is_not_utf8(tmp_path):
    """The evaluation's readers are the same reader: the line, not only the file, and still its error type."""
    (tmp_path / "ref").write_bytes(b"a [eng] x\nb [eng] caf\xe9\n")
    (tmp_path / "hyp").write_text("a x\nb y\n")
    with pytest.raises(EvalInputError, match=rf"^{tmp_path / 'ref'}:2: not UTF-8 text \(byte 12 of the line\)"):
        score_texts(tmp_path / "ref", tmp_path / "hyp")
