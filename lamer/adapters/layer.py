"""A frozen linear layer plus a mixture of LoRA experts: shared experts and routed experts."""
from __future__ import annotations

import torch
from torch import nn

from lamer.adapters.experts import ExpertBank
from lamer.adapters.router import Router


class LamerLinear(nn.Module):
    """``y = base(x) + s * shared(x) + (1 - s) * sum_e g_e(x) * expert_e(x)``.

    ``s = sigmoid(balance)`` is learned when the layer has both shared and routed experts
    (1 or 0 when it has only one kind). The gates ``g`` come from the router; a layer with a
    single routed expert needs no router. The base layer's parameters stay frozen.
    """

    def __init__(self, base_layer: nn.Linear, shared: ExpertBank | None, routed: ExpertBank | None,
                 router: Router | None) -> None:
        super().__init__()
        if shared is None and routed is None:
            raise ValueError("LamerLinear needs shared or routed experts")
        if routed is not None and routed.num_experts > 1 and router is None:
            raise ValueError("several routed experts need a router")
        self.base_layer = base_layer
        self.shared, self.routed, self.router = shared, routed, router
        self.balance = nn.Parameter(torch.zeros(())) if shared is not None and routed is not None else None
        self.in_features, self.out_features = base_layer.in_features, base_layer.out_features

    @property
    def weight(self) -> torch.Tensor:
        return self.base_layer.weight

    @property
    def bias(self) -> torch.Tensor | None:
        return self.base_layer.bias

    @property
    def num_experts(self) -> int:
        return sum(bank.num_experts for bank in (self.shared, self.routed) if bank is not None)

    def shared_share(self) -> torch.Tensor:
        """The weight ``s`` of the shared experts against the routed ones."""
        if self.balance is not None:
            return torch.sigmoid(self.balance)
        return torch.ones(()) if self.shared is not None else torch.zeros(())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base_layer(x)
        s = self.shared_share()
        if self.shared is not None:
            y = y + self.shared(x) * (s / self.shared.num_experts)
        if self.routed is not None:
            gates = self.router(x) if self.router is not None else None
            y = y + self.routed(x, gates) * (1 - s)
        return y

    def static_gates(self, language_index: int | None = None) -> torch.Tensor | None:
        """Routed-expert weights that do not depend on the frame, or None when they do.

        They exist with a single routed expert, with language routing once the language is
        known, and with oracle routing (its uniform mix when the language is not given); these
        are the cases where merging into the base weight is exact.
        """
        if self.routed is None or self.router is None:
            return None if self.routed is None else torch.ones(1)
        if self.router.mode in ("language", "oracle") and language_index is not None:
            return self.router.language_weights(language_index)
        if self.router.mode == "oracle":
            return torch.full((self.routed.num_experts,), 1.0 / self.routed.num_experts)
        return None

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, experts={self.num_experts}"
