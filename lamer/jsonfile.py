"""Reading JSON files that someone else may have written: manifests, results, configs.

``json.load`` turns hostile bytes into errors that name no file (UnicodeDecodeError), or into
a RecursionError for a few kilobytes of ``[[[[...``. Here every failure is a
:class:`JSONFileError` naming the file and line: bytes that are not UTF-8, invalid syntax, and
nesting deeper than :data:`MAX_DEPTH`, which is checked before the parser sees the text.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

# lamer's own JSON files nest three or four levels; this leaves room for third-party configs
# and stays far below the interpreter's recursion limit, which the parser would otherwise hit
MAX_DEPTH = 64

# a string literal (skipped whole, so brackets inside it do not count), an unterminated one, or a bracket
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|"|[\[\]{}]', re.DOTALL)


class JSONFileError(ValueError):
    """A JSON file that cannot be read; the message names the file and line."""


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _check_depth(text: str, path: Path) -> None:
    depth = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token == '"':  # the rest is one unterminated string: the parser reports it
            return
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise JSONFileError(f"{path}:{_line(text, match.start())}: JSON nested deeper than {MAX_DEPTH} "
                                    "levels, more than any file lamer reads; check that this is the right file")
        elif token in "]}":
            depth -= 1


def read_json(path: str | Path) -> Any:
    """The parsed content of the JSON file ``path``.

    Raises FileNotFoundError (or another OSError) when it cannot be opened, and
    :class:`JSONFileError` naming the file and line when it is not UTF-8, not valid JSON, or
    nested deeper than :data:`MAX_DEPTH`.
    """
    path = Path(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise JSONFileError(f"{path}:{line}: not UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start}); "
                            "save the file as UTF-8") from None
    _check_depth(text, path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise JSONFileError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from None


def read_json_object(path: str | Path) -> dict:
    """:func:`read_json` for a file that must hold a JSON object at the top level."""
    content = read_json(path)
    if not isinstance(content, dict):
        raise JSONFileError(f"{path}: expected a JSON object at the top level, found {type(content).__name__}")
    return content
