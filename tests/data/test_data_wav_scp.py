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
    with pytest.raises(DataError, match=rf"^{scp}:2: .*runs a command.*only asr_train, ssl_train and asr_inference"):
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
