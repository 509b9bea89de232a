"""A tiny probe trained, decoded and scored end to end through the CLIs, in both protocols."""
from __future__ import annotations

import json
from pathlib import Path
from re import search as re_search

import pytest
import torch
import yaml

from tests.probe.fixtures import decoded_model, train_args, train_probe

DECODE_CONFIG = Path(__file__).parents[2] / "conf" / "probe" / "decode_ctc.yaml"


def decode(probe_dir: Path, data: Path, out: Path, *extra: str) -> Path:
    """lamer.bin.asr_inference in this process; returns the hypothesis text file."""
    from lamer.bin import asr_inference

    rc = asr_inference.main(["--config", str(DECODE_CONFIG), "--ngpu", "0",
                             "--asr_train_config", str(probe_dir / "config.yaml"),
                             "--asr_model_file", str(decoded_model(probe_dir)),
                             "--data_path_and_name_and_type", f"{data}/wav.scp,speech,sound",
                             "--output_dir", str(out), *extra])
    assert rc == 0
    return out / "1best_recog" / "text"


def score(hyp: Path, data: Path, out: Path) -> dict:
    from lamer.bin import score as score_cli

    assert score_cli.main(["--ref", str(data / "text"), "--hyp", str(hyp), "--utt2lang", str(data / "utt2lang"),
                           "--lid_if_present", str(hyp.parent / "lid"), "--out", str(out)]) == 0
    return json.loads((out / "score.json").read_text(encoding="utf-8"))


def utt_ids(path: Path) -> list[str]:
    return [line.split(maxsplit=1)[0] for line in path.read_text(encoding="utf-8").splitlines()]


def test_training_lowers_the_loss(base_probe):
    losses = base_probe.losses
    assert sorted(losses) == list(range(1, 7)), f"ESPnet reported epochs {sorted(losses)}"
    assert losses[6] < 0.6 * losses[1]


def test_probe_checkpoint_holds_the_probe_only(base_probe):
    state = torch.load(base_probe.model, map_location="cpu", weights_only=True)
    frontend_keys = [key for key in state if key.startswith("frontend.")]
    assert frontend_keys == ["frontend.featurizer.weights"]
    assert any(key.startswith("encoder.") for key in state) and any(key.startswith("ctc.") for key in state)


def test_retrained_protocol_decodes_and_scores(base_probe, probe_data, tmp_path):
    hyp = decode(base_probe.directory, probe_data.dev, tmp_path / "decode")
    assert utt_ids(hyp) == utt_ids(probe_data.dev / "text")
    scores = score(hyp, probe_data.dev, tmp_path / "score")
    assert sorted(scores) == ["eng", "fra"]
    assert all(entry["n"] == 6 and 0.0 <= entry["lid_acc"] <= 100.0 and entry["cer"] >= 0.0
               for entry in scores.values())


def test_probe_trained_on_adapters_records_them(upstream, probe_data, tmp_path):
    """The retrained protocol at a later stage: the probe's own config names its adapters."""
    args = train_args(probe_data, upstream.checkpoint, tmp_path / "stage1", upstream.trained_adapters)
    losses = train_probe(args + ["--max_epoch", "1"])
    assert list(losses) == [1]
    config = yaml.safe_load((tmp_path / "stage1" / "config.yaml").read_text(encoding="utf-8"))
    assert config["frontend"] == "lamer"
    assert config["frontend_conf"]["adapters"] == str(upstream.trained_adapters)


def test_fixed_protocol_applies_the_base_probe_to_other_adapters(base_probe, upstream, probe_data, tmp_path):
    from espnet2.tasks.asr import ASRTask

    from lamer.adapters import patch_state

    out = tmp_path / "fixed"
    hyp = decode(base_probe.directory, probe_data.dev, out, "--frontend_adapters", str(upstream.trained_adapters))
    assert utt_ids(hyp) == utt_ids(probe_data.dev / "text")
    override = out / "config_frontend_override.yaml"
    config = yaml.safe_load(override.read_text(encoding="utf-8"))
    assert config["frontend_conf"]["adapters"] == str(upstream.trained_adapters.resolve())
    model, _ = ASRTask.build_model_from_file(override, base_probe.model, "cpu")
    assert patch_state(model.frontend.upstream) is not None
    probe_state = torch.load(base_probe.model, map_location="cpu", weights_only=True)
    assert torch.equal(model.frontend.featurizer.weights, probe_state["frontend.featurizer.weights"])
    assert sorted(score(hyp, probe_data.dev, tmp_path / "score")) == ["eng", "fra"]


@pytest.mark.parametrize("adapters, message", [("missing_dir", "no adapter manifest"), ("none", None)])
def test_adapter_override_errors_and_none(base_probe, tmp_path, adapters, message, capsys):
    from lamer.bin import asr_inference
    from lamer.probe.override import override_frontend

    target = str(tmp_path / adapters) if adapters != "none" else adapters
    if message is None:
        out = override_frontend(base_probe.config, tmp_path / "c.yaml", adapters=target)
        assert yaml.safe_load(out.read_text(encoding="utf-8"))["frontend_conf"]["adapters"] is None
        return
    (tmp_path / "wav.scp").write_text("")
    rc = asr_inference.main(["--asr_train_config", str(base_probe.config), "--output_dir", str(tmp_path / "o"),
                             "--data_path_and_name_and_type", f"{tmp_path / 'wav.scp'},speech,sound",
                             "--frontend_adapters", target])
    assert rc == 1 and message in capsys.readouterr().err


def test_override_of_the_upstream_checkpoint(base_probe, upstream, tmp_path):
    """Full fine-tuning methods export a new checkpoint instead of adapters."""
    from lamer.probe.override import override_frontend

    other = tmp_path / "finetuned.pt"
    other.write_bytes(upstream.checkpoint.read_bytes())
    out = override_frontend(base_probe.config, tmp_path / "c.yaml", path_or_url=str(other))
    conf = yaml.safe_load(out.read_text(encoding="utf-8"))["frontend_conf"]
    assert conf["path_or_url"] == str(other.resolve()) and conf.get("adapters") is None
    with pytest.raises(FileNotFoundError, match="absent.pt"):
        override_frontend(base_probe.config, tmp_path / "d.yaml", path_or_url=str(tmp_path / "absent.pt"))


def test_override_needs_the_lamer_frontend(tmp_path):
    from lamer.probe.override import override_frontend

    config = tmp_path / "config.yaml"
    config.write_text("frontend: s3prl\nfrontend_conf: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"config.yaml: frontend is 's3prl'"):
        override_frontend(config, tmp_path / "out.yaml", adapters="none")


def test_greedy_decoding_is_the_best_path_of_espnets_own_model(base_probe, probe_data, tmp_path):
    """--decoding greedy = argmax of ESPnet's CTC posteriors, collapsed and detokenised by
    ESPnet's own Speech2Text converter and tokenizer, one utterance at a time."""
    import soundfile
    from espnet2.bin.asr_inference import Speech2Text

    from lamer.probe.greedy import collapse

    hyp = decode(base_probe.directory, probe_data.dev, tmp_path / "greedy", "--decoding", "greedy")
    assert utt_ids(hyp) == utt_ids(probe_data.dev / "text")
    s2t = Speech2Text(asr_train_config=str(base_probe.config), asr_model_file=str(base_probe.model))
    expected = {}
    for line in (probe_data.dev / "wav.scp").read_text(encoding="utf-8").splitlines():
        utt, path = line.split(maxsplit=1)
        speech = torch.tensor(soundfile.read(path, dtype="float32")[0])[None]
        with torch.no_grad():
            enc, lens = s2t.asr_model.encode(speech, torch.tensor([speech.shape[1]]))
        ids = collapse(s2t.asr_model.ctc.argmax(enc)[0, : lens[0]].tolist(), s2t.asr_model.blank_id)
        expected[utt] = s2t.tokenizer.tokens2text(s2t.converter.ids2tokens(ids))
    got = dict(line.split(" ", 1) for line in hyp.read_text(encoding="utf-8").splitlines())
    assert got == expected
    assert sorted(score(hyp, probe_data.dev, tmp_path / "score")) == ["eng", "fra"]


def test_a_probe_with_the_language_classifier_trains_decodes_and_scores(lid_probe, base_probe, probe_data,
                                                                       tmp_path):
    """model: lamer_lid through the CLIs: its checkpoint holds the head, greedy and beam decoding
    (split and merged) write the same 1best_recog/lid, the score has lid_acc_classifier; a probe
    without the classifier decoded into the same folder leaves no stale lid behind."""
    from lamer.bin import asr_inference

    assert sorted(lid_probe.losses) == [1, 2, 3]
    state = torch.load(lid_probe.model, map_location="cpu", weights_only=True)
    assert state["lid_head.linear.weight"].shape == (2, 2 * 32)  # [eng], [fra]; mean and std of 32 dims
    hyp = decode(lid_probe.directory, probe_data.dev, tmp_path / "greedy", "--decoding", "greedy")
    lid = hyp.parent / "lid"
    lines = [line.split() for line in lid.read_text(encoding="utf-8").splitlines()]
    assert [utt for utt, _ in lines] == utt_ids(probe_data.dev / "text")
    assert {tag for _, tag in lines} <= {"[eng]", "[fra]"}
    scores = score(hyp, probe_data.dev, tmp_path / "score")
    assert all(0.0 <= entry["lid_acc_classifier"] <= 100.0 for entry in scores.values())
    for job in (1, 2):
        decode(lid_probe.directory, probe_data.dev, tmp_path / "beam", "--nj", "2", "--job", str(job))
    assert asr_inference.main(["merge", "--output_dir", str(tmp_path / "beam"), "--nj", "2"]) == 0
    assert (tmp_path / "beam" / "1best_recog" / "lid").read_text(encoding="utf-8") == lid.read_text(encoding="utf-8")
    decode(base_probe.directory, probe_data.dev, tmp_path / "greedy", "--decoding", "greedy")
    assert not lid.exists()
    assert "lid_acc_classifier" not in score(hyp, probe_data.dev, tmp_path / "score")["eng"]


def test_collapse_merges_repeats_and_drops_blanks():
    from lamer.probe.greedy import collapse

    assert collapse([0, 3, 3, 0, 3, 5, 5, 0, 0, 2], blank=0) == [3, 3, 5, 2]


def test_jobs_file_decodes_each_pair_as_its_own_call_would(base_probe, upstream, probe_data, tmp_path):
    """--jobs: several (probe, model) pairs in one process, the same hypotheses as one call each."""
    from lamer.bin import asr_inference
    from lamer.probe.inference import OVERRIDE_CONFIG

    single = {"retrained": decode(base_probe.directory, probe_data.dev, tmp_path / "one" / "r", "--decoding", "greedy"),
              "fixed": decode(base_probe.directory, probe_data.dev, tmp_path / "one" / "f", "--decoding", "greedy",
                              "--frontend_adapters", str(upstream.trained_adapters))}
    jobs = tmp_path / "jobs.tsv"
    config, model = base_probe.config, base_probe.model
    jobs.write_text(f"{tmp_path / 'many' / 'r'}\t{config}\t{model}\t-\t-\n"
                    f"{tmp_path / 'many' / 'f'}\t{config}\t{model}\t{upstream.trained_adapters}\t-\n", encoding="utf-8")
    rc = asr_inference.main(["--config", str(DECODE_CONFIG), "--ngpu", "0", "--decoding", "greedy",
                             "--data_path_and_name_and_type", f"{probe_data.dev}/wav.scp,speech,sound",
                             "--jobs", str(jobs)])
    assert rc == 0
    for key, short in (("retrained", "r"), ("fixed", "f")):
        assert (tmp_path / "many" / short / "1best_recog" / "text").read_text() == single[key].read_text(), key
    assert (tmp_path / "many" / "f" / OVERRIDE_CONFIG).is_file()
    assert not (tmp_path / "many" / "r" / OVERRIDE_CONFIG).exists()


@pytest.mark.parametrize("text, message", [
    ("out\tconfig.yaml\tmodel.pth\t-\n", r"jobs.tsv:1: expected 5 tab-separated fields"),
    ("\nout\t-\tmodel.pth\t-\t-\n", r"jobs.tsv:2: expected 5"),
    ("", r"jobs.tsv: no decoding jobs"),
])
def test_malformed_jobs_file_names_file_and_line(tmp_path, capsys, text, message):
    from lamer.bin import asr_inference

    jobs = tmp_path / "jobs.tsv"
    jobs.write_text(text, encoding="utf-8")
    assert asr_inference.main(["--jobs", str(jobs)]) == 2
    assert re_search(message, capsys.readouterr().err)


def test_jobs_file_excludes_per_job_options(tmp_path, capsys):
    from lamer.bin import asr_inference

    jobs = tmp_path / "jobs.tsv"
    jobs.write_text("out\tconfig.yaml\tmodel.pth\t-\t-\n", encoding="utf-8")
    assert asr_inference.main(["--jobs", str(jobs), "--output_dir", "x"]) == 2
    assert "--output_dir" in capsys.readouterr().err
