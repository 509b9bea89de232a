"""The HuBERT prediction head and masked-prediction loss."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


class HubertHead(nn.Module):
    """Project frames to ``final_dim`` and score them against one embedding per k-means class.

    Logits are cosine similarities divided by ``temperature`` (0.1 in HuBERT). Under mixed
    precision (ESPnet's ``--use_amp``) the projection runs in the autocast type, the cosines and
    logits in float32: in bfloat16 a logit near 1/temperature = 10 is only good to about 0.06.
    """

    def __init__(self, hidden: int, num_classes: int, final_dim: int = 256, temperature: float = 0.1) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2 (the k-means codebook size), got {num_classes}")
        if temperature <= 0:
            raise ValueError(f"logit temperature must be > 0, got {temperature}")
        self.final_proj = nn.Linear(hidden, final_dim)
        self.label_embeddings = nn.Parameter(torch.empty(num_classes, final_dim).uniform_())
        self.temperature = temperature

    @property
    def num_classes(self) -> int:
        return self.label_embeddings.shape[0]

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """(..., hidden) -> (..., num_classes) float32 logits."""
        proj = self.final_proj(frames)
        with torch.autocast(device_type=proj.device.type, enabled=False):
            proj = F.normalize(proj.float(), dim=-1)
            return proj @ F.normalize(self.label_embeddings.float(), dim=-1).t() / self.temperature


@dataclass
class PredictionLoss:
    """Cross-entropy on masked and unmasked frames, with accuracies (all scalars)."""

    loss: torch.Tensor
    masked: torch.Tensor
    unmasked: torch.Tensor
    acc_masked: torch.Tensor
    acc_unmasked: torch.Tensor


def masked_prediction_loss(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor,
                           valid: torch.Tensor, unmasked_weight: float = 0.0) -> PredictionLoss:
    """HuBERT's loss: mean CE over masked frames plus ``unmasked_weight`` x mean CE over the others.

    logits (B, T, K), labels (B, T) long, mask / valid (B, T) bool (valid excludes padding). The
    softmax and the means are float32 whatever the logits' type (mixed precision).
    """
    logits = logits.float()
    with torch.autocast(device_type=logits.device.type, enabled=False):
        ce = F.cross_entropy(logits.transpose(1, 2), labels.clamp(min=0), reduction="none")
    right = (logits.argmax(-1) == labels).float()

    def mean(values: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        return (values * where).sum() / where.sum().clamp(min=1)

    on, off = mask & valid, ~mask & valid
    masked, unmasked = mean(ce, on), mean(ce, off)
    loss = masked + unmasked_weight * unmasked if unmasked_weight else masked
    return PredictionLoss(loss, masked.detach(), unmasked.detach(), mean(right, on), mean(right, off))
