"""Check a Kaldi-style data dir: what Kaldi's ``validate_data_dir.sh --no-feats`` checks, then ours.

Kaldi's checks (written here from that script's behaviour): every file ends with a newline, is
sorted by its first field in C-locale order without duplicates; utt2spk is sorted by speaker too,
spk2utt is its inverse; every per-utterance file lists the utterances of utt2spk, every
per-speaker file the speakers of spk2utt; text has no non-printable characters, no whitespace
but blanks and no ``<s> </s> #0``; wav.scp names no ``~`` path; utt2dur holds positive numbers.
With ``segments`` (four fields, start before end) the utterances are its, and wav.scp,
``reco2file_and_channel`` and ``reco2dur`` list exactly the recordings it names.
Ours on top: the files of :data:`REQUIRED_FILES`, utterance ids starting with their speaker id,
ISO 639-3 languages, non-empty transcripts and, if asked, audio that exists and matches utt2dur
(a segment's length, which is what Kaldi's ``get_utt2dur.sh`` writes for it).
``text.raw`` may list utterances the dir no longer has (Kaldi's tools do not filter it, see
:mod:`lamer.data.datadir_io`), but not miss one, and has no non-printable characters either.

:func:`validate_data_dir` returns every problem found (each naming the file and line or the
utterance), so one run shows all that is wrong instead of the first fault only.
"""
from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import soundfile as sf

from lamer.data.audio import TARGET_RATE
from lamer.data.datadir_io import EXTRA_UTT_FILES, REQUIRED_FILES, read_table
from lamer.data.dirtools import KALDI_UTT_FILES, RECORDING_FILES, SPK_FILES
from lamer.data.errors import DataError
from lamer.data.wav_scp import NO_PIPE_HINT, WavEntry, parse_segment, read_audio, refuse_pipes

KALDI_REQUIRED_FILES = ("utt2spk", "spk2utt", "text", "wav.scp")
_ISO3 = re.compile(r"^[a-z]{3}$")
_TEXT_RESERVED = ("<s>", "</s>", "#0")
_ALLOWED_BLANKS = "\t "
Rows = list[tuple[str, str, str]]


def _sorted_unique(rows: Rows) -> list[str]:
    problems = []
    for (prev, _, _), (key, _, origin) in zip(rows, rows[1:]):
        if key == prev:
            problems.append(f"{origin}: duplicate id {key}")
        elif key.encode("utf-8") < prev.encode("utf-8"):
            problems.append(f"{origin}: {key} comes after {prev}; sort the file in C-locale order")
    return problems


def _same_ids(data_dir: Path, name: str, rows: Rows, reference: str, ids: list[str], superset_ok: bool) -> list[str]:
    have = {key for key, _, _ in rows}
    missing, extra = sorted(set(ids) - have), sorted(have - set(ids))
    if superset_ok:
        extra = []
    if not missing and not extra:
        return []
    return [f"{data_dir}/{name}: ids differ from {reference}, e.g. {(missing + extra)[0]} "
            f"({len(missing)} missing, {len(extra)} not in {reference})"]


def _check_speakers(data_dir: Path, tables: dict[str, Rows], lamer: bool) -> list[str]:
    problems = []
    speakers = [(key, value, origin) for key, value, origin in tables["utt2spk"]]
    for key, value, origin in speakers:
        if len(value.split()) != 1:
            problems.append(f"{origin}: expected '<utterance> <speaker>', got {key} {value}")
        elif lamer and not key.startswith(value):
            problems.append(f"{origin}: utterance {key} does not start with its speaker id {value}")
    finished: set[str] = set()
    for (_, prev, _), (_, value, origin) in zip(speakers, speakers[1:]):
        if value != prev:
            finished.add(prev)
        if value in finished:
            problems.append(f"{origin}: utterances of speaker {value} are not contiguous; "
                            "make the speaker id a prefix of the utterance id")
        elif value.encode("utf-8") < prev.encode("utf-8"):
            problems.append(f"{origin}: utt2spk is not sorted by speaker id ({value} after {prev}); "
                            "make the speaker id a prefix of the utterance id")
    inverse: dict[str, list[str]] = {}
    for utt, speaker, _ in speakers:
        inverse.setdefault(speaker, []).append(utt)
    listed = {key: value.split() for key, value, _ in tables["spk2utt"]}
    if listed != inverse:
        wrong = sorted(set(listed) ^ set(inverse)
                       | {s for s in listed.keys() & inverse.keys() if listed[s] != inverse[s]})
        problems.append(f"{data_dir}/spk2utt: does not match utt2spk for speaker {wrong[0]} "
                        f"({len(wrong)} speaker(s) differ)")
    return problems


def _check_characters(rows: Rows) -> list[str]:
    problems = []
    for key, value, origin in rows:
        bad = sorted({c for c in value if c not in _ALLOWED_BLANKS
                      and (c.isspace() or unicodedata.category(c) in ("Cc", "Cn"))})
        if bad:
            problems.append(f"{origin}: transcript of {key} has non-printable or non-blank whitespace characters "
                            f"{', '.join(f'U+{ord(c):04X}' for c in bad)}")
    return problems


def _check_text(rows: Rows, lamer: bool) -> list[str]:
    problems = _check_characters(rows)
    for key, value, origin in rows:
        if lamer and not value.strip():
            problems.append(f"{origin}: empty transcript for {key}")
        reserved = [word for word in value.split() if word in _TEXT_RESERVED]
        if reserved:
            problems.append(f"{origin}: transcript of {key} contains the reserved symbol {reserved[0]}")
    return problems


def _check_values(tables: dict[str, Rows], lamer: bool) -> list[str]:
    problems = []
    for key, value, origin in tables.get("wav.scp", []):
        if value.startswith("~"):
            problems.append(f"{origin}: audio of {key} starts with ~ (no shell expands it); write the full path")
    for table, what in (("utt2dur", ""), ("reco2dur", "recording ")):
        for key, value, origin in tables.get(table, []):
            try:
                if not float(value) > 0:
                    problems.append(f"{origin}: duration {value} of {what}{key} is not positive")
            except ValueError:
                problems.append(f"{origin}: duration {value!r} of {what}{key} is not a number")
    for key, value, origin in tables.get("reco2file_and_channel", []):
        fields = value.split()
        if len(fields) != 2 or fields[1] not in ("A", "B", "1"):
            problems.append(f"{origin}: expected '<recording> <file> <channel A or B>', got {key} {value}")
    for key, value, origin in tables.get("utt2num_frames", []):
        if not (value.isdigit() and int(value) > 0):
            problems.append(f"{origin}: frame count {value!r} of {key} is not a positive integer")
    for key, value, origin in tables.get("spk2gender", []):
        if value not in ("m", "f"):
            problems.append(f"{origin}: gender {value!r} of {key} is not m or f")
    if lamer:
        for key, value, origin in tables["utt2lang"]:
            if not _ISO3.match(value):
                problems.append(f"{origin}: language {value!r} of {key} is not an ISO 639-3 code")
    return problems


def _audio_seconds(entry: WavEntry, sample_rate: int) -> tuple[float | None, list[str]]:
    """The length of an entry's audio in seconds (None when unreadable) and its problems. A command
    is never run; an archive entry is read as the models read it (16 kHz mono); of a file, only
    the header is read."""
    if entry.kind != "path":
        try:
            refuse_pipes([entry], NO_PIPE_HINT)
            return len(read_audio(entry)) / TARGET_RATE, []
        except DataError as err:
            return None, [str(err)]
    if not Path(entry.audio).is_file():
        return None, [f"{entry.origin}: audio file {entry.audio} of {entry.utt} does not exist"]
    try:
        info = sf.info(entry.audio)
    except Exception as err:  # noqa: BLE001 - any reader failure means unreadable audio
        return None, [f"{entry.origin}: audio file {entry.audio} of {entry.utt} is unreadable ({err})"]
    problems = []
    if info.samplerate != sample_rate or info.channels != 1:
        problems.append(f"{entry.origin}: {entry.audio} is {info.samplerate} Hz x {info.channels} channels, "
                        f"expected {sample_rate} Hz mono")
    if entry.segment is None:
        return info.frames / info.samplerate, problems
    try:
        cut = entry.segment.cut(info.frames, info.samplerate)
    except ValueError as err:
        return None, [*problems, f"{entry.segment.origin}: the segment of {entry.utt}: {err}"]
    return (cut.stop - cut.start) / info.samplerate, problems


def _check_audio(entries: list[WavEntry], tables: dict[str, Rows], tolerance: float,
                 sample_rate: int) -> list[str]:
    problems = []
    durations = {key: value for key, value, _ in tables["utt2dur"]}
    for entry in entries:
        seconds, found = _audio_seconds(entry, sample_rate)
        problems += found
        origin = entry.origin if entry.segment is None else entry.segment.origin
        try:
            if seconds is not None and abs(seconds - float(durations.get(entry.utt, "nan"))) > tolerance:
                problems.append(f"{origin}: {entry.utt} lasts {seconds:.3f} s, utt2dur says {durations.get(entry.utt)}")
        except ValueError:
            pass  # reported by _check_values
    return problems


def _entries(data_dir: Path, tables: dict[str, Rows]) -> tuple[list[WavEntry], list[str]]:
    """Every utterance's audio (:func:`lamer.data.wav_scp.utterance_entries`, from the rows read)
    and the problems of ``segments``: a malformed line, a recording wav.scp lacks, a recording
    that wav.scp, reco2file_and_channel or reco2dur lists but no segment names."""
    wavs = {key: WavEntry(key, value, origin) for key, value, origin in tables["wav.scp"]}
    if "segments" not in tables:
        return list(wavs.values()), []
    entries, problems = [], []
    for key, value, origin in tables["segments"]:
        try:
            segment = parse_segment(key, value.split(), origin)
        except DataError as err:
            problems.append(str(err))
            continue
        if segment.recording in wavs:
            recording = wavs[segment.recording]
            entries.append(WavEntry(key, recording.audio, recording.origin, segment))
        else:
            problems.append(f"{origin}: recording {segment.recording} of {key} is not in {data_dir}/wav.scp")
    named = {entry.segment.recording for entry in entries}
    for name in ("wav.scp", *RECORDING_FILES):
        unused = sorted({key for key, _, _ in tables.get(name, [])} - named)
        if unused:
            problems.append(f"{data_dir}/{name}: recording {unused[0]} is in no segment "
                            f"({len(unused)} such recording(s)); run python -m lamer.bin.datadir fix")
    return entries, problems


def _read_tables(data_dir: Path, names: tuple[str, ...]) -> tuple[dict[str, Rows], list[str]]:
    tables, problems = {}, []
    for name in names:
        path = data_dir / name
        if not path.is_file():
            continue
        with open(path, "rb") as f:
            f.seek(0, 2)
            if f.tell() and (f.seek(-1, 2), f.read(1))[1] != b"\n":
                problems.append(f"{path}: the last line has no newline")
        try:
            tables[name] = read_table(path, allow_empty_value=name.startswith("text"))
        except DataError as err:
            problems.append(str(err))
    return tables, problems


def validate_data_dir(data_dir: Path, check_audio: bool = True, tolerance: float = 0.02,
                      sample_rate: int = TARGET_RATE, kaldi_only: bool = False) -> list[str]:
    """Every problem of ``data_dir`` as a message; an empty list means the dir is valid.

    With ``kaldi_only`` only Kaldi's checks (``validate_data_dir.sh --no-feats``) are made, for
    dirs that are not ours; otherwise ours too, and with ``check_audio`` every wav.scp file is
    opened and its length (a segment's, with ``segments``) compared with utt2dur (``tolerance`` seconds).
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        return [f"{data_dir}: not a directory"]
    required = KALDI_REQUIRED_FILES if kaldi_only else REQUIRED_FILES
    missing = [name for name in required if not (data_dir / name).is_file()]
    if missing:
        return [f"{data_dir}: missing {', '.join(missing)}"]
    names = tuple(dict.fromkeys((*required, "spk2utt", *KALDI_UTT_FILES, *EXTRA_UTT_FILES, *SPK_FILES,
                                 *RECORDING_FILES)))
    tables, problems = _read_tables(data_dir, names)
    if problems:
        return problems
    for rows in tables.values():
        problems += _sorted_unique(rows)
    entries, found = _entries(data_dir, tables)
    problems += found
    # the utterances: of segments where there is one (wav.scp then lists recordings), else of wav.scp
    reference = "segments" if "segments" in tables else "wav.scp"
    utts = [key for key, _, _ in tables[reference]]
    if not utts:
        return problems + [f"{data_dir}: no utterances"]
    speakers = [key for key, _, _ in tables["spk2utt"]]
    by_recording = ("wav.scp", *RECORDING_FILES) if reference == "segments" else ()
    for name, rows in tables.items():
        if name in SPK_FILES:
            problems += _same_ids(data_dir, name, rows, "spk2utt", speakers, superset_ok=False)
        elif name not in ("spk2utt", reference, *by_recording):
            problems += _same_ids(data_dir, name, rows, reference, utts, superset_ok=name in EXTRA_UTT_FILES)
    problems += _check_speakers(data_dir, tables, lamer=not kaldi_only)
    problems += _check_text(tables["text"], lamer=not kaldi_only)
    problems += _check_values(tables, lamer=not kaldi_only)
    if not kaldi_only:
        problems += _check_characters(tables.get("text.raw", []))
    if check_audio and not kaldi_only:
        problems += _check_audio(entries, tables, tolerance, sample_rate)
    return problems


def validate_dirs(dirs: Sequence[Path], check_audio: bool = True, kaldi_only: bool = False) -> int:
    """Validate every dir of ``dirs``: its problems on stderr, ``DIR: OK`` or the count on stdout;
    returns the exit status (1 when any dir has a problem)."""
    failed = 0
    for data_dir in dirs:
        problems = validate_data_dir(data_dir, check_audio=check_audio, kaldi_only=kaldi_only)
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{data_dir}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
        failed += bool(problems)
    return 1 if failed else 0
