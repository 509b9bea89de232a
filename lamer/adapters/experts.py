"""A bank of E LoRA experts of rank r for one linear layer, computed in one batch.

The E experts are one rank-(E*r) LoRA whose inner activations are scaled per expert:
``y = B_cat @ (g ⊗ 1_r * (A_cat @ x))``, two matrix products whatever E is, no loop over
experts. ``B`` starts at zero, so a freshly patched layer computes exactly what the base
layer computes.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class ExpertBank(nn.Module):
    """E LoRA experts ``x -> B_e A_e x`` of rank ``rank`` mapping ``in_features`` to ``out_features``.

    Parameters are stored flat: ``lora_A`` is (E*r, in), ``lora_B`` is (out, E*r), rows and
    columns grouped by expert, so the batched product needs no reshaping.
    """

    def __init__(self, in_features: int, out_features: int, num_experts: int, rank: int,
                 scaling: float = 1.0, dropout: float = 0.0) -> None:
        super().__init__()
        if num_experts < 1 or rank < 1:
            raise ValueError(f"ExpertBank needs num_experts >= 1 and rank >= 1, got {num_experts}, {rank}")
        self.in_features, self.out_features = in_features, out_features
        self.num_experts, self.rank, self.scaling = num_experts, rank, scaling
        self.lora_A = nn.Parameter(torch.empty(num_experts * rank, in_features))
        self.lora_B = nn.Parameter(torch.zeros(out_features, num_experts * rank))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Each expert's A as a fresh nn.Linear would be (kaiming-uniform, a=sqrt(5)): the
        # bound depends on in_features only, so one draw over the stacked matrix is the same.
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B)

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Mix the experts' outputs.

        x: (..., in_features). weights: (..., E) per-frame expert weights, or None for all
        experts at weight 1. Returns (..., out_features), already multiplied by ``scaling``.
        """
        h = F.linear(self.dropout(x), self.lora_A)
        if weights is not None:
            h = h * weights.repeat_interleave(self.rank, dim=-1)
        return F.linear(h, self.lora_B) * self.scaling

    def forward_loop(self, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """The same result computed expert by expert: a reference for tests and benchmarks."""
        x = self.dropout(x)
        out = x.new_zeros(*x.shape[:-1], self.out_features)
        for e in range(self.num_experts):
            rows = slice(e * self.rank, (e + 1) * self.rank)
            y = F.linear(F.linear(x, self.lora_A[rows]), self.lora_B[:, rows])
            out = out + (y if weights is None else y * weights[..., e:e + 1])
        return out * self.scaling

    def delta_weight(self, weights: torch.Tensor | None = None) -> torch.Tensor:
        """The (out, in) matrix this bank adds to the base weight under fixed expert weights (E,)."""
        a = self.lora_A
        if weights is not None:
            a = a * weights.repeat_interleave(self.rank).unsqueeze(1)
        return (self.lora_B @ a) * self.scaling

    def extra_repr(self) -> str:
        return (f"in={self.in_features}, out={self.out_features}, experts={self.num_experts}, "
                f"rank={self.rank}, scaling={self.scaling:g}")
