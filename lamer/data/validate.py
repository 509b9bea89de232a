"""Check a Kaldi-style data dir: files sorted and unique, consistent, audio present and readable.

:func:`validate_data_dir` returns every problem found (each naming the file and line or the
utterance), so one run shows all that is wrong instead of the first fault only.
"""
from __future__ import annotations

import re
from pathlib import Path

import soundfile as sf

from lamer.data.audio import TARGET_RATE
from lamer.data.datadir import REQUIRED_FILES, read_table
from lamer.data.errors import DataError

PER_UTTERANCE_FILES = ("wav.scp", "text", "utt2spk", "utt2lang", "utt2dur")
_ISO3 = re.compile(r"^[a-z]{3}$")


def _sorted_unique(path: Path, rows: list[tuple[str, str, str]]) -> list[str]:
    problems = []
    for (prev, _, _), (key, _, origin) in zip(rows, rows[1:]):
        if key == prev:
            problems.append(f"{origin}: duplicate id {key}")
        elif key < prev:
            problems.append(f"{origin}: {key} comes after {prev}; sort the file in C-locale order")
    return problems


def _check_values(data_dir: Path, tables: dict[str, list[tuple[str, str, str]]]) -> list[str]:
    problems = []
    spk = {key: value for key, value, _ in tables["utt2spk"]}
    for key, value, origin in tables["utt2spk"]:
        if not key.startswith(value):
            problems.append(f"{origin}: utterance {key} does not start with its speaker id {value}")
    finished: set[str] = set()
    for (_, prev, _), (key, value, origin) in zip(tables["utt2spk"], tables["utt2spk"][1:]):
        if value != prev:
            finished.add(prev)
            if value in finished:
                problems.append(f"{origin}: utterances of speaker {value} are not contiguous; "
                                "make the speaker id a prefix of the utterance id")
    for key, value, origin in tables["utt2lang"]:
        if not _ISO3.match(value):
            problems.append(f"{origin}: language {value!r} of {key} is not an ISO 639-3 code")
    for key, value, origin in tables["text"]:
        if not value.strip():
            problems.append(f"{origin}: empty transcript for {key}")
    for key, value, origin in tables["utt2dur"]:
        try:
            if not float(value) > 0:
                problems.append(f"{origin}: duration {value} of {key} is not positive")
        except ValueError:
            problems.append(f"{origin}: duration {value!r} of {key} is not a number")
    inverse: dict[str, list[str]] = {}
    for utt, speaker in sorted(spk.items()):
        inverse.setdefault(speaker, []).append(utt)
    listed = {key: value.split() for key, value, _ in tables["spk2utt"]}
    if listed != inverse:
        wrong = sorted(set(listed) ^ set(inverse) | {s for s in listed.keys() & inverse.keys() if listed[s] != inverse[s]})
        problems.append(f"{data_dir}/spk2utt: does not match utt2spk for speaker {wrong[0]} ({len(wrong)} speaker(s) differ)")
    return problems


def _check_audio(tables: dict[str, list[tuple[str, str, str]]], tolerance: float, sample_rate: int) -> list[str]:
    problems = []
    durations = {key: value for key, value, _ in tables["utt2dur"]}
    for key, value, origin in tables["wav.scp"]:
        path = Path(value)
        if not path.is_file():
            problems.append(f"{origin}: audio file {value} of {key} does not exist")
            continue
        try:
            info = sf.info(path)
        except Exception as err:  # noqa: BLE001 - any reader failure means unreadable audio
            problems.append(f"{origin}: audio file {value} of {key} is unreadable ({err})")
            continue
        if info.samplerate != sample_rate or info.channels != 1:
            problems.append(f"{origin}: {value} is {info.samplerate} Hz x {info.channels} channels, expected {sample_rate} Hz mono")
        try:
            if abs(info.frames / info.samplerate - float(durations.get(key, "nan"))) > tolerance:
                problems.append(f"{origin}: {key} lasts {info.frames / info.samplerate:.3f} s, utt2dur says {durations.get(key)}")
        except ValueError:
            pass  # reported by _check_values
    return problems


def validate_data_dir(data_dir: Path, check_audio: bool = True, tolerance: float = 0.02,
                      sample_rate: int = TARGET_RATE) -> list[str]:
    """Every problem of ``data_dir`` as a message; an empty list means the dir is valid.

    With ``check_audio`` every wav.scp file is opened and its length compared with utt2dur
    (``tolerance`` seconds).
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        return [f"{data_dir}: not a directory"]
    missing = [name for name in REQUIRED_FILES if not (data_dir / name).is_file()]
    if missing:
        return [f"{data_dir}: missing {', '.join(missing)}"]
    tables, problems = {}, []
    for name in (*REQUIRED_FILES, "text.raw"):
        if (data_dir / name).is_file():
            try:
                tables[name] = read_table(data_dir / name, allow_empty_value=name.startswith("text"))
            except DataError as err:
                problems.append(str(err))
    if problems:
        return problems
    for name, rows in tables.items():
        problems += _sorted_unique(data_dir / name, rows)
    ids = [key for key, _, _ in tables["wav.scp"]]
    if not ids:
        return problems + [f"{data_dir}: no utterances"]
    for name in (*PER_UTTERANCE_FILES, "text.raw"):
        if name in tables and {key for key, _, _ in tables[name]} != set(ids):
            extra = sorted({key for key, _, _ in tables[name]} ^ set(ids))
            problems.append(f"{data_dir}/{name}: ids differ from wav.scp, e.g. {extra[0]} ({len(extra)} differ)")
    problems += _check_values(data_dir, tables)
    if check_audio:
        problems += _check_audio(tables, tolerance, sample_rate)
    return problems
