import json
import os
import pickle

import pytest
import torch

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
from tests.adapters.models import frozen_preset, max_diff, outputs, randomize_adapters

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
