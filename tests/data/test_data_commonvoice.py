"""Common Voice through the prepare_data CLI: real clips in 8 locales, every script, every bad input."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from lamer.bin.prepare_data import main
from lamer.data.commonvoice import prepare_commonvoice, speaker_id
from lamer.data.errors import DataError
from lamer.data.tsv import read_tsv_by_header
from lamer.data.validate import validate_data_dir

REAL_ISO3 = {"ca": "cat", "de": "deu", "en": "eng", "es": "spa", "fr": "fra", "it": "ita", "nl": "nld", "pt": "por"}


def prepare(root, out, *extra, langs="xx"):
    return main(["commonvoice", "--root", str(root), "--langs", langs, "--out", str(out / "data"),
                 "--dump", str(out / "dump"), *extra])


def test_real_clips_all_locales(real_speech, tmp_path, read_kaldi, tree_mtimes):
    root = real_speech / "commonvoice"
    assert prepare(root, tmp_path, "--split-mode", "official", "--nj", "2", langs=",".join(REAL_ISO3)) == 0
    for locale, iso3 in REAL_ISO3.items():
        data_dir = tmp_path / "data" / iso3 / "test"
        assert validate_data_dir(data_dir) == []
        rows = list(read_tsv_by_header(root / locale / "test.tsv", ("client_id", "path", "sentence")))
        expected_ids = {f"{speaker_id(r.fields['client_id'], iso3)}-{r.fields['path'][:-4]}" for r in rows}
        durations = {k: float(v) for k, v in read_kaldi(data_dir / "utt2dur").items()}
        assert set(durations) == expected_ids and len(expected_ids) == 6
        assert set(read_kaldi(data_dir / "utt2lang").values()) == {iso3}
        clip_ms = {r.fields["clip"]: int(r.fields["duration[ms]"])
                   for r in read_tsv_by_header(root / locale / "clip_durations.tsv", ("clip", "duration[ms]"))}
        raw = read_kaldi(data_dir / "text.raw")
        wavs = read_kaldi(data_dir / "wav.scp")
        for row in rows:
            utt = f"{speaker_id(row.fields['client_id'], iso3)}-{row.fields['path'][:-4]}"
            assert abs(durations[utt] - clip_ms[row.fields["path"]] / 1000) <= 0.020
            info = sf.info(wavs[utt])
            assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
            assert raw[utt] == row.fields["sentence"]
    english = read_kaldi(tmp_path / "data" / "eng" / "test" / "text").values()
    assert "these data components in turn serve as the building blocks of data exchanges" in english
    before = tree_mtimes(tmp_path)
    assert prepare(root, tmp_path, "--split-mode", "official", langs=",".join(REAL_ISO3)) == 0
    assert tree_mtimes(tmp_path) == before  # a finished language is not touched again


def test_lang_dir_overrides_apply_to_their_language_and_are_recorded(real_speech, tmp_path, read_kaldi, tree_mtimes,
                                                                     capsys):
    root = real_speech / "commonvoice"
    lang_dir = tmp_path / "lang"
    (lang_dir / "deu").mkdir(parents=True)
    (lang_dir / "deu" / "lang.yaml").write_text('# test\ntext:\n  replace: {"ß": "ss"}\n', encoding="utf-8")
    (lang_dir / "fra").mkdir()
    (lang_dir / "fra" / "lang.yaml").write_text("tokens: {min_count: 2}\ntext: {lowercase: false}\n", encoding="utf-8")
    args = ("--split-mode", "official", "--lang-dir", str(lang_dir))
    assert prepare(root, tmp_path, *args, langs="de,fr,en") == 0
    data = tmp_path / "data"
    german = read_kaldi(data / "deu" / "test" / "text").values()
    assert "zieht euch bitte draussen die schuhe aus" in german and not any("ß" in t for t in german)
    french = read_kaldi(data / "fra" / "test" / "text").values()
    assert "Une partie fûts fut dirigée vers le port de L'Ardoise" in french
    assert "these data components in turn serve as the building blocks of data exchanges" in \
        read_kaldi(data / "eng" / "test" / "text").values()
    report = {lang: json.loads((data / lang / "test" / "report.json").read_text(encoding="utf-8"))
              for lang in ("deu", "fra", "eng")}
    assert report["deu"]["text_rules"] == {"file": str(lang_dir / "deu" / "lang.yaml"), "replace": {"ß": "ss"}}
    assert report["fra"]["text_rules"] == {"file": str(lang_dir / "fra" / "lang.yaml"), "lowercase": False}
    assert "text_rules" not in report["eng"]

    before = tree_mtimes(data)
    assert prepare(root, tmp_path, *args, langs="de,fr,en") == 0
    assert tree_mtimes(data) == before  # same rules: a finished language is not touched again
    (lang_dir / "deu" / "lang.yaml").write_text('text:\n  replace: {"ß": "sz"}\n', encoding="utf-8")
    assert prepare(root, tmp_path, *args, langs="de") == 1
    err = capsys.readouterr().err
    assert f"{data / 'deu' / 'test'}: prepared with text overrides {{'replace': {{'ß': 'ss'}}}}" in err
    assert f"remove {data / 'deu' / 'test'} to prepare it again" in err
    assert prepare(root, tmp_path, "--split-mode", "official", langs="fr") == 1  # rules dropped: also stale
    assert "now asked for none" in capsys.readouterr().err
    assert tree_mtimes(data) == before


def test_bad_lang_file_stops_before_any_language_is_prepared(real_speech, tmp_path, capsys):
    lang_dir = tmp_path / "lang"
    (lang_dir / "fra").mkdir(parents=True)
    (lang_dir / "fra" / "lang.yaml").write_text("text: {lowercase: nope}\n", encoding="utf-8")
    assert prepare(real_speech / "commonvoice", tmp_path, "--lang-dir", str(lang_dir), langs="de,fr") == 1
    assert f"{lang_dir / 'fra' / 'lang.yaml'}: text.lowercase: expected true or false" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_validated_minus_held_out_with_csv_quoted_sentences(real_speech, tmp_path, read_kaldi):
    root = tmp_path / "cv"
    shutil.copytree(real_speech / "commonvoice" / "en", root / "en")
    held_out = (root / "en" / "test.tsv").read_text(encoding="utf-8").splitlines()
    (root / "en" / "test.tsv").write_text("\n".join(held_out[:3]) + "\n", encoding="utf-8")  # header + 2 rows
    assert prepare(root, tmp_path, langs="en") == 0
    train = read_kaldi(tmp_path / "data" / "eng" / "train" / "text.raw")
    test = read_kaldi(tmp_path / "data" / "eng" / "test" / "text.raw")
    assert (len(train), len(test)) == (4, 2) and not set(train) & set(test)
    sentences = {*train.values(), *test.values()}
    assert 'These data components in turn serve as the "building blocks" of data exchanges.' in sentences
    assert "She'll be all right." in {*train.values(), *test.values()}


SCRIPTS = {
    "ru": ("Съешь же ещё этих мягких булок!", "rus", "съешь же ещё этих мягких булок"),
    "el": ("Η ΟΔΟΣ είναι μακριά.", "ell", "η οδος είναι μακριά"),
    "ar": ("ذهب الولد إلى المدرسة.", "ara", "ذهب الولد إلى المدرسة"),
    "fa": ("من می\u200cخواهم بروم؟", "fas", "من می\u200cخواهم بروم"),
    "zh-CN": ("我们明天去北京，好吗？", "cmn", "我们明天去北京好吗"),
    "hi": ("मैं घर जा रहा हूँ।", "hin", "मैं घर जा रहा हूँ"),
    "ta": ("நான் வீட்டுக்குப் போகிறேன்.", "tam", "நான் வீட்டுக்குப் போகிறேன்"),
    "tr": ("IŞIK İstanbul'da yandı.", "tur", "ışık istanbul'da yandı"),
}


def test_text_per_script(tmp_path, write_cv_locale, cv_row, read_kaldi):
    root = tmp_path / "cv"
    for n, (locale, (sentence, _, _)) in enumerate(SCRIPTS.items()):
        write_cv_locale(root, locale, [cv_row(locale, n, sentence)])
    assert prepare(root, tmp_path, "--split-mode", "official", "--splits", "train", langs=",".join(SCRIPTS)) == 0
    for sentence, iso3, expected in SCRIPTS.values():
        data_dir = tmp_path / "data" / iso3 / "train"
        assert list(read_kaldi(data_dir / "text").values()) == [expected]
        assert list(read_kaldi(data_dir / "text.raw").values()) == [sentence]


@pytest.fixture
def five_rows(tmp_path, write_cv_locale, cv_row):
    """A v17 release with 5 good rows in train.tsv; tests break one of them."""
    rows = [cv_row("en", n, f"Sentence number {n}.", client=f"{n % 2:0128d}") for n in range(5)]
    write_cv_locale(tmp_path / "cv", "en", rows)
    return tmp_path / "cv" / "en"


def _edit_tsv(locale_dir, edit):
    lines = (locale_dir / "train.tsv").read_text(encoding="utf-8").splitlines()
    (locale_dir / "train.tsv").write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")


def _blank_sentence(lines):
    fields = lines[3].split("\t")
    fields[3] = ""
    return lines[:3] + ["\t".join(fields)] + lines[4:]


def _control_characters(lines):
    return lines[:3] + [lines[3].replace("Sentence number 2.", "Sentence\x00 number 2.\x1b[2J")] + lines[4:]


BAD_CASES = {
    # name: (how to break the release, message expected, kind counted with --skip-bad)
    "missing_clip": (lambda d: (d / "clips" / "common_voice_en_2.mp3").unlink(),
                     r"train\.tsv:4: clip .*common_voice_en_2\.mp3 does not exist", "missing_audio"),
    "corrupt_mp3": (lambda d: (d / "clips" / "common_voice_en_2.mp3").write_bytes(b"ID3" + bytes(range(256)) * 8),
                    r"train\.tsv:4: cannot decode .*common_voice_en_2\.mp3", "bad_audio"),
    "empty_sentence": (lambda d: _edit_tsv(d, _blank_sentence),
                       r"train\.tsv:4: empty sentence for clip common_voice_en_2\.mp3", "empty_text"),
    "control_characters": (lambda d: _edit_tsv(d, _control_characters),
                           r"train\.tsv:4: the transcript 'Sentence\\x00 number 2\.\\x1b\[2J' holds control "
                           r"character\(s\) U\+0000, U\+001B: a damaged line", "bad_text"),
    "duplicate_row": (lambda d: _edit_tsv(d, lambda lines: lines + [lines[3]]),
                      r"train\.tsv:7: duplicate utterance id .*common_voice_en_2 \(first at .*train\.tsv:4\)",
                      "duplicate"),
}


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_row_fails_then_is_skipped_and_counted(case, five_rows, tmp_path, capsys, read_kaldi):
    breaker, message, kind = BAD_CASES[case]
    breaker(five_rows)
    args = ("--split-mode", "official", "--splits", "train")
    assert prepare(tmp_path / "cv", tmp_path, *args, langs="en") == 1
    assert capsys.readouterr().err.splitlines()[-1].startswith("error: ")
    half_written = [p for p in (tmp_path / "data").rglob("*") if p.is_file() and p.suffix != ".lock"]
    assert half_written == []
    with pytest.raises(DataError, match=message):
        prepare_commonvoice(tmp_path / "cv", ["en"], tmp_path / "data", tmp_path / "dump", mode="official",
                            splits=["train"])
    assert prepare(tmp_path / "cv", tmp_path, *args, "--skip-bad", langs="en") == 0
    data_dir = tmp_path / "data" / "eng" / "train"
    report = json.loads((data_dir / "report.json").read_text(encoding="utf-8"))
    assert report["skipped_bad"] == {kind: 1}
    assert report["utterances"] == len(read_kaldi(data_dir / "text")) == (5 if case == "duplicate_row" else 4)
    assert validate_data_dir(data_dir) == []


def test_a_link_leading_out_of_clips_is_refused_and_links_within_are_followed(five_rows, tmp_path, capsys,
                                                                               read_kaldi):
    """Clip 2 is moved out of the release and linked to (someone's recording, pulled into the
    dump); clip 1 links within clips/, and clips/ itself is a link: those two are ordinary."""
    clips = five_rows / "clips"
    (clips / "common_voice_en_2.mp3").rename(tmp_path / "outside.mp3")
    (clips / "common_voice_en_2.mp3").symlink_to(tmp_path / "outside.mp3")
    (clips / "store").mkdir()
    (clips / "common_voice_en_1.mp3").rename(clips / "store" / "one.mp3")
    (clips / "common_voice_en_1.mp3").symlink_to(Path("store") / "one.mp3")
    clips.rename(tmp_path / "clips_elsewhere")
    clips.symlink_to(tmp_path / "clips_elsewhere")
    args = ("--split-mode", "official", "--splits", "train")
    assert prepare(tmp_path / "cv", tmp_path, *args, langs="en") == 1
    assert (f"train.tsv:4: clip {clips / 'common_voice_en_2.mp3'} is a link to {tmp_path / 'outside.mp3'}, outside "
            f"{clips}; copy the file into the corpus instead of linking to it") in capsys.readouterr().err
    assert prepare(tmp_path / "cv", tmp_path, *args, "--skip-bad", langs="en") == 0
    data_dir = tmp_path / "data" / "eng" / "train"
    report = json.loads((data_dir / "report.json").read_text(encoding="utf-8"))
    assert report["skipped_bad"] == {"bad_path": 1} and report["utterances"] == 4
    assert any(utt.endswith("common_voice_en_1") for utt in read_kaldi(data_dir / "text"))


def test_missing_column_and_unknown_locale(five_rows, tmp_path, capsys):
    _edit_tsv(five_rows, lambda lines: [line.rsplit("\t", 10)[0] for line in lines])  # drop sentence and after
    assert prepare(tmp_path / "cv", tmp_path, "--split-mode", "official", "--skip-bad", langs="en") == 1
    assert f"{five_rows / 'train.tsv'}:1: header lacks column(s) sentence" in capsys.readouterr().err
    assert prepare(tmp_path / "cv", tmp_path, "--splits", "train,valid", langs="en") == 1
    assert "unknown Common Voice split(s) valid" in capsys.readouterr().err
    (tmp_path / "cv" / "xx").mkdir()
    assert prepare(tmp_path / "cv", tmp_path, langs="xx") == 1
    assert "unknown commonvoice locale 'xx'" in capsys.readouterr().err


def test_duration_filter_and_lang_map_through_module_entry_point(tmp_path, write_cv_locale, cv_row, read_kaldi):
    root = tmp_path / "cv"
    write_cv_locale(root, "xx", [cv_row("xx", 0, "Short one.")], seconds=0.3)
    write_cv_locale(root, "xx", [cv_row("xx", 0, "Short one."), cv_row("xx", 1, "Long enough.")])
    (root / "xx" / "clips" / "common_voice_xx_0.mp3").unlink()
    write_cv_locale(root, "xx", [cv_row("xx", 0, "Short one."), cv_row("xx", 1, "Long enough.")], seconds=0.3)
    cmd = [sys.executable, "-m", "lamer.bin.prepare_data", "commonvoice", "--root", str(root), "--langs", "xx",
           "--lang-map", "xx=xxa", "--out", str(tmp_path / "data"), "--dump", str(tmp_path / "dump"),
           "--split-mode", "official", "--min-duration", "0.5"]
    subprocess.run(cmd, check=True, capture_output=True)
    data_dir = tmp_path / "data" / "xxa" / "train"
    assert list(read_kaldi(data_dir / "text").values()) == ["long enough"]
    assert json.loads((data_dir / "report.json").read_text())["filtered"] == {"too_short": 1}
    assert sorted(p.name for p in (tmp_path / "dump" / "xxa" / "train").iterdir()) == [
        f"{speaker_id('a' * 64, 'xxa')}-common_voice_xx_1.wav"]


def test_truncated_clip_that_still_decodes_is_bad_audio(real_speech, tmp_path, capsys):
    locale_dir = tmp_path / "cv" / "en"
    shutil.copytree(real_speech / "commonvoice" / "en", locale_dir)
    rows = list(read_tsv_by_header(locale_dir / "test.tsv", ("path",)))
    clip = locale_dir / "clips" / rows[2].fields["path"]
    clip.write_bytes(clip.read_bytes()[: clip.stat().st_size * 2 // 3])  # an interrupted download
    assert sf.info(clip).frames > 0  # it still decodes
    args = ("--split-mode", "official", "--splits", "test")
    assert prepare(tmp_path / "cv", tmp_path, *args, langs="en") == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert f"{locale_dir / 'test.tsv'}:4: {clip} decodes to" in err
    assert f"but {locale_dir / 'clip_durations.tsv'}:" in err and "truncated or damaged clip" in err
    assert prepare(tmp_path / "cv", tmp_path, *args, "--skip-bad", langs="en") == 0
    report = json.loads((tmp_path / "data" / "eng" / "test" / "report.json").read_text(encoding="utf-8"))
    assert report["skipped_bad"] == {"bad_audio": 1} and report["utterances"] == 5
    assert prepare(tmp_path / "cv", tmp_path / "lenient", *args, "--duration_tolerance", "60", langs="en") == 0


def test_bom_header_accepted_and_non_utf8_line_named(real_speech, tmp_path, capsys, read_kaldi):
    locale_dir = tmp_path / "cv" / "en"
    shutil.copytree(real_speech / "commonvoice" / "en", locale_dir)
    tsv = locale_dir / "test.tsv"
    tsv.write_bytes(b"\xef\xbb\xbf" + tsv.read_bytes())  # saved by a spreadsheet editor
    args = ("--split-mode", "official", "--splits", "test")
    assert prepare(tmp_path / "cv", tmp_path, *args, langs="en") == 0
    assert len(read_kaldi(tmp_path / "data" / "eng" / "test" / "text")) == 6
    lines = tsv.read_bytes().split(b"\n")
    lines[5] = lines[5].replace(b"a", "\u00e4".encode("latin-1"), 1)  # one row re-saved as Latin-1
    tsv.write_bytes(b"\n".join(lines))
    assert prepare(tmp_path / "cv", tmp_path / "o2", *args, langs="en") == 1
    assert f"{tsv}:6: not UTF-8 text" in capsys.readouterr().err


@pytest.mark.parametrize("escape", ["../../../secret.mp3", "ABSOLUTE", "sub/../../../../secret.mp3"])
def test_clip_path_outside_the_clips_folder_is_refused(escape, five_rows, tmp_path, capsys):
    secret = tmp_path / "secret.mp3"  # a real, decodable file outside the release
    shutil.copy(five_rows / "clips" / "common_voice_en_1.mp3", secret)
    escape = str(secret) if escape == "ABSOLUTE" else escape
    (five_rows / "clips" / "sub").mkdir()
    assert (five_rows / "clips" / escape).is_file()  # the row does lead to that file
    _edit_tsv(five_rows, lambda lines: lines[:2] + [lines[2].replace("common_voice_en_1.mp3", escape)] + lines[3:])
    args = ("--split-mode", "official", "--splits", "train")
    assert prepare(tmp_path / "cv", tmp_path, *args, langs="en") == 1
    assert f"train.tsv:3: clip path {escape!r} leads outside {five_rows / 'clips'}" in capsys.readouterr().err
    assert prepare(tmp_path / "cv", tmp_path, *args, "--skip-bad", langs="en") == 0
    report = json.loads((tmp_path / "data" / "eng" / "train" / "report.json").read_text(encoding="utf-8"))
    assert report["skipped_bad"] == {"bad_path": 1} and report["utterances"] == 4


def test_clip_fixed_after_a_run_is_decoded_again_by_the_next(real_speech, tmp_path, read_kaldi):
    locale_dir = tmp_path / "cv" / "en"
    shutil.copytree(real_speech / "commonvoice" / "en", locale_dir)
    (locale_dir / "clip_durations.tsv").unlink()  # older releases have none: the truncation goes unnoticed
    name = next(iter(read_tsv_by_header(locale_dir / "test.tsv", ("path",)))).fields["path"]
    good = (locale_dir / "clips" / name).read_bytes()
    (locale_dir / "clips" / name).write_bytes(good[: len(good) // 2])
    args = ("--split-mode", "official", "--splits", "test")
    assert prepare(tmp_path / "cv", tmp_path, *args, langs="en") == 0
    utt = next(u for u in read_kaldi(tmp_path / "data" / "eng" / "test" / "wav.scp") if u.endswith(name[:-4]))
    short = float(read_kaldi(tmp_path / "data" / "eng" / "test" / "utt2dur")[utt])
    (locale_dir / "clips" / name).write_bytes(good)  # the clip downloaded again
    shutil.rmtree(tmp_path / "data")  # and the language prepared again
    assert prepare(tmp_path / "cv", tmp_path, *args, langs="en") == 0
    fixed = float(read_kaldi(tmp_path / "data" / "eng" / "test" / "utt2dur")[utt])
    assert fixed > 1.8 * short and abs(fixed - sf.info(locale_dir / "clips" / name).duration) < 0.05
