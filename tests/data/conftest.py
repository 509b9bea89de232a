"""Fixtures for the data tests: the real speech samples and small corpus layouts built from them."""
from __future__ import annotations

import io
import os
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REAL_SPEECH = Path(__file__).resolve().parent / "real_speech"
CV_LOCALES = ("ca", "de", "en", "es", "fr", "it", "nl", "pt")
FLEURS_CONFIGS = {"en": "en_us", "de": "de_de", "fr": "fr_fr", "es": "es_419", "pt": "pt_br"}
CV_V17_HEADER = ("client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes", "down_votes",
                 "age", "gender", "accents", "variant", "locale", "segment")


@pytest.fixture(scope="session")
def real_speech() -> Path:
    """``tests/data/real_speech``: the Common Voice and FLEURS clips kept in the repository (its README
    gives their sources and licences)."""
    if not ((REAL_SPEECH / "commonvoice").is_dir() and (REAL_SPEECH / "fleurs").is_dir()):
        raise FileNotFoundError(f"real speech samples not found in {REAL_SPEECH}")
    return REAL_SPEECH


def tone(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """A short voiced-like test signal (harmonics plus a little noise), float32 mono."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    signal = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 6)) * 0.2
    return (signal + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def _write_cv_locale(root: Path, locale: str, rows: list[dict[str, str]], tsv: str = "train.tsv",
                    header: tuple[str, ...] = CV_V17_HEADER, seconds: float = 1.5) -> Path:
    """A Common Voice locale folder: ``rows`` (by column) in ``tsv`` and a 48 kHz MP3 per new clip."""
    locale_dir = root / locale
    (locale_dir / "clips").mkdir(parents=True, exist_ok=True)
    for i, row in enumerate(rows):
        clip = locale_dir / "clips" / row["path"]
        if not clip.exists():
            sf.write(clip, tone(seconds, 48000, seed=i), 48000, format="MP3")
    lines = ["\t".join(header)] + ["\t".join(row.get(col, "") for col in header) for row in rows]
    (locale_dir / tsv).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return locale_dir


def _cv_row(locale: str, n: int, sentence: str, client: str = "a" * 64) -> dict[str, str]:
    """One Common Voice row with clip ``common_voice_<locale>_<n>.mp3``."""
    return {"client_id": client, "path": f"common_voice_{locale}_{n}.mp3", "sentence": sentence, "locale": locale}


def _build_fleurs(real_speech: Path, root: Path, split: str = "test") -> dict[str, list[dict]]:
    """The native FLEURS layout under ``root`` from the real clips: TSVs and ``audio/<split>.tar.gz``.

    The Opus clips are decoded to the 16 kHz WAVs FLEURS ships. Returns, per config, the rows
    written (file_name, transcription, num_samples).
    """
    written: dict[str, list[dict]] = {}
    for n, (lang, config) in enumerate(FLEURS_CONFIGS.items()):
        config_dir = root / config
        (config_dir / "audio").mkdir(parents=True)
        rows = []
        with tarfile.open(config_dir / "audio" / f"{split}.tar.gz", "w:gz") as tar:
            for i, ogg in enumerate(sorted((real_speech / "fleurs" / lang).glob("*.ogg"))):
                samples, rate = sf.read(ogg, dtype="int16")
                assert rate == 16000
                wav = io.BytesIO()
                sf.write(wav, samples, rate, format="WAV", subtype="PCM_16")
                name = f"{n + 1}{i:04d}7741.wav"
                info = tarfile.TarInfo(f"{split}/{name}")
                info.size = wav.tell()
                tar.addfile(info, io.BytesIO(wav.getvalue()))
                text = ogg.with_suffix(".txt").read_text(encoding="utf-8").strip()
                rows.append({"file_name": name, "transcription": text, "num_samples": len(samples)})
        tsv = [f"{i}\t{r['file_name']}\t{r['transcription']}\t{r['transcription']}\t"
               f"{' '.join(r['transcription'].replace(' ', '|'))}\t{r['num_samples']}\tFEMALE"
               for i, r in enumerate(rows)]
        (config_dir / f"{split}.tsv").write_text("\n".join(tsv) + "\n", encoding="utf-8")
        written[config] = rows
    return written


def _read_kaldi(path: Path) -> dict[str, str]:
    """``{key: value}`` of a Kaldi ``key value`` file."""
    return dict(line.rstrip("\n").split(" ", 1) for line in path.read_text(encoding="utf-8").splitlines())


def _tree_mtimes(path: Path) -> dict[str, int]:
    """Modification times of every file under ``path``, to prove a re-run touched nothing.

    Lock files (``.<output>.lock``) are left out: every run takes them, and writes its PID there.
    """
    return {str(p): os.stat(p).st_mtime_ns for p in sorted(path.rglob("*")) if p.suffix != ".lock"}


@pytest.fixture(scope="session")
def fleurs_layouts(real_speech, tmp_path_factory) -> dict[str, tuple[Path, dict[str, list[dict]]]]:
    """The native FLEURS layout built once per session, ``archived`` and ``extracted``.

    Tests that alter it work on a copy (:func:`shutil.copytree`).
    """
    archived = tmp_path_factory.mktemp("fleurs_archived")
    written = _build_fleurs(real_speech, archived)
    extracted = tmp_path_factory.mktemp("fleurs_extracted")
    for config in written:
        (extracted / config / "audio").mkdir(parents=True)
        shutil.copy(archived / config / "test.tsv", extracted / config / "test.tsv")
        with tarfile.open(archived / config / "audio" / "test.tar.gz") as tar:
            for member in tar.getmembers():
                (extracted / config / "audio" / member.name).parent.mkdir(exist_ok=True)
                (extracted / config / "audio" / member.name).write_bytes(tar.extractfile(member).read())
    return {"archived": (archived, written), "extracted": (extracted, written)}


# The helpers reach tests as fixtures, which works under any pytest import mode.
write_cv_locale = pytest.fixture(lambda: _write_cv_locale, name="write_cv_locale")
cv_row = pytest.fixture(lambda: _cv_row, name="cv_row")
read_kaldi = pytest.fixture(lambda: _read_kaldi, name="read_kaldi")
tree_mtimes = pytest.fixture(lambda: _tree_mtimes, name="tree_mtimes")
