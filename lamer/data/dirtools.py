"""Fix, subset, combine and copy Kaldi data dirs with the semantics of Kaldi's ``utils/`` scripts.

pip's ESPnet ships no ``utils/``; these are the operations of ``fix_data_dir.sh``,
``subset_data_dir.sh``, ``combine_data.sh`` and ``copy_data_dir.sh`` (written here from their
documented behaviour, checked against the scripts' outputs on the same inputs). Every
per-utterance file is kept consistent, including files Kaldi does not know: our ``text.raw``
always, others named with ``utt_extra``/``spk_extra``. With ``segments``, ``wav.scp``,
``reco2file_and_channel`` and ``reco2dur`` are keyed by recording and keep the recordings that
the remaining segments name, as Kaldi's scripts keep them.

Where these tools differ from Kaldi's, on purpose:
- ``fix`` also drops utterances missing from ``text.raw`` or an extra file (Kaldi only filters
  those), so afterwards every per-utterance file lists the same utterances; its ``.backup/`` holds
  the files as they were before the fix.
- ``combine`` refuses an utterance id found in two sources (Kaldi keeps the first silently), and
  writes no ``.backup/``.
- ``copy`` sorts the files after adding a suffix (Kaldi's copy can leave them unsorted).
- a ``segments`` line must have four fields, ``0 <= start < end`` (``validate_data_dir.sh``'s rule).

Each tool holds the lock of the dir it writes (:mod:`lamer.data.lock`, the lock ``prepare_data``
takes too) from reading its sources to the last write: one writer per output. A second writer
waits for it, at most ``lock_timeout`` seconds, then stops naming the holder.
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from lamer.atomic import atomic_dir, write_text_atomic
from lamer.data.datadir_io import DONE_MARKER, EXTRA_UTT_FILES
from lamer.data.errors import DataError
from lamer.data.kaldi_table import table_lines
from lamer.data.lock import output_lock
from lamer.data.wav_scp import parse_segment

# Files keyed by utterance id that Kaldi's scripts keep consistent, then ours (wav.scp is keyed
# by recording where there is a segments file).
KALDI_UTT_FILES = ("utt2spk", "wav.scp", "segments", "text", "utt2lang", "utt2dur", "utt2num_frames", "utt2uniq",
                   "feats.scp", "vad.scp", "utt2warp")
UTT_FILES = (*KALDI_UTT_FILES, *EXTRA_UTT_FILES)
SPK_FILES = ("spk2gender", "cmvn.scp", "spk2warp")
# Files keyed by recording id; without segments, a recording is an utterance.
RECORDING_FILES = ("reco2file_and_channel", "reco2dur")
# An utterance must be in each of these (fix_data_dir.sh's intersection; wav.scp only without
# segments); utt2dur and utt2num_frames only count with a positive value.
REQUIRED_BY_FIX = ("wav.scp", "segments", "text", "utt2lang", "feats.scp", "utt2dur", "utt2num_frames",
                   *EXTRA_UTT_FILES)
POSITIVE_VALUE = ("utt2dur", "utt2num_frames")
# The files Kaldi's copy_data_dir.sh rewrites with apply_map.pl, which joins the fields of each
# line with one blank; the others (ours, extra files) keep their lines as written.
MAPPED_BY_KALDI = ("utt2spk", "wav.scp", "segments", "text", "utt2lang", "utt2dur", "utt2num_frames", "utt2uniq",
                   "feats.scp", "vad.scp", "reco2dur", "spk2gender", "cmvn.scp")
BACKUP_DIR = ".backup"


@dataclass(frozen=True)
class Row:
    """One line of a Kaldi table: its first field and the whole line (without newline)."""

    key: str
    line: str

    @property
    def value(self) -> str:
        """The line after the key and the blank that follows it."""
        return self.line.lstrip()[len(self.key):].lstrip()

    def rekey(self, key: str) -> Row:
        """The same line under another key."""
        return Row(key, key + self.line.lstrip()[len(self.key):])


Tables = dict[str, list[Row]]


@dataclass(frozen=True)
class ExtraFiles:
    """Per-utterance and per-speaker files Kaldi does not know, kept consistent like its own."""

    utt: tuple[str, ...] = ()
    spk: tuple[str, ...] = ()

    def utt_files(self) -> tuple[str, ...]:
        """Every per-utterance file name: Kaldi's, ours, then these."""
        return (*UTT_FILES, *(name for name in self.utt if name not in UTT_FILES))

    def utt_keyed(self, tables: Tables) -> tuple[str, ...]:
        """The files of ``tables`` keyed by utterance: with segments, all but wav.scp and the
        recording files; without, the recording files too (a recording is an utterance)."""
        keyed = (*self.utt_files(), *RECORDING_FILES)
        return tuple(name for name in keyed if name in tables and name not in recording_keyed(tables))

    def spk_files(self) -> tuple[str, ...]:
        """Every per-speaker file name: Kaldi's, then these."""
        return (*SPK_FILES, *(name for name in self.spk if name not in SPK_FILES))


def _read_rows(path: Path) -> list[Row]:
    rows = []
    for line in table_lines(path):
        if not line.key:
            raise DataError(f"{line.origin}: empty line; remove it")
        rows.append(Row(line.key, line.text))
    return rows


def recording_keyed(tables: Tables) -> tuple[str, ...]:
    """The files of ``tables`` keyed by recording: wav.scp and the recording files where there is a
    segments file, none where there is not."""
    return tuple(name for name in ("wav.scp", *RECORDING_FILES) if name in tables) if "segments" in tables else ()


def load_tables(data_dir: Path, extra: ExtraFiles = ExtraFiles()) -> Tables:
    """Every known per-utterance, per-speaker and per-recording file of ``data_dir`` (``utt2spk``
    required; with ``segments``, ``wav.scp`` too)."""
    data_dir = Path(data_dir)
    if not (data_dir / "utt2spk").is_file():
        raise DataError(f"{data_dir}: no such file utt2spk (not a Kaldi data dir?)")
    if (data_dir / "segments").is_file() and not (data_dir / "wav.scp").is_file():
        raise DataError(f"{data_dir}: segments exists but not wav.scp")
    tables = {name: _read_rows(data_dir / name)
              for name in (*extra.utt_files(), *extra.spk_files(), *RECORDING_FILES) if (data_dir / name).is_file()}
    for number, row in enumerate(tables["utt2spk"], start=1):
        if len(row.line.split()) != 2:
            raise DataError(f"{data_dir / 'utt2spk'}:{number}: expected '<utterance> <speaker>', got {row.line!r}")
    for number, row in enumerate(tables.get("segments", []), start=1):
        parse_segment(row.key, row.line.split()[1:], f"{data_dir / 'segments'}:{number}")
    return tables


def _recording(row: Row) -> str:
    """The recording of a segments row (checked by :func:`load_tables`)."""
    return row.line.split()[1]


def sort_unique(rows: Iterable[Row]) -> list[Row]:
    """Rows sorted by key in C-locale order, keeping the first row of each key (``sort -k1,1 -u``)."""
    seen: dict[str, Row] = {}
    for row in rows:
        seen.setdefault(row.key, row)
    return sorted(seen.values(), key=lambda row: row.key.encode("utf-8"))


def _speaker(row: Row) -> str:
    fields = row.line.split()
    if len(fields) != 2:
        raise DataError(f"utt2spk: expected '<utterance> <speaker>', got {row.line!r}")
    return fields[1]


def spk2utt_rows(utt2spk: list[Row]) -> list[Row]:
    """``spk2utt`` from ``utt2spk``: speakers in order of first appearance, their utterances in order."""
    utts: dict[str, list[str]] = {}
    for row in utt2spk:
        utts.setdefault(_speaker(row), []).append(row.key)
    return [Row(spk, " ".join([spk, *ids])) for spk, ids in utts.items()]


def _keep(rows: list[Row], keys: Collection[str]) -> list[Row]:
    return [row for row in rows if row.key in keys]


def _restrict(tables: Tables, utts: Collection[str], extra: ExtraFiles) -> Tables:
    """Only the utterances ``utts``, their speakers and their recordings in every file; spk2utt
    regenerated."""
    out = {name: _keep(tables[name], utts) for name in extra.utt_keyed(tables)}
    speakers = {_speaker(row) for row in out["utt2spk"]}
    out.update({name: _keep(rows, speakers) for name, rows in tables.items() if name in extra.spk_files()})
    if "segments" in out:
        recordings = {_recording(row) for row in out["segments"]}
        out.update({name: _keep(tables[name], recordings) for name in recording_keyed(tables)})
    out["spk2utt"] = spk2utt_rows(out["utt2spk"])
    return out


def _check_speaker_order(utt2spk: list[Row]) -> None:
    speakers = [_speaker(row) for row in utt2spk]
    for prev, cur, row in zip(speakers, speakers[1:], utt2spk[1:]):
        if cur.encode("utf-8") < prev.encode("utf-8"):
            raise DataError(f"utt2spk is not in sorted order when sorted first on speaker id (at {row.key}: "
                            f"speaker {cur} after {prev}); make speaker ids prefixes of utterance ids")


def _positive(row: Row) -> bool:
    fields = row.line.split()
    try:
        return len(fields) == 2 and float(fields[1]) > 0
    except ValueError:
        return False


def fix_tables(tables: Tables, extra: ExtraFiles = ExtraFiles()) -> tuple[Tables, str]:
    """``fix_data_dir.sh``: sorted unique files, only the utterances found in every file that
    requires them and only speakers that have utterances; returns the tables and a summary."""
    tables = {name: sort_unique(rows) for name, rows in tables.items() if name != "spk2utt"}
    # utt2spk comes back from spk2utt, and segments through awk: one blank between fields
    tables["utt2spk"] = [Row(row.key, " ".join(row.line.split())) for row in tables["utt2spk"]]
    if "segments" in tables:
        if "wav.scp" not in tables:
            raise DataError("segments exists but not wav.scp")
        recordings = {row.key for row in tables["wav.scp"]}  # a segment of no recording goes
        tables["segments"] = [Row(row.key, " ".join(row.line.split())) for row in tables["segments"]
                              if _recording(row) in recordings]
    _check_speaker_order(tables["utt2spk"])
    speakers = {_speaker(row) for row in tables["utt2spk"]}
    for name in ("cmvn.scp", "spk2gender"):  # a speaker without these has no usable utterances
        if name in tables:
            speakers &= {row.key for row in tables[name]}
    utts = {row.key for row in tables["utt2spk"] if _speaker(row) in speakers}
    for name in (*REQUIRED_BY_FIX, *extra.utt):
        if name in extra.utt_keyed(tables):
            utts &= {row.key for row in tables[name] if name not in POSITIVE_VALUE or _positive(row)}
    before = len(tables["utt2spk"])
    if not utts:
        raise DataError("no utterances remained after fixing: every utterance misses a file; not proceeding")
    fixed = _restrict(tables, utts, extra)
    kept = len(fixed["utt2spk"])
    return fixed, (f"kept {kept} utterances out of {before}" if kept != before else f"kept all {before} utterances")


def write_tables(tables: Tables, directory: Path) -> None:
    """Write each table of ``tables`` as ``directory/<name>``, its lines as they are."""
    for name, rows in tables.items():
        with open(directory / name, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(row.line + "\n" for row in rows)


def _write_new_dir(tables: Tables, out_dir: Path) -> None:
    with atomic_dir(out_dir) as tmp:
        write_tables(tables, tmp)
        (tmp / DONE_MARKER).write_text("", encoding="utf-8")


def fix_data_dir(data_dir: Path, extra: ExtraFiles = ExtraFiles(), lock_timeout: float | None = None) -> str:
    """Fix ``data_dir`` in place (each file replaced atomically), its old files kept in ``.backup/``;
    under the dir's lock (waiting at most ``lock_timeout`` seconds for another writer)."""
    data_dir = Path(data_dir)
    with output_lock(data_dir, lock_timeout):
        tables = load_tables(data_dir, extra)
        fixed, summary = fix_tables(tables, extra)
        for name in fixed:
            if (data_dir / name).is_file():
                (data_dir / BACKUP_DIR).mkdir(exist_ok=True)
                write_text_atomic(data_dir / BACKUP_DIR / name, (data_dir / name).read_text(encoding="utf-8"))
        for name, rows in fixed.items():
            write_text_atomic(data_dir / name, "".join(row.line + "\n" for row in rows))
    return f"{summary}; old files are kept in {data_dir / BACKUP_DIR}"


def spread_evenly(rows: list[Row], count: int) -> list[Row]:
    """``count`` rows spread over ``rows`` by halving (``subset_scp.pl``'s default selection):
    each half of the range gets half of the count, the second half the odd one."""
    if count <= 0:
        return []
    if len(rows) == 1:
        return rows[:]
    half = len(rows) // 2
    return spread_evenly(rows[:half], count // 2) + spread_evenly(rows[half:], count - count // 2)


def _read_ids(path: Path) -> set[str]:
    return {line.key for line in table_lines(path) if line.key}


def _utts_of(utt2spk: list[Row], speakers: set[str]) -> set[str]:
    return {row.key for row in utt2spk if _speaker(row) in speakers}


def _per_speaker(spk2utt: list[Row], count: int) -> set[str]:
    """At most ``count`` utterances of every speaker, evenly strided through its list."""
    chosen: set[str] = set()
    for row in spk2utt:
        utts = row.value.split()
        stride = max(1, len(utts) // count) if count else 1
        chosen.update(utts[:count * stride:stride])
    return chosen


def _random_speakers(spk2utt: list[Row], count: int, seed: int) -> set[str]:
    """Speakers in a seeded random order until they have at least ``count`` utterances."""
    order = spk2utt[:]
    random.Random(seed).shuffle(order)
    chosen: set[str] = set()
    total = 0
    for row in order:
        if total >= count:
            break
        utts = row.value.split()
        chosen.update(utts)
        total += len(utts)
    return chosen


def _shortest(tables: Tables, count: int) -> set[str]:
    if "utt2dur" not in tables:
        raise DataError("--shortest needs utt2dur")
    try:
        rows = sorted(tables["utt2dur"], key=lambda row: (float(row.line.split()[1]), row.line))
    except (IndexError, ValueError) as err:
        raise DataError(f"utt2dur: a line without a duration ({err}); run fix first") from err
    return {row.key for row in rows[:count]}


SUBSET_MODES: dict[str, str] = {
    "num_utt": "N utterances spread evenly over the dir (Kaldi's default selection)",
    "first": "the first N utterances",
    "last": "the last N utterances",
    "shortest": "the N shortest utterances (by utt2dur)",
    "per_spk": "N utterances of every speaker (all of those with fewer)",
    "speakers": "random whole speakers (--seed) until there are N utterances",
    "utt_list": "the utterances listed in FILE (first field of each line)",
    "spk_list": "the speakers listed in FILE (first field of each line)",
}


def subset_tables(tables: Tables, mode: str, arg: int | Path, seed: int = 0,
                  extra: ExtraFiles = ExtraFiles()) -> tuple[Tables, str]:
    """``subset_data_dir.sh``: the utterances chosen by ``mode`` (a key of :data:`SUBSET_MODES`)
    and their speakers, every per-utterance and per-speaker file filtered to them."""
    utt2spk = tables["utt2spk"]
    spk2utt = spk2utt_rows(utt2spk)
    if mode not in ("utt_list", "spk_list"):
        if not isinstance(arg, int) or arg <= 0:
            raise DataError(f"--{mode} needs a positive number of utterances, got {arg}")
        if arg > len(utt2spk):
            raise DataError(f"cannot subset to more utterances ({arg}) than the dir has ({len(utt2spk)})")
    choose: dict[str, Callable[[], set[str]]] = {
        "num_utt": lambda: {row.key for row in spread_evenly(utt2spk, arg)},
        "first": lambda: {row.key for row in utt2spk[:arg]},
        "last": lambda: {row.key for row in utt2spk[len(utt2spk) - arg:]},
        "shortest": lambda: _shortest(tables, arg),
        "per_spk": lambda: _per_speaker(spk2utt, arg),
        "speakers": lambda: _random_speakers(spk2utt, arg, seed),
        "utt_list": lambda: _read_ids(arg),
        "spk_list": lambda: _utts_of(utt2spk, _read_ids(arg)),
    }
    if mode not in choose:
        raise DataError(f"unknown subset mode {mode!r}; one of {', '.join(choose)}")
    subset = _restrict(tables, choose[mode](), extra)
    if mode == "per_spk":  # subset_data_dir.sh --per-spk writes spk2utt with awk, a blank after every id
        subset["spk2utt"] = [Row(row.key, "".join(f"{field} " for field in row.line.split()))
                             for row in subset["spk2utt"]]
    return subset, f"reducing #utt from {len(utt2spk)} to {len(subset['utt2spk'])}"


def subset_data_dir(src: Path, out_dir: Path, mode: str, arg: int | Path, seed: int = 0,
                    extra: ExtraFiles = ExtraFiles(), lock_timeout: float | None = None) -> str:
    """Write the subset of ``src`` chosen by ``mode`` into ``out_dir`` (replaced atomically, under
    its lock)."""
    with output_lock(out_dir, lock_timeout):
        subset, summary = subset_tables(load_tables(src, extra), mode, arg, seed, extra)
        if not subset["utt2spk"]:
            raise DataError(f"{src}: the subset is empty (--{mode} {arg})")
        _write_new_dir(subset, Path(out_dir))
    return summary


def _one_to_one(name: str, tables: Tables) -> list[Row]:
    """``utt2uniq`` of a source without one: each utterance is its own original."""
    return [Row(row.key, f"{row.key} {row.key}") for row in tables["utt2spk"]]


def _whole_recordings(name: str, tables: Tables) -> list[Row]:
    """``segments`` of a source without one (``get_segments_for_data.sh``): each utterance is the
    whole of a recording named like it, its length from utt2dur as written."""
    if "utt2dur" not in tables:
        raise DataError(f"{name}: has no segments but another source has; it needs utt2dur for its segments "
                        "(utt utt 0 duration)")
    return [Row(row.key, f"{row.key} {row.key} 0 {row.value}") for row in tables["utt2dur"]]


def combine_tables(sources: list[tuple[str, Tables]], extra: ExtraFiles = ExtraFiles()) -> tuple[Tables, str]:
    """``combine_data.sh``: the files found in every source, concatenated and fixed (``utt2uniq``
    and ``segments`` made for the sources without them when another has them, as Kaldi makes
    them); an utterance id in two sources is an error naming both, and so is a recording of two
    sources with different lines. ``sources`` are (name, tables) pairs."""
    for file, make in (("utt2uniq", _one_to_one), ("segments", _whole_recordings)):
        if any(file in tables for _, tables in sources):
            sources = [(name, tables if file in tables else {**tables, file: make(name, tables)})
                       for name, tables in sources]
    owner: dict[str, str] = {}
    for name, tables in sources:
        for row in tables["utt2spk"]:
            if row.key in owner:
                raise DataError(f"utterance {row.key} is in both {owner[row.key]} and {name}; "
                                "give one of them a prefix first (copy --utt_prefix/--spk_prefix)")
            owner[row.key] = name
    skipped = []
    combined: Tables = {}
    for file in (*extra.utt_files(), *extra.spk_files(), *RECORDING_FILES):
        present = [tables[file] for _, tables in sources if file in tables]
        if len(present) == len(sources):
            combined[file] = [row for rows in present for row in rows]
        elif present:
            skipped.append(file)
    for file in extra.spk_files():
        if file in combined:
            _check_same_rows(file, combined[file], "speaker")
    for file in recording_keyed(combined):
        _check_same_rows(file, combined[file], "recording")
    fixed, summary = fix_tables(combined, extra)
    note = f"; not combined, as not in every source: {', '.join(skipped)}" if skipped else ""
    return fixed, f"combined {len(sources)} dirs: {summary}{note}"


def _check_same_rows(file: str, rows: list[Row], what: str) -> None:
    seen: dict[str, str] = {}
    for row in rows:
        if seen.setdefault(row.key, row.line) != row.line:
            raise DataError(f"{file}: {what} {row.key} has two different lines: {seen[row.key]!r}, {row.line!r}")


def combine_data_dirs(out_dir: Path, srcs: list[Path], extra: ExtraFiles = ExtraFiles(),
                      lock_timeout: float | None = None) -> str:
    """Combine the data dirs ``srcs`` into ``out_dir`` (replaced atomically, under its lock)."""
    if not srcs:
        raise DataError("combine needs at least one source dir")
    with output_lock(out_dir, lock_timeout):
        combined, summary = combine_tables([(str(src), load_tables(src, extra)) for src in srcs], extra)
        _write_new_dir(combined, Path(out_dir))
    return summary


@dataclass(frozen=True)
class Renaming:
    """Prefixes and suffixes of ``copy_data_dir.sh`` for utterance and speaker ids."""

    utt_prefix: str = ""
    utt_suffix: str = ""
    spk_prefix: str = ""
    spk_suffix: str = ""

    def utt(self, utt: str) -> str:
        """The new id of an utterance."""
        return f"{self.utt_prefix}{utt}{self.utt_suffix}"

    def spk(self, spk: str) -> str:
        """The new id of a speaker."""
        return f"{self.spk_prefix}{spk}{self.spk_suffix}"


_BLANKS = re.compile(r"[ \t\n\r\f\v]+")  # what Perl's split(" ") splits on (bytes, LC_ALL=C)


def _renamed(name: str, row: Row, key: str) -> Row:
    """``row`` under ``key``: with its fields joined by one blank where Kaldi's copy_data_dir.sh
    maps the file with apply_map.pl, else as written."""
    if name not in MAPPED_BY_KALDI:
        return row.rekey(key)
    return Row(key, " ".join([key, *_BLANKS.split(row.line.strip(" \t\n\r\f\v"))[1:]]))


def copy_tables(tables: Tables, renaming: Renaming = Renaming(), extra: ExtraFiles = ExtraFiles()) -> Tables:
    """``copy_data_dir.sh``: the same dir with renamed ids (an ``utt2uniq`` keeps its values, the
    original ids; like Kaldi's script, none is made where the source has none). Recording ids
    are not renamed: with segments, wav.scp and the recording files are copied as they are."""
    out: Tables = {}
    for name, rows in tables.items():
        if name == "utt2spk":
            out[name] = [Row(renaming.utt(row.key), f"{renaming.utt(row.key)} {renaming.spk(_speaker(row))}")
                         for row in rows]
        elif name in recording_keyed(tables):
            out[name] = rows[:]
        elif name in extra.utt_keyed(tables):
            out[name] = [_renamed(name, row, renaming.utt(row.key)) for row in rows]
        elif name in extra.spk_files():
            out[name] = [_renamed(name, row, renaming.spk(row.key)) for row in rows]
    out = {name: sort_unique(rows) for name, rows in out.items()}
    out["spk2utt"] = spk2utt_rows(out["utt2spk"])
    return out


def copy_data_dir(src: Path, out_dir: Path, renaming: Renaming = Renaming(), extra: ExtraFiles = ExtraFiles(),
                  lock_timeout: float | None = None) -> str:
    """Copy the data dir ``src`` to ``out_dir`` (replaced atomically, under its lock) with renamed ids."""
    if Path(src).resolve() == Path(out_dir).resolve():
        raise DataError(f"copy needs a destination other than the source {src}")
    with output_lock(out_dir, lock_timeout):
        copied = copy_tables(load_tables(src, extra), renaming, extra)
        _write_new_dir(copied, Path(out_dir))
    return f"copied {len(copied['utt2spk'])} utterances from {src} to {out_dir}"
