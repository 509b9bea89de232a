import math

import pytest
import torch

from lamer.adapters import LamerConfig
from lamer.adapters.router import Router, RoutingContext, UsageAccumulator, specialisation_loss
from lamer.eval.routing import normalized_entropy


def _router(mode, experts=4, batch_axis=0, languages=(), top_k=2):
    ctx = RoutingContext(batch_axis=batch_axis, languages=list(languages))
    torch.manual_seed(0)
    return Router(16, experts, mode, ctx, key=(0, "fc1"), top_k=top_k, compute_aux=True), ctx


def test_soft_routing_weights_every_expert_and_sums_to_one():
    router, _ = _router("soft")
    w = router(torch.randn(3, 10, 16))
    assert w.shape == (3, 10, 4)
    assert (w > 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(3, 10))


def test_topk_keeps_k_experts_per_frame():
    router, _ = _router("topk", experts=6, top_k=2)
    w = router(torch.randn(3, 10, 16))
    assert ((w > 0).sum(-1) == 2).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(3, 10))


def test_language_routing_is_constant_per_utterance_and_follows_the_batch_axis():
    router, ctx = _router("language", languages=["eng", "fra", "deu"], batch_axis=1)
    with torch.no_grad():
        router.language_logits.copy_(torch.randn(3, 4))
    ctx.lang_ids = torch.tensor([2, 0])
    w = router(torch.randn(7, 2, 16))  # time-major (T, B, C)
    for b, lang in enumerate([2, 0]):
        torch.testing.assert_close(w[:, b], router.language_weights(lang).expand(7, 4))
    assert not torch.allclose(w[0, 0], w[0, 1])


def test_language_routing_without_language_ids_is_an_error():
    router, _ = _router("language", languages=["eng"])
    with pytest.raises(RuntimeError, match="routing_languages"):
        router(torch.randn(2, 3, 16))


def test_oracle_routes_each_utterance_to_its_languages_expert_whatever_the_frames():
    router, ctx = _router("oracle", experts=3, batch_axis=1)
    ctx.lang_ids = torch.tensor([4, 0, 2])  # language i -> expert i mod 3
    want = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    for x in (torch.randn(5, 3, 16), torch.zeros(5, 3, 16), 100 * torch.randn(5, 3, 16)):  # time-major
        w = router(x)
        assert w.shape == (5, 3, 3)
        for b in range(3):
            torch.testing.assert_close(w[:, b], want[b].expand(5, 3))
    ctx.lang_ids = torch.tensor([1, 1, 1])
    assert torch.equal(router(torch.randn(5, 3, 16))[0], torch.tensor([[0.0, 1.0, 0.0]] * 3))


def test_oracle_without_language_ids_mixes_the_experts_equally():
    router, _ = _router("oracle", experts=4)
    torch.testing.assert_close(router(torch.randn(2, 7, 16)), torch.full((2, 7, 4), 0.25))
    torch.testing.assert_close(router.language_weights(5), torch.tensor([0.0, 1.0, 0.0, 0.0]))


def test_the_oracle_has_no_parameters_and_computes_no_routing_loss():
    router, ctx = _router("oracle")
    router.train()
    ctx.lang_ids = torch.tensor([0, 1])
    router(torch.randn(2, 3, 16))
    assert list(router.parameters()) == [] and not ctx.aux_losses and not ctx.specialise_losses


def test_balance_loss_is_one_when_uniform_and_larger_when_collapsed():
    router, ctx = _router("soft")
    router.train()
    with torch.no_grad():
        router.gate.weight.zero_()
    router(torch.randn(2, 5, 16))
    assert ctx.aux_losses[(0, "fc1")].item() == pytest.approx(1.0)
    with torch.no_grad():
        router.gate.weight.zero_()
        router.gate.weight[0] = 50.0  # expert 0 wins every frame of a positive input
    router(torch.rand(2, 5, 16) + 0.1)
    assert ctx.aux_losses[(0, "fc1")].item() == pytest.approx(4.0, rel=1e-3)


def test_usage_is_accumulated_per_language():
    router, ctx = _router("soft", languages=["eng", "fra"])
    ctx.usage = UsageAccumulator()
    ctx.lang_ids = torch.tensor([0, 1, 1])
    x = torch.randn(3, 5, 16)
    w = router(x)
    usage = ctx.usage.mean_per_layer()[0]
    torch.testing.assert_close(torch.tensor(usage["eng"], dtype=torch.float64), w[0].detach().mean(0).double(),
                               rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(torch.tensor(usage["fra"], dtype=torch.float64), w[1:].detach().mean((0, 1)).double(),
                               rtol=1e-6, atol=1e-6)


def _js(p: torch.Tensor, q: torch.Tensor) -> float:
    mid = (p + q) / 2
    return float(((p * (p / mid).log()).sum() + (q * (q / mid).log()).sum()) / 2)


def test_specialisation_loss_is_zero_when_languages_route_alike():
    per_utt = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.7, 0.2, 0.1], [0.1, 0.6, 0.3]])
    loss = specialisation_loss(per_utt, torch.tensor([0, 0, 1, 1]))  # each language: the same two utterances
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_specialisation_loss_is_minus_the_mutual_information():
    disjoint = specialisation_loss(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1]))
    assert disjoint.item() == pytest.approx(-math.log(2))  # one bit: the expert names the language
    partly = specialisation_loss(torch.tensor([[0.8, 0.2], [0.2, 0.8]]), torch.tensor([3, 5]))
    assert -math.log(2) < partly.item() < 0


def test_specialisation_gradient_pushes_the_languages_apart():
    torch.manual_seed(0)
    logits = (torch.randn(6, 4) * 0.3).requires_grad_()  # near uniform, where the MI's gradient is small
    lang_ids = torch.tensor([0, 0, 0, 1, 1, 1])

    def language_means():
        probs = logits.detach().softmax(-1)
        return probs[:3].mean(0), probs[3:].mean(0)

    before = _js(*language_means())
    optimizer = torch.optim.SGD([logits], lr=10.0)
    for _ in range(50):
        optimizer.zero_grad()
        specialisation_loss(logits.softmax(-1), lang_ids).backward()
        optimizer.step()
    after = _js(*language_means())
    assert after > before + 0.1
    overall = logits.detach().softmax(-1).mean(0)
    # no collapse onto one expert: two languages apart need two experts' worth of load (log 2 / log 4)
    assert normalized_entropy(overall.tolist()) > 0.45


def test_router_keeps_a_specialisation_loss_in_training_with_language_ids():
    config = LamerConfig(specialise_weight=0.5)
    ctx = RoutingContext(batch_axis=1)
    router = Router.from_config(config, 16, 4, ctx, (2, "fc2")).train()
    x = torch.randn(5, 3, 16)  # time-major (T, B, C)
    router(x)
    assert not ctx.specialise_losses  # no language ids: nothing to compute
    ctx.lang_ids = torch.tensor([0, 1, 1])
    weights = router(x)
    expected = specialisation_loss(weights.mean(0), ctx.lang_ids)
    torch.testing.assert_close(ctx.specialise_losses[(2, "fc2")], expected)
    ctx.specialise_losses.clear()
    router.eval()(x)
    assert not ctx.specialise_losses


@pytest.mark.parametrize("std", [0.0, 0.5])
def test_gate_init_std_is_honoured(std):
    torch.manual_seed(0)
    router = Router.from_config(LamerConfig(gate_init_std=std), 256, 8, RoutingContext(), (0, "fc1"))
    assert router.gate.weight.std().item() == pytest.approx(std, abs=0.02)


@pytest.mark.parametrize("options, message", [
    ({"specialise_weight": -0.1}, "specialise_weight must be >= 0"),
    ({"load_balance_weight": -1.0}, "load_balance_weight must be >= 0"),
    ({"gate_init_std": -0.01}, "gate_init_std must be >= 0"),
    ({"router_lr_scale": 0.0}, "router_lr_scale must be > 0"),
    ({"specialise_weight": 0.1, "router": "language", "languages": ["eng"]}, "specialised by construction"),
    ({"specialise_weight": 0.1, "router": "oracle", "load_balance_weight": 0.0},
     "router 'oracle' is specialised by construction; set specialise_weight 0"),
    ({"router": "oracle", "load_balance_weight": 0.01}, "load_balance_weight applies to learned routers: router "
                                                        "'oracle' .* set load_balance_weight 0"),
    ({"router": "oracle", "router_lr_scale": 10.0}, "router_lr_scale applies to learned routers: .* set "
                                                    "router_lr_scale 1"),
    ({"router": "oracles"}, r"router must be one of \('soft', 'topk', 'language', 'oracle'\), got 'oracles'"),
])
def test_routing_options_are_validated(options, message):
    with pytest.raises(ValueError, match=message):
        LamerConfig(**options)


def test_routing_option_defaults_leave_old_configs_as_they_were():
    config = LamerConfig.from_dict({"router": "soft", "load_balance_weight": 0.01})
    assert (config.specialise_weight, config.gate_init_std, config.router_lr_scale) == (0.0, 0.01, 1.0)
