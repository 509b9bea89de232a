"""``ablation trainable`` builds every system's method on the base upstream and counts what it trains."""
import json
from pathlib import Path

import pytest

from lamer.adapters import LamerConfig, apply_lamer, parameter_report
from lamer.bin.ablation import main
from lamer.upstream import open_upstream
from lamer.upstream.presets import build_preset, get_shape, s3prl_configs, save_s3prl_checkpoint

REPO = Path(__file__).resolve().parents[2]
CONFIG = """
seeds: [0]
plan: conf/plan.yaml
systems:
  frozen: {train_on: none}
  ft: {method: conf/ablation/ft.yaml}
  lora_replay: {method: conf/ablation/lora_replay.yaml}
  lamer_replay: {method: conf/ablation/lamer_replay.yaml}
"""
METHODS = {
    "ft.yaml": "ssl_adapter: none\noptim: adam\n",
    "lora_replay.yaml": "ssl_adapter: lamer\nssl_adapter_preset: ../lamer/lora.yaml\n",
    "lamer_replay.yaml": "ssl_adapter: lamer\nssl_adapter_preset: ../lamer/lamer_base.yaml\n",
}


@pytest.fixture(scope="module")
def counted(tmp_path_factory):
    """The trainable.json of a tiny s3prl HuBERT checkpoint, and that checkpoint's path."""
    root = tmp_path_factory.mktemp("ablation_trainable")
    (root / "conf" / "ablation").mkdir(parents=True)
    (root / "conf" / "plan.yaml").write_text("{}\n")
    (root / "conf" / "ablation.yaml").write_text(CONFIG)
    (root / "conf" / "lamer").symlink_to(REPO / "conf" / "lamer")  # presets are named relative to the method
    for name, text in METHODS.items():
        (root / "conf" / "ablation" / name).write_text(text)
    upstream = root / "base" / "upstream.pt"
    upstream.parent.mkdir()
    save_s3prl_checkpoint(build_preset("tiny"), *s3prl_configs(get_shape("tiny")), str(upstream))
    out = root / "trainable.json"
    assert main(["trainable", "--config", str(root / "conf" / "ablation.yaml"), "--upstream", str(upstream),
                 "--out", str(out)]) == 0
    return json.loads(out.read_text()), upstream


def test_systems_are_reported_in_table_order(counted):
    trainable, upstream = counted
    assert list(trainable["systems"]) == ["frozen", "ft", "lora_replay", "lamer_replay"]
    assert trainable["upstream"] == str(upstream)


def test_frozen_trains_nothing(counted):
    frozen = counted[0]["systems"]["frozen"]
    assert frozen["trainable_params"] == 0 and frozen["trainable_percent"] == 0.0 and frozen["method"] is None


def test_full_fine_tuning_trains_every_parameter_the_encoder_uses(counted):
    ft = counted[0]["systems"]["ft"]
    model = open_upstream(counted[1]).model
    total = sum(p.numel() for p in model.parameters())
    # the optimizer gets everything; the HuBERT model's own prediction head (final_proj,
    # label_embs_concat) never runs in the encoder's forward, so it never gets a gradient
    unused = model.final_proj.weight.numel() + model.final_proj.bias.numel() + model.label_embs_concat.numel()
    assert ft["adapter"] == "none" and ft["total_params"] == total
    assert ft["optimizer_params"] == total and ft["optimizer_percent"] == 100.0
    assert ft["trainable_params"] == total - unused
    assert ft["trainable_percent"] == pytest.approx(100.0 * (total - unused) / total)
    assert "experts_per_layer" not in ft


@pytest.mark.parametrize("system, preset, experts", [
    ("lora_replay", "conf/lamer/lora.yaml", [1, 1, 1]),
    ("lamer_replay", "conf/lamer/lamer_base.yaml", [2, 4, 8]),
])
def test_adapters_train_their_own_parameters_only(counted, system, preset, experts):
    entry = counted[0]["systems"][system]
    model = open_upstream(counted[1]).model
    base_total = sum(p.numel() for p in model.parameters())
    apply_lamer(model, LamerConfig.from_yaml(preset))
    report = parameter_report(model)
    assert entry["adapter"] == "lamer" and entry["experts_per_layer"] == experts
    assert (entry["trainable_params"] == entry["optimizer_params"] == report["trainable_params"]
            == report["adapter_params"])
    assert entry["total_params"] == report["total_params"] == base_total + report["adapter_params"]
    assert 0 < entry["trainable_percent"] < counted[0]["systems"]["ft"]["trainable_percent"] / 2



def test_counts_on_a_transformers_hubert_are_of_its_checkpoint(tmp_path):
    """No prediction head the checkpoint lacks is counted: total = the checkpoint's tensors (+ adapters)."""
    from safetensors import safe_open

    from lamer.ssl.trainable import count_trainable
    from tests.upstream.checkpoints import write_hf_directory

    write_hf_directory(tmp_path / "hf", "hf_hubert")
    with safe_open(str(tmp_path / "hf" / "model.safetensors"), "pt") as weights:
        in_checkpoint = sum(weights.get_tensor(key).numel() for key in weights.keys())
    method = tmp_path / "conf" / "ablation" / "ft.yaml"
    method.parent.mkdir(parents=True)
    method.write_text(METHODS["ft.yaml"])
    assert count_trainable(tmp_path / "hf", None)["total_params"] == in_checkpoint
    assert count_trainable(tmp_path / "hf", method)["optimizer_params"] == in_checkpoint


@pytest.mark.parametrize("method, preset, refused, line, first", [
    ("ssl_adapter: lamer\nssl_adapter_preset: preset.yaml\nssl_adapter: none\n", "", "ssl_adapter", 3, 1),
    # YAML alone keeps rank 64: 139,590 adapter parameters on the tiny model instead of 12,870
    ("ssl_adapter: lamer\nssl_adapter_preset: preset.yaml\n",
     "adapter: lamer\nadapter_conf:\n  allocation: groups:2,4,8\n  rank: 4\n  rank: 64\n", "rank", 5, 4),
])
def test_a_key_given_twice_in_a_method_or_its_preset_stops_the_count(tmp_path, capsys, method, preset, refused, line,
                                                                     first):
    (tmp_path / "conf" / "ablation").mkdir(parents=True)
    (tmp_path / "conf" / "plan.yaml").write_text("{}\n")
    (tmp_path / "conf" / "ablation.yaml").write_text("seeds: [0]\nplan: conf/plan.yaml\nsystems:\n"
                                                     "  lamer: {method: conf/ablation/lamer.yaml}\n")
    (tmp_path / "conf" / "ablation" / "lamer.yaml").write_text(method)
    (tmp_path / "conf" / "ablation" / "preset.yaml").write_text(preset)
    out = tmp_path / "trainable.json"
    assert main(["trainable", "--config", str(tmp_path / "conf" / "ablation.yaml"), "--upstream", "tiny",
                 "--out", str(out)]) == 1
    where = tmp_path / "conf" / "ablation" / ("preset.yaml" if preset else "lamer.yaml")
    assert f"{where}:{line}: key '{refused}' is given twice in one mapping (first at line {first})" in (
        capsys.readouterr().err)
    assert not out.exists()


def test_write_trainable_counts_each_named_method(tmp_path):
    """The library call behind ``ablation trainable``: every system's count, written as one JSON file."""
    from lamer.ssl.trainable import count_trainable, write_trainable

    method = tmp_path / "ft.yaml"
    method.write_text("ssl_adapter: none\n", encoding="utf-8")
    written = write_trainable({"frozen": None, "ft": method}, "tiny", tmp_path / "trainable.json")
    assert json.loads((tmp_path / "trainable.json").read_text(encoding="utf-8")) == written
    assert written["upstream"] == "tiny" and list(written["systems"]) == ["frozen", "ft"]
    assert written["systems"]["ft"] == {"method": str(method), **count_trainable("tiny", method)}
    assert written["systems"]["frozen"]["trainable_params"] == 0 and written["systems"]["frozen"]["method"] is None
