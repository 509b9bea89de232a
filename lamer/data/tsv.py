"""Line-exact TSV reading for corpus metadata, by header name or by fixed column count.

Rows are split on tabs line by line (never with a CSV parser over the whole file), so that one
stray quote cannot swallow the following lines and every row keeps its true line number for
error messages. A field that is CSV-quoted as a whole (``"a ""b"" c"``, as in redistributed Common
Voice copies) is unquoted; raw quotes inside a field (the official QUOTE_NONE files) are kept.
Lines are decoded one by one, so text that is not UTF-8 is reported with its line number; a
UTF-8 byte order mark (left by spreadsheet editors) before the first line is dropped.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lamer.data.errors import BadRows, DataError, decode_line

BOM = "\ufeff"


@dataclass(frozen=True)
class TsvRow:
    """One data row: its fields by column name and where it came from (``file:line``)."""

    fields: dict[str, str]
    origin: str


def unquote_field(field: str) -> str:
    """Undo CSV quoting of a whole field; a field that is not validly quoted is returned as is."""
    if len(field) >= 2 and field[0] == field[-1] == '"':
        inner = field[1:-1]
        if inner.replace('""', "").count('"') == 0:
            return inner.replace('""', '"')
    return field


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their numbers; lines end at ``\n`` (a ``\r`` before it is dropped)."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            line = decode_line(raw, f"{path}:{number}").rstrip("\r\n")
            if number == 1:
                line = line.removeprefix(BOM)
            if line.strip():
                yield number, line


def _wrong_count(origin: str, message: str, bad: BadRows | None) -> None:
    """A row with the wrong number of fields: an error, or a bad row that ``bad`` may skip."""
    if bad is None:
        raise DataError(f"{origin}: {message}")
    bad.bad(origin, message, "bad_fields")


def read_tsv_by_header(path: Path, required: Sequence[str], bad: BadRows | None = None) -> Iterator[TsvRow]:
    """Rows of a TSV whose first line names the columns; ``required`` columns must be there.

    Missing trailing fields are read as empty; a row with more fields than the header is an
    error naming its line, or passed to ``bad`` (kind ``bad_fields``) when given.
    """
    lines = _lines(path)
    first = next(lines, None)
    if first is None:
        raise DataError(f"{path}: empty file, expected a header row")
    header = [name.strip() for name in first[1].split("\t")]
    missing = [name for name in required if name not in header]
    if missing:
        raise DataError(f"{path}:{first[0]}: header lacks column(s) {', '.join(missing)}; found {', '.join(header)}")
    for number, line in lines:
        values = line.split("\t")
        if len(values) > len(header):
            _wrong_count(f"{path}:{number}", f"{len(values)} fields, but the header has {len(header)}", bad)
            continue
        values += [""] * (len(header) - len(values))
        yield TsvRow(dict(zip(header, map(unquote_field, values))), f"{path}:{number}")


def read_tsv_fixed(path: Path, columns: Sequence[str], bad: BadRows | None = None) -> Iterator[TsvRow]:
    """Rows of a headerless TSV with exactly ``len(columns)`` fields per line; another count is
    an error naming the line, or passed to ``bad`` (kind ``bad_fields``) when given."""
    for number, line in _lines(path):
        values = line.split("\t")
        if len(values) != len(columns):
            _wrong_count(f"{path}:{number}", f"{len(values)} fields, expected {len(columns)} ({' '.join(columns)})",
                         bad)
            continue
        yield TsvRow(dict(zip(columns, map(unquote_field, values))), f"{path}:{number}")
