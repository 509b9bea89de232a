"""lamer's names in a plain ESPnet: the plugin's .pth file, its finder, and ESPnet's own asr_train on a lamer export."""
from __future__ import annotations

import json
import subprocess
import sys
import warnings

import pytest
import yaml

from lamer.bin import espnet_plugin
from lamer.probe import espnet_plugin as plugin
from tests.probe.fixtures import PROBE_CONFIG, data_args
from tests.probe.plain import REPO, install_plugin, run_plain


def test_install_writes_the_pth_line_and_remove_takes_it_away(tmp_path, capsys):
    path = install_plugin(tmp_path) / plugin.PTH_NAME
    assert path.read_text(encoding="utf-8") == plugin.PTH_LINE
    assert espnet_plugin.main(["remove", "--site_dir", str(tmp_path)]) == 0
    assert not path.exists()
    assert espnet_plugin.main(["remove", "--site_dir", str(tmp_path)]) == 0
    assert "not installed" in capsys.readouterr().out
    assert espnet_plugin.main(["install", "--site_dir", str(tmp_path / "absent")]) == 1
    assert capsys.readouterr().err.strip() == f"espnet_plugin: error: {tmp_path / 'absent'}: no such site directory"


def test_the_pth_line_imports_neither_torch_nor_espnet_nor_s3prl(tmp_path):
    """It runs at every start of Python: it only puts the finder in place."""
    install_plugin(tmp_path)
    code = ("import site, sys; site.addsitedir(sys.argv[1]); "
            "print(json.dumps([[m for m in ('torch', 'espnet2', 's3prl') if m in sys.modules], "
            "[type(f).__name__ for f in sys.meta_path][:1]]))")
    done = subprocess.run([sys.executable, "-c", "import json; " + code, str(tmp_path)], capture_output=True,
                          text=True, env={"PYTHONPATH": str(REPO), "PATH": ""}, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [[], ["RegisteringFinder"]]


@pytest.fixture
def watched_module(tmp_path, monkeypatch):
    """A module of our own on sys.path, watched by the finder in place of ESPnet's ASR task."""
    (tmp_path / "watched_by_lamer.py").write_text("VALUE = 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    calls: list[int] = []
    monkeypatch.setattr(plugin, "REGISTRATIONS", {"watched_by_lamer": lambda: calls.append(sys.modules[
        "watched_by_lamer"].VALUE)})
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.delitem(sys.modules, "watched_by_lamer", raising=False)
    return calls


def test_the_finder_registers_right_after_the_module_s_own_code(watched_module):
    plugin.install()
    plugin.install()  # idempotent: one finder
    assert sum(isinstance(f, plugin.RegisteringFinder) for f in sys.meta_path) == 1
    import watched_by_lamer

    assert watched_module == [1]  # after the module's code ran (VALUE was set), once
    assert watched_by_lamer.__loader__.get_filename("watched_by_lamer").endswith("watched_by_lamer.py")
    plugin.install()  # already imported: registers at once
    assert watched_module == [1, 1]


def test_a_failing_registration_is_a_warning_and_the_module_still_imports(watched_module, monkeypatch):
    def fail() -> None:
        raise RuntimeError("ESPnet already has a frontend named 'lamer'")

    monkeypatch.setitem(plugin.REGISTRATIONS, "watched_by_lamer", fail)
    plugin.install()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import watched_by_lamer
    assert watched_by_lamer.VALUE == 1
    assert [str(w.message) for w in caught] == [
        "lamer: could not add its names to watched_by_lamer (RuntimeError: ESPnet already has a frontend named "
        "'lamer'); frontend: lamer, model: lamer_lid and upstream: lamer_local are unavailable in this process"]


def test_plain_espnet_asr_train_trains_on_a_merged_log_mel_export(tmp_path, probe_data):
    """The issue's case: the log-mel model's merged export through ESPnet's own asr_train, frontend: s3prl,
    exactly as export.json states it, in a Python where only the plugin's .pth file knows lamer."""
    from lamer.adapters import LamerConfig, apply_lamer, save_adapters
    from lamer.bin import export_model
    from lamer.upstream.presets import build_preset, get_shape, s3prl_configs, save_s3prl_checkpoint
    from tests.adapters.models import randomize_adapters

    model = build_preset("small_mel")
    save_s3prl_checkpoint(model, *s3prl_configs(get_shape("small_mel")), str(tmp_path / "mel.pt"))
    apply_lamer(model, LamerConfig(allocation="uniform:1", targets=["ffn"], shared_experts=0))
    randomize_adapters(model, scale=0.05)
    save_adapters(model, tmp_path / "adapters")
    assert export_model.main(["--upstream", str(tmp_path / "mel.pt"), "--adapters", str(tmp_path / "adapters"),
                              "--merge", "--out", str(tmp_path / "export")]) == 0
    espnet = json.loads((tmp_path / "export" / "export.json").read_text(encoding="utf-8"))["espnet"]
    upstream = espnet["frontend_conf"]["frontend_conf"]
    upstream["path_or_url"] = str(tmp_path / "export" / upstream["path_or_url"])

    config = yaml.safe_load(PROBE_CONFIG.read_text(encoding="utf-8"))
    config.update(frontend=espnet["frontend"], frontend_conf={**espnet["frontend_conf"], "multilayer_feature": True},
                  max_epoch=1, freeze_param=["frontend.upstream"])
    config["preencoder_conf"]["input_size"] = 128  # small_mel's width
    (tmp_path / "probe.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    out = tmp_path / "probe"
    done = run_plain(install_plugin(tmp_path / "site"), "espnet2.bin.asr_train", "--config",
                     str(tmp_path / "probe.yaml"), "--ngpu", "0", "--seed", "0", "--output_dir", str(out),
                     *data_args(probe_data))
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "1epoch.pth").is_file()
    trained = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))
    assert trained["frontend"] == "s3prl" and trained["frontend_conf"]["frontend_conf"]["upstream"] == "lamer_local"
