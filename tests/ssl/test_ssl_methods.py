"""Method set-up: full fine-tuning frees every parameter, adapters freeze the base, bad combinations fail."""
from __future__ import annotations

import pytest
import torch

from lamer.adapters import LamerConfig, adapter_parameters
from lamer.ssl.growth import check_optimizer, grow_experts
from lamer.ssl.method_config import adapter_config, resolve_preset
from lamer.ssl.methods import build_ssl_upstream, setup_method


def lora(**overrides) -> LamerConfig:
    """conf/lamer/lora.yaml with ``overrides`` on top."""
    return adapter_config(resolve_preset("conf/lamer/lora.yaml"), overrides, "test")


def test_full_fine_tuning_trains_everything_and_adapters_only_themselves():
    full = build_ssl_upstream("tiny").model
    report = setup_method(full, "none")
    assert report["trainable_params"] == sum(p.numel() for p in full.parameters())
    patched = build_ssl_upstream("tiny").model
    setup_method(patched, "lamer", lora(rank=2))
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
    with pytest.raises(ValueError, match="no Lamer adapters"):
        grow_experts(build_ssl_upstream("tiny").model, 1)
    with pytest.raises(ValueError, match="weight_decay 0"):
        check_optimizer({"lr": 1.0, "weight_decay": 0.01})


def test_ssl_train_resolves_the_configs_preset_from_any_folder(tmp_path, monkeypatch):
    """A relative preset of the --config file is that file's folder's, merged with ssl_adapter_conf as the
    options are parsed: the whole adapter config of the spec, no preset left (ESPnet's config.yaml
    records it so)."""
    from lamer.ssl.task import SSLTask

    (tmp_path / "conf" / "lamer").mkdir(parents=True)
    preset = "adapter: lamer\nadapter_conf: {allocation: uniform:2, rank: 2}\n"
    (tmp_path / "conf" / "lamer" / "p.yaml").write_text(preset, encoding="utf-8")
    (tmp_path / "conf" / "ssl").mkdir()
    (tmp_path / "conf" / "ssl" / "m.yaml").write_text("ssl_adapter: lamer\nssl_adapter_preset: ../lamer/p.yaml\n"
                                                      "ssl_adapter_conf: {rank: 3}\n")
    monkeypatch.chdir(tmp_path / "conf" / "lamer")
    args = SSLTask.get_parser().parse_args(["--config", str(tmp_path / "conf" / "ssl" / "m.yaml"), "--output_dir", "x",
                                            "--ssl_adapter_conf", "alpha=4.0"])
    assert args.spec.adapter_config == LamerConfig(allocation="uniform:2", rank=3, alpha=4.0)
    assert not hasattr(args, "ssl_adapter_preset")
    assert SSLTask.build_upstream(args).model is not None


def test_ssl_train_reads_its_method_config_and_preset_once(tmp_path):
    """ESPnet's parser reads the --config file; the preset it names is found and read once, as the
    options are parsed, however often the model is built (training, then the export at the end)."""
    from lamer.ssl.task import SSLTask
    from tests.opened import opened, times

    (tmp_path / "lamer").mkdir()
    preset = tmp_path / "lamer" / "p.yaml"
    preset.write_text("adapter: lamer\nadapter_conf: {allocation: uniform:2, rank: 2}\n", encoding="utf-8")
    method = tmp_path / "ssl" / "m.yaml"
    method.parent.mkdir()
    method.write_text("ssl_adapter: lamer\nssl_adapter_preset: ../lamer/p.yaml\nupstream: tiny\n")
    with opened() as counts:
        args = SSLTask.get_parser().parse_args(["--config", str(method), "--output_dir", str(tmp_path / "out")])
        for _ in range(2):
            assert SSLTask.build_upstream(args).model is not None
    assert (times(counts, method), times(counts, preset)) == (1, 1)


def test_ssl_train_takes_a_command_line_preset_from_the_current_folder(tmp_path, monkeypatch, capsys):
    from lamer.ssl.task import SSLTask

    (tmp_path / "p.yaml").write_text("adapter: lamer\nadapter_conf: {rank: 2}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    args = SSLTask.get_parser().parse_args(["--ssl_adapter_preset", "p.yaml", "--output_dir", "x"])
    assert args.spec.adapter_config == LamerConfig(rank=2) and not hasattr(args, "ssl_adapter_preset")
    with pytest.raises(SystemExit):
        SSLTask.get_parser().parse_args(["--ssl_adapter_preset", "q.yaml", "--output_dir", "x"])
    err = capsys.readouterr().err
    assert "error: adapter preset q.yaml: no such file (looked at q.yaml; a relative preset is taken from the " \
           "current folder)" in err and "Traceback" not in err


def test_a_preset_that_differs_from_the_continued_adapters_is_refused_or_logged(tmp_path, caplog):
    from lamer.adapters import save_adapters

    first = build_ssl_upstream("tiny").model
    setup_method(first, "lamer", lora(rank=2))
    save_adapters(first, tmp_path / "adapters")
    adapters = str(tmp_path / "adapters")
    same = setup_method(build_ssl_upstream("tiny").model, "lamer", lora(rank=2), init_adapters=adapters)
    with pytest.raises(ValueError, match=r"differs from the adapter config given \(ssl_adapter_preset, "
                                         r"ssl_adapter_conf: rank: 2 there, 4 here\).*--preset_mismatch continue"):
        setup_method(build_ssl_upstream("tiny").model, "lamer", lora(rank=4), init_adapters=adapters)
    continued = setup_method(build_ssl_upstream("tiny").model, "lamer", lora(rank=4), init_adapters=adapters,
                             preset_mismatch="continue")
    assert continued["adapter_params"] == same["adapter_params"]  # the adapters' own rank 2
    assert "continuing" in caplog.text and "rank: 2 there, 4 here" in caplog.text


def test_ssl_train_refuses_an_adapter_conf_that_is_no_mapping(tmp_path, capsys):
    """ESPnet gives a --config file's values no type: ssl_adapter_conf: rank=3 is one usage error."""
    from lamer.ssl.task import SSLTask

    (tmp_path / "m.yaml").write_text("ssl_adapter_conf: rank=3\n")
    with pytest.raises(SystemExit):
        SSLTask.get_parser().parse_args(["--config", str(tmp_path / "m.yaml"), "--output_dir", "x"])
    err = capsys.readouterr().err
    assert err.splitlines()[-1].endswith("error: --ssl_adapter_conf: expected a mapping of Lamer options, got 'rank=3'")
