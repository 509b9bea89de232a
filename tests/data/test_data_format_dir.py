"""python -m lamer.bin.datadir format: a Kaldi data dir whose audio is cut by segments, in
archives or behind commands, copied with one 16 kHz wav file per utterance (ESPnet's
format_wav_scp.sh); a command runs only with --allow_wav_pipes true."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from lamer.bin.datadir import main
from lamer.data.datadir_io import read_data_dir
from lamer.data.validate import validate_data_dir
from tests.data.kaldi_dir import lines, write_kaldi_dir


def _written(dest, utt) -> np.ndarray:
    samples, rate = sf.read(dest / "data" / f"{utt}.wav", dtype="int16")
    assert rate == 16000
    return samples


@pytest.mark.parametrize("segments", [True, False])
def test_format_writes_every_utterance_as_a_file(tmp_path, capsys, segments):
    kaldi = write_kaldi_dir(tmp_path / "kaldi", segments=segments)
    dest = tmp_path / "formatted"
    assert main(["format", str(kaldi.path), str(dest), "--allow_wav_pipes", "true"]) == 0
    assert f"wrote {len(kaldi.samples)} audio files" in capsys.readouterr().out
    assert lines(dest / "wav.scp") == [f"{utt} {dest.absolute() / 'data' / f'{utt}.wav'}" for utt in kaldi.samples]
    for utt, samples in kaldi.samples.items():  # cut where extract-segments cuts, sample for sample
        np.testing.assert_array_equal(_written(dest, utt), samples)
    assert lines(dest / "utt2num_samples") == [f"{utt} {len(samples)}" for utt, samples in kaldi.samples.items()]
    assert not (dest / "segments").exists()
    for name in ("text", "utt2spk", "spk2utt", "utt2lang", "utt2dur"):
        assert lines(dest / name) == lines(kaldi.path / name), name
    assert kaldi.marker.exists()  # the command ran: it was allowed
    assert validate_data_dir(dest) == []
    assert [u.wav for u in read_data_dir(dest)] == [str(dest.absolute() / "data" / f"{u}.wav") for u in kaldi.samples]


def test_format_writes_utt2dur_as_get_utt2dur_does(tmp_path):
    kaldi = write_kaldi_dir(tmp_path / "kaldi", pipes=False)
    (kaldi.path / "utt2dur").unlink()
    assert main(["format", str(kaldi.path), str(tmp_path / "out"), "--audio-format", "flac", "--fs", "8000"]) == 0
    # get_utt2dur.sh: awk '{len=$4-$3; print $1, len;}' segments
    assert lines(tmp_path / "out" / "utt2dur") == [
        "eng_a-r1-000 1.1", "eng_a-r1-001 1.26", "eng_b-r2-000 1.5", "eng_d-r4-000 1.1"]
    info = sf.info(tmp_path / "out" / "data" / "eng_b-r2-000.flac")
    assert (info.samplerate, info.frames, info.format) == (8000, 12000, "FLAC")


def test_format_refuses_a_command_unless_allowed(tmp_path, capsys):
    kaldi = write_kaldi_dir(tmp_path / "kaldi")
    assert main(["format", str(kaldi.path), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {kaldi.path / 'wav.scp'}:3: the audio of eng_c-r3-000 runs a "
                                               "command ('touch "), err
    assert err[0].endswith("; pass --allow_wav_pipes true to run it")
    assert not kaldi.marker.exists() and not (tmp_path / "out").exists()
