"""The synthetic corpus end to end: layouts, TSVs, audio, splits, determinism, re-runs, failures."""
from __future__ import annotations

import io
import re
import tarfile
import unicodedata
from pathlib import Path

import pytest
import soundfile as sf

from lamer.bin import synth_corpus
from lamer.data.synth import LANGUAGES, SynthConfig, generate_corpus
from lamer.data.synth import corpus as corpus_module

LANGS = ("en", "ru", "tr")
CONFIG = SynthConfig(utts_per_lang=30, seed=5)
CV_HEADER = ("client_id\tpath\tsentence_id\tsentence\tsentence_domain\tup_votes\tdown_votes\tage\tgender"
             "\taccents\tvariant\tlocale\tsegment")
SPLITS = ("train", "dev", "test")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    assert generate_corpus(out, list(LANGS), CONFIG, nj=2) == list(LANGS)
    return out


def _rows(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]


def _cv_table(path: Path) -> list[dict[str, str]]:
    header, *rows = _rows(path)
    assert all(len(row) == len(header) for row in rows), path
    return [dict(zip(header, row)) for row in rows]


def _tar_wavs(archive: Path) -> dict[str, tuple[int, int, int]]:
    """``{member name: (frames, sample rate, channels)}`` of the WAVs in a FLEURS tarball."""
    info = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile():
                audio = sf.info(io.BytesIO(tar.extractfile(member).read()))
                info[member.name] = (audio.frames, audio.samplerate, audio.channels)
    return info


def test_layouts_are_exactly_the_corpus_layouts(corpus):
    assert sorted(p.name for p in corpus.iterdir()) == ["commonvoice", "fleurs"]  # no temp folders left
    for key in LANGS:
        lang = LANGUAGES[key]
        cv = corpus / "commonvoice" / lang.cv_locale
        assert sorted(p.name for p in cv.iterdir()) == sorted([
            ".lamer_synth.json", "clip_durations.tsv", "clips", "dev.tsv", "invalidated.tsv", "other.tsv",
            "test.tsv", "train.tsv", "validated.tsv"])
        clips = sorted(p.name for p in (cv / "clips").iterdir())
        assert len(clips) == CONFIG.utts_per_lang
        assert all(re.fullmatch(rf"common_voice_{lang.cv_locale}_\d+\.mp3", c) for c in clips)
        fleurs = corpus / "fleurs" / lang.fleurs_config
        assert sorted(p.relative_to(fleurs).as_posix() for p in fleurs.rglob("*")) == sorted([
            ".lamer_synth.json", "audio", "audio/dev.tar.gz", "audio/test.tar.gz", "audio/train.tar.gz",
            "dev.tsv", "test.tsv", "train.tsv"])


def test_commonvoice_tables(corpus):
    for key in LANGS:
        cv = corpus / "commonvoice" / LANGUAGES[key].cv_locale
        for name in ("train", "dev", "test", "validated", "invalidated", "other"):
            assert (cv / f"{name}.tsv").read_text(encoding="utf-8").splitlines()[0] == CV_HEADER
        splits = {split: _cv_table(cv / f"{split}.tsv") for split in SPLITS}
        assert [len(splits[s]) for s in SPLITS] == [24, 3, 3]
        validated = _cv_table(cv / "validated.tsv")
        assert sorted(r["path"] for r in validated) == sorted(r["path"] for s in SPLITS for r in splits[s])
        assert sorted(r["path"] for r in validated) == sorted(p.name for p in (cv / "clips").iterdir())
        for row in validated:
            assert re.fullmatch(r"[0-9a-f]{128}", row["client_id"])
            assert row["locale"] == LANGUAGES[key].cv_locale
            assert row["gender"] in ("male_masculine", "female_feminine")
            assert row["sentence_id"] and row["sentence"]
        assert _rows(cv / "clip_durations.tsv")[0] == ["clip", "duration[ms]"]


def test_speakers_disjoint_across_splits_and_shared_across_languages(corpus):
    speakers = {}
    for key in LANGS:
        cv = corpus / "commonvoice" / LANGUAGES[key].cv_locale
        by_split = {s: {r["client_id"] for r in _cv_table(cv / f"{s}.tsv")} for s in SPLITS}
        assert not (by_split["train"] & by_split["dev"] or by_split["train"] & by_split["test"]
                    or by_split["dev"] & by_split["test"])
        assert len(set().union(*by_split.values())) >= 12
        speakers[key] = by_split
    # One pool: a speaker keeps its split in every language, and train reads all languages.
    everywhere = {s: set().union(*(speakers[key][s] for key in LANGS)) for s in SPLITS}
    assert sum(map(len, everywhere.values())) == len(set().union(*everywhere.values()))
    assert speakers["en"]["train"] == speakers["ru"]["train"] == speakers["tr"]["train"]


def test_commonvoice_audio_matches_clip_durations(corpus):
    for key in LANGS:
        cv = corpus / "commonvoice" / LANGUAGES[key].cv_locale
        for clip, duration_ms in _rows(cv / "clip_durations.tsv")[1:]:
            info = sf.info(cv / "clips" / clip)
            assert (info.samplerate, info.channels, info.format) == (48000, 1, "MP3")
            assert abs(info.frames / 48 - int(duration_ms)) <= 20, clip
            assert 1.0 < info.frames / 48000 < 10.0


def test_fleurs_tables_and_audio(corpus):
    for key in LANGS:
        lang = LANGUAGES[key]
        fleurs = corpus / "fleurs" / lang.fleurs_config
        cv_sentences = {r["sentence"] for r in _cv_table(corpus / "commonvoice" / lang.cv_locale / "validated.tsv")}
        for split, count in zip(SPLITS, (24, 3, 3)):
            rows = _rows(fleurs / f"{split}.tsv")
            assert len(rows) == count and all(len(row) == 7 for row in rows)  # headerless, 7 columns
            wavs = _tar_wavs(fleurs / "audio" / f"{split}.tar.gz")
            assert sorted(wavs) == sorted(f"{split}/{row[1]}" for row in rows)
            for sentence_id, file_name, raw, transcription, characters, num_samples, gender in rows:
                assert sentence_id.isdigit() and re.fullmatch(r"\d+\.wav", file_name)
                assert raw in cv_sentences  # the same recordings in both layouts
                assert characters == " ".join("|" if c == " " else c for c in transcription) + " |"
                assert gender in ("MALE", "FEMALE")
                assert wavs[f"{split}/{file_name}"] == (int(num_samples), 16000, 1)


def test_text_is_in_the_languages_letters(corpus):
    for key in LANGS:
        lang = LANGUAGES[key]
        for row in _rows(corpus / "fleurs" / lang.fleurs_config / "train.tsv"):
            raw, transcription = row[2], row[3]
            words = transcription.split(" ")
            assert 3 <= len(words) <= 12
            assert set(transcription.replace(" ", "")) <= lang.letters, transcription
            raw_letters = [c for c in raw if unicodedata.category(c).startswith("L")]
            assert "".join(raw_letters[1:]) == transcription.replace(" ", "")[1:]
            assert raw_letters[0] == lang.capitalize(transcription[0])


def test_same_seed_is_byte_identical_for_any_nj_and_language_subset(corpus, tmp_path):
    """A second run with one worker and only one of the languages writes the same bytes."""
    generate_corpus(tmp_path, ["ru"], CONFIG, nj=1)
    for sub in ("commonvoice/ru", "fleurs/ru_ru"):
        first = {p.relative_to(corpus / sub): p.read_bytes() for p in (corpus / sub).rglob("*") if p.is_file()}
        second = {p.relative_to(tmp_path / sub): p.read_bytes() for p in (tmp_path / sub).rglob("*") if p.is_file()}
        assert first.keys() == second.keys()
        assert [path for path in first if first[path] != second[path]] == []


def test_rerun_is_a_no_op_and_other_settings_are_refused(corpus):
    stamp = corpus / "commonvoice" / "en" / ".lamer_synth.json"
    before = stamp.stat().st_mtime_ns
    assert generate_corpus(corpus, ["en", "tr"], CONFIG, nj=2) == []
    assert stamp.stat().st_mtime_ns == before
    with pytest.raises(FileExistsError, match=r"commonvoice/en was generated with other settings \(differing: seed\)"):
        generate_corpus(corpus, ["en"], SynthConfig(utts_per_lang=30, seed=6))


def test_foreign_folder_is_not_overwritten(tmp_path):
    (tmp_path / "fleurs" / "en_us").mkdir(parents=True)
    with pytest.raises(FileExistsError, match=r"fleurs/en_us exists but has no \.lamer_synth\.json"):
        generate_corpus(tmp_path, ["en"], SynthConfig(utts_per_lang=3))


def test_failure_leaves_no_output_and_cli_recovers(tmp_path, monkeypatch, capsys):
    def broken_writer(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(corpus_module, "write_fleurs_config", broken_writer)
    with pytest.raises(OSError, match="disk full"):
        generate_corpus(tmp_path, ["fr"], SynthConfig(utts_per_lang=3))
    assert list(tmp_path.iterdir()) == []  # nothing half-written, no temp folder
    monkeypatch.undo()

    args = ["--out", str(tmp_path), "--langs", "fr", "--utts-per-lang", "3", "--nj", "2"]
    assert synth_corpus.main(args) == 0
    assert (tmp_path / "commonvoice" / "fr" / "train.tsv").exists()
    assert (tmp_path / "fleurs" / "fr_fr" / "audio" / "test.tar.gz").exists()
    assert synth_corpus.main(args) == 0  # finished: a no-op
    assert synth_corpus.main(["--out", str(tmp_path), "--langs", "fr,xx", "--utts-per-lang", "3"]) == 1
    assert "unknown synthetic-corpus language(s) xx" in capsys.readouterr().err
    assert synth_corpus.main(["--list-langs"]) == 0
    assert "sv-SE\tsv_se\tswe" in capsys.readouterr().out
