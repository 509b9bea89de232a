"""The routing ceiling: a linear frame LID on the routers' inputs, beside the routers' own divergence."""
from __future__ import annotations

import json
import math

import pytest
import torch

from lamer.adapters import Router
from lamer.eval.expert_usage import load_patched_upstream, utterances_by_language
from lamer.eval.routing_ceiling import (
    collect_router_frames,
    fit_linear_lid,
    lid_posteriors,
    mean_pairwise_js,
    routing_ceiling,
)

LANGS = ["eng", "fra"]


def test_mean_pairwise_js_bounds():
    labels = torch.tensor([0, 0, 1, 1])
    same = torch.tensor([[0.5, 0.5]] * 4)
    disjoint = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert mean_pairwise_js(same, labels) == pytest.approx(0.0)
    assert mean_pairwise_js(disjoint, labels) == pytest.approx(math.log(2))


def test_linear_lid_separates_what_is_linearly_separable():
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(3).repeat_interleave(200)
    centres = torch.randn(3, 16, generator=generator) * 3
    features = centres[labels] + torch.randn(600, 16, generator=generator)
    classifier = fit_linear_lid(features, labels, 3)
    held_out = centres[labels] + torch.randn(600, 16, generator=generator)
    assert (lid_posteriors(classifier, held_out).argmax(-1) == labels).float().mean() > 0.95
    # no signal: labels independent of the features
    noise = torch.randn(600, 16, generator=generator)
    chance = lid_posteriors(fit_linear_lid(noise, labels, 3), torch.randn(600, 16, generator=generator))
    assert (chance.argmax(-1) == labels).float().mean() < 0.45


@pytest.fixture(scope="module")
def tone_frames(upstream, probe_data):
    model = load_patched_upstream(upstream.checkpoint, upstream.trained_adapters)
    train = utterances_by_language([probe_data.train])
    dev = utterances_by_language([probe_data.dev])
    return model, train, dev


def test_router_frames_are_what_the_routers_read(tone_frames):
    model, _train, dev = tone_frames
    frames = collect_router_frames(model, dev, LANGS, frames_per_utt=5, max_utts=4)
    # groups:2,4,8 on 3 layers, one shared expert: routers in layers 1 (3 experts) and 2 (7), on fc1 and fc2
    assert sorted(frames) == ["1.fc1", "1.fc2", "2.fc1", "2.fc2"]
    inputs, weights, labels = frames["2.fc2"].stacked()
    (gate,) = [m.gate for m in model.modules() if isinstance(m, Router) and m.key == (2, "fc2")]
    assert inputs.shape == (2 * 4 * 5, gate.in_features)  # 2 languages x 4 utterances x 5 frames
    assert weights.shape == (40, 7)
    assert torch.allclose(weights.sum(-1), torch.ones(40), atol=1e-5)
    assert labels.tolist() == [0] * 20 + [1] * 20
    assert sorted(collect_router_frames(model, dev, LANGS, frames_per_utt=5, max_utts=1, layers={2})) == [
        "2.fc1", "2.fc2"]
    with pytest.raises(ValueError, match=r"no frame router .* in layers \[0\]"):
        collect_router_frames(model, dev, LANGS, layers={0})
    with pytest.raises(ValueError, match="frames_per_utt and max_utts must be >= 1, got 0 and 100"):
        collect_router_frames(model, dev, LANGS, frames_per_utt=0)
    with pytest.raises(ValueError, match=r"languages \['fra'\] are not in the label list \['eng'\]"):
        collect_router_frames(model, dev, ["eng"])


def test_languages_in_pitch_are_found_and_pseudo_languages_are_not(tone_frames):
    model, train, dev = tone_frames
    def frames(utterances):
        return collect_router_frames(model, utterances, LANGS, frames_per_utt=20, max_utts=12)

    ceiling = routing_ceiling(frames(train), frames(dev), 2)
    deepest = ceiling["2.fc1"]
    assert deepest["experts"] == 7 and deepest["chance"] == pytest.approx(0.5, abs=0.05)
    assert deepest["frame_acc"] > 0.9
    assert deepest["js_hard"] > 0.5 and deepest["js_soft"] > 0.4
    # one language split in two by utterance: nothing in a frame tells the halves apart
    halves = {"eng": train["eng"][::2], "fra": train["eng"][1::2]}
    dev_halves = {"eng": dev["eng"][::2], "fra": dev["eng"][1::2]}
    blind = routing_ceiling(frames(halves), frames(dev_halves), 2)["2.fc1"]
    assert blind["frame_acc"] < 0.7
    assert blind["js_hard"] < 0.05


def test_cli_writes_json_and_names_bad_input(upstream, probe_data, tmp_path, capsys):
    from lamer.bin import routing_ceiling as cli

    out = tmp_path / "ceiling.json"
    args = ["--upstream", str(upstream.checkpoint), "--adapters", str(upstream.trained_adapters),
            "--train_data", str(probe_data.train), "--eval_data", str(probe_data.dev), "--out", str(out),
            "--max_utts", "6", "--frames_per_utt", "10"]
    assert cli.main(args) == 0
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["languages"] == LANGS
    assert set(written["routers"]["2.fc1"]) == {"experts", "frames", "frame_acc", "chance", "js_soft", "js_hard",
                                                "js_router", "js_router_train"}
    only_eng = tmp_path / "eng"
    only_eng.mkdir()
    for name in ("wav.scp", "utt2lang"):
        lines = (probe_data.train / name).read_text(encoding="utf-8").splitlines()
        (only_eng / name).write_text("".join(f"{line}\n" for line in lines if line.split()[0].startswith("eng")),
                                     encoding="utf-8")
    assert cli.main([*args[:4], "--train_data", str(only_eng), *args[6:]]) == 1
    assert "languages ['fra'] of --eval_data have no utterance in --train_data" in capsys.readouterr().err


def test_the_recipe_step_measures_each_layer_against_its_ceiling(upstream, probe_data, tmp_path, capsys):
    """stage 8's two programs on a real patched upstream: routing_ceiling on a stage's adapters, then
    routing_vs_ceiling per layer, its routers (fc1, fc2) averaged, the ratio to the top-1 ceiling."""
    from lamer.bin import routing_ceiling as ceiling_cli
    from lamer.bin import routing_vs_ceiling as combine_cli

    ceiling = tmp_path / "routing_ceiling" / "s1.json"
    assert ceiling_cli.main(["--upstream", str(upstream.checkpoint), "--adapters", str(upstream.trained_adapters),
                             "--train_data", str(probe_data.train), "--eval_data", str(probe_data.dev),
                             "--max_utts", "6", "--frames_per_utt", "10", "--out", str(ceiling)]) == 0
    out = tmp_path / "routing_vs_ceiling.json"
    assert combine_cli.main(["--ceiling", f"s1={ceiling}", f"s2={ceiling}", "--out", str(out)]) == 0
    routers = json.loads(ceiling.read_text(encoding="utf-8"))["routers"]
    written = json.loads(out.read_text(encoding="utf-8"))
    assert [stage["stage"] for stage in written["stages"]] == ["s1", "s2"]
    assert written["stages"][0]["languages"] == LANGS
    layers = written["stages"][0]["layers"]
    assert [(row["layer"], row["experts"], row["routers"]) for row in layers] == [(1, 3, 2), (2, 7, 2)]
    for row in layers:
        fc1, fc2 = routers[f"{row['layer']}.fc1"], routers[f"{row['layer']}.fc2"]
        for key in ("js_router", "js_soft", "js_hard", "frame_acc", "chance"):
            assert row[key] == pytest.approx((fc1[key] + fc2[key]) / 2), key
        assert row["frames"] == 2 * 6 * 10 and row["ratio"] == pytest.approx(row["js_router"] / row["js_hard"])
    assert layers[1]["js_hard"] > 0.4  # the tone corpus: what the deepest routers read tells the language
    capsys.readouterr()  # what importing the upstream printed
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"languages": LANGS, "routers": {"fc1": routers["1.fc1"]}}), encoding="utf-8")
    for args, message in (([f"s1={broken}"], f"{broken}: routers: 'fc1' is not a router name '<layer>.<module>'"),
                          ([str(ceiling)], f"--ceiling '{ceiling}': expected STAGE=FILE"),
                          ([f"s1={ceiling}", f"s1={ceiling}"], "stage 's1' is given twice")):
        assert combine_cli.main(["--ceiling", *args, "--out", str(tmp_path / "x.json")]) == 1
        err = capsys.readouterr().err
        assert err.startswith("routing_vs_ceiling: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "x.json").exists()
