"""The one reader of ``wav.scp`` entries, for every place that reads audio from one or hands one to ESPnet.

A line of a Kaldi/ESPnet ``wav.scp`` is ``<utterance> <audio>``, the audio being one of three
kinds (:func:`entry_kind`):

- ``path``: an audio file, ``/data/a.wav``;
- ``ark``: a position in a Kaldi archive, ``/data/a.ark:1234`` (an optional ``[...]`` range
  after it), read with kaldiio as Kaldi and ESPnet's ``kaldi_ark`` type read it;
- ``pipe``: a shell command whose output is the audio, ``sox a.flac -t wav - |`` (or one
  starting with ``|``). kaldiio, and so ESPnet's ``kaldi_ark`` type, runs it with ``/bin/sh``.

A data file must not make lamer run a command the user did not ask for: a ``pipe`` entry is an
error naming its file and line unless the caller allows pipes, which our entry points do only
when given ``--allow_wav_pipes true`` (docs/SECURITY.md, section Data). Anything else that keeps
an entry from being read is an error naming its file and line as well, never a traceback.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import kaldiio
import numpy as np
import soundfile as sf

from lamer.data.audio import prepared_samples
from lamer.data.errors import DataError, decode_line

PIPE_OPTION = "--allow_wav_pipes"
KINDS = ("path", "ark", "pipe")
# how an error tells the user to run a pipe entry, for programs that take PIPE_OPTION
PIPE_HINT = f"pass {PIPE_OPTION} true to run it"
# the same, for programs that never run one
NO_PIPE_HINT = (f"only asr_train, ssl_train and asr_inference run such commands, with {PIPE_OPTION} true; "
                "for this program write the audio to files")
_ARK_OFFSET = re.compile(r":\d+(\[[\d:, ]*\])?$")  # kaldiio's 'file.ark:OFFSET[RANGE]'


def entry_kind(audio: str) -> str:
    """The kind of a ``wav.scp`` audio field, one of :data:`KINDS`, decided as kaldiio decides it."""
    audio = audio.strip()
    if audio.endswith("|") or audio.startswith("|"):
        return "pipe"
    return "ark" if _ARK_OFFSET.search(audio) else "path"


@dataclass(frozen=True)
class WavEntry:
    """One line of a ``wav.scp``: the utterance, its audio field as written, and ``file:line``."""

    utt: str
    audio: str
    origin: str

    @property
    def kind(self) -> str:
        """``path``, ``ark`` or ``pipe`` (:func:`entry_kind`)."""
        return entry_kind(self.audio)


def parse_wav_scp(path: str | Path) -> list[WavEntry]:
    """Every entry of ``path`` in file order, split as ESPnet and kaldiio split a line (the
    utterance, then the rest without surrounding blanks). A line that is not UTF-8 or lacks
    the audio is an error naming it; nothing is run or opened."""
    entries = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            origin = f"{path}:{number}"
            fields = decode_line(raw, origin).split(maxsplit=1)
            if len(fields) != 2:
                raise DataError(f"{origin}: expected '<utterance> <audio>', got {raw.decode('utf-8').rstrip()!r}")
            entries.append(WavEntry(fields[0], fields[1].strip(), origin))
    return entries


def refuse_pipes(entries: list[WavEntry], hint: str = PIPE_HINT) -> None:
    """Raise :class:`DataError` naming the first entry that runs a command; ``hint`` says what to do."""
    for entry in entries:
        if entry.kind == "pipe":
            raise DataError(f"{entry.origin}: the audio of {entry.utt} runs a command ({entry.audio!r}); {hint}")


def read_wav_scp(path: str | Path, allow_pipes: bool = False, hint: str = PIPE_HINT) -> list[WavEntry]:
    """:func:`parse_wav_scp`, with its pipe entries refused (:func:`refuse_pipes`) unless ``allow_pipes``."""
    entries = parse_wav_scp(path)
    if not allow_pipes:
        refuse_pipes(entries, hint)
    return entries


def read_audio(entry: WavEntry, allow_pipes: bool = False) -> np.ndarray:
    """The samples of ``entry`` as float32, which must be 16 kHz mono (a prepared data dir's).

    A file is read with libsndfile, an archive position or (with ``allow_pipes``) a command
    with kaldiio. Any failure, a pipe not allowed included, is a :class:`DataError` naming the
    entry's file and line.
    """
    if not allow_pipes:
        refuse_pipes([entry])
    try:
        if entry.kind == "path":
            data, rate = sf.read(_existing(entry.audio), dtype="float32", always_2d=True)
        else:
            loaded = kaldiio.load_mat(entry.audio)
            if not isinstance(loaded, tuple):
                raise ValueError(f"a {np.shape(loaded)} matrix (features?), not audio")
            rate, data = loaded
            if data.dtype.kind != "i":
                raise ValueError(f"{data.dtype} samples, expected 16-bit PCM")
            data = data.astype(np.float32) / (np.iinfo(data.dtype).max + 1)  # libsndfile's scale
        return prepared_samples(data, rate, entry.audio)
    except Exception as err:  # noqa: BLE001 - whatever the reader raises, the entry is at fault
        raise _unreadable(entry, err) from err


def audio_frames(entry: WavEntry, allow_pipes: bool = False) -> int:
    """The length of ``entry`` in samples: from a file's header (its rate is checked when it is
    read), else by reading it, which runs a pipe entry (only with ``allow_pipes``)."""
    if entry.kind != "path":
        return len(read_audio(entry, allow_pipes))
    try:
        return sf.info(_existing(entry.audio)).frames
    except Exception as err:  # noqa: BLE001 - whatever the reader raises, the entry is at fault
        raise _unreadable(entry, err) from err


def _existing(path: str) -> str:
    if not Path(path).is_file():  # libsndfile would only say "System error"
        raise FileNotFoundError("no such file")
    return path


def _unreadable(entry: WavEntry, err: Exception) -> DataError:
    return DataError(f"{entry.origin}: cannot read the audio of {entry.utt} ({entry.audio}): {err}")
