"""Every method config trains with ssl_train; the LoRA and MoLE presets match Lamer's size."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lamer.adapters import LamerConfig, apply_lamer, parameter_report
from lamer.ssl.task import SSLTask
from lamer.upstream import build_preset
from tests.ssl.conftest import NUM_CLASSES
from tests.ssl.helpers import training_args

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted(p.name for p in (REPO / "conf" / "ssl").glob("*.yaml"))
# the mini recipe's adapter methods: Lamer as published, its routing extension, the factorial's
ABLATION = REPO / "egs2" / "mini_lamer" / "ssl1" / "conf" / "ablation"
ABLATION_ADAPTERS = ["lamer", "lamer_langroute", "lamer_uniform", "lamer_noshared", "lamer_inverted", "lamer_oracle",
                     "mole_uniform_replay"]


def _train_a_few_steps(config: Path, dump: Path, out: Path) -> None:
    # every utterance's language, as the recipe gives it (language routing and the routing extensions read it)
    lang = [f"--{split}_data_path_and_name_and_type" for split in ("train", "valid")]
    args = ["--config", str(config)] + training_args(
        dump, out, "--upstream", "tiny", "--num_classes", str(NUM_CLASSES), "--head_conf", "final_dim=16",
        "--batch_size", "4", "--max_epoch", "1", "--num_iters_per_epoch", "2", "--replay_utt2lang",
        f"{dump}/replay_utt2lang", "--replay_share", "0.25", lang[0], f"{dump}/lang,lang,text_int",
        lang[1], f"{dump}/lang,lang,text_int")
    SSLTask.main(cmd=args)
    state = torch.load(out / "latest.pth", weights_only=True)
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


@pytest.mark.parametrize("name", CONFIGS)
def test_method_config_trains_a_few_steps(name, dump, tmp_path):
    _train_a_few_steps(REPO / "conf" / "ssl" / name, dump, tmp_path)
    exported = tmp_path / ("upstream.pt" if "full" in name or "joint" in name or "base" in name else "adapters")
    assert exported.exists(), name


@pytest.mark.parametrize("name", ABLATION_ADAPTERS)
def test_ablation_adapter_method_trains_a_few_steps(name, dump, tmp_path):
    _train_a_few_steps(ABLATION / f"{name}.yaml", dump, tmp_path)
    assert (tmp_path / "adapters" / "manifest.json").is_file(), name


def test_lora_and_mole_presets_have_about_lamers_trainable_parameters():
    counts = {}
    for preset in ("lamer_base", "lora", "mole_uniform"):
        model = build_preset("hubert_base")
        apply_lamer(model, LamerConfig.from_yaml(REPO / "conf" / "lamer" / f"{preset}.yaml"))
        counts[preset] = parameter_report(model)["adapter_params"]
    for preset in ("lora", "mole_uniform"):
        assert abs(counts[preset] / counts["lamer_base"] - 1) < 0.05, counts


def test_language_routing_reads_the_lang_list_of_the_dump(dump, tmp_path):
    args = training_args(dump, tmp_path, "--num_classes", str(NUM_CLASSES), "--head_conf", "final_dim=16",
                         "--batch_size", "4", "--max_epoch", "1", "--num_iters_per_epoch", "2",
                         "--train_data_path_and_name_and_type", f"{dump}/lang,lang,text_int",
                         "--valid_data_path_and_name_and_type", f"{dump}/lang,lang,text_int",
                         "--ssl_adapter_preset", "conf/lamer/lamer_base.yaml", "--ssl_adapter_conf",
                         "{router: language, languages: [eng, fra, spa]}", "--optim", "adam", "--optim_conf", "lr=0.05")
    SSLTask.main(cmd=args)
    state = torch.load(tmp_path / "latest.pth", weights_only=True)
    logits = [v for k, v in state.items() if k.endswith("router.language_logits")]
    assert logits and any(v.abs().sum() > 0 for v in logits)  # language rows were trained
