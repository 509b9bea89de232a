"""The decoding library behind asr_inference: its options as one typed object, ESPnet's options
parsed once into the keyword arguments of ESPnet's inference, the data checked before any job.
(Decoding real probes: tests/espnet/test_espnet_probe_e2e.py and test_espnet_decode_split.py.)"""
from __future__ import annotations

from pathlib import Path

import pytest

from lamer.probe.inference import Block, DecodeJob, DecodeOptions, UsageError, espnet_options, run_decoding

DECODE_CONFIG = Path(__file__).resolve().parents[2] / "conf" / "probe" / "decode_ctc.yaml"
NONE = dict.fromkeys(("output_dir", "asr_train_config", "asr_model_file", "frontend_adapters", "frontend_path_or_url"))


def options(jobs_file=None, decoding="beam", nj=None, job=None, **given) -> DecodeOptions:
    return DecodeOptions.from_command_line({**NONE, **given}, jobs_file, decoding, nj, job, False)


def test_the_command_line_becomes_typed_options(tmp_path):
    single = options(output_dir="out", asr_train_config="c.yaml", asr_model_file="m.pth", nj=3, job=2)
    assert single == DecodeOptions((DecodeJob("out", "c.yaml", "m.pth"),), "beam", Block(3, 2), False)
    jobs = tmp_path / "jobs.tsv"
    jobs.write_text("a\tc.yaml\tm.pth\t-\t-\n\nb\tc.yaml\tm.pth\tadapters\t-\n", encoding="utf-8")
    assert options(jobs, "greedy").jobs == (DecodeJob("a", "c.yaml", "m.pth"),
                                            DecodeJob("b", "c.yaml", "m.pth", frontend_adapters="adapters"))
    assert DecodeJob("a", None).espnet_values(None) == {"output_dir": "a"}


@pytest.mark.parametrize("kwargs, message", [
    ({"nj": 2}, "--nj and --job go together"),
    ({"nj": 2, "job": 3, "output_dir": "x"}, "--job 3 is outside 1-2"),
    ({"nj": 2, "job": 1}, "--nj needs --output_dir"),
    ({}, "--output_dir is required (or --jobs)"),
    ({"output_dir": "x", "frontend_adapters": "none"}, "--frontend_adapters/--frontend_path_or_url need "
                                                       "--asr_train_config"),
    ({"jobs_file": Path("jobs.tsv"), "output_dir": "x"}, "--jobs jobs.tsv names every job's --output_dir"),
    ({"jobs_file": Path("/no/such/jobs.tsv")}, "/no/such/jobs.tsv"),
])
def test_options_that_do_not_go_together_are_a_usage_error(kwargs, message):
    with pytest.raises(UsageError) as err:
        options(**kwargs)
    assert message in str(err.value)


def test_espnets_options_are_parsed_once_into_its_inference_arguments(tmp_path, capsys):
    """ESPnet's parser, --config read: the keyword arguments of ESPnet's inference as they are; the
    output directory is each job's, so none is required; an unknown option is ESPnet's usage error."""
    import inspect

    from espnet2.bin.asr_inference import inference

    values = espnet_options(["--config", str(DECODE_CONFIG), "--beam_size", "3",
                             "--data_path_and_name_and_type", "wav.scp,speech,sound"])
    assert set(values) == set(inspect.signature(inference).parameters)
    assert values["beam_size"] == 3 and values["ctc_weight"] == 1.0 and values["output_dir"] is None
    assert values["data_path_and_name_and_type"] == [("wav.scp", "speech", "sound")]
    with pytest.raises(SystemExit) as stop:
        espnet_options(["--data_path_and_name_and_type", "wav.scp,speech,sound", "--beam-sise", "3"])
    assert stop.value.code == 2 and "--beam-sise" in capsys.readouterr().err


def test_the_data_is_checked_once_before_any_job(tmp_path, capsys):
    """A command in the data stops the run naming the line, before the first job reads its probe."""
    scp = tmp_path / "wav.scp"
    scp.write_text(f"u1 {tmp_path / 'u1.wav'}\nu2 cat {tmp_path / 'u2.wav'} |\n", encoding="utf-8")
    jobs = tmp_path / "jobs.tsv"
    jobs.write_text("".join(f"{tmp_path / name}\t{tmp_path / 'missing.yaml'}\tm.pth\tnone\t-\n" for name in "ab"),
                    encoding="utf-8")
    rc = run_decoding(options(jobs, "greedy"), ["--data_path_and_name_and_type", f"{scp},speech,kaldi_ark"])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    assert [line for line in err.splitlines() if "error" in line] == [
        f"asr_inference: error: {scp}:2: the audio of u2 runs a command ('cat {tmp_path / 'u2.wav'} |'); "
        "pass --allow_wav_pipes true to run it"]
    assert not (tmp_path / "a").exists()
