"""Kaldi-style ``text`` and ``utt2lang`` files with the ML-SUPERB language tag, read as Kaldi
tables (:mod:`lamer.data.kaldi_table`), their errors reported as :class:`~lamer.eval.EvalInputError`.

A text line is ``<utt> [iso] transcript``: the language tag ``[iso]`` comes first in references
(it may be absent there, then utt2lang gives the language); in hypotheses the first ``[xxx]``
anywhere is the predicted language (a CTC model may emit characters before it, or omit the space
after it). Transcripts are whitespace-normalised: runs of whitespace collapse to one space, ends
are stripped, so that a space counts as exactly one character in the CER.
"""
from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lamer.data.errors import DataError
from lamer.data.kaldi_table import KeyIndex, table_lines
from lamer.data.kaldi_table import read_utt2lang as read_table_utt2lang
from lamer.data.languages import LANGUAGE_TAG
from lamer.eval import EvalInputError

_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class TextEntry:
    """One line of a text file: the utterance id, its language tag (``None`` when there is
    none), the transcript without that tag, and the 1-based line number for error messages."""

    utt: str
    tag: str | None
    transcript: str
    line: int


def normalize_space(text: str) -> str:
    """Collapse runs of whitespace to one space and strip the ends."""
    return _WHITESPACE.sub(" ", text).strip()


def split_tag(text: str, *, anywhere: bool) -> tuple[str | None, str]:
    """Split a transcript into (language tag, text without that tag).

    With ``anywhere=False`` only a tag at the very start counts (references); with
    ``anywhere=True`` the first ``[xxx]`` in the text counts (hypotheses). Only that one tag is
    removed, and no space is put in its place (decoded tokens are joined without separators, so
    ``x[eng]ab`` reads ``xab``); any later tag stays in the text and is scored as characters
    like any other output.
    """
    found = LANGUAGE_TAG.match(text) if not anywhere else LANGUAGE_TAG.search(text)
    if found is None:
        return None, normalize_space(text)
    rest = text[: found.start()] + text[found.end():]
    return found.group(1), normalize_space(rest)


@contextlib.contextmanager
def _as_eval_input() -> Iterator[None]:
    """A table the data layer refuses (bytes that are not UTF-8, a repeated utterance) is bad
    input to the evaluation tools, which report EvalInputError."""
    try:
        yield
    except DataError as err:
        raise EvalInputError(str(err)) from err


def read_text(path: Path, *, tag_anywhere: bool) -> dict[str, TextEntry]:
    """Read a Kaldi-style text file into ``{utt: TextEntry}`` in file order.

    Raises EvalInputError naming the file and line for a blank line or a duplicate utterance id.
    A line holding only an id is an empty transcript (a hypothesis may legitimately be empty).
    """
    entries: dict[str, TextEntry] = {}
    index = KeyIndex("utterance id")
    with _as_eval_input():
        for line in table_lines(path):
            if not line.key:
                raise EvalInputError(f"{line.origin}: blank line; every line must start with an utterance id")
            index.add(line)
            tag, transcript = split_tag(line.rest, anywhere=tag_anywhere)
            entries[line.key] = TextEntry(utt=line.key, tag=tag, transcript=transcript, line=line.number)
    return entries


def read_utt2lang(path: Path) -> dict[str, str]:
    """Read ``<utt> <iso>`` lines into ``{utt: iso}``; errors name the file and line."""
    with _as_eval_input():
        return read_table_utt2lang(path)


def read_lid(path: Path) -> dict[str, TextEntry]:
    """Read a language classifier's ``<utt> [iso]`` lines (``1best_recog/lid``) into
    ``{utt: TextEntry}`` (the tag without brackets, an empty transcript); errors name the file and line."""
    entries: dict[str, TextEntry] = {}
    index = KeyIndex("utterance id")
    with _as_eval_input():
        for line in table_lines(path):
            fields = line.text.split()
            if len(fields) != 2 or not LANGUAGE_TAG.fullmatch(fields[1]):
                raise EvalInputError(f"{line.origin}: expected '<utt> [iso]', got {line.text!r}")
            index.add(line)
            entries[line.key] = TextEntry(utt=line.key, tag=fields[1][1:-1], transcript="", line=line.number)
    return entries
