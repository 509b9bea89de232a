"""HuBERT / wav2vec 2.0 span masking of encoder input frames."""
from __future__ import annotations

import torch


def span_mask(frame_lengths: torch.Tensor, max_frames: int, mask_prob: float, span: int,
              min_spans: int = 2, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random spans to mask, as a (B, max_frames) bool tensor (True = masked).

    Like HuBERT: each utterance of ``n`` valid frames gets ``round_random(mask_prob * n / span)``
    span starts (at least ``min_spans``) drawn uniformly from its valid frames; spans are
    ``span`` frames long, may overlap, and never reach into padding. With overlaps the masked
    share is below ``mask_prob`` (about 65% of frames for 0.8 and span 10, as in HuBERT).
    Draws come from ``generator`` or torch's global RNG, so a seeded run is reproducible.
    """
    if not 0.0 <= mask_prob <= 1.0:
        raise ValueError(f"mask_prob must be in [0, 1], got {mask_prob}")
    if span < 1:
        raise ValueError(f"mask span must be >= 1 frame, got {span}")
    batch = frame_lengths.shape[0]
    mask = torch.zeros(batch, max_frames, dtype=torch.bool)
    if mask_prob == 0.0:
        return mask
    offsets = torch.arange(span)
    for i, n in enumerate(frame_lengths.tolist()):
        length = min(span, n)
        if length < 1:
            continue
        expected = mask_prob * n / length
        count = int(expected + torch.rand((), generator=generator).item())
        count = min(max(count, min_spans), n - length + 1)
        starts = torch.randint(0, n - length + 1, (count,), generator=generator)
        mask[i, (starts[:, None] + offsets[None, :length]).reshape(-1)] = True
    return mask
