"""The routing options in continual SSL training: the specialisation loss in the model's loss and
stats, the routers' own learning rate in ssl_train's optimizer, the options kept through growth."""
from __future__ import annotations

import argparse

import pytest
import torch

from lamer.adapters import LamerConfig, apply_lamer, patch_state, patched_modules, router_parameters
from lamer.ssl.encoder import MaskedUpstream
from lamer.ssl.growth import grow_experts
from lamer.ssl.hubert_head import HubertHead
from lamer.ssl.model import MaskedPredictionModel
from lamer.ssl.task import SSLTask
from lamer.upstream import build_preset
from lamer.upstream.presets import get_shape

ROUTING = {"specialise_weight": 0.5, "load_balance_weight": 0.01, "gate_init_std": 0.2, "router_lr_scale": 20.0}


def _model(**options) -> MaskedPredictionModel:
    torch.manual_seed(0)
    upstream = build_preset("tiny")
    apply_lamer(upstream, LamerConfig(allocation="groups:2,4,8", **options))
    return MaskedPredictionModel(MaskedUpstream(upstream), HubertHead(get_shape("tiny").hidden, 20)).train()


def _step(model, lang=None):
    lengths = torch.tensor([8000, 6000, 7000])
    frames = model.encoder.frame_lengths(lengths)
    labels = torch.randint(0, 20, (3, int(frames.max())))
    return model(torch.randn(3, 8000), lengths, labels, frames, lang=lang)


def test_specialisation_loss_joins_the_loss_and_the_stats():
    model = _model(**ROUTING)
    loss, stats, _ = _step(model, lang=torch.tensor([[0], [1], [1]]))
    assert stats["loss_specialise"].item() < 0  # minus a mutual information
    assert stats["loss_balance"].item() > 0
    parts = stats["loss_masked"] + stats["loss_specialise"] + stats["loss_balance"]
    torch.testing.assert_close(loss.reshape(()), parts.reshape(()))
    loss.sum().backward()
    assert all(param.grad is not None for param in router_parameters(model.encoder.upstream))


def test_specialisation_without_language_ids_is_a_clear_error():
    with pytest.raises(ValueError, match="lang,lang,text_int"):
        _step(_model(specialise_weight=0.5))


def test_defaults_add_no_routing_term():
    _, stats, _ = _step(_model(), lang=torch.tensor([0, 1, 1]))
    assert "loss_specialise" not in stats and "loss_balance" not in stats


def _optimizer(model, optim_conf):
    args = argparse.Namespace(optim="adam", optim_conf=optim_conf, sharded_ddp=False, exclude_weight_decay=False)
    return SSLTask.build_optimizers(args, model)[0]


def test_router_lr_scale_gives_the_routers_their_own_param_group():
    model = _model(router_lr_scale=20.0)
    groups = _optimizer(model, {"lr": 0.002}).param_groups
    routers = {id(p) for p in router_parameters(model.encoder.upstream)}
    assert len(groups) == 2 and routers
    assert {id(p) for p in groups[1]["params"]} == routers
    assert groups[1]["lr"] == pytest.approx(0.04) and groups[0]["lr"] == pytest.approx(0.002)
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    with pytest.raises(ValueError, match="optim_conf.lr"):
        _optimizer(model, {})


def test_router_lr_scale_one_keeps_espnets_single_group():
    assert len(_optimizer(_model(), {"lr": 0.002}).param_groups) == 1


def test_growth_keeps_the_routing_options():
    model = _model(**ROUTING)
    upstream = model.encoder.upstream
    grow_experts(upstream, 1)
    config = patch_state(upstream).config
    assert {key: getattr(config, key) for key in ROUTING} == ROUTING
    for _index, _name, module in patched_modules(upstream):
        if module.router is not None:
            assert module.router.compute_specialise and module.router.compute_aux
    _, stats, _ = _step(model, lang=torch.tensor([0, 1, 1]))
    assert "loss_specialise" in stats


ORACLE = {"router": "oracle", "load_balance_weight": 0.0}


def test_oracle_routing_needs_the_language_of_every_training_utterance():
    model = _model(**ORACLE)
    with pytest.raises(ValueError, match="router oracle needs the language of every training utterance.*lang,lang"):
        _step(model)
    loss, stats, _ = _step(model, lang=torch.tensor([0, 1, 2]))
    assert torch.isfinite(loss).all() and not any(key.startswith("loss_") and key not in (
        "loss_masked", "loss_unmasked") for key in stats)  # no routing term
    _step(model.eval())  # the probe's case: no language, the oracle's uniform mix


def test_growth_adds_experts_to_an_oracle_router_that_stays_without_parameters():
    model = _model(**ORACLE)
    upstream = model.encoder.upstream
    counts = grow_experts(upstream, 1)
    assert counts == [3, 5, 9] and patch_state(upstream).config.router == "oracle"
    assert router_parameters(upstream) == []
    _step(model, lang=torch.tensor([0, 1, 2]))
