"""Data files handed to ESPnet: a wav.scp line ``cmd |`` is refused, naming its file and line, by
asr_inference (beam and greedy), asr_train and ssl_train, and runs only with --allow_wav_pipes
true, where ESPnet's kaldi_ark reader (or ours) would run it. Each hostile line would create a
marker file before it hands over its clip."""
from __future__ import annotations

import argparse
import shlex
from pathlib import Path

import pytest

from tests.probe.fixtures import train_args
from tests.runtime.test_runtime_load_guard import DECODE_CONFIG, error_line


@pytest.fixture(scope="module")
def probe(tmp_path_factory, upstream, probe_data) -> Path:
    """A probe trained for one epoch by lamer.bin.asr_train (its output directory)."""
    from lamer.bin import asr_train

    out = tmp_path_factory.mktemp("pipe_probe") / "exp"
    assert asr_train.main(train_args(probe_data, upstream.checkpoint, out) + ["--max_epoch", "1"]) == 0
    return out


def piped_copy(data_dir: Path, scp: Path, marker: Path) -> Path:
    """``data_dir``'s wav.scp as ``scp``, its second line a command that touches ``marker`` and
    then writes that line's clip to its output."""
    lines = (data_dir / "wav.scp").read_text(encoding="utf-8").splitlines()
    utt, wav = lines[1].split(" ", 1)
    lines[1] = f"{utt} touch {shlex.quote(str(marker))}; cat {shlex.quote(wav)} |"
    scp.parent.mkdir(parents=True, exist_ok=True)
    scp.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return scp


def decode(probe: Path, data: str, out: Path, decoding: str, *extra: str) -> int:
    from lamer.bin import asr_inference

    return asr_inference.main(["--config", str(DECODE_CONFIG), "--ngpu", "0", "--decoding", decoding,
                               "--asr_train_config", str(probe / "config.yaml"),
                               "--asr_model_file", str(probe / "1epoch.pth"),
                               "--data_path_and_name_and_type", data, "--output_dir", str(out), *extra])


@pytest.mark.parametrize("decoding", ["beam", "greedy"])
def test_decoding_refuses_a_command_in_the_data(probe, probe_data, tmp_path, capsys, decoding):
    marker = tmp_path / "marker"
    scp = piped_copy(probe_data.dev, tmp_path / "data" / "wav.scp", marker)
    assert decode(probe, f"{scp},speech,kaldi_ark", tmp_path / "out", decoding) == 1
    line = error_line(capsys.readouterr().err, "asr_inference")
    assert f"{scp}:2: the audio of " in line and line.endswith("; pass --allow_wav_pipes true to run it")
    assert not marker.exists()
    assert not (tmp_path / "out" / "1best_recog" / "text").exists()


def test_a_sound_file_never_runs_a_command(probe, probe_data, tmp_path, capsys):
    """ESPnet's sound reader cannot run one: refused even when allowed, saying how to run it."""
    marker = tmp_path / "marker"
    scp = piped_copy(probe_data.dev, tmp_path / "data" / "wav.scp", marker)
    assert decode(probe, f"{scp},speech,sound", tmp_path / "out", "beam", "--allow_wav_pipes", "true") == 1
    line = error_line(capsys.readouterr().err, "asr_inference")
    assert f"{scp}:2: the audio of " in line
    assert f"ESPnet's sound reader cannot run it; to run it, give the file as {scp},speech,kaldi_ark" in line
    assert not marker.exists()


@pytest.mark.parametrize("decoding", ["beam", "greedy"])
def test_decoding_runs_the_command_when_allowed(probe, probe_data, tmp_path, decoding):
    marker = tmp_path / "marker"
    scp = piped_copy(probe_data.dev, tmp_path / "data" / "wav.scp", marker)
    assert decode(probe, f"{scp},speech,kaldi_ark", tmp_path / "piped", decoding, "--allow-wav-pipes", "true") == 0
    assert marker.exists()
    piped = (tmp_path / "piped" / "1best_recog" / "text").read_text(encoding="utf-8").splitlines()
    assert [line.split(" ", 1)[0] for line in piped] == [
        line.split(" ", 1)[0] for line in (probe_data.dev / "wav.scp").read_text(encoding="utf-8").splitlines()]
    if decoding == "greedy":  # our reader scales kaldiio's int16 as libsndfile does: the same hypotheses
        assert decode(probe, f"{probe_data.dev}/wav.scp,speech,sound", tmp_path / "plain", decoding) == 0
        assert piped == (tmp_path / "plain" / "1best_recog" / "text").read_text(encoding="utf-8").splitlines()


def test_asr_train_refuses_then_runs_a_command_in_the_data(upstream, probe_data, tmp_path, capsys):
    from lamer.bin import asr_train

    marker = tmp_path / "marker"
    scp = piped_copy(probe_data.train, tmp_path / "train" / "wav.scp", marker)
    args = [f"{scp},speech,kaldi_ark" if arg == f"{probe_data.train}/wav.scp,speech,sound" else arg
            for arg in train_args(probe_data, upstream.checkpoint, tmp_path / "exp")] + ["--max_epoch", "1"]
    assert asr_train.main(args) == 1
    line = error_line(capsys.readouterr().err, "asr_train")
    assert f"{scp}:2: the audio of " in line and line.endswith("; pass --allow_wav_pipes true to run it")
    assert not marker.exists() and not (tmp_path / "exp").exists()
    # allowed, ESPnet's kaldi_ark reader runs it; its statistics pass reads every utterance (ESPnet
    # 202511 cannot train on what that reader gives for a wav: int16 samples, which its model refuses)
    assert asr_train.main(args + ["--allow_wav_pipes", "true", "--collect_stats", "true"]) == 0
    assert marker.exists()
    assert "allow_wav_pipes" not in (tmp_path / "exp" / "config.yaml").read_text(encoding="utf-8")


def test_ssl_train_refuses_a_command_in_the_data(probe_data, tmp_path, capsys):
    from lamer.bin import ssl_train

    marker = tmp_path / "marker"
    scp = piped_copy(probe_data.train, tmp_path / "train" / "wav.scp", marker)
    args = ["--train_data_path_and_name_and_type", f"{scp},speech,kaldi_ark",
            "--valid_data_path_and_name_and_type", f"{probe_data.dev}/wav.scp,speech,sound",
            "--output_dir", str(tmp_path / "exp")]
    assert ssl_train.main(args) == 1
    assert f"{scp}:2: the audio of " in error_line(capsys.readouterr().err, "ssl_train")
    assert not marker.exists() and not (tmp_path / "exp").exists()


def test_the_split_files_of_a_multiple_iterator_directory_are_checked(probe_data, tmp_path):
    """ESPnet's --multiple_iterator names a directory of split.N files: each one is checked."""
    from lamer.data.errors import DataError
    from lamer.probe.data_options import check_data_files

    marker = tmp_path / "marker"
    (tmp_path / "split").mkdir()
    (tmp_path / "split" / "split.0").write_text((probe_data.dev / "wav.scp").read_text(encoding="utf-8"),
                                                encoding="utf-8")
    piped_copy(probe_data.dev, tmp_path / "split" / "split.1", marker)
    args = argparse.Namespace(train_data_path_and_name_and_type=[(str(tmp_path / "split"), "speech", "kaldi_ark")])
    with pytest.raises(DataError, match=rf"^{tmp_path / 'split' / 'split.1'}:2: the audio of .* runs a command"):
        check_data_files(args, allow_pipes=False)
    check_data_files(args, allow_pipes=True)
    assert not marker.exists()  # checking runs nothing


@pytest.mark.parametrize("decoding", ["beam", "greedy"])
def test_a_kaldi_dir_is_decoded_through_its_probe_dir_and_refused_as_it_is(probe, tmp_path, capsys, decoding):
    """ESPnet's readers know no segments, and its sound reader reads whole files only: such a
    wav.scp is one error line saying how to write it to files; the probe dir of the same data
    (written as asr.sh's dump dirs are) decodes."""
    from lamer.probe.inputs import write_probe_dir
    from tests.data.kaldi_dir import write_kaldi_dir

    kaldi = write_kaldi_dir(tmp_path / "kaldi", pipes=False)
    assert decode(probe, f"{kaldi.path}/wav.scp,speech,sound", tmp_path / "raw", decoding) == 1
    line = error_line(capsys.readouterr().err, "asr_inference")
    assert line == (f"asr_inference: error: {kaldi.path / 'segments'}: {kaldi.path / 'wav.scp'} lists recordings "
                    "that segments cut into utterances, which ESPnet's readers do not do; write one file per utterance "
                    f"first: python -m lamer.bin.datadir format {kaldi.path} DEST")
    whole = write_kaldi_dir(tmp_path / "whole", segments=False, pipes=False)
    assert decode(probe, f"{whole.path}/wav.scp,speech,sound", tmp_path / "raw", decoding) == 1
    line = error_line(capsys.readouterr().err, "asr_inference")
    assert line.startswith(f"asr_inference: error: {whole.path / 'wav.scp'}:2: the audio of eng_b-r2-000 is a position "
                           "in a Kaldi archive (")
    assert line.endswith(f"which ESPnet's sound reader cannot read; write one file per utterance first: "
                         f"python -m lamer.bin.datadir format {whole.path} DEST")
    assert not (tmp_path / "raw" / "1best_recog" / "text").exists()
    write_probe_dir([kaldi.path], tmp_path / "probe")
    assert decode(probe, f"{tmp_path / 'probe'}/wav.scp,speech,sound", tmp_path / "out", decoding) == 0
    hyps = (tmp_path / "out" / "1best_recog" / "text").read_text(encoding="utf-8").splitlines()
    assert [line.split(" ", 1)[0] for line in hyps] == list(kaldi.samples)


def test_asr_train_refuses_a_segmented_wav_scp(upstream, probe_data, tmp_path, capsys):
    from lamer.bin import asr_train
    from tests.data.kaldi_dir import write_kaldi_dir

    kaldi = write_kaldi_dir(tmp_path / "kaldi", pipes=False)
    args = [f"{kaldi.path}/wav.scp,speech,sound" if arg == f"{probe_data.train}/wav.scp,speech,sound" else arg
            for arg in train_args(probe_data, upstream.checkpoint, tmp_path / "exp")]
    assert asr_train.main(args) == 1
    line = error_line(capsys.readouterr().err, "asr_train")
    assert line.startswith(f"asr_train: error: {kaldi.path / 'segments'}: ") and "datadir format" in line
    assert not (tmp_path / "exp").exists()
