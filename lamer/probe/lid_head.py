"""The utterance-level language classifier of the probe: statistics pooling, then one linear layer.

It reads the frontend's frame features (the learned weighted sum of the SSL layers) and pools
them over the valid frames of each utterance: the mean and the standard deviation per dimension,
padded frames masked out, so an utterance's logits do not depend on what it is batched with.
"""
from __future__ import annotations

import torch

STD_FLOOR = 1e-5  # keeps the square root's gradient finite for a constant (or one-frame) feature


def valid_frames(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    """``(batch, frames, 1)`` float mask: 1 on each utterance's first ``lengths[i]`` frames."""
    steps = torch.arange(frames, device=lengths.device)
    return (steps[None, :] < lengths[:, None]).unsqueeze(-1).float()


def masked_mean_std(feats: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``(batch, 2 * dim)``: mean and standard deviation of ``feats`` (batch, frames, dim) over
    the valid frames of each utterance (``lengths``, at least one frame each)."""
    if feats.dim() != 3 or lengths.shape != feats.shape[:1]:
        raise ValueError(f"expected feats (batch, frames, dim) and lengths (batch,), got {tuple(feats.shape)} "
                         f"and {tuple(lengths.shape)}")
    if bool((lengths < 1).any()):
        raise ValueError(f"every utterance needs at least one frame, got lengths {lengths.tolist()}")
    mask = valid_frames(lengths, feats.size(1)).to(feats.dtype)
    count = lengths.to(feats.dtype)[:, None]
    mean = (feats * mask).sum(1) / count
    variance = (((feats - mean[:, None, :]) * mask) ** 2).sum(1) / count
    return torch.cat([mean, variance.clamp_min(STD_FLOOR ** 2).sqrt()], dim=-1)


class LanguageHead(torch.nn.Module):
    """Mean and std pooling over valid frames, layer normalisation, then a linear layer to
    ``num_languages`` logits. The normalisation puts the pooled statistics on one scale whatever
    their source: without it the demo probe's classifier stayed at chance on its training set.

    ``hidden`` > 0 puts a frame-level layer (linear, ReLU, ``hidden`` units) before the pooling,
    as x-vector extractors do: the statistics are then of features learned for the language
    rather than of whatever the input (a probe trained mainly for CTC) happens to carry.
    """

    def __init__(self, input_size: int, num_languages: int, hidden: int = 0):
        super().__init__()
        if input_size < 1 or num_languages < 1 or hidden < 0:
            raise ValueError(f"input_size and num_languages must be positive and hidden >= 0, got {input_size}, "
                             f"{num_languages}, {hidden}")
        self.frame = (torch.nn.Sequential(torch.nn.Linear(input_size, hidden), torch.nn.ReLU()) if hidden
                      else torch.nn.Identity())
        pooled = 2 * (hidden or input_size)
        self.norm = torch.nn.LayerNorm(pooled)
        self.linear = torch.nn.Linear(pooled, num_languages)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``(batch, num_languages)`` logits of ``feats`` (batch, frames, input_size)."""
        return self.linear(self.norm(masked_mean_std(self.frame(feats), lengths)))
