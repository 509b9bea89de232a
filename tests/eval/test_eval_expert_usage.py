"""Expert usage per layer and language, measured through the patched upstream."""
from __future__ import annotations

import json

import pytest

from lamer.eval.expert_usage import load_patched_upstream, measure_expert_usage, utterances_by_language


@pytest.fixture(scope="module")
def dev_utterances(probe_data):
    return utterances_by_language([probe_data.dev])


def _check_shape(usage: dict, experts: dict[str, int]) -> None:
    assert sorted(usage) == sorted(experts)
    for layer, per_lang in usage.items():
        assert sorted(per_lang) == ["eng", "fra"]
        for weights in per_lang.values():
            assert len(weights) == experts[layer]
            assert sum(weights) == pytest.approx(1.0, abs=1e-6)


def test_usage_per_language_known_to_the_routers(upstream, dev_utterances):
    model = load_patched_upstream(upstream.checkpoint, upstream.trained_adapters)
    usage = measure_expert_usage(model, dev_utterances)
    # groups:2,4,8 on 3 layers, one shared expert each: layer 0 has a single routed expert
    # (no router), layers 1 and 2 route over 3 and 7.
    _check_shape(usage, {"1": 3, "2": 7})
    assert usage["2"]["eng"] != usage["2"]["fra"]


def test_usage_of_adapters_without_a_language_list(upstream, dev_utterances):
    model = load_patched_upstream(upstream.checkpoint, upstream.unlabelled_adapters)
    usage = measure_expert_usage(model, dev_utterances)
    _check_shape(usage, {"1": 3, "2": 7})
    only_eng = measure_expert_usage(model, {"eng": dev_utterances["eng"]})
    assert only_eng["2"]["eng"] == pytest.approx(usage["2"]["eng"])


def test_cli_writes_json_and_heatmap(upstream, probe_data, tmp_path):
    from lamer.bin import expert_usage

    out = tmp_path / "usage.json"
    rc = expert_usage.main(["--upstream", str(upstream.checkpoint), "--adapters", str(upstream.trained_adapters),
                            "--data", str(probe_data.dev), "--out", str(out), "--png", str(tmp_path / "usage.png")])
    assert rc == 0
    assert sorted(json.loads(out.read_text(encoding="utf-8"))) == ["1", "2"]
    assert (tmp_path / "usage.png").read_bytes()[:4] == b"\x89PNG"


def test_missing_language_is_named(probe_data, tmp_path):
    data = tmp_path / "dev"
    data.mkdir()
    (data / "wav.scp").write_text((probe_data.dev / "wav.scp").read_text(encoding="utf-8"), encoding="utf-8")
    (data / "utt2lang").write_text("\n".join((probe_data.dev / "utt2lang").read_text().splitlines()[1:]) + "\n",
                                   encoding="utf-8")
    with pytest.raises(ValueError, match=r"dev/utt2lang: no language for 1 utterance"):
        utterances_by_language([data])


def test_cli_on_adapters_without_a_router(upstream, probe_data, tmp_path):
    """Plain LoRA (one routed expert per layer) has no usage: an error, or nothing with --if-routed."""
    from lamer.adapters import LamerConfig, apply_lamer, save_adapters
    from lamer.bin import expert_usage
    from lamer.upstream.presets import build_preset

    model = build_preset("tiny")
    apply_lamer(model, LamerConfig(allocation="uniform:1", shared_experts=0))
    lora = save_adapters(model, tmp_path / "lora")
    out = tmp_path / "usage.json"
    args = ["--upstream", str(upstream.checkpoint), "--adapters", str(lora), "--data", str(probe_data.dev),
            "--out", str(out)]
    assert expert_usage.main(args) == 1
    assert expert_usage.main([*args, "--if-routed"]) == 0
    assert not out.exists()


@pytest.mark.parametrize("audio, message", [
    ("{dir}/not_audio.wav", "cannot read the audio of {utt} ({dir}/not_audio.wav): "),
    ("touch {dir}/marker |", "the audio of {utt} runs a command ('touch {dir}/marker |'); only asr_train, "),
])
def test_cli_names_the_line_of_an_unreadable_or_command_entry(upstream, probe_data, tmp_path, capsys, audio, message):
    """One line naming wav.scp and the line, no traceback; a command is not run (these tools run none)."""
    from lamer.bin import expert_usage

    data = tmp_path / "dev"
    data.mkdir()
    (tmp_path / "not_audio.wav").write_bytes(b"RIFF....WAVE but nothing after")
    lines = (probe_data.dev / "wav.scp").read_text(encoding="utf-8").splitlines()
    utt = lines[2].split(" ", 1)[0]
    lines[2] = f"{utt} {audio.format(dir=tmp_path)}"
    (data / "wav.scp").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    (data / "utt2lang").write_text((probe_data.dev / "utt2lang").read_text(encoding="utf-8"), encoding="utf-8")
    rc = expert_usage.main(["--upstream", str(upstream.checkpoint), "--adapters", str(upstream.trained_adapters),
                            "--data", str(data), "--out", str(tmp_path / "usage.json")])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    assert f"expert_usage: error: {data / 'wav.scp'}:3: {message.format(dir=tmp_path, utt=utt)}" in err
    assert not (tmp_path / "marker").exists() and not (tmp_path / "usage.json").exists()


def test_cli_reads_a_kaldi_dir_with_segments_and_archives(upstream, tmp_path):
    """Segments cut from a file and from Kaldi's and ESPnet's archives: the usage of their
    datadir-format copy (one wav per utterance), measured on the dir as it is."""
    import json

    from lamer.bin import datadir, expert_usage
    from tests.data.kaldi_dir import write_kaldi_dir

    kaldi = write_kaldi_dir(tmp_path / "kaldi", pipes=False)
    assert datadir.main(["format", str(kaldi.path), str(tmp_path / "formatted")]) == 0
    for name, data in (("kaldi", kaldi.path), ("formatted", tmp_path / "formatted")):
        assert expert_usage.main(["--upstream", str(upstream.checkpoint), "--adapters", str(upstream.trained_adapters),
                                  "--data", str(data), "--out", str(tmp_path / f"{name}.json")]) == 0
    usage = json.loads((tmp_path / "kaldi.json").read_text(encoding="utf-8"))
    assert list(next(iter(usage.values()))) == ["eng"]
    assert usage == json.loads((tmp_path / "formatted.json").read_text(encoding="utf-8"))
