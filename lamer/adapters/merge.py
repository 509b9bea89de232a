"""Fold adapters into the base weights where that is exact, for inference at no extra cost."""
from __future__ import annotations

import torch
from torch import nn

from lamer.adapters.families import find_layers
from lamer.adapters.injection import patch_state, patched_modules
from lamer.adapters.layer import LamerLinear


def merged_delta(module: LamerLinear, language_index: int | None = None) -> torch.Tensor | None:
    """The exact (out, in) weight change of a patched layer, or None if routing is per frame."""
    s = module.shared_share()
    delta = torch.zeros_like(module.base_layer.weight)
    if module.shared is not None:
        delta = delta + module.shared.delta_weight() * (s / module.shared.num_experts)
    if module.routed is not None:
        gates = module.static_gates(language_index)
        if gates is None:
            return None
        delta = delta + module.routed.delta_weight(gates) * (1 - s)
    return delta


def merge_adapters(model: nn.Module, language: str | None = None) -> nn.Module:
    """Replace every Lamer layer of ``model`` by a plain ``nn.Linear`` with the adapters folded in.

    Exact when each layer's routing does not depend on the frame: a single routed expert,
    shared experts only, or language routing with ``language`` given. Raises ValueError
    (and changes nothing) when some layer routes per frame. Returns ``model``.
    """
    state = patch_state(model)
    if state is None:
        raise ValueError("model has no Lamer adapters to merge")
    index = state.context.language_index(language) if language is not None else None
    modules = list(patched_modules(model))
    with torch.no_grad():
        deltas = [merged_delta(module, index) for _, _, module in modules]
    per_frame = [f"{layer}:{name}" for (layer, name, _), d in zip(modules, deltas) if d is None]
    if per_frame:
        hint = (" (language routing: pass language=...)" if state.config.router == "language"
                else f" ({state.config.router} routing mixes experts per frame)")
        raise ValueError(f"cannot merge exactly: layers {', '.join(per_frame[:4])}"
                         f"{'...' if len(per_frame) > 4 else ''} route per frame{hint}")
    _, layers = find_layers(model)
    with torch.no_grad():
        for (layer_index, name, module), delta in zip(modules, deltas):
            base = module.base_layer
            base.weight.add_(delta.to(base.weight.dtype))
            parent, _, child = name.rpartition(".")
            layer = layers[layer_index]
            setattr(layer.get_submodule(parent) if parent else layer, child, base)
    return model
