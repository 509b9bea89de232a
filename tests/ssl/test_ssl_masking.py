"""Span masking and the masked-prediction loss."""
from __future__ import annotations

import pytest
import torch

from lamer.ssl.head import HubertHead, masked_prediction_loss
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
