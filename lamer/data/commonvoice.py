"""Mozilla Common Voice reader (every release v1 to v17+, read by header name).

Expected layout, ROOT being the folder with one folder per locale (a release folder)::

    ROOT/<locale>/clips/common_voice_<locale>_<n>.mp3
    ROOT/<locale>/{train,dev,test,validated}.tsv
    ROOT/<locale>/clip_durations.tsv               (v12+; optional) clip, duration[ms]

Only ``client_id``, ``path`` and ``sentence`` are needed; other columns (votes, age, gender,
accents, variant, sentence_id, ...) may be present, absent or empty. Sentences may be raw or
CSV-quoted. The speaker id is ``<iso3>_`` plus the first 10 hex digits of SHA-256 of
``client_id`` (short, stable, and the same for any client_id format).

A ``path`` must name a file inside the locale's ``clips/`` folder: an absolute path, one with
``..`` or a symbolic link to a file outside that folder (links resolved, the folder's own
included) is a bad row (``bad_path``). Where ``clip_durations.tsv`` exists, each clip's
decoded length is checked against it (see :mod:`lamer.data.prepare`).
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from lamer.data.errors import BadRows, DataError
from lamer.data.languages import resolve_locales
from lamer.data.prepare import PrepareOptions, SplitReader, prepare_languages
from lamer.data.source import SourceUtterance, escapes_folder, links_outside
from lamer.data.tsv import read_tsv_by_header

REQUIRED_COLUMNS = ("client_id", "path", "sentence")
SPLITS = ("train", "dev", "test")
# official: train.tsv/dev.tsv/test.tsv; validated: train = validated.tsv minus dev and test clips
SPLIT_MODES = ("validated", "official")
DURATIONS_TSV = "clip_durations.tsv"
DURATION_COLUMNS = ("clip", "duration[ms]")


def speaker_id(client_id: str, iso3: str) -> str:
    """Short deterministic speaker id for a Common Voice ``client_id``."""
    return f"{iso3}_{hashlib.sha256(client_id.encode('utf-8')).hexdigest()[:10]}"


def _clip_path(clips: Path, name: str) -> Path:
    path = clips / name
    if not path.exists() and not name.endswith(".mp3") and (clips / f"{name}.mp3").exists():
        return clips / f"{name}.mp3"  # the oldest releases list clips without the extension
    return path


def read_clip_durations(locale_dir: Path) -> dict[str, tuple[float, str]]:
    """``{clip file name: (seconds, file:line)}`` from the locale's ``clip_durations.tsv``; empty
    when the release has none. A duration that is not a number is an error naming its line."""
    path = locale_dir / DURATIONS_TSV
    if not path.is_file():
        return {}
    durations = {}
    for row in read_tsv_by_header(path, DURATION_COLUMNS):
        try:
            durations[row.fields["clip"].strip()] = (int(row.fields["duration[ms]"]) / 1000, row.origin)
        except ValueError:
            raise DataError(f"{row.origin}: duration {row.fields['duration[ms]']!r} is not a whole number of "
                            "milliseconds") from None
    return durations


def read_tsv(tsv: Path, iso3: str, bad: BadRows, exclude: frozenset[str] = frozenset()) -> list[SourceUtterance]:
    """Utterances of one Common Voice TSV; clips named in ``exclude`` are left out."""
    clips = tsv.parent / "clips"
    real_clips = clips.resolve()
    durations = read_clip_durations(tsv.parent)
    utterances = []
    for row in read_tsv_by_header(tsv, REQUIRED_COLUMNS, bad):
        name, client, sentence = (row.fields[c].strip() for c in ("path", "client_id", "sentence"))
        if not name or not client:
            bad.bad(row.origin, "empty path or client_id", "missing_field")
        elif name in exclude:
            continue
        elif any(ch.isspace() for ch in name):
            bad.bad(row.origin, f"clip name {name!r} contains whitespace", "missing_field")
        elif escapes_folder(name):
            bad.bad(row.origin, f"clip path {name!r} leads outside {clips}; it must name a file in that folder",
                    "bad_path")
        elif not sentence:
            bad.bad(row.origin, f"empty sentence for clip {name}", "empty_text")
        elif not (clip := _clip_path(clips, name)).is_file():
            bad.bad(row.origin, f"clip {clip} does not exist", "missing_audio")
        elif target := links_outside(clip, real_clips):
            bad.bad(row.origin, f"clip {clip} is a link to {target}, outside {clips}; copy the file into the corpus "
                    "instead of linking to it", "bad_path")
        else:
            spk = speaker_id(client, iso3)
            seconds, duration_origin = durations.get(clip.name, (None, None))
            utterances.append(SourceUtterance(f"{spk}-{Path(name).stem}", spk, iso3, sentence, clip, row.origin,
                                              expected_duration=seconds, duration_origin=duration_origin))
    return utterances


def _clip_names(tsv: Path) -> frozenset[str]:
    return frozenset(row.fields["path"].strip() for row in read_tsv_by_header(tsv, ("path",)))


def read_split(locale_dir: Path, iso3: str, split: str, mode: str, bad: BadRows) -> list[SourceUtterance]:
    """Utterances of ``split`` (train/dev/test) of one locale folder under split ``mode``."""
    if mode == "validated" and split == "train":
        held_out = [locale_dir / f"{s}.tsv" for s in ("dev", "test") if (locale_dir / f"{s}.tsv").is_file()]
        exclude = frozenset().union(*map(_clip_names, held_out))
        return read_tsv(locale_dir / "validated.tsv", iso3, bad, exclude)
    return read_tsv(locale_dir / f"{split}.tsv", iso3, bad)


def available_splits(locale_dir: Path, mode: str, wanted: Sequence[str] = SPLITS) -> list[str]:
    """The wanted splits this locale folder can provide under ``mode``."""
    if mode not in SPLIT_MODES:
        raise DataError(f"split mode {mode!r}: choose one of {', '.join(SPLIT_MODES)}")
    unknown = sorted(set(wanted) - set(SPLITS))
    if unknown:
        raise DataError(f"unknown Common Voice split(s) {', '.join(unknown)}: choose from {', '.join(SPLITS)}")
    if not locale_dir.is_dir():
        raise DataError(f"{locale_dir}: no such Common Voice locale folder")
    train_tsv = "validated.tsv" if mode == "validated" else "train.tsv"
    present = [s for s in wanted if (locale_dir / (train_tsv if s == "train" else f"{s}.tsv")).is_file()]
    if not present:
        raise DataError(f"{locale_dir}: none of the TSVs for splits {', '.join(wanted)} ({mode} mode) exist")
    return present


def prepare_commonvoice(
    root: Path,
    locales: Sequence[str],
    data_root: Path,
    dump_root: Path,
    options: PrepareOptions = PrepareOptions(),
    mode: str = "validated",
    splits: Sequence[str] = SPLITS,
    lang_map: dict[str, str] | None = None,
) -> dict[str, dict[str, Path]]:
    """Prepare Common Voice locales into ``data_root/<iso3>/<split>/``; returns the dirs by iso3."""
    readers: dict[str, dict[str, SplitReader]] = {}
    for locale, iso3 in resolve_locales(locales, "commonvoice", lang_map).items():
        locale_dir = Path(root) / locale
        readers[iso3] = {
            split: partial(read_split, locale_dir, iso3, split, mode)
            for split in available_splits(locale_dir, mode, splits)
        }
    return prepare_languages(readers, data_root, dump_root, options)
