"""FLEURS in its native layout (built from the real clips) through the prepare_data CLI."""
import io
import json
import shutil
import tarfile
import unicodedata

import pytest
import soundfile as sf

from lamer.bin.prepare_data import main
from lamer.data.errors import DataError
from lamer.data.fleurs import prepare_fleurs
from lamer.data.validate import validate_data_dir

ISO3 = {"en_us": "eng", "de_de": "deu", "fr_fr": "fra", "es_419": "spa", "pt_br": "por"}


def prepare(root, out, *extra, langs=",".join(ISO3)):
    return main(["fleurs", "--root", str(root), "--langs", langs, "--out", str(out / "data"),
                 "--dump", str(out / "dump"), "--splits", "test", *extra])


def copy_layout(fleurs_layouts, kind, dst):
    """A private copy of a session-built FLEURS layout, for tests that break it."""
    root, written = fleurs_layouts[kind]
    shutil.copytree(root, dst)
    return written


@pytest.mark.parametrize("kind", ["archived", "extracted"])
def test_real_clips_native_layout(kind, fleurs_layouts, tmp_path, read_kaldi, tree_mtimes):
    root, written = fleurs_layouts[kind]
    assert prepare(root, tmp_path, "--nj", "2") == 0
    for config, rows in written.items():
        iso3 = ISO3[config]
        data_dir = tmp_path / "data" / iso3 / "test"
        assert validate_data_dir(data_dir) == []
        durations = read_kaldi(data_dir / "utt2dur")
        text = read_kaldi(data_dir / "text")
        assert len(durations) == len(rows) == 10
        for row in rows:
            stem = row["file_name"][:-4]
            utt = f"{iso3}_{stem}-test"
            assert abs(float(durations[utt]) - row["num_samples"] / 16000) <= 0.020
            # same letters and digits as FLEURS' transcription, and no punctuation but word-internal ' - . , :
            assert [c for c in text[utt] if c.isalnum()] == [c for c in row["transcription"].lower() if c.isalnum()]
            assert all(c.isalnum() or unicodedata.category(c)[0] == "M" or c in " '-.,:" for c in text[utt])
        assert read_kaldi(data_dir / "utt2spk") == {u: u.rsplit("-", 1)[0] for u in durations}
    french = " ".join(read_kaldi(tmp_path / "data" / "fra" / "test" / "text").values())
    assert "l'accident" in french and "états-unis" in french and "servis cela" in french
    assert "3:2" in " ".join(read_kaldi(tmp_path / "data" / "eng" / "test" / "text").values())
    before = tree_mtimes(tmp_path / "data")
    assert prepare(root, tmp_path) == 0
    assert tree_mtimes(tmp_path / "data") == before


def _rewrite_tsv(config_dir, edit):
    lines = (config_dir / "test.tsv").read_text(encoding="utf-8").splitlines()
    (config_dir / "test.tsv").write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")


def _drop_member(config_dir, name):
    archive = config_dir / "audio" / "test.tar.gz"
    with tarfile.open(archive) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers() if m.name != name]
    with tarfile.open(archive, "w:gz") as tar:
        for member, data in members:
            tar.addfile(member, io.BytesIO(data))


def test_missing_member_of_archive(fleurs_layouts, tmp_path):
    written = copy_layout(fleurs_layouts, "archived", tmp_path / "fleurs")
    config_dir = tmp_path / "fleurs" / "en_us"
    lost = written["en_us"][3]["file_name"]
    _drop_member(config_dir, f"test/{lost}")
    with pytest.raises(DataError, match=rf"test\.tsv:4: clip test/{lost} not found in .*test\.tar\.gz"):
        prepare_fleurs(tmp_path / "fleurs", ["en_us"], tmp_path / "data", tmp_path / "dump", splits=["test"])
    assert not (tmp_path / "data" / "eng" / "test").exists()
    assert prepare(tmp_path / "fleurs", tmp_path, "--skip-bad", langs="en_us") == 0
    report = json.loads((tmp_path / "data" / "eng" / "test" / "report.json").read_text())
    assert (report["utterances"], report["skipped_bad"]) == (9, {"missing_audio": 1})


def test_corrupt_archive(fleurs_layouts, tmp_path, capsys):
    copy_layout(fleurs_layouts, "archived", tmp_path / "fleurs")
    archive = tmp_path / "fleurs" / "fr_fr" / "audio" / "test.tar.gz"
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    assert prepare(tmp_path / "fleurs", tmp_path, "--skip-bad", langs="fr_fr") == 1
    assert f"{archive}: unreadable archive" in capsys.readouterr().err
    assert not (tmp_path / "data" / "fra" / "test").exists()


def test_bad_rows(fleurs_layouts, tmp_path, capsys):
    copy_layout(fleurs_layouts, "extracted", tmp_path / "fleurs")
    config_dir = tmp_path / "fleurs" / "de_de"
    _rewrite_tsv(config_dir, lambda lines: lines[:2] + ["\t".join(lines[2].split("\t")[:6])] + lines[3:])
    assert prepare(tmp_path / "fleurs", tmp_path, langs="de_de") == 1
    assert f"{config_dir / 'test.tsv'}:3: 6 fields, expected 7" in capsys.readouterr().err
    assert prepare(tmp_path / "fleurs", tmp_path, "--skip-bad", langs="de_de") == 0  # skippable like the rest
    report = json.loads((tmp_path / "data" / "deu" / "test" / "report.json").read_text())
    assert report["skipped_bad"] == {"bad_fields": 1} and report["utterances"] == 9
    assert report["skipped_rows"][0]["origin"] == f"{config_dir / 'test.tsv'}:3"

    copy_layout(fleurs_layouts, "extracted", tmp_path / "fl2")
    config_dir = tmp_path / "fl2" / "de_de"
    name = (config_dir / "test.tsv").read_text().splitlines()[4].split("\t")[1]
    (config_dir / "audio" / "test" / name).write_bytes(b"RIFF0000WAVEjunk")
    _rewrite_tsv(config_dir, lambda lines: lines[:1]
                 + ["\t".join(f if i != 2 else "" for i, f in enumerate(lines[1].split("\t")))] + lines[2:])
    assert prepare(tmp_path / "fl2", tmp_path / "o2", langs="de_de") == 1
    assert f"{config_dir / 'test.tsv'}:2: empty raw_transcription" in capsys.readouterr().err
    assert prepare(tmp_path / "fl2", tmp_path / "o2", "--skip-bad", langs="de_de") == 0
    report = json.loads((tmp_path / "o2" / "data" / "deu" / "test" / "report.json").read_text())
    assert report["skipped_bad"] == {"empty_text": 1, "bad_audio": 1} and report["utterances"] == 8
    assert any(row["origin"].endswith("test.tsv:5") for row in report["skipped_rows"])


def test_unknown_config_and_missing_audio(tmp_path, capsys):
    (tmp_path / "fleurs" / "xx_yy").mkdir(parents=True)
    assert prepare(tmp_path / "fleurs", tmp_path, langs="xx_yy") == 1
    assert "unknown fleurs locale 'xx_yy'" in capsys.readouterr().err
    (tmp_path / "fleurs" / "xx_yy" / "test.tsv").write_text("1\ta.wav\tHi\thi\th|i\t16000\tMALE\n")
    assert prepare(tmp_path / "fleurs", tmp_path, "--lang-map", "xx_yy=xxy", langs="xx_yy") == 1
    assert "no audio for split test" in capsys.readouterr().err


def test_outputs_are_16k_mono(fleurs_layouts, tmp_path, read_kaldi):
    assert prepare(fleurs_layouts["archived"][0], tmp_path, "--audio-format", "flac", langs="es_419") == 0
    for path in read_kaldi(tmp_path / "data" / "spa" / "test" / "wav.scp").values():
        info = sf.info(path)
        assert (path[-5:], info.samplerate, info.channels, info.subtype) == (".flac", 16000, 1, "PCM_16")


def test_lang_dir_overrides_fleurs_text(fleurs_layouts, tmp_path, read_kaldi):
    lang_dir = tmp_path / "lang"
    (lang_dir / "deu").mkdir(parents=True)
    (lang_dir / "deu" / "lang.yaml").write_text('text:\n  replace: {"ß": "ss"}\n', encoding="utf-8")
    root = fleurs_layouts["archived"][0]
    assert prepare(root, tmp_path / "rules", "--lang-dir", str(lang_dir), langs="de_de,en_us") == 0
    assert prepare(root, tmp_path / "plain", langs="de_de,en_us") == 0
    for lang, changed in (("deu", lambda t: t.replace("ß", "ss")), ("eng", lambda t: t)):
        plain = read_kaldi(tmp_path / "plain" / "data" / lang / "test" / "text")
        ruled = read_kaldi(tmp_path / "rules" / "data" / lang / "test" / "text")
        assert ruled == {u: changed(t) for u, t in plain.items()}
    assert sum("ß" in t for t in read_kaldi(tmp_path / "plain" / "data" / "deu" / "test" / "text").values()) == 2
    report = json.loads((tmp_path / "rules" / "data" / "deu" / "test" / "report.json").read_text(encoding="utf-8"))
    assert report["text_rules"]["replace"] == {"ß": "ss"}


@pytest.mark.parametrize("escape", ["../../../../secret.wav", "ABSOLUTE", "..", "test/../x.wav"])
def test_file_name_outside_the_audio_folder_is_refused(escape, fleurs_layouts, tmp_path, capsys):
    copy_layout(fleurs_layouts, "extracted", tmp_path / "fleurs")
    config_dir = tmp_path / "fleurs" / "de_de"
    name = (config_dir / "test.tsv").read_text(encoding="utf-8").splitlines()[1].split("\t")[1]
    secret = tmp_path / "secret.wav"  # a real clip outside the corpus
    shutil.copy(config_dir / "audio" / "test" / name, secret)
    escape = str(secret) if escape == "ABSOLUTE" else escape
    _rewrite_tsv(config_dir, lambda lines: lines[:1] + [lines[1].replace(name, escape)] + lines[2:])
    assert prepare(tmp_path / "fleurs", tmp_path, langs="de_de") == 1
    assert f"test.tsv:2: file_name {escape!r} is not a file name in {config_dir / 'audio' / 'test'}" in \
        capsys.readouterr().err
    assert prepare(tmp_path / "fleurs", tmp_path, "--skip-bad", langs="de_de") == 0
    report = json.loads((tmp_path / "data" / "deu" / "test" / "report.json").read_text(encoding="utf-8"))
    assert report["skipped_bad"] == {"bad_path": 1} and report["utterances"] == 9


def test_extracted_clip_linking_outside_the_corpus_is_refused(fleurs_layouts, tmp_path, capsys):
    copy_layout(fleurs_layouts, "extracted", tmp_path / "fleurs")
    audio = tmp_path / "fleurs" / "de_de" / "audio" / "test"
    name = (tmp_path / "fleurs" / "de_de" / "test.tsv").read_text(encoding="utf-8").splitlines()[1].split("\t")[1]
    (audio / name).rename(tmp_path / "private.wav")  # someone else's recording, outside the corpus
    (audio / name).symlink_to(tmp_path / "private.wav")
    assert prepare(tmp_path / "fleurs", tmp_path, langs="de_de") == 1
    assert (f"test.tsv:2: clip {audio / name} is a link to {tmp_path / 'private.wav'}, outside {audio}; "
            "copy the file into the corpus") in capsys.readouterr().err
    assert prepare(tmp_path / "fleurs", tmp_path, "--skip-bad", langs="de_de") == 0
    report = json.loads((tmp_path / "data" / "deu" / "test" / "report.json").read_text(encoding="utf-8"))
    assert report["skipped_bad"] == {"bad_path": 1} and report["utterances"] == 9
