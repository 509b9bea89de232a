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
