"""Line-exact TSV reading for corpus metadata, by header name or by fixed column count.

Rows are split on tabs line by line (never with a CSV parser over the whole file), so that one
stray quote cannot swallow the following lines and every row keeps its true line number for
error messages. A field that is CSV-quoted as a whole (``"a ""b"" c"``, as in redistributed Common
Voice copies) is unquoted; raw quotes inside a field (the official QUOTE_NONE files) are kept.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lamer.data.errors import DataError


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
    try:
        with open(path, encoding="utf-8", newline="") as f:
            for number, line in enumerate(f, start=1):
                line = line.rstrip("\r\n")
                if line.strip():
                    yield number, line
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err})") from err


def read_tsv_by_header(path: Path, required: Sequence[str]) -> Iterator[TsvRow]:
    """Rows of a TSV whose first line names the columns; ``required`` columns must be there.

    Missing trailing fields are read as empty; a row with more fields than the header is an
    error naming its line.
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
            raise DataError(f"{path}:{number}: {len(values)} fields, but the header has {len(header)}")
        values += [""] * (len(header) - len(values))
        yield TsvRow(dict(zip(header, map(unquote_field, values))), f"{path}:{number}")


def read_tsv_fixed(path: Path, columns: Sequence[str]) -> Iterator[TsvRow]:
    """Rows of a headerless TSV with exactly ``len(columns)`` fields per line."""
    for number, line in _lines(path):
        values = line.split("\t")
        if len(values) != len(columns):
            raise DataError(
                f"{path}:{number}: {len(values)} fields, expected {len(columns)} ({' '.join(columns)})"
            )
        yield TsvRow(dict(zip(columns, map(unquote_field, values))), f"{path}:{number}")
