"""Write synthesised utterances in the on-disk layouts of a Common Voice release and of FLEURS.

As the readers expect them (docs/data.md): Common Voice v17 TSVs with a header, ``clips/*.mp3`` and
``clip_durations.tsv``; FLEURS headerless 7-column TSVs and ``audio/<split>.tar.gz`` whose
members are ``<split>/<file_name>``. Everything written is byte-for-byte reproducible: rows in
utterance order, tar members sorted with fixed owners and times, gzip without a time stamp.
"""
from __future__ import annotations

import gzip
import hashlib
import tarfile
from pathlib import Path

from lamer.data.synth.corpus_plan import PlannedUtterance
from lamer.data.synth.render import CV_SAMPLE_RATE, RenderedUtterance
from lamer.data.synth.speakers import SPLITS

CV_COLUMNS = (
    "client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes", "down_votes",
    "age", "gender", "accents", "variant", "locale", "segment",
)
# Files of a release listing clips the synthetic corpus never has (kept for layout fidelity).
CV_EMPTY_TABLES = ("invalidated.tsv", "other.tsv")
FLEURS_GENDER = {"male_masculine": "MALE", "female_feminine": "FEMALE"}
# gzip level 1: WAV barely compresses, and higher levels only cost time.
GZIP_LEVEL = 1


def _write_tsv(path: Path, rows: list[tuple[str, ...]]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.writelines("\t".join(row) + "\n" for row in rows)


def _cv_row(utt: PlannedUtterance) -> tuple[str, ...]:
    speaker = utt.speaker
    return (
        speaker.client_id, utt.cv_clip, hashlib.sha256(utt.sentence.raw.encode()).hexdigest(),
        utt.sentence.raw, "", "2", "0", speaker.age, speaker.gender, "", "", utt.lang.cv_locale, "",
    )


def write_commonvoice_tables(locale_dir: Path, utterances: list[PlannedUtterance],
                             rendered: dict[int, RenderedUtterance]) -> None:
    """Write ``train/dev/test/validated/invalidated/other.tsv`` and ``clip_durations.tsv``
    into ``locale_dir`` (its ``clips/`` are written by the renderer)."""
    rows = {split: [_cv_row(u) for u in utterances if u.split == split] for split in SPLITS}
    rows["validated"] = [_cv_row(u) for u in utterances]
    for name, table in rows.items():
        _write_tsv(locale_dir / f"{name}.tsv", [CV_COLUMNS, *table])
    for name in CV_EMPTY_TABLES:
        _write_tsv(locale_dir / name, [CV_COLUMNS])
    durations = [(u.cv_clip, str(round(rendered[u.index].cv_samples * 1000 / CV_SAMPLE_RATE)))
                 for u in utterances]
    _write_tsv(locale_dir / "clip_durations.tsv", [("clip", "duration[ms]"), *durations])


def fleurs_characters(transcription: str) -> str:
    """FLEURS ``characters`` column: letters spaced out, ``|`` marking each word end."""
    return " ".join("|" if char == " " else char for char in transcription) + " |"


def _tar_info(name: str, size: int, is_dir: bool) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.uid, info.gid = size, 0, 0, 0
    info.type, info.mode = (tarfile.DIRTYPE, 0o755) if is_dir else (tarfile.REGTYPE, 0o644)
    return info


def _write_tar_gz(archive: Path, source: Path) -> None:
    """Pack ``source`` as ``<source name>/`` plus its files in name order, reproducibly."""
    with open(archive, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL) as packed, \
            tarfile.open(fileobj=packed, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(_tar_info(f"{source.name}/", 0, is_dir=True))
        for path in sorted(source.iterdir()):
            with open(path, "rb") as member:
                tar.addfile(_tar_info(f"{source.name}/{path.name}", path.stat().st_size, is_dir=False), member)


def write_fleurs_config(config_dir: Path, utterances: list[PlannedUtterance],
                        rendered: dict[int, RenderedUtterance], wav_dir: Path) -> None:
    """Write ``<split>.tsv`` and ``audio/<split>.tar.gz`` into ``config_dir``, packing the WAVs
    found in ``wav_dir/<split>/``."""
    (config_dir / "audio").mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        _write_tsv(config_dir / f"{split}.tsv", [
            (str(u.index + 1), u.fleurs_file, u.sentence.raw, u.sentence.transcription,
             fleurs_characters(u.sentence.transcription), str(rendered[u.index].fleurs_samples),
             FLEURS_GENDER[u.speaker.gender])
            for u in utterances if u.split == split
        ])
        _write_tar_gz(config_dir / "audio" / f"{split}.tar.gz", wav_dir / split)
