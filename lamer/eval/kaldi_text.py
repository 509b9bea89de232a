"""Kaldi-style ``text`` and ``utt2lang`` files with the ML-SUPERB language tag.

A text line is ``<utt> [iso] transcript``: the language tag ``[iso]`` comes first in references
(it may be absent there, then utt2lang gives the language); in hypotheses the first ``[xxx]``
anywhere is the predicted language (a CTC model may emit characters before it, or omit the space
after it). Transcripts are whitespace-normalised: runs of whitespace collapse to one space, ends
are stripped, so that a space counts as exactly one character in the CER.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lamer.eval import EvalInputError

LANGUAGE_TAG = re.compile(r"\[([^\[\]\s]+)\]")
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


def _numbered_lines(path: Path):
    """Yield (line number, line without the newline), naming the file on a decoding error."""
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                yield number, line.rstrip("\n").rstrip("\r")
    except UnicodeDecodeError as err:
        raise EvalInputError(f"{path}: not valid UTF-8 ({err})") from err


def read_text(path: Path, *, tag_anywhere: bool) -> dict[str, TextEntry]:
    """Read a Kaldi-style text file into ``{utt: TextEntry}`` in file order.

    Raises EvalInputError naming the file and line for a blank line or a duplicate utterance id.
    A line holding only an id is an empty transcript (a hypothesis may legitimately be empty).
    """
    entries: dict[str, TextEntry] = {}
    for number, line in _numbered_lines(Path(path)):
        fields = line.split(maxsplit=1)
        if not fields:
            raise EvalInputError(f"{path}:{number}: blank line; every line must start with an utterance id")
        utt = fields[0]
        if utt in entries:
            raise EvalInputError(
                f"{path}:{number}: duplicate utterance id {utt!r} (first on line {entries[utt].line})"
            )
        tag, transcript = split_tag(fields[1] if len(fields) > 1 else "", anywhere=tag_anywhere)
        entries[utt] = TextEntry(utt=utt, tag=tag, transcript=transcript, line=number)
    return entries


def read_utt2lang(path: Path) -> dict[str, str]:
    """Read ``<utt> <iso>`` lines into ``{utt: iso}``; errors name the file and line."""
    utt2lang: dict[str, str] = {}
    for number, line in _numbered_lines(Path(path)):
        fields = line.split()
        if len(fields) != 2:
            raise EvalInputError(
                f"{path}:{number}: expected '<utt> <iso>', got {len(fields)} field(s): {line!r}"
            )
        utt, lang = fields
        if utt in utt2lang:
            raise EvalInputError(f"{path}:{number}: duplicate utterance id {utt!r}")
        utt2lang[utt] = lang
    return utt2lang


def read_lid(path: Path) -> dict[str, TextEntry]:
    """Read a language classifier's ``<utt> [iso]`` lines (``1best_recog/lid``) into
    ``{utt: TextEntry}`` (the tag without brackets, an empty transcript); errors name the file and line."""
    entries: dict[str, TextEntry] = {}
    for number, line in _numbered_lines(Path(path)):
        fields = line.split()
        if len(fields) != 2 or not LANGUAGE_TAG.fullmatch(fields[1]):
            raise EvalInputError(f"{path}:{number}: expected '<utt> [iso]', got {line!r}")
        utt = fields[0]
        if utt in entries:
            raise EvalInputError(f"{path}:{number}: duplicate utterance id {utt!r} (first on line {entries[utt].line})")
        entries[utt] = TextEntry(utt=utt, tag=fields[1][1:-1], transcript="", line=number)
    return entries
