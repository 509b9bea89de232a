"""The validator finds every kind of broken data dir; data dirs are written atomically."""
import importlib

import numpy as np
import pytest
import soundfile as sf

from lamer.bin.prepare_data import main
from lamer.data.datadir_io import Utterance, is_complete, read_data_dir, write_data_dir
from lamer.data.errors import DataError
from lamer.data.validate import validate_data_dir


@pytest.fixture
def good_dir(tmp_path):
    """A valid 4-utterance dir with real 16 kHz WAVs of 1.0, 1.5, 2.0, 2.5 s."""
    utts = []
    for i in range(4):
        spk = f"eng_s{i % 2}"
        wav = tmp_path / "audio" / f"{i}.wav"
        wav.parent.mkdir(exist_ok=True)
        sf.write(wav, np.zeros(int(16000 * (1 + i / 2)), np.int16), 16000, subtype="PCM_16")
        utts.append(Utterance(f"{spk}-u{i}", spk, "eng", f"word {i}", str(wav), 1 + i / 2, f"Word {i}!"))
    return write_data_dir(utts, tmp_path / "data" / "eng" / "train")


def _edit(path, edit):
    lines = edit(path.read_text(encoding="utf-8").splitlines())
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def test_good_dir_passes_and_reads_back(good_dir, capsys):
    assert validate_data_dir(good_dir) == []
    assert is_complete(good_dir)
    assert [u.duration for u in read_data_dir(good_dir)] == [1.0, 2.0, 1.5, 2.5]
    assert main(["validate", str(good_dir)]) == 0
    assert "OK" in capsys.readouterr().out


BREAKAGES = {
    "unsorted": ("utt2lang", lambda lines: [lines[1], lines[0], *lines[2:]],
                 "utt2lang:2: eng_s0-u0 comes after eng_s0-u2"),
    "duplicate": ("text", lambda lines: [lines[0], lines[0], *lines[1:]], "text:2: duplicate id eng_s0-u0"),
    "missing_id": ("utt2dur", lambda lines: lines[1:], "utt2dur: ids differ from wav.scp, e.g. eng_s0-u0"),
    "zero_duration": ("utt2dur", lambda lines: ["eng_s0-u0 0", *lines[1:]],
                      "utt2dur:1: duration 0 of eng_s0-u0 is not positive"),
    "wrong_duration": ("utt2dur", lambda lines: ["eng_s0-u0 1.05", *lines[1:]],
                       "eng_s0-u0 lasts 1.000 s, utt2dur says 1.05"),
    "missing_audio": ("wav.scp", lambda lines: ["eng_s0-u0 /nonexistent/x.wav", *lines[1:]],
                      "wav.scp:1: audio file /nonexistent/x.wav of eng_s0-u0 does not exist"),
    "bad_lang": ("utt2lang", lambda lines: ["eng_s0-u0 en", *lines[1:]],
                 "utt2lang:1: language 'en' of eng_s0-u0 is not an ISO 639-3 code"),
    "spk_prefix": ("utt2spk", lambda lines: ["eng_s0-u0 eng_s1", *lines[1:]],
                   "utt2spk:1: utterance eng_s0-u0 does not start with its speaker id eng_s1"),
    "spk_order": ("utt2spk", lambda lines: ["eng_s0-u0 eng_s0", "eng_s0-u2 eng_s1", "eng_s1-u1 eng_s0", lines[3]],
                  "utt2spk:3: utterances of speaker eng_s0 are not contiguous"),
    "spk2utt": ("spk2utt", lambda lines: [lines[0].rsplit(" ", 1)[0], *lines[1:]],
                "spk2utt: does not match utt2spk for speaker eng_s0"),
    "empty_text": ("text", lambda lines: ["eng_s0-u0 ", *lines[1:]], "text:1: empty transcript for eng_s0-u0"),
    "malformed": ("utt2spk", lambda lines: ["eng_s0-u0", *lines[1:]], "utt2spk:1: expected '<key> <value>'"),
    "no_utterances": ("wav.scp", lambda lines: [], "no utterances"),
    "raw_control": ("text.raw", lambda lines: ["eng_s0-u0 Word\x00 0!", *lines[1:]],
                    "text.raw:1: transcript of eng_s0-u0 has non-printable or non-blank whitespace characters U+0000"),
}


@pytest.mark.parametrize("case", BREAKAGES)
def test_each_breakage_is_named(case, good_dir, capsys):
    name, edit, message = BREAKAGES[case]
    _edit(good_dir / name, edit)
    problems = validate_data_dir(good_dir)
    assert any(message in p for p in problems), problems
    assert main(["validate", str(good_dir)]) == 1
    assert message in capsys.readouterr().err


def test_unreadable_audio_and_sample_rate(good_dir):
    wavs = dict(line.split(" ", 1) for line in (good_dir / "wav.scp").read_text().splitlines())
    open(wavs["eng_s0-u0"], "wb").write(b"not audio at all")
    sf.write(wavs["eng_s1-u1"], np.zeros(24000, np.int16), 24000, subtype="PCM_16")
    problems = validate_data_dir(good_dir)
    assert any("eng_s0-u0 is unreadable" in p for p in problems)
    assert any("is 24000 Hz x 1 channels, expected 16000 Hz mono" in p for p in problems)
    assert validate_data_dir(good_dir, check_audio=False) == []


def test_write_is_atomic_and_refuses_bad_ids(good_dir):
    before = {p.name: p.read_bytes() for p in good_dir.iterdir()}
    utts = read_data_dir(good_dir)
    with pytest.raises(TypeError):  # failing half way (report not serialisable) leaves the old dir as it was
        write_data_dir(utts[:2], good_dir, extra={"bad": object()})
    assert {p.name: p.read_bytes() for p in good_dir.iterdir()} == before
    assert [p.name for p in good_dir.parent.iterdir()] == ["train"]  # no temp dir left
    with pytest.raises(DataError, match="duplicate utterance id eng_s0-u0"):
        write_data_dir([utts[0], utts[0]], good_dir)
    with pytest.raises(DataError, match="does not start with its speaker id"):
        write_data_dir([Utterance("x-1", "eng_y", "eng", "a", "/a.wav", 1.0)], good_dir.parent / "other")
    assert not is_complete(good_dir.parent / "other")


def test_commands_in_wav_scp_are_named_and_not_run_and_archive_entries_read(good_dir, tmp_path, capsys):
    import kaldiio

    marker = tmp_path / "marker"
    lines = (good_dir / "wav.scp").read_text(encoding="utf-8").splitlines()
    samples, _ = sf.read(lines[1].split(" ", 1)[1], dtype="int16")
    kaldiio.save_ark(str(tmp_path / "a.ark"), {"eng_s0-u2": (16000, samples)}, scp=str(tmp_path / "a.scp"))
    ark_entry = (tmp_path / "a.scp").read_text(encoding="utf-8").split()[1]
    lines[:2] = [f"eng_s0-u0 touch {marker} |", f"eng_s0-u2 {ark_entry}"]
    (good_dir / "wav.scp").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    assert validate_data_dir(good_dir) == [
        f"{good_dir / 'wav.scp'}:1: the audio of eng_s0-u0 runs a command ('touch {marker} |'); only asr_train, "
        "ssl_train, asr_inference and datadir format run such commands, with --allow_wav_pipes true; for this "
        "program write the audio to files first: python -m lamer.bin.datadir format --allow_wav_pipes true SRC DEST"]
    assert not marker.exists()


@pytest.mark.parametrize("tool, command", [
    ("prepare_data", ["validate", "{dir}"]),
    ("prepare_data", ["replay", "--src", "{dir}", "--minutes", "1", "--out", "{out}"]),
    ("datadir", ["fix", "{dir}"]),
])
def test_text_that_is_not_utf8_is_one_error_naming_the_line(good_dir, tmp_path, capsys, tool, command):
    text = good_dir / "text"
    lines = text.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"word", "w\u00f6rd".encode("latin-1"))  # one line re-saved as Latin-1
    text.write_bytes(b"\n".join(lines))
    with pytest.raises(DataError, match=rf"^{text}:3: not UTF-8 text \(byte 12 of the line\); convert the file"):
        read_data_dir(good_dir)
    tool_main = importlib.import_module(f"lamer.bin.{tool}").main
    assert tool_main([arg.format(dir=good_dir, out=tmp_path / "replay") for arg in command]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"{text}:3: not UTF-8 text (byte 12 of the line)" in err


def test_a_kaldi_dir_with_segments_and_archives_validates_reads_and_samples(tmp_path, capsys):
    from tests.data.kaldi_dir import lines, write_kaldi_dir

    kaldi = write_kaldi_dir(tmp_path / "kaldi", pipes=False)
    assert validate_data_dir(kaldi.path) == []  # every segment read (archives too) and matched with utt2dur
    utts = read_data_dir(kaldi.path)
    assert [(u.utt_id, u.segment.recording, u.duration) for u in utts][:2] == [
        ("eng_a-r1-000", "eng_a-r1", 1.1), ("eng_a-r1-001", "eng_a-r1", 1.26)]
    # a replay sample of it keeps its segments, and wav.scp the recordings they name
    assert main(["replay", "--src", str(kaldi.path), "--minutes", "0.04", "--seed", "1",
                 "--out", str(tmp_path / "replay")]) == 0
    chosen = [line.split()[0] for line in lines(tmp_path / "replay" / "segments")]
    assert 0 < len(chosen) < len(utts)
    assert lines(tmp_path / "replay" / "segments") == [
        line for line in lines(kaldi.path / "segments") if line.split()[0] in chosen]
    recordings = {line.split()[1] for line in lines(tmp_path / "replay" / "segments")}
    assert lines(tmp_path / "replay" / "wav.scp") == [
        line for line in lines(kaldi.path / "wav.scp") if line.split()[0] in recordings]
    assert validate_data_dir(tmp_path / "replay") == []
    # a segment whose length is not utt2dur's is named by its segments line
    _edit(kaldi.path / "segments", lambda rows: [rows[0].replace(" 1.1", " 1.3"), *rows[1:]])
    assert f"{kaldi.path / 'segments'}:1: eng_a-r1-000 lasts 1.300 s, utt2dur says 1.1" in validate_data_dir(kaldi.path)


def test_validate_dirs_reports_each_dir_and_the_exit_status(good_dir, tmp_path, capsys):
    """The library call behind `datadir validate` and `prepare_data validate`: problems on stderr, one
    line per dir on stdout, 1 when any dir has a problem."""
    from lamer.data.validate import validate_dirs

    assert validate_dirs([good_dir], check_audio=False) == 0
    assert capsys.readouterr().out == f"{good_dir}: OK\n"
    assert validate_dirs([good_dir, tmp_path / "missing"], check_audio=False) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{good_dir}: OK", f"{tmp_path / 'missing'}: 1 problem(s)"] and err.count("\n") == 1
