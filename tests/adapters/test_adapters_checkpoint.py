import json
import os
import pickle
import re

import pytest
import torch
from safetensors.torch import load_file, save_file

from lamer.adapters import (
    LamerConfig,
    ManifestMismatch,
    apply_lamer,
    fingerprint,
    load_adapters,
    patch_state,
    read_manifest,
    save_adapters,
)
from lamer.adapters.checkpoint import CorruptAdapters
from lamer.checksum import file_sha256
from lamer.upstream.presets import build_preset
from tests.adapters.models import assert_unchanged, frozen_preset, max_diff, model_state, outputs, randomize_adapters

CONFIG = LamerConfig(allocation="linear:2-4", rank=2, shared_rank=3, languages=["eng", "fra"])


@pytest.fixture
def trained(tmp_path):
    model = frozen_preset("tiny", "s3prl_hubert")
    apply_lamer(model, CONFIG)
    randomize_adapters(model, seed=3)
    return model, save_adapters(model, tmp_path / "adapters", extra={"stage": "s1"})


@pytest.mark.parametrize("family", ["s3prl_hubert", "hf_wav2vec2"])
def test_saved_adapters_reload_into_a_fresh_model_with_identical_outputs(family, tmp_path, batch):
    model = frozen_preset("tiny", family)
    apply_lamer(model, CONFIG)
    randomize_adapters(model, seed=1)
    expected = outputs(model, batch)
    save_adapters(model, tmp_path / "ckpt")
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["adapters.safetensors", "manifest.json"]

    fresh = frozen_preset("tiny", family)  # same base weights (same seed), not patched
    manifest = load_adapters(fresh, tmp_path / "ckpt")
    assert manifest["experts_per_layer"] == [2, 3, 4]
    assert max_diff(expected, outputs(fresh, batch)) == 0.0


def test_manifest_records_what_is_needed_to_check_a_load(trained):
    _, path = trained
    manifest = read_manifest(path)
    assert manifest["base"]["depth"] == 3 and manifest["base"]["hidden_size"] == 32
    assert manifest["base"]["ffn_size"] == 64 and manifest["base"]["style"] == "fairseq"
    assert manifest["modules"]["0"] == ["fc1", "fc2"]
    assert manifest["config"]["rank"] == 2 and manifest["config"]["allocation"] == "linear:2-4"
    assert manifest["extra"] == {"stage": "s1"}
    assert len(manifest["base"]["fingerprint"]) == 32


def test_saving_again_replaces_the_checkpoint_whole(trained, tmp_path):
    model, path = trained
    randomize_adapters(model, seed=9)
    save_adapters(model, path)
    fresh = frozen_preset("tiny", "s3prl_hubert")
    load_adapters(fresh, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapters"]  # no temp dirs left


@pytest.mark.parametrize("other, messages", [
    (lambda: build_preset("small", "s3prl_hubert"),
     ["base depth: checkpoint has 3, model has 4", "base hidden_size: checkpoint has 32, model has 128"]),
    (lambda: build_preset("tiny", "hf_hubert"), ["base style: checkpoint has 'fairseq', model has 'hf'"]),
])
def test_a_different_base_shape_is_refused_with_every_difference_named(trained, other, messages):
    _, path = trained
    with pytest.raises(ManifestMismatch) as err:
        load_adapters(other(), path)
    for message in messages:
        assert message in str(err.value)


def test_other_base_weights_are_refused_by_fingerprint(trained):
    _, path = trained
    other = build_preset("tiny", "s3prl_hubert", seed=7)
    with pytest.raises(ManifestMismatch, match="base fingerprint: checkpoint was trained on"):
        load_adapters(other, path)
    load_adapters(build_preset("tiny", "s3prl_hubert", seed=7), path, check_fingerprint=False)


@pytest.mark.parametrize("config, message", [
    (dict(rank=4), "config rank: checkpoint has 2, model has 4"),
    (dict(targets=["fc1"]), "config targets: checkpoint has ['ffn'], model has ['fc1']"),
    (dict(allocation="uniform:2"), "config allocation: checkpoint has 'linear:2-4', model has 'uniform:2'"),
])
def test_a_model_patched_differently_is_refused(trained, config, message):
    _, path = trained
    model = build_preset("tiny", "s3prl_hubert")
    apply_lamer(model, LamerConfig(**{**CONFIG.to_dict(), **config}))
    with pytest.raises(ManifestMismatch) as err:
        load_adapters(model, path)
    assert message in str(err.value)


def test_edited_manifest_targets_are_caught(trained):
    _, path = trained
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["modules"]["1"] = ["fc1"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestMismatch,
                       match=r"modules of layer 1: checkpoint has \['fc1'\], model has \['fc1', 'fc2'\]"):
        load_adapters(build_preset("tiny", "s3prl_hubert"), path)


def test_fingerprint_ignores_wrapping_and_adapters_but_not_weights():
    a, b = build_preset("tiny", "hf_hubert"), build_preset("tiny", "hf_hubert")
    before = fingerprint(a)
    apply_lamer(a, LamerConfig(allocation="uniform:2"))
    assert fingerprint(a) == before == fingerprint(torch.nn.Sequential(b))
    with torch.no_grad():
        b.encoder.layers[1].feed_forward.output_dense.weight[3, 5] += 1e-3
    assert fingerprint(b) != before


class _Exploit:
    def __reduce__(self):
        return (open, ("/tmp/lamer_pickle_ran", "w"))


@pytest.mark.parametrize("hashed", [True, False])
def test_weights_are_never_unpickled(trained, hashed):
    _, path = trained
    marker = "/tmp/lamer_pickle_ran"
    if os.path.exists(marker):
        os.remove(marker)
    if not hashed:
        _drop_hash(path)
    (path / "adapters.safetensors").write_bytes(pickle.dumps({"x": _Exploit()}))
    with pytest.raises(CorruptAdapters, match=str(path / "adapters.safetensors")):
        load_adapters(build_preset("tiny", "s3prl_hubert"), path)
    assert not os.path.exists(marker)


def _drop_hash(path):
    """Make the checkpoint look saved by a lamer that did not record the weights' SHA-256."""
    manifest = json.loads((path / "manifest.json").read_text())
    del manifest["weights_sha256"]
    (path / "manifest.json").write_text(json.dumps(manifest))


def _flip_last_byte(path):
    weights = path / "adapters.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x40  # inside the last tensor: still valid safetensors
    weights.write_bytes(bytes(data))


def test_manifest_records_the_weights_sha256(trained):
    _, path = trained
    assert read_manifest(path)["weights_sha256"] == file_sha256(path / "adapters.safetensors")


@pytest.mark.parametrize("damage", ["flipped_byte", "truncated"])
def test_damaged_weights_are_named_and_the_model_left_unpatched(trained, damage, batch):
    _, path = trained
    weights = path / "adapters.safetensors"
    if damage == "flipped_byte":
        _flip_last_byte(path)
        message = rf"{weights}: SHA-256 is [0-9a-f]{{64}}, but {path / 'manifest.json'} records"
    else:
        weights.write_bytes(weights.read_bytes()[:-100])  # killed while copying
        _drop_hash(path)
        message = rf"{weights}: not a readable safetensors file"
    fresh = frozen_preset("tiny", "s3prl_hubert")
    before = outputs(fresh, batch)
    with pytest.raises(CorruptAdapters, match=message):
        load_adapters(fresh, path)
    assert patch_state(fresh) is None and max_diff(before, outputs(fresh, batch)) == 0.0


def test_old_manifest_without_hash_loads_with_a_warning(trained, caplog):
    _, path = trained
    _drop_hash(path)
    fresh = frozen_preset("tiny", "s3prl_hubert")
    load_adapters(fresh, path)
    assert "records no SHA-256" in caplog.text and str(path / "adapters.safetensors") in caplog.text
    assert patch_state(fresh) is not None


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no adapter manifest"):
        load_adapters(build_preset("tiny", "s3prl_hubert"), tmp_path)


def test_routing_options_round_trip_through_the_checkpoint(tmp_path):
    config = LamerConfig(allocation="linear:2-4", specialise_weight=0.3, load_balance_weight=0.02, gate_init_std=0.1,
                         router_lr_scale=10.0, temperature=0.5)
    model = frozen_preset("tiny", "s3prl_hubert")
    apply_lamer(model, config)
    save_adapters(model, tmp_path / "ckpt")
    fresh = frozen_preset("tiny", "s3prl_hubert")
    load_adapters(fresh, tmp_path / "ckpt")
    assert patch_state(fresh).config == config
    assert read_manifest(tmp_path / "ckpt")["config"]["router_lr_scale"] == 10.0


def _rewrite_weights(path, edit):
    """Change the tensors of a checkpoint with ``edit`` and record the new file's SHA-256, as a
    hostile or buggy writer would: the hash check then passes."""
    weights = path / "adapters.safetensors"
    tensors = load_file(str(weights))
    edit(tensors)
    save_file(tensors, str(weights))
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["weights_sha256"] = file_sha256(weights)
    (path / "manifest.json").write_text(json.dumps(manifest))


def _edit_manifest(path, edit):
    manifest = json.loads((path / "manifest.json").read_text())
    edit(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


KEY = "layers.1.fc2.routed.lora_B"


@pytest.mark.parametrize("damage, message", [
    (lambda t: t[KEY].view(-1).__setitem__(0, float("nan")), f"tensor {KEY} holds NaN or infinite values"),
    (lambda t: t.update({KEY: t[KEY].to(torch.int32)}), f"tensor {KEY} is torch.int32; adapter weights are floating"),
])
def test_weights_that_are_not_finite_floats_are_refused_naming_the_tensor(trained, damage, message):
    _, path = trained
    _rewrite_weights(path, damage)
    fresh = frozen_preset("tiny", "s3prl_hubert")
    before = model_state(fresh)
    with pytest.raises(CorruptAdapters, match=re.escape(f"{path / 'adapters.safetensors'}: {message}")):
        load_adapters(fresh, path)
    assert_unchanged(fresh, before)


ATTENTION = LamerConfig(allocation="linear:2-4", targets=["ffn", "attn_qv"])


def test_other_base_weights_leave_the_model_unpatched(tmp_path):
    """The fingerprint is checked before patching: the model keeps its modules, gradients and
    its attention's fused path (which attention targets switch off)."""
    model = frozen_preset("tiny", "s3prl_hubert")
    apply_lamer(model, ATTENTION)
    path = save_adapters(model, tmp_path / "adapters")
    other = build_preset("tiny", "s3prl_hubert", seed=7)
    before = model_state(other)
    with pytest.raises(ManifestMismatch, match="base fingerprint: checkpoint was trained on"):
        load_adapters(other, path)
    assert patch_state(other) is None
    assert_unchanged(other, before)


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.pop(KEY), rf"keys do not match the patched model; missing \['{KEY}'\]"),
    (lambda t: t.update({"layers.0.fc1.extra": torch.zeros(2)}), r"unexpected \['layers.0.fc1.extra'\]"),
    (lambda t: t.update({KEY: torch.zeros(3, 3)}), rf"{KEY} has shape \(3, 3\), the model expects"),
])
def test_weights_that_do_not_fit_leave_the_model_unpatched(trained, edit, message):
    _, path = trained
    _rewrite_weights(path, edit)
    fresh = frozen_preset("tiny", "s3prl_hubert")
    before = model_state(fresh)
    with pytest.raises(ManifestMismatch, match=message):
        load_adapters(fresh, path)
    assert patch_state(fresh) is None
    assert_unchanged(fresh, before)


def test_edited_manifest_targets_leave_the_model_unpatched(trained):
    _, path = trained
    _edit_manifest(path, lambda m: m["modules"].update({"1": ["fc1"]}))
    fresh = frozen_preset("tiny", "s3prl_hubert")
    before = model_state(fresh)
    with pytest.raises(ManifestMismatch, match="modules of layer 1"):
        load_adapters(fresh, path)
    assert_unchanged(fresh, before)


@pytest.mark.parametrize("edit, key", [
    (lambda m: m.pop("config"), "config"),
    (lambda m: m.update({"config": ["rank", 4]}), "config"),
    (lambda m: m.pop("modules"), "modules"),
    (lambda m: m["base"].pop("fingerprint"), "base.fingerprint"),
    (lambda m: m["base"].update({"depth": "3"}), "base.depth"),
])
def test_a_manifest_without_an_entry_is_named_with_the_key(trained, edit, key):
    _, path = trained
    _edit_manifest(path, edit)
    with pytest.raises(ValueError, match=re.escape(f"{path / 'manifest.json'}: '{key}' is missing or not a")):
        load_adapters(frozen_preset("tiny", "s3prl_hubert"), path)


def test_a_manifest_config_value_of_the_wrong_type_is_named(trained):
    _, path = trained
    _edit_manifest(path, lambda m: m["config"].update({"rank": "2"}))
    message = f"{path / 'manifest.json'}: config holds a value of the wrong type"
    with pytest.raises(ValueError, match=re.escape(message)):
        load_adapters(frozen_preset("tiny", "s3prl_hubert"), path)


@pytest.mark.parametrize("content, message", [
    ('{"format": "lamer-adapters/1",\n "note": "\xe9t\xe9"}'.encode("latin-1"), r":2: not UTF-8 \(byte 0xe9"),
    (b"[" * 100_000 + b"]" * 100_000, ":1: JSON nested deeper than 64 levels"),
    (b'{"format": "lamer-adapters/1",\n', r":2: invalid JSON"),
])
def test_a_manifest_that_is_not_utf8_json_is_named(trained, content, message):
    _, path = trained
    (path / "manifest.json").write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(str(path / "manifest.json")) + message):
        load_adapters(frozen_preset("tiny", "s3prl_hubert"), path)


def test_a_manifest_rank_beyond_the_layer_width_is_refused_before_allocating(trained):
    """rank 50000000 would allocate gigabytes of experts (32 inputs x 5e7 x 4 bytes each) before
    anything else complained; the rank is checked against the layer first."""
    _, path = trained
    _edit_manifest(path, lambda m: m["config"].update({"rank": 50_000_000}))
    fresh = frozen_preset("tiny", "s3prl_hubert")
    before = model_state(fresh)
    with pytest.raises(ManifestMismatch, match=re.escape(f"{path / 'manifest.json'}: adapters do not fit this model: "
                                                         "rank: 50000000 is above the width of layers.0.fc1")):
        load_adapters(fresh, path)
    assert_unchanged(fresh, before)
