"""A probe packed by ESPnet's own pack with its upstream and adapters: decoded from the zip alone by a plain
ESPnet's unpack + Speech2Text, and by lamer's careful unpack + asr_inference; hostile zips refused."""
from __future__ import annotations

import json
import re
import shutil
import stat
import zipfile
from pathlib import Path

import pytest
import yaml

from lamer.bin import pack_probe
from tests.probe.fixtures import TrainedProbe, train_args, train_probe
from tests.probe.hostile import write_hostile_checkpoint
from tests.probe.plain import install_plugin, run_plain, speech2text_hypotheses
from tests.probe.test_probe_e2e import DECODE_CONFIG, decode


@pytest.fixture(scope="module")
def stage_probe(tmp_path_factory, upstream, probe_data) -> TrainedProbe:
    """A probe trained (three epochs) on adapters, reading its own copies of the base checkpoint and the
    adapters (``source/``), so that a test can take them away after packing."""
    root = tmp_path_factory.mktemp("stage_probe")
    (root / "source").mkdir()
    shutil.copyfile(upstream.checkpoint, root / "source" / "base.pt")
    shutil.copytree(upstream.trained_adapters, root / "source" / "adapters")
    losses = train_probe(train_args(probe_data, root / "source" / "base.pt", root / "s1",
                                    root / "source" / "adapters") + ["--max_epoch", "3"])
    return TrainedProbe(root / "s1", losses)


@pytest.fixture(scope="module")
def packed(stage_probe, probe_data, tmp_path_factory):
    """The packed probe, with the reference hypotheses of the probe as trained (before ``source/`` goes)."""
    from lamer.probe.asr_task import register_lamer_choices

    register_lamer_choices()
    root = tmp_path_factory.mktemp("packed")
    reference = {"asr_inference": decode(stage_probe.directory, probe_data.dev, root / "reference").read_text(),
                 "speech2text": speech2text_hypotheses({"asr_train_config": str(stage_probe.config),
                                                        "asr_model_file": str(stage_probe.model)},
                                                       probe_data.dev / "wav.scp", DECODE_CONFIG)}
    archive = root / "probe_s1.zip"
    assert pack_probe.main(["pack", "--asr_train_config", str(stage_probe.config),
                            "--asr_model_file", str(stage_probe.model), "--outpath", str(archive)]) == 0
    shutil.rmtree(stage_probe.directory.parent / "source")  # from here on, the zip alone
    return archive, reference


def test_the_zip_holds_upstream_and_adapters_under_relative_names(packed, stage_probe):
    archive, _ = packed
    with zipfile.ZipFile(archive) as handle:
        names = sorted(handle.namelist())
        config = yaml.safe_load(handle.read("exp/s1/config.yaml"))
    assert names == ["exp/s1/adapters/adapters.safetensors", "exp/s1/adapters/manifest.json", "exp/s1/config.yaml",
                     "exp/s1/upstream/base.pt", f"exp/s1/{stage_probe.model.name}", "meta.yaml"]
    assert config["frontend"] == "lamer"
    assert config["frontend_conf"]["path_or_url"] == "exp/s1/upstream/base.pt"
    assert config["frontend_conf"]["adapters"] == "exp/s1/adapters/manifest.json"


def test_plain_espnet_speech2text_decodes_the_zip_alone(packed, probe_data, tmp_path):
    """ESPnet's unpack and Speech2Text in a Python that knows lamer only through its plugin's .pth file."""
    archive, reference = packed
    done = run_plain(install_plugin(tmp_path / "site"), "tests.probe.plain", str(archive), str(tmp_path / "unpacked"),
                     str(probe_data.dev / "wav.scp"), str(DECODE_CONFIG))
    assert done.returncode == 0, done.stderr[-3000:]
    hypotheses = json.loads(done.stdout.strip().splitlines()[-1])
    assert hypotheses == reference["speech2text"] and any(text.strip() for text in hypotheses.values())
    config = yaml.safe_load((tmp_path / "unpacked" / "exp" / "s1" / "config.yaml").read_text(encoding="utf-8"))
    assert config["frontend_conf"]["adapters"] == str(tmp_path / "unpacked" / "exp/s1/adapters/manifest.json")


def test_lamer_unpacks_it_and_decodes_it_weights_only(packed, stage_probe, probe_data, tmp_path, capsys):
    archive, reference = packed
    assert pack_probe.main(["unpack", "--zip", str(archive), "--out_dir", str(tmp_path / "probe")]) == 0
    probe = tmp_path / "probe" / "exp" / "s1"
    assert capsys.readouterr().out.splitlines() == [f"--asr_train_config {probe / 'config.yaml'}",
                                                    f"--asr_model_file {probe / stage_probe.model.name}"]
    config = yaml.safe_load((probe / "config.yaml").read_text(encoding="utf-8"))
    assert config["frontend_conf"]["path_or_url"] == str(probe / "upstream" / "base.pt")
    assert decode(probe, probe_data.dev, tmp_path / "decode").read_text() == reference["asr_inference"]


def test_a_pickle_in_the_zip_is_refused_when_lamer_decodes_it(packed, stage_probe, probe_data, tmp_path, capsys):
    from lamer.bin import asr_inference

    archive, _ = packed
    marker = tmp_path / "ran"
    hostile = write_hostile_checkpoint(tmp_path / "hostile.pth", marker)
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(tmp_path / "hostile.zip", "w") as target:
        for name in source.namelist():
            data = hostile.read_bytes() if name.endswith(".pth") else source.read(name)
            target.writestr(name, data)
    assert pack_probe.main(["unpack", "--zip", str(tmp_path / "hostile.zip"), "--out_dir", str(tmp_path / "p")]) == 0
    probe = tmp_path / "p" / "exp" / "s1"
    assert asr_inference.main(["--config", str(DECODE_CONFIG), "--ngpu", "0", "--output_dir", str(tmp_path / "o"),
                               "--asr_train_config", str(probe / "config.yaml"),
                               "--asr_model_file", str(probe / stage_probe.model.name),
                               "--data_path_and_name_and_type", f"{probe_data.dev}/wav.scp,speech,sound"]) == 1
    assert "refused to load" in capsys.readouterr().err and not marker.exists()


def _zip(path: Path, members: dict[str, str], config: dict | None = None, link: str | None = None) -> Path:
    """A zip shaped like a packed probe (meta.yaml, config, model), with extra ``members`` and a symbolic ``link``."""
    meta = {"yaml_files": {"asr_train_config": "exp/p/config.yaml"}, "files": {"asr_model_file": "exp/p/m.pth"}}
    config = config or {"frontend": "lamer", "frontend_conf": {"path_or_url": "exp/p/base.pt"}}
    with zipfile.ZipFile(path, "w") as handle:
        handle.writestr("meta.yaml", yaml.safe_dump(meta))
        handle.writestr("exp/p/config.yaml", yaml.safe_dump(config))
        for name, text in {"exp/p/m.pth": "", "exp/p/base.pt": "", **members}.items():
            handle.writestr(name, text)
        if link is not None:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            handle.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize("members, config, link, message", [
    ({"../../evil.sh": "x"}, None, None, r"member '../../evil.sh' climbs out of the folder"),
    ({"/etc/evil.sh": "x"}, None, None, r"member '/etc/evil.sh' is not a relative POSIX path"),
    ({}, None, "exp/p/link", r"member 'exp/p/link' is a symbolic link"),
    ({}, {"frontend": "lamer", "frontend_conf": {"path_or_url": "../base.pt"}}, None,
     r"frontend path_or_url '../base.pt' is not a file of the archive"),
    ({}, {"frontend": "lamer", "frontend_conf": {"path_or_url": "exp/p/base.pt", "adapters": "/srv/adapters"}}, None,
     r"frontend adapters '/srv/adapters' is not a file of the archive"),
    ({}, {"frontend": "s3prl", "frontend_conf": {"frontend_conf": {"upstream": "lamer_local", "path_or_url": "/x.pt"}}},
     None, r"frontend path_or_url '/x.pt' is not a file of the archive"),
])
def test_a_zip_that_would_reach_outside_its_folder_is_refused_before_anything_is_written(
        tmp_path, capsys, members, config, link, message):
    archive = _zip(tmp_path / "bad.zip", members, config, link)
    assert pack_probe.main(["unpack", "--zip", str(archive), "--out_dir", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"pack_probe: error: {archive}: ") and len(err.splitlines()) == 1
    assert re.search(message, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.zip"]


def test_a_sound_zip_unpacks_with_its_paths_pointing_inside(tmp_path):
    from lamer.probe.pack import unpack_probe

    archive = _zip(tmp_path / "good.zip", {"exp/p/adapters/manifest.json": "{}"},
                   {"frontend": "lamer", "frontend_conf": {"path_or_url": "exp/p/base.pt",
                                                           "adapters": "exp/p/adapters/manifest.json"}})
    paths = unpack_probe(archive, tmp_path / "out")
    config = yaml.safe_load(paths["asr_train_config"].read_text(encoding="utf-8"))
    out = (tmp_path / "out").resolve()
    assert config["frontend_conf"] == {"path_or_url": str(out / "exp/p/base.pt"),
                                       "adapters": str(out / "exp/p/adapters/manifest.json")}
    assert paths["asr_model_file"] == out / "exp/p/m.pth" and paths["asr_model_file"].is_file()


def test_a_probe_with_espnet_s3prl_frontend_packs_its_upstream(tmp_path):
    """ESPnet's frontend: s3prl names its upstream one level down (frontend_conf.frontend_conf)."""
    from lamer.probe.pack import pack_probe, unpack_probe

    (tmp_path / "upstream.pt").write_bytes(b"weights")
    (tmp_path / "model.pth").write_bytes(b"")
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "config.yaml").write_text(yaml.safe_dump({
        "frontend": "s3prl", "normalize": "utterance_mvn",
        "frontend_conf": {"frontend_conf": {"upstream": "lamer_local", "path_or_url": str(tmp_path / "upstream.pt")},
                          "multilayer_feature": True}}), encoding="utf-8")
    archive = pack_probe(tmp_path / "probe" / "config.yaml", tmp_path / "model.pth", tmp_path / "p.zip")
    with zipfile.ZipFile(archive) as handle:
        assert yaml.safe_load(handle.read("exp/probe/config.yaml"))["frontend_conf"] == {
            "frontend_conf": {"upstream": "lamer_local", "path_or_url": "exp/probe/upstream/upstream.pt"},
            "multilayer_feature": True}
    config = yaml.safe_load(unpack_probe(archive, tmp_path / "out")["asr_train_config"].read_text(encoding="utf-8"))
    upstream = Path(config["frontend_conf"]["frontend_conf"]["path_or_url"])
    assert upstream == (tmp_path / "out").resolve() / "exp/probe/upstream/upstream.pt"
    assert upstream.read_bytes() == b"weights"


@pytest.mark.parametrize("config, message", [
    ({"frontend": "default"}, "frontend is 'default'; pack_probe packs probes with frontend lamer or s3prl"),
    ({"frontend": "lamer", "frontend_conf": {"path_or_url": "absent.pt"}},
     "frontend_conf.path_or_url 'absent.pt' is not a file here"),
])
def test_a_probe_that_cannot_be_packed_is_named(tmp_path, capsys, config, message):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (tmp_path / "model.pth").write_bytes(b"")
    assert pack_probe.main(["pack", "--asr_train_config", str(tmp_path / "config.yaml"), "--asr_model_file",
                            str(tmp_path / "model.pth"), "--outpath", str(tmp_path / "p.zip")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"pack_probe: error: {tmp_path / 'config.yaml'}: {message}") and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "model.pth"]
