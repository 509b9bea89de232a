"""Exports load back (lamer, s3prl's hubert_local, transformers) with the adapted model's outputs."""
import json
import re
import resource
import subprocess
import sys

import pytest
import torch

from lamer.adapters import LamerConfig, apply_lamer, load_adapters, save_adapters
from lamer.bin import export_model
from lamer.upstream import load_upstream
from lamer.upstream.export import export_upstream
from tests.adapters.models import randomize_adapters
from tests.upstream.checkpoints import max_diff, outputs, waves, write_fairseq_hubert, write_hf_directory

s3prl_nn = pytest.importorskip("s3prl.nn")

SOFT = LamerConfig(allocation="groups:2,3", targets=["ffn", "attn_qv"], router="soft")
SINGLE = LamerConfig(allocation="uniform:1", targets=["ffn", "attn"], shared_experts=0)
LANGUAGE = LamerConfig(allocation="uniform:3", router="language", languages=["eng", "fra"])  # 1 shared + 2 routed


def adapted(path, config):
    loaded = load_upstream(path)
    apply_lamer(loaded.model, config)
    randomize_adapters(loaded.model, scale=0.1)  # trained-adapter sized: merging rounds differently at float32
    return loaded


def s3prl_outputs(upstream):
    """Layer outputs through S3PRLUpstream (its hidden states are layer inputs, then the encoder output).

    It pads them to samples // 320 = 20 frames by repeating the last; the CNN makes 19 of 6400 samples.
    """
    with torch.no_grad():
        hidden, _ = upstream(waves(), torch.tensor([6400, 6400]))
    return [h[:, :19] for h in hidden[1:]]


def test_base_and_adapters_for_espnet_s3prl_frontend(tmp_path, monkeypatch):
    write_fairseq_hubert(tmp_path / "hubert.pt", monkeypatch)
    loaded = adapted(tmp_path / "hubert.pt", SOFT)
    expected = outputs(loaded.model, waves())
    out = export_upstream(loaded, tmp_path / "export", fmt="s3prl")
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["s3prl_upstream"] == "hubert_local" and manifest["adapters"] == "adapters"
    assert manifest["espnet"] == {"frontend": "lamer", "needs_lamer": True, "frontend_conf": {
        "upstream": "hubert_local", "path_or_url": "upstream.pt", "adapters": "adapters"}}
    assert sorted(p.name for p in out.iterdir()) == ["adapters", "export.json", "upstream.pt"]

    again = load_upstream(out)  # lamer: base + adapters
    assert again.format == "lamer-export"
    assert max_diff(expected, outputs(again.model, waves())) <= 1e-5
    torch.testing.assert_close(again.head.label_embeddings, loaded.head.label_embeddings, rtol=0, atol=0)

    upstream = s3prl_nn.S3PRLUpstream("hubert_local", path_or_url=str(out / "upstream.pt")).eval()
    load_adapters(upstream, out / "adapters")  # what the ESPnet bridge does to S3prlFrontend's upstream
    assert max_diff(expected, s3prl_outputs(upstream)) <= 1e-5


@pytest.mark.parametrize("family", ["hf_wav2vec2", "hf_wavlm"])
def test_transformers_models_export_to_s3prl_local_upstreams(tmp_path, family):
    source = write_hf_directory(tmp_path / "hf", family)
    out = export_upstream(load_upstream(tmp_path / "hf"), tmp_path / "export", fmt="s3prl")
    manifest = json.loads((out / "export.json").read_text())
    name = manifest["s3prl_upstream"]
    assert name == family.replace("hf_", "") + "_local"
    assert manifest["espnet"] == {"frontend": "s3prl", "needs_lamer": False,
                                  "frontend_conf": {"frontend_conf": {"upstream": name, "path_or_url": "upstream.pt"}}}
    upstream = s3prl_nn.S3PRLUpstream(name, path_or_url=str(out / "upstream.pt")).eval()
    assert max_diff(outputs(source, waves()), s3prl_outputs(upstream)) <= 1e-5


def test_transformers_base_and_adapters_round_trip(tmp_path):
    write_hf_directory(tmp_path / "hf", "hf_hubert")
    loaded = adapted(tmp_path / "hf", SOFT)
    out = export_upstream(loaded, tmp_path / "export", fmt="hf")
    assert (out / "upstream" / "config.json").is_file() and (out / "upstream" / "preprocessor_config.json").is_file()
    assert max_diff(outputs(loaded.model, waves()), outputs(load_upstream(out).model, waves())) <= 1e-5


def test_merged_export_is_a_plain_transformers_model(tmp_path, monkeypatch):
    from transformers import HubertModel

    write_fairseq_hubert(tmp_path / "hubert.pt", monkeypatch)
    loaded = adapted(tmp_path / "hubert.pt", SINGLE)
    expected = outputs(loaded.model, waves())
    out = export_upstream(loaded, tmp_path / "merged", fmt="hf", merge=True)
    assert json.loads((out / "export.json").read_text())["adapters"] is None
    plain = HubertModel.from_pretrained(str(out / "upstream")).eval()
    assert max_diff(expected, outputs(plain, waves())) <= 1e-5
    assert max_diff(expected, outputs(load_upstream(tmp_path / "hubert.pt").model, waves())) > 1e-3
    assert max_diff(expected, outputs(loaded.model, waves())) == 0  # the input model is untouched


def test_cli_merges_language_routed_adapters_for_one_language(tmp_path, monkeypatch, capsys):
    from transformers import HubertModel

    from lamer.adapters import routing_languages

    write_fairseq_hubert(tmp_path / "hubert.pt", monkeypatch)
    loaded = adapted(tmp_path / "hubert.pt", LANGUAGE)
    save_adapters(loaded.model, tmp_path / "adapters")
    with routing_languages(loaded.model, ["fra", "fra"]):
        expected = outputs(loaded.model, waves())
    args = ["--upstream", str(tmp_path / "hubert.pt"), "--adapters", str(tmp_path / "adapters"),
            "--out", str(tmp_path / "fra"), "--merge"]
    assert export_model.main(args + ["--language", "fra"]) == 0
    assert max_diff(expected, outputs(HubertModel.from_pretrained(str(tmp_path / "fra" / "upstream")), waves())) <= 1e-5

    assert export_model.main(args[:-3] + ["--out", str(tmp_path / "soft"), "--merge"]) == 1
    assert "cannot merge exactly" in capsys.readouterr().err and not (tmp_path / "soft").exists()


def test_transformers_hubert_reaches_espnet_s3prl_frontend(tmp_path):
    """The mHuBERT-147 route: a transformers directory, exported for frontend_conf {upstream: hubert_local}."""
    frontend_module = pytest.importorskip("espnet2.asr.frontend.s3prl")
    source = write_hf_directory(tmp_path / "mhubert", "hf_hubert")
    out = export_upstream(load_upstream(tmp_path / "mhubert"), tmp_path / "export", fmt="s3prl")
    frontend = frontend_module.S3prlFrontend(
        fs=16000, frontend_conf={"upstream": "hubert_local", "path_or_url": str(out / "upstream.pt")},
        multilayer_feature=True).eval()
    assert max_diff(outputs(source, waves()), s3prl_outputs(frontend.upstream)) <= 1e-5
    with torch.no_grad():
        feats, lengths = frontend(waves(), torch.tensor([6400, 6400]))
    assert feats.shape[-1] == 32 and lengths.tolist() == [feats.shape[1]] * 2


def test_waveform_normalisation_travels_with_the_export(tmp_path):
    write_hf_directory(tmp_path / "large", "hf_hubert")
    (tmp_path / "large" / "preprocessor_config.json").write_text(json.dumps({"do_normalize": True}))
    loaded = load_upstream(tmp_path / "large")
    assert loaded.normalize is True
    out = export_upstream(loaded, tmp_path / "s3prl", fmt="s3prl")
    assert torch.load(out / "upstream.pt", weights_only=True)["task_cfg"]["normalize"] is True
    out = export_upstream(loaded, tmp_path / "hf", fmt="hf")
    assert json.loads((out / "upstream" / "preprocessor_config.json").read_text())["do_normalize"] is True
    assert load_upstream(out).normalize is True


def _tiny_checkpoint(path):
    """A random-weight 'tiny' HuBERT saved as an s3prl checkpoint (the shipped base model's format)."""
    from lamer.upstream.presets import build_preset, get_shape, s3prl_configs, save_s3prl_checkpoint

    save_s3prl_checkpoint(build_preset("tiny"), *s3prl_configs(get_shape("tiny")), path)
    return path


def test_cli_loads_a_checkpoint_whose_sha256_matches(tmp_path, capsys):
    from lamer.checksum import file_sha256

    checkpoint = _tiny_checkpoint(tmp_path / "upstream.pt")
    digest = file_sha256(checkpoint)
    assert export_model.main(["--upstream", str(checkpoint), "--sha256", digest.upper(), "--format", "s3prl",
                              "--out", str(tmp_path / "base")]) == 0
    expected = outputs(load_upstream(checkpoint).model, waves())
    assert max_diff(expected, outputs(load_upstream(tmp_path / "base" / "upstream.pt").model, waves())) == 0


def test_cli_refuses_a_changed_checkpoint_before_loading_it_and_writes_nothing(tmp_path, capsys):
    from lamer.checksum import file_sha256

    checkpoint = _tiny_checkpoint(tmp_path / "upstream.pt")
    recorded = file_sha256(checkpoint)
    out = tmp_path / "base"
    assert export_model.main(["--upstream", str(checkpoint), "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    # cut short: unreadable as a torch file, so only a check made before loading can report the hash
    checkpoint.write_bytes(checkpoint.read_bytes()[:-100])
    actual = file_sha256(checkpoint)
    assert export_model.main(["--upstream", str(checkpoint), "--out", str(out)]) == 1
    assert "not a readable torch checkpoint" in capsys.readouterr().err
    assert export_model.main(["--upstream", str(checkpoint), "--sha256", recorded, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{checkpoint}: SHA-256 mismatch: expected {recorded}, actual {actual}" in err
    assert "rebuild_base_model.sh" in err and "python -m lamer.bin.checksum" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the earlier export is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base", "upstream.pt"]  # and no temporary left


@pytest.mark.parametrize("value", ["abc", "z" * 64])
def test_cli_refuses_a_sha256_that_is_not_64_hex_digits(tmp_path, capsys, value):
    checkpoint = _tiny_checkpoint(tmp_path / "upstream.pt")
    assert export_model.main(["--upstream", str(checkpoint), "--sha256", value, "--out", str(tmp_path / "b")]) == 1
    assert f"expected 64 hex digits, got {value!r}" in capsys.readouterr().err and not (tmp_path / "b").exists()


def test_the_same_weights_save_to_the_same_bytes(tmp_path):
    """A rebuilt checkpoint can match the SHA-256 its plan records only if saving is deterministic
    (torch names a zip's root folder after the path it writes, here a random temporary name)."""
    from lamer.checksum import file_sha256
    from lamer.upstream.presets import build_preset, get_shape, s3prl_configs, save_s3prl_checkpoint

    first, second = _tiny_checkpoint(tmp_path / "a.pt"), _tiny_checkpoint(tmp_path / "b" / "upstream.pt")
    assert file_sha256(first) == file_sha256(second)
    other = build_preset("tiny", seed=1)
    save_s3prl_checkpoint(other, *s3prl_configs(get_shape("tiny")), tmp_path / "c.pt")
    assert file_sha256(tmp_path / "c.pt") != file_sha256(first)


def _limited_export(limit: int, *args: str) -> subprocess.CompletedProcess:
    """export_model in a process whose files may not grow beyond ``limit`` bytes (ulimit -f):
    writes past it fail with EFBIG, as they would on a full disk with ENOSPC."""
    def lower_limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    return subprocess.run([sys.executable, "-m", "lamer.bin.export_model", *args], capture_output=True, text=True,
                          preexec_fn=lower_limit, timeout=300)


@pytest.mark.parametrize("fmt", ["s3prl", "hf"])
def test_cli_that_cannot_write_names_the_output_and_leaves_no_partial_file(tmp_path, fmt):
    checkpoint = _tiny_checkpoint(tmp_path / "upstream.pt")
    out = tmp_path / "base"
    assert export_model.main(["--upstream", str(checkpoint), "--out", str(out)]) == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    failed = _limited_export(20_000, "--upstream", str(checkpoint), "--format", fmt, "--out", str(out))
    assert failed.returncode == 1
    errors = [line for line in failed.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "Traceback" not in failed.stderr, failed.stderr
    assert re.fullmatch(rf"export_model: error: {re.escape(str(out))}: cannot write the export \(.*File too large.*\); "
                        r"nothing was written and what was there is unchanged: .* \(ulimit -f\) .*", errors[0])
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base", "upstream.pt"]  # no temporary left


def test_cli_names_an_adapter_manifest_it_cannot_use(tmp_path, capsys):
    checkpoint = _tiny_checkpoint(tmp_path / "upstream.pt")
    loaded = load_upstream(checkpoint)
    apply_lamer(loaded.model, SOFT)
    adapters = save_adapters(loaded.model, tmp_path / "adapters")
    manifest = json.loads((adapters / "manifest.json").read_text())
    del manifest["config"]
    (adapters / "manifest.json").write_text(json.dumps(manifest))
    args = ["--upstream", str(checkpoint), "--adapters", str(adapters), "--out", str(tmp_path / "out")]
    assert export_model.main(args) == 1
    assert capsys.readouterr().err == (f"export_model: error: {adapters / 'manifest.json'}: 'config' is missing or "
                                       "not a dict; save_adapters writes it: save the adapters again, or copy the "
                                       "whole checkpoint directory\n")
    (adapters / "manifest.json").write_bytes(json.dumps(manifest).replace("lamer", "l\xe4mer").encode("latin-1"))
    assert export_model.main(args) == 1
    assert capsys.readouterr().err.startswith(f"export_model: error: {adapters / 'manifest.json'}:1: not UTF-8")
    assert not (tmp_path / "out").exists()


def test_export_model_and_the_espnet_options_that_load_it(tmp_path, monkeypatch):
    """The tool's work as one library call: a checkpoint with its adapters, hash checked, exported in
    the default format; the ESPnet options that load it name its files; a merged hf export has none."""
    from lamer.checksum import file_sha256
    from lamer.upstream.export import espnet_options, export_model

    write_fairseq_hubert(tmp_path / "hubert.pt", monkeypatch)
    loaded = adapted(tmp_path / "hubert.pt", SINGLE)
    save_adapters(loaded.model, tmp_path / "adapters")
    out, fmt = export_model(str(tmp_path / "hubert.pt"), tmp_path / "export", str(tmp_path / "adapters"),
                            sha256=file_sha256(tmp_path / "hubert.pt"))
    assert fmt == "s3prl" and out == tmp_path / "export"
    assert espnet_options(out) == (f"--frontend lamer --frontend_conf upstream=hubert_local --frontend_conf "
                                   f"path_or_url={out / 'upstream.pt'} --frontend_conf adapters={out / 'adapters'}",
                                   True)
    merged, fmt = export_model(str(tmp_path / "hubert.pt"), tmp_path / "merged", str(tmp_path / "adapters"),
                               merge=True)
    assert fmt == "hf" and espnet_options(merged) is None
    with pytest.raises(ValueError, match="rebuild it"):
        export_model(str(tmp_path / "hubert.pt"), tmp_path / "bad", sha256="0" * 64, mismatch_fix="rebuild it")
    assert not (tmp_path / "bad").exists()


def test_reinit_exports_the_architecture_with_random_weights_drawn_from_the_seed(tmp_path, capsys):
    checkpoint = _tiny_checkpoint(tmp_path / "upstream.pt")  # itself drawn from seed 0: the trained stand-in
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        assert export_model.main(["--upstream", str(checkpoint), "--reinit", seed, "--format", "s3prl",
                                  "--out", str(tmp_path / name)]) == 0
    trained = load_upstream(checkpoint).model
    a, b, c = (load_upstream(tmp_path / name / "upstream.pt").model for name in "abc")
    assert a.state_dict().keys() == trained.state_dict().keys()
    assert all(x.shape == y.shape for x, y in zip(a.state_dict().values(), trained.state_dict().values()))
    assert max_diff(outputs(a, waves()), outputs(b, waves())) == 0  # the seed decides the weights
    assert max_diff(outputs(a, waves()), outputs(c, waves())) > 0
    assert max_diff(outputs(a, waves()), outputs(trained, waves())) > 1e-2  # none of the trained weights kept
    manifest = json.loads((tmp_path / "a" / "export.json").read_text())
    assert manifest["source"].endswith("(re-initialised: random weights, seed 5)")


def test_reinit_refuses_adapters(tmp_path, capsys):
    checkpoint = _tiny_checkpoint(tmp_path / "upstream.pt")
    assert export_model.main(["--upstream", str(checkpoint), "--reinit", "0", "--adapters", str(tmp_path / "ad"),
                              "--out", str(tmp_path / "out")]) == 1
    assert "give --reinit or --adapters, not both" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
