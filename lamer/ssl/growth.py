"""Stage chaining with new experts: freeze the experts of earlier stages, add fresh ones.

A patched model grows by ``new_experts`` routed experts in every patched module. New experts
start with ``B = 0`` (they add nothing until trained); the router gains one gate row per new
expert, so the routing of a layer changes a little as the softmax is renormalised. The grown
layout is written back into the patch state as a ``steps:`` allocation, so ``save_adapters``
/ ``load_adapters`` handle a grown model like any other.

Frozen experts are kept fixed by zeroing their gradients: with a zero gradient Adam-style
optimisers leave a weight alone unless weight decay is on, which ``check_optimizer`` refuses.
"""
from __future__ import annotations

import dataclasses

import torch
from torch import nn

from lamer.adapters import patch_state, patched_modules
from lamer.adapters.experts import ExpertBank
from lamer.adapters.router import Router


def _grown_bank(old: ExpertBank | None, new_experts: int, base: nn.Linear, rank: int, scaling: float,
                dropout: float) -> ExpertBank:
    count = (old.num_experts if old is not None else 0) + new_experts
    bank = ExpertBank(base.in_features, base.out_features, count, rank, scaling, dropout)
    bank = bank.to(device=base.weight.device, dtype=base.weight.dtype)
    if old is not None:
        keep = old.num_experts * old.rank
        with torch.no_grad():
            bank.lora_A[:keep] = old.lora_A
            bank.lora_B[:, :keep] = old.lora_B
    return bank


def _freeze_rows(param: nn.Parameter, count: int, dim: int) -> None:
    def zero_old(grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        grad.narrow(dim, 0, count).zero_()
        return grad

    param.register_hook(zero_old)


def grow_experts(model: nn.Module, new_experts: int, freeze_previous: bool = True) -> list[int]:
    """Add ``new_experts`` routed experts to every patched module of ``model``; returns experts per layer.

    With ``freeze_previous`` the existing experts (shared and routed) stop training; routers,
    balances and the new experts train.
    """
    state = patch_state(model)
    if state is None:
        raise ValueError("grow_experts: the model has no Lamer adapters (load the previous stage's first)")
    if new_experts < 1:
        raise ValueError(f"grow_experts: new_experts must be >= 1, got {new_experts}")
    config = state.config
    for index, name, module in list(patched_modules(model)):
        old = module.routed
        old_count = old.num_experts if old is not None else 0
        module.routed = _grown_bank(old, new_experts, module.base_layer, config.rank, config.alpha / config.rank,
                                    config.dropout)
        router = Router.from_config(config, module.in_features, module.routed.num_experts, state.context,
                                    (index, name))
        if module.router is not None and config.router != "oracle":  # an oracle router has nothing to keep
            with torch.no_grad():
                if config.router == "language":
                    router.language_logits[:, :old_count] = module.router.language_logits
                else:
                    router.gate.weight[:old_count] = module.router.gate.weight
        module.router = router.to(module.base_layer.weight.device)
        if module.shared is not None and module.balance is None:
            module.balance = nn.Parameter(torch.zeros((), device=module.base_layer.weight.device))
        if freeze_previous:
            if module.shared is not None:
                module.shared.requires_grad_(False)
            if old_count:
                _freeze_rows(module.routed.lora_A, old_count * config.rank, 0)
                _freeze_rows(module.routed.lora_B, old_count * config.rank, 1)
    state.counts = [c + new_experts if c else 0 for c in state.counts]
    state.config = dataclasses.replace(config, allocation="steps:" + ",".join(map(str, state.counts)))
    return list(state.counts)


def check_optimizer(optim_conf: dict) -> None:
    """Refuse weight decay while earlier experts are frozen by gradient masking (decay would move them)."""
    if float(optim_conf.get("weight_decay", 0.0) or 0.0) > 0:
        raise ValueError("freeze_previous_experts needs optim_conf.weight_decay 0: decay would change "
                         "the frozen experts of earlier stages")
