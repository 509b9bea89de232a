"""Method set-up: full fine-tuning frees every parameter, adapters freeze the base, bad combinations fail."""
from __future__ import annotations

import pytest
import torch

from lamer.adapters import adapter_parameters
from lamer.ssl.growth import check_optimizer, grow_experts
from lamer.ssl.methods import build_ssl_upstream, setup_method


def test_full_fine_tuning_trains_everything_and_adapters_only_themselves():
    full = build_ssl_upstream("tiny").model
    report = setup_method(full, "none")
    assert report["trainable_params"] == sum(p.numel() for p in full.parameters())
    patched = build_ssl_upstream("tiny").model
    setup_method(patched, "lamer", "conf/lamer/lora.yaml", {"rank": 2})
    trainable = {id(p) for p in patched.parameters() if p.requires_grad}
    assert trainable == {id(p) for p in adapter_parameters(patched).values()}


def test_seeded_presets_differ_and_repeat():
    a, b, c = (build_ssl_upstream("tiny", seed=s).model for s in (1, 1, 2))
    first = next(iter(a.state_dict()))
    assert torch.equal(a.state_dict()[first], b.state_dict()[first])
    assert not torch.equal(a.state_dict()[first], c.state_dict()[first])


def test_bad_method_combinations_are_refused():
    model = build_ssl_upstream("tiny").model
    with pytest.raises(ValueError, match="need adapter: lamer"):
        setup_method(model, "none", init_adapters="somewhere")
    with pytest.raises(ValueError, match="needs add_experts"):
        setup_method(model, "lamer", freeze_previous_experts=True)
    with pytest.raises(ValueError, match="adapter must be one of"):
        setup_method(model, "prefix")
    with pytest.raises(FileNotFoundError, match="no such file"):
        setup_method(build_ssl_upstream("tiny").model, "lamer", "conf/lamer/missing.yaml")
    with pytest.raises(ValueError, match="no Lamer adapters"):
        grow_experts(build_ssl_upstream("tiny").model, 1)
    with pytest.raises(ValueError, match="weight_decay 0"):
        check_optimizer({"lr": 1.0, "weight_decay": 0.01})


def test_a_preset_is_taken_from_the_folder_of_the_config_naming_it(tmp_path, monkeypatch):
    from lamer.ssl.methods import resolve_preset

    (tmp_path / "conf" / "lamer").mkdir(parents=True)
    (tmp_path / "conf" / "lamer" / "p.yaml").write_text("adapter: lamer\nadapter_conf: {rank: 2}\n")
    config = tmp_path / "conf" / "ssl" / "m.yaml"
    config.parent.mkdir()
    monkeypatch.chdir(tmp_path / "conf")  # not where the preset is relative to
    assert resolve_preset("../lamer/p.yaml", config) == config.parent / "../lamer/p.yaml"
    with pytest.raises(FileNotFoundError, match=r"conf/ssl/m.yaml: ssl_adapter_preset: ../lamer/q.yaml: no such file"):
        resolve_preset("../lamer/q.yaml", config)
    assert resolve_preset("lamer/p.yaml") == resolve_preset("lamer/p.yaml", None)  # command line: current folder


def test_ssl_train_resolves_the_configs_preset_from_any_folder(tmp_path, monkeypatch):
    from lamer.ssl.task import SSLTask

    (tmp_path / "conf" / "lamer").mkdir(parents=True)
    preset = "adapter: lamer\nadapter_conf: {allocation: uniform:2, rank: 2}\n"
    (tmp_path / "conf" / "lamer" / "p.yaml").write_text(preset, encoding="utf-8")
    (tmp_path / "conf" / "ssl").mkdir()
    (tmp_path / "conf" / "ssl" / "m.yaml").write_text("ssl_adapter: lamer\nssl_adapter_preset: ../lamer/p.yaml\n")
    monkeypatch.chdir(tmp_path / "conf" / "lamer")
    args = SSLTask.get_parser().parse_args(["--config", str(tmp_path / "conf" / "ssl" / "m.yaml"), "--output_dir", "x"])
    SSLTask.build_upstream(args)
    assert args.ssl_adapter_preset == str((tmp_path / "conf" / "lamer" / "p.yaml").resolve())


def test_a_preset_that_differs_from_the_continued_adapters_is_refused_or_logged(tmp_path, caplog):
    from lamer.adapters import save_adapters

    first = build_ssl_upstream("tiny").model
    setup_method(first, "lamer", "conf/lamer/lora.yaml", {"rank": 2})
    save_adapters(first, tmp_path / "adapters")
    same = setup_method(build_ssl_upstream("tiny").model, "lamer", "conf/lamer/lora.yaml", {"rank": 2},
                        init_adapters=str(tmp_path / "adapters"))
    with pytest.raises(ValueError, match=r"differs from conf/lamer/lora.yaml \(rank: 2 there, 4 here\).*"
                                         r"--preset_mismatch continue"):
        setup_method(build_ssl_upstream("tiny").model, "lamer", "conf/lamer/lora.yaml", {"rank": 4},
                     init_adapters=str(tmp_path / "adapters"))
    continued = setup_method(build_ssl_upstream("tiny").model, "lamer", "conf/lamer/lora.yaml", {"rank": 4},
                             init_adapters=str(tmp_path / "adapters"), preset_mismatch="continue")
    assert continued["adapter_params"] == same["adapter_params"]  # the adapters' own rank 2
    assert "continuing" in caplog.text and "rank: 2 there, 4 here" in caplog.text
