import pytest
import torch

from lamer.adapters.router import Router, RoutingContext, UsageAccumulator


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
