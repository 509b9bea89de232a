"""TSV rows by header name, CSV-quoted or raw fields, exact line numbers in errors."""
import pytest

from lamer.data.errors import BadRows, DataError
from lamer.data.tsv import read_tsv_by_header, read_tsv_fixed, unquote_field


@pytest.mark.parametrize(
    ("field", "expected"),
    [('"She\'ll be all right."', "She'll be all right."),
     ('"the ""building blocks"" of data"', 'the "building blocks" of data'),
     ('He said "hi" twice', 'He said "hi" twice'),
     ('"unbalanced " quote"', '"unbalanced " quote"'),
     ('""', ""), ('"', '"')],
)
def test_unquote_field(field, expected):
    assert unquote_field(field) == expected


def test_columns_by_name_in_any_release_order(tmp_path):
    v1 = tmp_path / "v1.tsv"
    v1.write_text("client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccent\n"
                  "c1\ta.mp3\tHello there.\t2\t0\t\t\t\n", encoding="utf-8")
    v17 = tmp_path / "v17.tsv"
    v17.write_text("client_id\tpath\tsentence_id\tsentence\tsentence_domain\tup_votes\tdown_votes\tage\tgender\t"
                   "accents\tvariant\tlocale\tsegment\n"
                   "c1\ta.mp3\tabc\tHello there.\t\t2\t0\t\tmale_masculine\t\t\ten\t\n", encoding="utf-8")
    for path in (v1, v17):
        (row,) = read_tsv_by_header(path, ("client_id", "path", "sentence"))
        assert (row.fields["path"], row.fields["sentence"]) == ("a.mp3", "Hello there.")
        assert row.origin == f"{path}:2"


def test_stray_quote_does_not_swallow_lines(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text('path\tsentence\na.mp3\t"Quoted start only\nb.mp3\tnext\n', encoding="utf-8")
    rows = list(read_tsv_by_header(path, ("path", "sentence")))
    assert [r.fields["path"] for r in rows] == ["a.mp3", "b.mp3"]
    assert rows[0].fields["sentence"] == '"Quoted start only'


def test_short_rows_padded_long_rows_rejected(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text("path\tsentence\tage\na.mp3\thi\n\nb.mp3\tthere\t\textra\n", encoding="utf-8")
    rows = read_tsv_by_header(path, ("path",))
    assert next(rows).fields["age"] == ""
    with pytest.raises(DataError, match=rf"{path}:4: 4 fields, but the header has 3"):
        next(rows)


def test_missing_column_named(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text("client_id\tpath\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{path}:1: header lacks column\(s\) sentence"):
        list(read_tsv_by_header(path, ("client_id", "path", "sentence")))


def test_fixed_columns(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text("1\ta.wav\tx\n2\tb.wav\n", encoding="utf-8")
    rows = read_tsv_fixed(path, ("id", "file_name", "text"))
    assert next(rows).fields == {"id": "1", "file_name": "a.wav", "text": "x"}
    with pytest.raises(DataError, match=rf"{path}:2: 2 fields, expected 3"):
        next(rows)


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_bytes(b"path\tsentence\na.mp3\tok\n\nb.mp3\tcaf\xe9\n")
    rows = read_tsv_by_header(path, ("path",))
    assert next(rows).fields["sentence"] == "ok"
    with pytest.raises(DataError, match=rf"{path}:4: not UTF-8 text \(byte 10 of the line\)"):
        next(rows)


def test_bom_before_the_header_dropped(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_bytes("\ufeffpath\tsentence\na.mp3\t\ufeffkept\n".encode("utf-8"))
    assert [row.fields for row in read_tsv_by_header(path, ("path",))] == [{"path": "a.mp3", "sentence": "\ufeffkept"}]
    path.write_bytes("\ufeff1\ta.wav\n".encode("utf-8"))
    assert next(read_tsv_fixed(path, ("id", "file_name"))).fields == {"id": "1", "file_name": "a.wav"}


def test_wrong_field_count_skippable(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text("1\ta.wav\n2\n3\tc.wav\n", encoding="utf-8")
    bad = BadRows(skip_bad=True)
    assert [row.fields["id"] for row in read_tsv_fixed(path, ("id", "file_name"), bad)] == ["1", "3"]
    assert bad.skipped == [{"origin": f"{path}:2", "kind": "bad_fields",
                            "reason": "1 fields, expected 2 (id file_name)"}]
    with pytest.raises(DataError, match=rf"{path}:2: 1 fields, expected 2 \(id file_name\) \(use --skip-bad"):
        list(read_tsv_fixed(path, ("id", "file_name"), BadRows()))
