"""The Lamer frontend: ESPnet's S3prlFrontend with frozen, checked Lamer adapters."""
from __future__ import annotations

import pytest
import torch

from lamer.adapters import ManifestMismatch, patch_state


def _frontend(upstream, adapters=None, **kwargs):
    from lamer.probe.frontend import LamerS3prlFrontend

    return LamerS3prlFrontend(path_or_url=str(upstream.checkpoint), adapters=adapters, **kwargs)


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(2, 8000, generator=gen), torch.tensor([8000, 5600])


def _features(frontend) -> torch.Tensor:
    feats, lengths = frontend(*_batch())
    assert lengths.tolist()[0] == feats.shape[1] > lengths.tolist()[1]
    return feats.detach()


@pytest.fixture(scope="module")
def base_features(upstream):
    return _features(_frontend(upstream))


def test_zero_initialised_adapters_give_the_base_features(upstream, base_features):
    frontend = _frontend(upstream, upstream.zero_adapters)
    assert patch_state(frontend.upstream) is not None
    assert torch.equal(_features(frontend), base_features)


def test_trained_adapters_change_the_features(upstream, base_features):
    frontend = _frontend(upstream, upstream.trained_adapters)
    assert frontend.manifest["adapter_params"] > 0
    assert (_features(frontend) - base_features).abs().max() > 1e-3


def test_upstream_is_frozen_in_eval_mode_and_left_out_of_the_checkpoint(upstream):
    frontend = _frontend(upstream, upstream.trained_adapters)
    frontend.train()
    assert not frontend.upstream.training and frontend.featurizer.training
    trainable = [name for name, p in frontend.named_parameters() if p.requires_grad]
    assert trainable == ["featurizer.weights"]
    assert list(frontend.state_dict()) == ["featurizer.weights"]


def test_loading_a_probe_keeps_the_upstream_of_this_frontend(upstream, base_features):
    """The fixed protocol: probe weights from a frontend without adapters, upstream with them."""
    trained = _frontend(upstream)
    with torch.no_grad():
        trained.featurizer.weights.copy_(torch.linspace(-1, 1, trained.featurizer.weights.numel()))
    patched = _frontend(upstream, upstream.trained_adapters)
    before = {k: v.clone() for k, v in patched.upstream.state_dict().items()}
    result = patched.load_state_dict(trained.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(patched.featurizer.weights, trained.featurizer.weights)
    assert all(torch.equal(before[k], v) for k, v in patched.upstream.state_dict().items())


@pytest.mark.parametrize("cache_mb", [0, 8])
def test_reload_after_espnet_initialisation_restores_the_adapters(upstream, cache_mb):
    """ESPnet's initialize() overwrites every weight, then calls reload_pretrained_parameters()."""
    from espnet2.torch_utils.initialize import initialize

    frontend = _frontend(upstream, upstream.trained_adapters, feature_cache_mb=cache_mb)
    reference = _frontend(upstream, upstream.trained_adapters)(*_batch())[0].detach()
    holder = torch.nn.Module()
    holder.frontend = frontend
    initialize(holder, "xavier_uniform")
    assert torch.equal(_features(frontend), reference)


def test_language_routed_adapters_are_refused(upstream, tmp_path):
    from lamer.adapters import LamerConfig, apply_lamer, save_adapters
    from lamer.upstream.presets import build_preset

    model = build_preset("tiny")
    apply_lamer(model, LamerConfig(router="language", languages=["eng"]))
    save_adapters(model, tmp_path / "by_language")
    with pytest.raises(ValueError, match="routes by language"):
        _frontend(upstream, tmp_path / "by_language")


def test_adapters_of_another_base_model_are_refused(upstream):
    with pytest.raises(ManifestMismatch, match="fingerprint"):
        _frontend(upstream, upstream.foreign_adapters)


def test_missing_checkpoint_is_named(tmp_path):
    from lamer.probe.frontend import LamerS3prlFrontend

    with pytest.raises(FileNotFoundError, match="path_or_url"):
        LamerS3prlFrontend(path_or_url=str(tmp_path / "absent.pt"))


def test_registered_as_an_espnet_asr_frontend(monkeypatch):
    from espnet2.tasks.asr import ASRTask, frontend_choices
    from s3prl import hub
    from s3prl.nn import S3PRLUpstream

    from lamer.probe.asr_task import register_lamer_choices
    from lamer.probe.frontend import LamerS3prlFrontend

    monkeypatch.delattr(hub, "lamer_local", raising=False)
    register_lamer_choices()
    register_lamer_choices()  # idempotent
    assert frontend_choices.get_class("lamer") is LamerS3prlFrontend
    assert "lamer_local" in S3PRLUpstream.available_names()  # for ESPnet's frontend: s3prl too
    args = ASRTask.get_parser().parse_args(["--frontend", "lamer", "--output_dir", "x"])
    assert args.frontend == "lamer"


def test_feature_cache_reuses_a_repeated_batch_and_respects_its_budget(upstream, base_features):
    frontend = _frontend(upstream, feature_cache_mb=8)
    first, second = _features(frontend), _features(frontend)
    assert torch.equal(first, base_features) and torch.equal(second, base_features)
    assert (frontend.upstream.misses, frontend.upstream.hits) == (1, 1)
    assert list(frontend.state_dict()) == ["featurizer.weights"]
    tiny = _frontend(upstream, feature_cache_mb=8)
    tiny.upstream.max_bytes = 1
    _features(tiny), _features(tiny)
    assert (tiny.upstream.misses, tiny.upstream.hits, tiny.upstream.cached_bytes) == (2, 0, 0)


def test_frame_pooling_averages_consecutive_frames_and_divides_the_lengths(upstream, base_features):
    pooled, lengths = _frontend(upstream, frame_pooling=2)(*_batch())
    _, base_lengths = _frontend(upstream)(*_batch())
    assert lengths.tolist() == [n // 2 for n in base_lengths.tolist()]
    groups = base_features.shape[1] // 2
    expected = base_features[:, : groups * 2].reshape(2, groups, 2, -1).mean(2)
    assert pooled.shape == expected.shape
    assert torch.allclose(pooled.detach(), expected, atol=1e-6)
    with pytest.raises(ValueError, match="frame_pooling"):
        _frontend(upstream, frame_pooling=0)


def test_layers_restrict_the_weighted_sum_to_the_chosen_hidden_states(upstream):
    everything = _frontend(upstream)
    hidden, _ = everything.upstream(*_batch())
    deep = list(range(1, len(hidden)))
    chosen = _frontend(upstream, layers=deep[::-1])
    assert chosen.featurizer.weights.numel() == len(deep)
    feats, _ = chosen(*_batch())
    # zero weights: the plain mean of the chosen hidden states, the front end's output left out
    assert torch.allclose(feats.detach(), torch.stack(hidden[1:]).mean(0), atol=1e-5)
    assert not torch.allclose(feats.detach(), torch.stack(hidden).mean(0), atol=1e-3)
    assert _frontend(upstream, layers="transformer").featurizer.layer_selections == deep


@pytest.mark.parametrize("kwargs", [{"layers": []}, {"layers": [0, 0]}, {"layers": [99]}, {"layers": "1,2"},
                                    {"layers": [1], "multilayer_feature": False}])
def test_bad_layers_are_refused_naming_the_key(upstream, kwargs):
    with pytest.raises(ValueError, match="frontend_conf.layers"):
        _frontend(upstream, **kwargs)
