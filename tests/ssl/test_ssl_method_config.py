"""A method config read once into a typed Method: the preset resolved from the config's folder and
merged into one checked adapter config, which ssl_train, given it whole, turns into the same adapters
as the preset did (the recipe's SSL stages train the same model as before)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from lamer.adapters import LamerConfig, apply_lamer
from lamer.ssl.method_config import Method, MethodError, read_method
from lamer.ssl.task import SSLTask
from lamer.ssl.train_spec import SSLTrainSpec
from lamer.upstream import build_preset
from tests.opened import opened, times

REPO = Path(__file__).resolve().parents[2]
METHODS = sorted([*(REPO / "conf" / "ssl").glob("*.yaml"),
                  *(REPO / "egs2" / "mini_lamer" / "ssl1" / "conf" / "ablation").glob("*.yaml")])


def test_a_method_is_read_once_with_its_preset_merged(tmp_path):
    (tmp_path / "lamer").mkdir()
    preset = tmp_path / "lamer" / "p.yaml"
    preset.write_text("adapter: lamer\nadapter_conf: {allocation: linear:2-8, rank: 2, router: topk}\n")
    method = tmp_path / "ssl" / "m.yaml"
    method.parent.mkdir()
    method.write_text("ssl_adapter_preset: ../lamer/p.yaml\nssl_adapter_conf: {rank: 3}\noptim: adam\n"
                      "model_conf: {mask_prob: 0.5}\n")
    with opened() as counts:
        read = read_method(method)
    assert times(counts, method) == 1 and times(counts, preset) == 1
    assert read == Method(method, "lamer", {"optim": "adam", "model_conf": {"mask_prob": 0.5}},
                          method.parent / "../lamer/p.yaml",
                          LamerConfig(allocation="linear:2-8", rank=3, router="topk"))
    assert read.configs == (str(method), str(method.parent / "../lamer/p.yaml")) and read.keeps_adapters
    assert read.ssl_train_config() == {"ssl_adapter": "lamer", "ssl_adapter_conf": read.lamer_config.to_dict(),
                                       "optim": "adam", "model_conf": {"mask_prob": 0.5}}
    assert yaml.safe_load(read.options_text()) == {"optim": "adam", "model_conf": {"mask_prob": 0.5}}
    full = read.with_adapter("none")
    assert full.adapter_config is None and not full.keeps_adapters
    assert full.ssl_train_config() == {"ssl_adapter": "none", "optim": "adam", "model_conf": {"mask_prob": 0.5}}
    ranked = read.with_adapter_config({**read.lamer_config.to_dict(), "rank": 4}, "--ssl_adapter_conf")
    assert ranked.lamer_config == LamerConfig(allocation="linear:2-8", rank=4, router="topk")
    with pytest.raises(MethodError, match=r"^--ssl_adapter_conf: invalid Lamer config: rank must be >= 1"):
        read.with_adapter_config({**read.lamer_config.to_dict(), "rank": 0}, "--ssl_adapter_conf")


@pytest.mark.parametrize("text, preset, message", [
    ("ssl_adapter: prefix\n", "", "m.yaml: ssl_adapter: expected one of none, lamer, got 'prefix'"),
    ("ssl_adapter_preset: ../lamer/q.yaml\n", "", "m.yaml: ssl_adapter_preset: ../lamer/q.yaml: no such file"),
    ("ssl_adapter_preset: [p.yaml]\n", "", "m.yaml: ssl_adapter_preset: expected the path of an adapter preset"),
    ("ssl_adapter_conf: rank=3\n", "", "m.yaml: ssl_adapter_conf: expected a mapping of Lamer options, got 'rank=3'"),
    ("ssl_adapter_conf: {ranks: 3}\n", "", "m.yaml: ssl_adapter_conf: unknown Lamer option(s) ['ranks']"),
    ("ssl_adapter_conf: {rank: 0}\n", "", "m.yaml: ssl_adapter_conf: invalid Lamer config: rank must be >= 1"),
    # the schedule's form here, at the plan check; whether it fits the model where its depth is known
    ("ssl_adapter_conf: {allocation: 'grups:2,4'}\n", "", "m.yaml: ssl_adapter_conf: invalid Lamer config: "
                                                         "allocation: schedule 'grups:2,4': unknown kind 'grups'"),
    ("ssl_adapter_preset: ../lamer/p.yaml\n", "adapter_conf: {rank: 2}\nrouter: soft\n",
     "p.yaml (ssl_adapter_preset of {method}, with its ssl_adapter_conf): unknown Lamer option(s) "
     "['adapter_conf']"),
    ("ssl_adapter_preset: ../lamer/p.yaml\n", "adapter: lamer\nadapter_conf: {rank: 2, rank: 3}\n",
     "p.yaml:2: key 'rank' is given twice in one mapping"),
    ("optim: adam\noptim: sgd\n", "", "method config {method}:2: key 'optim' is given twice in one mapping"),
])
def test_a_bad_method_or_preset_is_one_error_naming_the_file_and_key(tmp_path, text, preset, message):
    (tmp_path / "lamer").mkdir()
    (tmp_path / "lamer" / "p.yaml").write_text(preset)
    method = tmp_path / "ssl" / "m.yaml"
    method.parent.mkdir()
    method.write_text(text)
    with pytest.raises(MethodError) as err:
        read_method(method)
    assert message.format(method=method) in str(err.value) and "\n" not in str(err.value)


def _by_preset(method: Path) -> torch.nn.Module:
    """The upstream patched as ssl_train patched it from the method config and its preset file before
    the recipe resolved methods: the preset's options (LamerConfig.from_yaml), the config's
    ssl_adapter_conf on top, both read here with PyYAML."""
    raw = yaml.safe_load(method.read_text(encoding="utf-8")) or {}
    model = build_preset("tiny")
    if raw.get("ssl_adapter", "lamer") == "none":
        for param in model.parameters():
            param.requires_grad_(True)
        return model
    values = LamerConfig.from_yaml(method.parent / raw["ssl_adapter_preset"]).to_dict() if raw.get(
        "ssl_adapter_preset") else {}
    values.update(raw.get("ssl_adapter_conf") or {})
    apply_lamer(model, LamerConfig(**values))
    return model


def _by_resolved_file(method: Path, tmp_path: Path) -> torch.nn.Module:
    """The upstream ssl_train builds from the method config as the recipe writes it resolved: its
    training options as the --config, its adapter in the step's --spec."""
    resolved, spec = tmp_path / "method.yaml", tmp_path / "ssl_s1.json"
    read = read_method(method)
    resolved.write_text(read.options_text(), encoding="utf-8")
    spec.write_text(SSLTrainSpec(read.adapter, read.adapter_config).to_json(), encoding="utf-8")
    args = SSLTask.get_parser().parse_args(["--config", str(resolved), "--spec", str(spec), "--upstream", "tiny",
                                            "--output_dir", "x"])
    return SSLTask.build_upstream(args).model


@pytest.mark.parametrize("method", METHODS, ids=[f"{p.parent.name}/{p.name}" for p in METHODS])
def test_the_resolved_method_builds_the_adapters_the_preset_built(method, tmp_path):
    torch.manual_seed(0)
    before = _by_preset(method)
    torch.manual_seed(0)
    after = _by_resolved_file(method, tmp_path)
    old, new = before.state_dict(), after.state_dict()
    assert [(name, tuple(t.shape)) for name, t in old.items()] == [(name, tuple(t.shape)) for name, t in new.items()]
    assert all(torch.equal(old[name], new[name]) for name in old)  # the same seed draws the same initial values
    assert ({name for name, p in before.named_parameters() if p.requires_grad}
            == {name for name, p in after.named_parameters() if p.requires_grad})
    trainable = sum(p.numel() for p in after.parameters() if p.requires_grad)
    assert trainable == sum(p.numel() for p in before.parameters() if p.requires_grad) > 0


def test_a_continued_stage_accepts_its_own_resolved_config(tmp_path):
    """Stage s2 continues s1's adapters (--init_adapters) and compares their config with the resolved one."""
    from lamer.adapters import save_adapters
    from lamer.ssl.methods import setup_method

    method = read_method(REPO / "conf" / "ssl" / "demo.yaml")
    first = build_preset("tiny")
    setup_method(first, "lamer", method.adapter_config)
    save_adapters(first, tmp_path / "s1")
    report = setup_method(build_preset("tiny"), "lamer", method.adapter_config, init_adapters=str(tmp_path / "s1"))
    assert report["experts_per_layer"] == [2, 4, 8]
