"""Google FLEURS reader, native layout (as on the HF hub, google/fleurs).

ROOT holds one folder per language config::

    ROOT/<config>/{train,dev,test}.tsv        headerless, 7 columns (see COLUMNS)
    ROOT/<config>/audio/<split>.tar.gz         members <split>/<file_name>, 16 kHz WAV
    ROOT/<config>/audio/<split>/<file_name>    or the same, already extracted

A ``file_name`` must be a plain file name: one with a folder, ``..`` or an absolute path is a
bad row (``bad_path``), and so is an extracted clip that is a symbolic link to a file outside
its split folder; a row with the wrong number of fields is one too (``bad_fields``). Both are
skipped with ``--skip-bad`` like other bad rows.

Utterances are keyed by ``file_name``: the ``id`` column is the sentence id, repeated when
several speakers read a sentence and shared across languages.

FLEURS has no speaker labels, so every utterance is its own speaker (``<iso3>_<file stem>``),
the Kaldi convention for unknown speakers. Grouping by gender instead would merge hundreds of
people into two pseudo-speakers: per-speaker normalisation would mix voices, and
speaker-balanced replay and speaker-disjoint splits would lose their meaning. One speaker per
utterance never merges two people; its only cost is that speaker-disjointness cannot be
guaranteed beyond what FLEURS' own splits give.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

from lamer.data.errors import BadRows, DataError
from lamer.data.languages import resolve_locales
from lamer.data.prepare import PrepareOptions, SplitReader, prepare_languages
from lamer.data.source import SourceUtterance, escapes_folder, links_outside
from lamer.data.tsv import read_tsv_fixed

COLUMNS = ("id", "file_name", "raw_transcription", "transcription", "characters", "num_samples", "gender")
SPLITS = ("train", "dev", "test")
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")


def _audio_location(config_dir: Path, split: str) -> tuple[Path, bool]:
    """The extracted split folder, or else the split archive; the flag tells which."""
    audio = config_dir / "audio"
    if (audio / split).is_dir():
        return audio / split, False
    for suffix in ARCHIVE_SUFFIXES:
        if (audio / f"{split}{suffix}").is_file():
            return audio / f"{split}{suffix}", True
    raise DataError(f"{config_dir}: no audio for split {split}: expected {audio}/{split}.tar.gz or {audio}/{split}/")


def read_split(config_dir: Path, iso3: str, split: str, bad: BadRows) -> list[SourceUtterance]:
    """Utterances of one FLEURS split of one language config."""
    location, archived = _audio_location(config_dir, split)
    real_location = location.resolve()
    utterances = []
    for row in read_tsv_fixed(config_dir / f"{split}.tsv", COLUMNS, bad):
        name, raw = row.fields["file_name"].strip(), row.fields["raw_transcription"].strip()
        if escapes_folder(name) or "/" in name or "\\" in name:
            bad.bad(row.origin, f"file_name {name!r} is not a file name in {location}", "bad_path")
        elif not name or any(ch.isspace() for ch in name):
            bad.bad(row.origin, f"bad file_name {name!r}", "missing_field")
        elif not raw:
            bad.bad(row.origin, f"empty raw_transcription for {name}", "empty_text")
        elif not archived and not (location / name).is_file():
            bad.bad(row.origin, f"clip {location / name} does not exist", "missing_audio")
        elif not archived and (target := links_outside(location / name, real_location)):
            bad.bad(row.origin, f"clip {location / name} is a link to {target}, outside {location}; copy the file "
                    "into the corpus instead of linking to it", "bad_path")
        else:
            spk = f"{iso3}_{Path(name).stem.replace('-', '_')}"  # '-' only between speaker and utterance
            utt = f"{spk}-{split}"
            if archived:
                utterances.append(SourceUtterance(utt, spk, iso3, raw, location, row.origin, member=f"{split}/{name}"))
            else:
                utterances.append(SourceUtterance(utt, spk, iso3, raw, location / name, row.origin))
    return utterances


def prepare_fleurs(
    root: Path,
    configs: Sequence[str],
    data_root: Path,
    dump_root: Path,
    options: PrepareOptions = PrepareOptions(),
    splits: Sequence[str] = SPLITS,
    lang_map: dict[str, str] | None = None,
) -> dict[str, dict[str, Path]]:
    """Prepare FLEURS language configs into ``data_root/<iso3>/<split>/``; returns the dirs by iso3."""
    unknown = sorted(set(splits) - set(SPLITS))
    if unknown:
        raise DataError(f"unknown FLEURS split(s) {', '.join(unknown)}: choose from {', '.join(SPLITS)}")
    readers: dict[str, dict[str, SplitReader]] = {}
    for config, iso3 in resolve_locales(configs, "fleurs", lang_map).items():
        config_dir = Path(root) / config
        if not config_dir.is_dir():
            raise DataError(f"{config_dir}: no such FLEURS language folder")
        present = [s for s in splits if (config_dir / f"{s}.tsv").is_file()]
        if not present:
            raise DataError(f"{config_dir}: none of {', '.join(f'{s}.tsv' for s in splits)} exist")
        readers[iso3] = {s: partial(read_split, config_dir, iso3, s) for s in present}
    return prepare_languages(readers, data_root, dump_root, options)
