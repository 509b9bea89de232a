"""Kaldi-style data dirs: ``wav.scp text text.raw utt2spk spk2utt utt2lang utt2dur`` [``segments``].

``text.raw`` (the transcript before normalisation) is ours: Kaldi's ``fix_data_dir.sh`` and
``subset_data_dir.sh`` do not know it, so after them it may list utterances the dir no longer
has. Readers and the validator therefore take the utterances of ``wav.scp`` and use only those
rows of ``text.raw`` (an utterance missing from it is still an error); ``python -m
lamer.bin.datadir`` keeps it consistent like every other per-utterance file.

Every file is sorted by utterance (or speaker) id in C-locale order, which for Python strings
is code-point order. A dir is written into a temporary sibling and renamed into place with a
``.done`` marker inside, so a dir that exists with ``.done`` is complete and a dir without it
is the leftover of an interrupted run.

A dir with ``segments`` (Kaldi's recordings cut into utterances) keys ``wav.scp`` by recording;
it is read and written as such, each utterance carrying its segment (:mod:`lamer.data.wav_scp`).
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lamer.atomic import atomic_dir
from lamer.data.errors import DataError, disk_full_stops
from lamer.data.kaldi_table import table_lines
from lamer.data.wav_scp import Segment, WavEntry, utterance_entries

DONE_MARKER = ".done"
REQUIRED_FILES = ("wav.scp", "text", "utt2spk", "spk2utt", "utt2lang", "utt2dur")
# Per-utterance files Kaldi's tools do not filter: may list more utterances than wav.scp.
EXTRA_UTT_FILES = ("text.raw",)


@dataclass(frozen=True)
class Utterance:
    """One utterance: ``wav`` its ``wav.scp`` audio field (a 16 kHz mono file where lamer
    prepared it), ``duration`` in seconds; with ``segment``, ``wav`` is the audio of the
    recording it is cut from. ``wav_origin`` is the ``wav.scp`` line it was read from."""

    utt_id: str
    speaker: str
    lang: str
    text: str
    wav: str
    duration: float
    text_raw: str | None = None
    segment: Segment | None = None
    wav_origin: str = ""

    @property
    def entry(self) -> WavEntry:
        """The utterance's audio, for :func:`lamer.data.wav_scp.read_audio`."""
        return WavEntry(self.utt_id, self.wav, self.wav_origin or f"utterance {self.utt_id}", self.segment)


def is_complete(data_dir: Path) -> bool:
    """True when ``data_dir`` was written completely by :func:`write_data_dir`."""
    return (Path(data_dir) / DONE_MARKER).is_file()


def _write_lines(path: Path, rows: Iterable[tuple[str, str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for key, value in rows:
            f.write(f"{key} {value}\n")


def write_data_dir(utterances: Iterable[Utterance], out_dir: Path, extra: dict[str, object] | None = None) -> Path:
    """Write a data dir atomically (temp dir, then rename) and mark it done.

    Raises :class:`DataError` on duplicate ids or an utterance id without its speaker prefix,
    :class:`~lamer.data.errors.DiskFull` when the disk is full (nothing is left half-written).
    ``extra`` is saved as ``report.json`` (counts of skipped and filtered rows). Utterances cut
    from recordings are written with ``segments`` and ``wav.scp`` keyed by recording.
    """
    out_dir = Path(out_dir)
    utts = sorted(utterances, key=lambda u: u.utt_id)
    for prev, cur in zip(utts, utts[1:]):
        if prev.utt_id == cur.utt_id:
            raise DataError(f"{out_dir}: duplicate utterance id {cur.utt_id}")
    for utt in utts:
        if not utt.utt_id.startswith(utt.speaker):
            raise DataError(f"{out_dir}: utterance {utt.utt_id} does not start with its speaker id {utt.speaker}")
    spk2utt: dict[str, list[str]] = {}
    for utt in utts:
        spk2utt.setdefault(utt.speaker, []).append(utt.utt_id)
    recordings = _recordings(utts, out_dir)
    with disk_full_stops(out_dir), atomic_dir(out_dir) as tmp:
        if recordings is None:
            _write_lines(tmp / "wav.scp", ((u.utt_id, u.wav) for u in utts))
        else:
            _write_lines(tmp / "wav.scp", sorted(recordings.items()))
            _write_lines(tmp / "segments", ((u.utt_id, u.segment.fields) for u in utts if u.segment))
        _write_lines(tmp / "text", ((u.utt_id, u.text) for u in utts))
        if all(u.text_raw is not None for u in utts):
            _write_lines(tmp / "text.raw", ((u.utt_id, u.text_raw) for u in utts))
        _write_lines(tmp / "utt2spk", ((u.utt_id, u.speaker) for u in utts))
        _write_lines(tmp / "spk2utt", ((spk, " ".join(ids)) for spk, ids in sorted(spk2utt.items())))
        _write_lines(tmp / "utt2lang", ((u.utt_id, u.lang) for u in utts))
        _write_lines(tmp / "utt2dur", ((u.utt_id, f"{u.duration:.4f}") for u in utts))
        if extra is not None:
            (tmp / "report.json").write_text(json.dumps(extra, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        (tmp / DONE_MARKER).write_text("", encoding="utf-8")
    return out_dir


def _recordings(utts: list[Utterance], out_dir: Path) -> dict[str, str] | None:
    """``{recording: audio}`` of utterances cut from recordings (None when none is): all or none
    of them must be, and a recording has one audio field."""
    cut = [u for u in utts if u.segment is not None]
    if not cut:
        return None
    if len(cut) != len(utts):
        whole = next(u for u in utts if u.segment is None)
        raise DataError(f"{out_dir}: {whole.utt_id} is a whole file but {cut[0].utt_id} is cut from a recording; "
                        "a data dir has segments for every utterance or for none")
    recordings: dict[str, str] = {}
    for utt in cut:
        recording = utt.segment.recording
        if recordings.setdefault(recording, utt.wav) != utt.wav:
            raise DataError(f"{out_dir}: recording {recording} is both {recordings[recording]!r} and {utt.wav!r}")
    return recordings


def read_table(path: Path, allow_empty_value: bool = False) -> list[tuple[str, str, str]]:
    """``(key, value, origin)`` rows of a Kaldi ``key value`` file, in file order; a line that is
    not UTF-8 is an error naming it. The value is the line after the first blank, as written."""
    rows = []
    for line in table_lines(path):
        key, _, value = line.text.partition(" ")
        if not key or (not value and not allow_empty_value):
            raise DataError(f"{line.origin}: expected '<key> <value>', got {line.text.rstrip()!r}")
        rows.append((key, value, line.origin))
    return rows


def read_data_dir(data_dir: Path) -> list[Utterance]:
    """Utterances of a data dir, sorted by id; every id must be in every per-utterance file (of
    ``segments`` where the dir has one, else of ``wav.scp``). Nothing is run or opened: an entry
    that runs a command is for its reader to refuse."""
    data_dir = Path(data_dir)
    for name in REQUIRED_FILES:
        if not (data_dir / name).is_file():
            raise DataError(f"{data_dir}: missing {name}")
    audio = {entry.utt: entry for entry in utterance_entries(data_dir, allow_pipes=True)}
    reference = "segments" if (data_dir / "segments").is_file() else "wav.scp"
    tables = {
        name: {key: value for key, value, _ in read_table(data_dir / name, allow_empty_value=name.startswith("text"))}
        for name in ("text", "utt2spk", "utt2lang", "utt2dur", "text.raw")
        if (data_dir / name).is_file()
    }
    ids = audio.keys()
    for name, table in tables.items():
        missing = sorted(ids - table.keys())
        extra = sorted(table.keys() - ids) if name not in EXTRA_UTT_FILES else []
        if missing or extra:
            raise DataError(f"{data_dir}/{name}: ids differ from {reference}, e.g. {(missing + extra)[0]} "
                            f"({len(missing)} missing, {len(extra)} not in {reference})")
    raw = tables.get("text.raw", {})
    try:
        return [
            Utterance(utt, tables["utt2spk"][utt], tables["utt2lang"][utt], tables["text"][utt],
                      audio[utt].audio, float(tables["utt2dur"][utt]), raw.get(utt), audio[utt].segment,
                      audio[utt].origin)
            for utt in sorted(ids)
        ]
    except ValueError as err:
        raise DataError(f"{data_dir}/utt2dur: not a number ({err})") from err
