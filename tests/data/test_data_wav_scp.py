"""wav.scp entries as Kaldi and ESPnet write them: files, archive positions and commands, the
commands never run unless allowed, every unreadable entry named by file and line."""
import shlex

import kaldiio
import numpy as np
import pytest
import soundfile as sf

from lamer.data.errors import DataError
from lamer.data.wav_scp import (
    NO_PIPE_HINT,
    audio_frames,
    entry_kind,
    parse_wav_scp,
    read_audio,
    read_wav_scp,
    utterance_entries,
)


@pytest.mark.parametrize("audio, kind", [
    ("/data/a.wav", "path"),
    ("/data/R&D/a b.flac", "path"),
    ("/data/a.ark:1234", "ark"),
    ("/data/a.ark:1234[0:15999]", "ark"),
    ("sox /data/a.flac -t wav - |", "pipe"),
    ("cat a.wav|", "pipe"),
    ("| cat a.wav", "pipe"),
])
def test_entry_kinds_are_decided_as_kaldiio_decides_them(audio, kind):
    assert entry_kind(audio) == kind


@pytest.fixture
def clip(tmp_path):
    """A 16 kHz mono PCM16 clip (half a second) and its samples as int16."""
    samples = ((np.arange(8000) % 160 - 80) * 200).astype(np.int16)
    sf.write(tmp_path / "clip.wav", samples, 16000, subtype="PCM_16")
    return tmp_path / "clip.wav", samples


def _touch(marker) -> str:
    return f"touch {shlex.quote(str(marker))}"


def test_a_command_is_refused_naming_file_and_line_and_never_run(tmp_path, clip):
    marker = tmp_path / "marker"
    scp = tmp_path / "wav.scp"
    scp.write_text(f"u1 {clip[0]}\nu2 {_touch(marker)}; cat {clip[0]} |\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{scp}:2: the audio of u2 runs a command \('touch .*'\); "
                                        r"pass --allow_wav_pipes true to run it$"):
        read_wav_scp(scp)
    with pytest.raises(DataError, match=rf"^{scp}:2: .*runs a command.*only asr_train, ssl_train, asr_inference "
                                        r"and datadir format"):
        read_wav_scp(scp, hint=NO_PIPE_HINT)
    entries = read_wav_scp(scp, allow_pipes=True)
    with pytest.raises(DataError, match=rf"^{scp}:2: the audio of u2 runs a command"):
        read_audio(entries[1])  # the reader refuses it too unless told otherwise
    assert not marker.exists()
    np.testing.assert_array_equal(read_audio(entries[1], allow_pipes=True), read_audio(entries[0]))
    assert marker.exists()  # allowed: run as Kaldi runs it


def test_archive_positions_are_read_with_kaldiio(tmp_path, clip):
    kaldiio.save_ark(str(tmp_path / "a.ark"), {"u1": (16000, clip[1])}, scp=str(tmp_path / "wav.scp"))
    (entry,) = read_wav_scp(tmp_path / "wav.scp")
    assert entry.kind == "ark" and entry.origin == f"{tmp_path / 'wav.scp'}:1"
    np.testing.assert_allclose(read_audio(entry), clip[1] / 32768.0)
    assert audio_frames(entry) == len(clip[1])


@pytest.mark.parametrize("content, message", [
    (b"u1 /a.wav\nu2 /b\xe9.wav\n", r"wav\.scp:2: not UTF-8 text \(byte 6 of the line\)"),
    (b"u1 /a.wav\nu2\n", r"wav\.scp:2: expected '<utterance> <audio>', got 'u2'"),
    (b"u1 /a.wav\n\nu2 /b.wav\n", r"wav\.scp:2: expected '<utterance> <audio>', got ''"),
])
def test_malformed_lines_are_named(tmp_path, content, message):
    (tmp_path / "wav.scp").write_bytes(content)
    with pytest.raises(DataError, match=message):
        parse_wav_scp(tmp_path / "wav.scp")


@pytest.mark.parametrize("breakage, reason", [
    ("missing", "no such file"),
    ("not_audio", "Format not recognised"),
    ("44k", "expected 16000 Hz mono audio, got 44100 Hz"),
    ("stereo", "got 16000 Hz with 2 channel"),
    ("features", r"a \(3, 4\) matrix \(features\?\), not audio"),
])
def test_an_unreadable_entry_is_one_error_naming_file_and_line(tmp_path, clip, breakage, reason):
    audio = tmp_path / "bad.wav"
    if breakage == "not_audio":
        audio.write_bytes(b"RIFF but not audio at all")
    elif breakage == "44k":
        sf.write(audio, clip[1], 44100)
    elif breakage == "stereo":
        sf.write(audio, np.stack([clip[1], clip[1]], axis=1), 16000)
    elif breakage == "features":
        kaldiio.save_ark(str(tmp_path / "feats.ark"), {"u2": np.zeros((3, 4), np.float32)},
                         scp=str(tmp_path / "feats.scp"))
        audio = (tmp_path / "feats.scp").read_text(encoding="utf-8").split()[1]
    (tmp_path / "wav.scp").write_text(f"u1 {clip[0]}\nu2 {audio}\n", encoding="utf-8")
    good, bad = read_wav_scp(tmp_path / "wav.scp")
    assert len(read_audio(good)) == 8000
    with pytest.raises(DataError, match=rf"^{tmp_path / 'wav.scp'}:2: cannot read the audio of u2 \(.*\): .*{reason}"):
        read_audio(bad)


def test_the_utterances_of_a_segmented_dir_are_cut_from_their_recordings(tmp_path):
    from tests.data.kaldi_dir import write_kaldi_dir

    kaldi = write_kaldi_dir(tmp_path)
    with pytest.raises(DataError, match=rf"^{kaldi.path / 'wav.scp'}:3: the audio of eng_c-r3-000 runs a command"):
        utterance_entries(kaldi.path)
    entries = utterance_entries(kaldi.path, allow_pipes=True)
    assert [entry.utt for entry in entries] == list(kaldi.samples)
    assert entries[1].origin == f"{kaldi.path / 'wav.scp'}:1" and entries[1].segment.origin.endswith("segments:2")
    for entry in entries:  # a file, Kaldi's 16-bit archive, a command, ESPnet's flac archive (floats)
        np.testing.assert_array_equal(read_audio(entry, allow_pipes=True), kaldi.samples[entry.utt] / 32768.0)
        assert audio_frames(entry, allow_pipes=True) == len(kaldi.samples[entry.utt])
    assert not entries[0].plain and entries[0].kind == "path"


@pytest.mark.parametrize("start, end, expected", [
    ("0.2", "0.55", (3200, 8000)),      # an end up to 0.5 s past the recording is cut to its end
    ("0.2", "1.0", "0.2..1.0 s is outside recording rec"),
    ("0.5", "0.7", "0.5..0.7 s is outside recording rec"),
    ("0.2", "0.2", "with 0 <= start < end"),
    ("-1", "0.2", "with 0 <= start < end"),
    ("0", "-1", "with 0 <= start < end"),
])
def test_segments_are_cut_as_extract_segments_cuts_them(tmp_path, clip, start, end, expected):
    (tmp_path / "wav.scp").write_text(f"rec {clip[0]}\n", encoding="utf-8")
    (tmp_path / "segments").write_text(f"rec-1 rec {start} {end}\n", encoding="utf-8")
    segments = tmp_path / "segments"
    if isinstance(expected, tuple):
        (entry,) = utterance_entries(tmp_path)
        np.testing.assert_array_equal(read_audio(entry), clip[1][slice(*expected)] / 32768.0)
    elif "start < end" in expected:
        with pytest.raises(DataError, match=rf"^{segments}:1: expected '<utterance> <recording> <start> <end>'"):
            utterance_entries(tmp_path)
    else:
        (entry,) = utterance_entries(tmp_path)
        with pytest.raises(DataError, match=rf"^{tmp_path / 'wav.scp'}:1: cannot read the audio of rec-1 \(.*, the "
                                            rf"segment of {segments}:1\): {expected}"):
            read_audio(entry)


def test_a_segment_of_a_recording_that_wav_scp_lacks_is_named(tmp_path, clip):
    (tmp_path / "wav.scp").write_text(f"rec {clip[0]}\n", encoding="utf-8")
    (tmp_path / "segments").write_text("rec-1 rec 0 0.2\nrec-2 other 0 0.2\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{tmp_path / 'segments'}:2: recording other of rec-2 is not in "):
        utterance_entries(tmp_path)
