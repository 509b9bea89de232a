"""Kaldi tables, read one way: one ``<key> <rest of line>`` per line (``wav.scp``, ``segments``,
``text``, ``utt2spk``, ``utt2lang``, ESPnet's shape files, decoding outputs).

A line ends at ``\\n``, and a ``\\r`` before it is dropped, so a file saved with CRLF reads as one
saved with LF. Every line must be UTF-8: other bytes are a :class:`~lamer.data.errors.DataError`
naming the file and line and saying how to fix it. The key is the line's first field and the
rest what follows the blanks after it, the way Kaldi's tools split a line. What a line must hold
beyond that (one value, four fields, a language tag) is for each table's reader to check; its
errors name the line by :attr:`TableLine.origin`. Nothing here knows which table it reads.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lamer.data.errors import DataError, decode_line


@dataclass(frozen=True)
class TableLine:
    """One line of a table: its file (as the caller named it), 1-based number, and text without
    the line end."""

    path: str | Path
    number: int
    text: str

    @property
    def origin(self) -> str:
        """``file:line``, how every error about this line names it."""
        return f"{self.path}:{self.number}"

    @property
    def fields(self) -> list[str]:
        """The key and the rest of the line (one item for a key alone, none for a blank line)."""
        return self.text.split(maxsplit=1)

    @property
    def key(self) -> str:
        """The first field; empty for a blank line."""
        fields = self.fields
        return fields[0] if fields else ""

    @property
    def rest(self) -> str:
        """What follows the key and the blanks after it; empty when the key is alone."""
        fields = self.fields
        return fields[1] if len(fields) > 1 else ""


def table_lines(path: str | Path) -> Iterator[TableLine]:
    """Every line of the table ``path``, in file order (blank lines included: refusing or skipping
    them is the reader's choice); a line that is not UTF-8 is a DataError naming ``file:line``."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            text = decode_line(raw, f"{path}:{number}").removesuffix("\n").removesuffix("\r")
            yield TableLine(path, number, text)


class KeyIndex:
    """The line each key of a table was first seen on; a second line of a key is a DataError naming
    both lines: ``<file>:<line>: duplicate <what> '<key>' (first on line <n>)``."""

    def __init__(self, what: str = "key") -> None:
        self.what = what
        self._first: dict[str, int] = {}

    def add(self, line: TableLine) -> None:
        """Record ``line``'s key, refusing a key seen on an earlier line."""
        first = self._first.setdefault(line.key, line.number)
        if first != line.number:
            raise DataError(f"{line.origin}: duplicate {self.what} {line.key!r} (first on line {first})")


def read_utt2lang(path: str | Path) -> dict[str, str]:
    """``{utt: language}`` of an ``utt2lang`` file (``<utt> <iso>`` lines, each utterance once);
    a line with other than two fields or a repeated utterance is a DataError naming the line."""
    utt2lang: dict[str, str] = {}
    index = KeyIndex("utterance id")
    for line in table_lines(path):
        fields = line.text.split()
        if len(fields) != 2:
            raise DataError(f"{line.origin}: expected '<utt> <iso>', got {len(fields)} field(s): {line.text!r}")
        index.add(line)
        utt2lang[line.key] = fields[1]
    return utt2lang
