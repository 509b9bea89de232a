"""The patch applied through s3prl's own loader, as ESPnet's S3prlFrontend builds it."""
import pytest
import torch

from lamer.adapters import LamerConfig, apply_lamer, load_adapters, save_adapters
from lamer.upstream.presets import build_preset, get_shape, s3prl_configs, save_s3prl_checkpoint
from tests.adapters.models import randomize_adapters

s3prl_nn = pytest.importorskip("s3prl.nn")


def _upstream(path):
    upstream = s3prl_nn.S3PRLUpstream("hubert_local", path_or_url=str(path)).eval()
    for param in upstream.parameters():
        param.requires_grad_(False)
    return upstream


def _run(upstream, batch):
    with torch.no_grad():
        hidden, _ = upstream(*batch)
    return hidden


def test_adapters_trained_on_a_bare_model_load_into_s3prl_hubert_local(tmp_path, batch):
    model = build_preset("tiny", "s3prl_hubert")
    save_s3prl_checkpoint(model, *s3prl_configs(get_shape("tiny")), tmp_path / "tiny.pt")
    upstream = _upstream(tmp_path / "tiny.pt")
    base = _run(upstream, batch)

    config = LamerConfig(allocation="groups:2,4", targets=["ffn", "attn_qv"])
    apply_lamer(model, config)
    randomize_adapters(model, scale=0.3)
    save_adapters(model, tmp_path / "adapters")

    load_adapters(upstream, tmp_path / "adapters")  # same fingerprint through the wrapper
    patched = _run(upstream, batch)
    assert len(patched) == len(base) == 4  # CNN features + 3 layers
    torch.testing.assert_close(patched[0], base[0])  # before the transformer: untouched
    for layer in range(1, 4):
        assert (patched[layer] - base[layer]).abs().max() > 1e-3

    fresh = _upstream(tmp_path / "tiny.pt")
    apply_lamer(fresh, config)
    assert max((a - b).abs().max().item() for a, b in zip(_run(fresh, batch), base)) <= 2e-6
