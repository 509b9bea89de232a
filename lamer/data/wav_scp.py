"""The one reader of ``wav.scp`` entries, for every place that reads audio from one or hands one to ESPnet.

A line of a Kaldi/ESPnet ``wav.scp`` is ``<utterance> <audio>``, the audio being one of three
kinds (:func:`entry_kind`):

- ``path``: an audio file, ``/data/a.wav``;
- ``ark``: a position in a Kaldi archive, ``/data/a.ark:1234`` (an optional ``[...]`` range
  after it), read with kaldiio as Kaldi and ESPnet's ``kaldi_ark`` type read it;
- ``pipe``: a shell command whose output is the audio, ``sox a.flac -t wav - |`` (or one
  starting with ``|``). kaldiio, and so ESPnet's ``kaldi_ark`` type, runs it with ``/bin/sh``.

A data dir with a ``segments`` file (``<utterance> <recording> <start> <end>``, seconds) keys its
``wav.scp`` by recording, and each utterance is a stretch of one (:func:`utterance_entries`), cut
as Kaldi's ``extract-segments`` cuts it (:meth:`Segment.cut`).

A data file must not make lamer run a command the user did not ask for: a ``pipe`` entry is an
error naming its file and line unless the caller allows pipes, which our entry points do only
when given ``--allow_wav_pipes true`` (docs/SECURITY.md, section Data). Anything else that keeps
an entry from being read is an error naming its file and line as well, never a traceback.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import kaldiio
import numpy as np
import soundfile as sf

from lamer.data.audio import prepared_samples
from lamer.data.errors import DataError
from lamer.data.kaldi_table import table_lines

PIPE_OPTION = "--allow_wav_pipes"
KINDS = ("path", "ark", "pipe")
# how an error tells the user to run a pipe entry, for programs that take PIPE_OPTION
PIPE_HINT = f"pass {PIPE_OPTION} true to run it"
# the same, for programs that never run one
NO_PIPE_HINT = (f"only asr_train, ssl_train, asr_inference and datadir format run such commands, with "
                f"{PIPE_OPTION} true; for this program write the audio to files first: python -m lamer.bin.datadir "
                f"format {PIPE_OPTION} true SRC DEST")
_ARK_OFFSET = re.compile(r":\d+(\[[\d:, ]*\])?$")  # kaldiio's 'file.ark:OFFSET[RANGE]'
_SECONDS = re.compile(r"^(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")  # a non-negative decimal number
# extract-segments' --max-overshoot: an end this far past the recording is cut to its end
MAX_OVERSHOOT = 0.5


def entry_kind(audio: str) -> str:
    """The kind of a ``wav.scp`` audio field, one of :data:`KINDS`, decided as kaldiio decides it."""
    audio = audio.strip()
    if audio.endswith("|") or audio.startswith("|"):
        return "pipe"
    return "ark" if _ARK_OFFSET.search(audio) else "path"


@dataclass(frozen=True)
class Segment:
    """A line of a ``segments`` file: an utterance is ``recording`` from ``start`` to ``end``
    (seconds, as written); ``origin`` is ``file:line``."""

    recording: str
    start: str
    end: str
    origin: str

    @property
    def fields(self) -> str:
        """``<recording> <start> <end>``, the line after the utterance (blanks made single)."""
        return f"{self.recording} {self.start} {self.end}"

    def cut(self, frames: int, rate: int) -> slice:
        """The samples of the utterance in a recording of ``frames`` samples at ``rate`` Hz, as
        Kaldi's ``extract-segments`` cuts them (times to samples by truncation; an end at most
        :data:`MAX_OVERSHOOT` seconds past the recording is cut to its end). A segment that
        starts or ends further out is a ValueError (extract-segments skips it with a warning)."""
        start, end = int(float(self.start) * rate), int(float(self.end) * rate)
        if start >= frames or end >= frames + int(MAX_OVERSHOOT * rate):
            raise ValueError(f"{self.start}..{self.end} s is outside recording {self.recording} "
                             f"({frames / rate:.3f} s)")
        return slice(start, min(end, frames))


def parse_segment(utt: str, fields: list[str], origin: str) -> Segment:
    """The :class:`Segment` of a ``segments`` line split into ``utt`` and its other ``fields``;
    a line that Kaldi's ``validate_data_dir.sh`` refuses (not four fields, times that are not
    ``0 <= start < end``) is a :class:`DataError` naming ``origin``."""
    if len(fields) != 3 or not all(_SECONDS.match(time) for time in fields[1:]) \
            or float(fields[1]) >= float(fields[2]):
        raise DataError(f"{origin}: expected '<utterance> <recording> <start> <end>' with 0 <= start < end "
                        f"(seconds), got {' '.join([utt, *fields])!r}")
    return Segment(fields[0], fields[1], fields[2], origin)


def read_segments(path: str | Path) -> list[tuple[str, Segment]]:
    """``(utterance, segment)`` of every line of the ``segments`` file ``path``, in file order."""
    out = []
    for line in table_lines(path):
        fields = line.text.split()
        if not fields:
            raise DataError(f"{line.origin}: empty line; remove it")
        out.append((fields[0], parse_segment(fields[0], fields[1:], line.origin)))
    return out


@dataclass(frozen=True)
class WavEntry:
    """The audio of one utterance: its ``wav.scp`` field as written and that line's ``file:line``;
    with ``segment``, the field is the recording's and the utterance a stretch of it."""

    utt: str
    audio: str
    origin: str
    segment: Segment | None = None

    @property
    def kind(self) -> str:
        """``path``, ``ark`` or ``pipe`` (:func:`entry_kind`)."""
        return entry_kind(self.audio)

    @property
    def plain(self) -> bool:
        """True for a whole audio file, the one kind ESPnet's ``sound`` reader reads."""
        return self.kind == "path" and self.segment is None


def parse_wav_scp(path: str | Path) -> list[WavEntry]:
    """Every entry of ``path`` in file order, split as ESPnet and kaldiio split a line (the
    utterance, then the rest without surrounding blanks). A line that is not UTF-8 or lacks
    the audio is an error naming it; nothing is run or opened."""
    entries = []
    for line in table_lines(path):
        fields = line.text.split(maxsplit=1)
        if len(fields) != 2:
            raise DataError(f"{line.origin}: expected '<utterance> <audio>', got {line.text.rstrip()!r}")
        entries.append(WavEntry(fields[0], fields[1].strip(), line.origin))
    return entries


def utterance_entries(data_dir: str | Path, allow_pipes: bool = False, hint: str = PIPE_HINT) -> list[WavEntry]:
    """The audio of every utterance of a Kaldi data dir: its ``wav.scp`` entries, or with a
    ``segments`` file one entry per segment (in that file's order), each naming its recording's
    ``wav.scp`` line. A segment whose recording ``wav.scp`` lacks is an error naming its line, and
    so is an entry that runs a command unless ``allow_pipes`` (``hint`` says what to do)."""
    data_dir = Path(data_dir)
    entries = parse_wav_scp(data_dir / "wav.scp")
    if (data_dir / "segments").is_file():
        recordings = {entry.utt: entry for entry in entries}
        entries = []
        for utt, segment in read_segments(data_dir / "segments"):
            recording = recordings.get(segment.recording)
            if recording is None:
                raise DataError(f"{segment.origin}: recording {segment.recording} of {utt} is not in "
                                f"{data_dir / 'wav.scp'}")
            entries.append(WavEntry(utt, recording.audio, recording.origin, segment))
    if not allow_pipes:
        refuse_pipes(entries, hint)
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
    with kaldiio; a segment is cut from its recording. Any failure, a pipe not allowed included,
    is a :class:`DataError` naming the entry's file and line.
    """
    data, rate = read_samples(entry, allow_pipes)
    try:
        return prepared_samples(data, rate, entry.audio)
    except ValueError as err:
        raise _unreadable(entry, err) from err


def read_samples(entry: WavEntry, allow_pipes: bool = False) -> tuple[np.ndarray, int]:
    """The samples of ``entry`` (float32, samples x channels, libsndfile's scale) and their rate,
    whatever they are; failures as :func:`read_audio`'s."""
    if not allow_pipes:
        refuse_pipes([entry])
    try:
        if entry.kind == "path":
            return _read_file(entry)
        if entry.segment is None:
            rate, data = _load(entry.audio)
            return data, rate
        rate, data = _load_recording(entry.audio)
        return data[entry.segment.cut(len(data), rate)].copy(), rate
    except Exception as err:  # noqa: BLE001 - whatever the reader raises, the entry is at fault
        raise _unreadable(entry, err) from err


def _read_file(entry: WavEntry) -> tuple[np.ndarray, int]:
    path = _existing(entry.audio)
    if entry.segment is None:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
        return data, rate
    info = sf.info(path)  # only the segment is read
    cut = entry.segment.cut(info.frames, info.samplerate)
    data, rate = sf.read(path, start=cut.start, stop=cut.stop, dtype="float32", always_2d=True)
    return data, rate


def _load(audio: str) -> tuple[int, np.ndarray]:
    """kaldiio's reading of an archive position or command as (rate, samples x channels): Kaldi's
    wav archives give integers, scaled here as libsndfile scales them; ESPnet's flac/wav
    archives (written through soundfile) give floats already in [-1, 1]."""
    loaded = kaldiio.load_mat(audio)
    if not isinstance(loaded, tuple):
        raise ValueError(f"a {np.shape(loaded)} matrix (features?), not audio")
    rate, data = loaded
    if data.dtype.kind == "i":
        data = data.astype(np.float32) / (np.iinfo(data.dtype).max + 1)  # libsndfile's scale
    elif data.dtype.kind != "f":
        raise ValueError(f"{data.dtype} samples, expected 16-bit PCM or floats")
    data = data.astype(np.float32, copy=False)
    return rate, data.reshape(len(data), -1)


@functools.lru_cache(maxsize=1)
def _load_recording(audio: str) -> tuple[int, np.ndarray]:
    """:func:`_load`, kept for the next call: the segments of a recording usually follow each
    other, and an archive entry or a command gives the whole recording at once."""
    rate, data = _load(audio)
    data.flags.writeable = False  # shared by the segments cut from it
    return rate, data


def audio_frames(entry: WavEntry, allow_pipes: bool = False) -> int:
    """The length of ``entry`` in samples: from a file's header (its rate is checked when it is
    read), else by reading it, which runs a pipe entry (only with ``allow_pipes``)."""
    if entry.kind != "path":
        return len(read_audio(entry, allow_pipes))
    try:
        info = sf.info(_existing(entry.audio))
        if entry.segment is None:
            return info.frames
        cut = entry.segment.cut(info.frames, info.samplerate)
        return cut.stop - cut.start
    except Exception as err:  # noqa: BLE001 - whatever the reader raises, the entry is at fault
        raise _unreadable(entry, err) from err


def _existing(path: str) -> str:
    if not Path(path).is_file():  # libsndfile would only say "System error"
        raise FileNotFoundError("no such file")
    return path


def _unreadable(entry: WavEntry, err: Exception) -> DataError:
    where = "" if entry.segment is None else f", the segment of {entry.segment.origin}"
    return DataError(f"{entry.origin}: cannot read the audio of {entry.utt} ({entry.audio}{where}): {err}")
