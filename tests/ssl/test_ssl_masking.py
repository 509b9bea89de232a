"""Span masking and the masked-prediction loss."""
from __future__ import annotations

import pytest
import torch

from lamer.ssl.hubert_head import HubertHead, masked_prediction_loss
from lamer.ssl.masking import span_mask


def test_span_mask_stays_inside_each_utterance_and_masks_about_hubert_share():
    lengths = torch.tensor([400, 250, 37])
    gen = torch.Generator().manual_seed(0)
    mask = span_mask(lengths, 400, 0.8, 10, generator=gen)
    assert mask.shape == (3, 400) and mask.dtype == torch.bool
    for row, n in zip(mask, lengths.tolist()):
        assert not row[n:].any()
    share = mask[0].float().mean().item()
    assert 0.5 < share < 0.8  # overlapping spans: about 65% for (0.8, 10)


def test_span_mask_is_reproducible_by_seed_and_handles_short_utterances():
    lengths = torch.tensor([120, 5])
    a = span_mask(lengths, 120, 0.65, 10, generator=torch.Generator().manual_seed(1))
    b = span_mask(lengths, 120, 0.65, 10, generator=torch.Generator().manual_seed(1))
    c = span_mask(lengths, 120, 0.65, 10, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a[1, :5].all() and not a[1, 5:].any()  # a span longer than the utterance covers it
    assert not span_mask(lengths, 120, 0.0, 10).any()


@pytest.mark.parametrize("prob, span", [(1.5, 10), (0.5, 0)])
def test_span_mask_rejects_bad_settings(prob, span):
    with pytest.raises(ValueError, match="mask"):
        span_mask(torch.tensor([10]), 10, prob, span)


def test_loss_counts_masked_frames_only_unless_weighted():
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 5)
    labels = torch.randint(0, 5, (2, 6))
    mask = torch.zeros(2, 6, dtype=torch.bool)
    mask[:, :3] = True
    valid = torch.ones(2, 6, dtype=torch.bool)
    valid[1, 5] = False
    base = masked_prediction_loss(logits, labels, mask, valid)
    changed = logits.clone()
    changed[:, 3:] = torch.randn(2, 3, 5) * 10
    assert torch.equal(masked_prediction_loss(changed, labels, mask, valid).loss, base.loss)
    weighted = masked_prediction_loss(changed, labels, mask, valid, unmasked_weight=0.5)
    assert torch.allclose(weighted.loss, base.masked + 0.5 * weighted.unmasked)
    perfect = torch.nn.functional.one_hot(labels, 5).float() * 50
    assert masked_prediction_loss(perfect, labels, mask, valid).acc_masked == 1.0


def test_head_gives_cosine_logits_over_temperature():
    head = HubertHead(hidden=8, num_classes=4, final_dim=6, temperature=0.1)
    logits = head(torch.randn(3, 7, 8))
    assert logits.shape == (3, 7, 4)
    assert logits.abs().max() <= 10.0 + 1e-4  # |cos| <= 1, / 0.1
    with pytest.raises(ValueError, match="num_classes"):
        HubertHead(8, 1)


def test_head_and_loss_stay_float32_under_mixed_precision():
    """ESPnet --use_amp runs the forward under autocast: the cosine logits, softmax and loss are
    float32 (bfloat16 logits near 1/temperature are only good to about 0.06), gradients flow."""
    torch.manual_seed(0)
    head = HubertHead(hidden=16, num_classes=50, final_dim=32, temperature=0.1)
    frames = torch.randn(2, 40, 16)
    labels = torch.randint(0, 50, (2, 40))
    mask = torch.rand(2, 40) < 0.5
    valid = torch.ones(2, 40, dtype=torch.bool)
    reference = masked_prediction_loss(head(frames), labels, mask, valid)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = head(frames)
        result = masked_prediction_loss(logits, labels, mask, valid, unmasked_weight=0.5)
    assert logits.dtype == torch.float32 and result.loss.dtype == torch.float32
    assert abs(result.masked.item() - reference.masked.item()) < 0.02 * reference.masked.item()
    result.loss.backward()
    assert head.label_embeddings.grad.dtype == torch.float32 and head.label_embeddings.grad.abs().sum() > 0
    assert head.final_proj.weight.grad is not None


def test_model_step_under_mixed_precision_reports_float32():
    """The whole model (tiny upstream with language-routed Lamer adapters) under bfloat16 autocast."""
    from lamer.adapters import LamerConfig, apply_lamer
    from lamer.ssl.encoder import MaskedUpstream
    from lamer.ssl.model import MaskedPredictionModel
    from lamer.upstream import build_preset
    from lamer.upstream.presets import get_shape

    torch.manual_seed(0)
    upstream = build_preset("tiny")
    apply_lamer(upstream, LamerConfig(allocation="groups:2,4,8", languages=["eng", "fra"]))
    model = MaskedPredictionModel(MaskedUpstream(upstream), HubertHead(get_shape("tiny").hidden, 20)).train()
    lengths = torch.tensor([8000, 6000])
    frames = model.encoder.frame_lengths(lengths)
    labels = torch.randint(0, 20, (2, int(frames.max())))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, stats, _ = model(torch.randn(2, 8000), lengths, labels, frames, lang=torch.tensor([0, 1]))
    assert loss.dtype == torch.float32 and torch.isfinite(loss).all()
    assert all(value.dtype == torch.float32 for value in stats.values())
    loss.backward()
