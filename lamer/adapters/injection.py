"""Patch an SSL model in place: wrap target linear layers with Lamer experts, freeze the rest."""
from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from lamer.adapters.allocation import experts_per_layer
from lamer.adapters.config import ROUTING_OPTIONS, LamerConfig
from lamer.adapters.experts import ExpertBank
from lamer.adapters.families import LayerStyle, find_layers, layer_style
from lamer.adapters.layer import LamerLinear
from lamer.adapters.router import Router, RoutingContext, UsageAccumulator


@dataclass
class PatchState:
    """What a patched model remembers about its patch (shared by all its LamerLinear)."""

    config: LamerConfig
    style: str
    depth: int
    counts: list[int]
    context: RoutingContext
    modules: dict[int, list[str]] = field(default_factory=dict)


def _layer_range(key: str, depth: int) -> range:
    match = re.fullmatch(r"\s*(\d+)\s*(-\s*(\d*)\s*)?", str(key))
    if not match:
        raise ValueError(f"layer_targets key {key!r}: expected 'N', 'N-M' or 'N-' (layer indices from 0)")
    first = int(match.group(1))
    if match.group(2) is None:
        last = first
    else:
        last = int(match.group(3)) if match.group(3) else depth - 1
    if not 0 <= first <= last < depth:
        raise ValueError(f"layer_targets key {key!r}: layers {first}-{last} are outside 0-{depth - 1}")
    return range(first, last + 1)


def targets_per_layer(config: LamerConfig, depth: int) -> list[list[str]]:
    """The target names (aliases or patterns) of every layer, overrides applied."""
    per_layer = [list(config.targets) for _ in range(depth)]
    for key, targets in config.layer_targets.items():
        for i in _layer_range(key, depth):
            per_layer[i] = list(targets)
    return per_layer


def patched_modules(model: nn.Module) -> Iterator[tuple[int, str, LamerLinear]]:
    """(layer index, name inside the layer, module) of every Lamer-wrapped linear layer."""
    _, layers = find_layers(model)
    for index, layer in enumerate(layers):
        for name, module in layer.named_modules():
            if isinstance(module, LamerLinear):
                yield index, name, module


def patch_state(model: nn.Module) -> PatchState | None:
    """The patch state of a model, or None if it is not patched."""
    for _, _, module in patched_modules(model):
        return module.state
    return None


def _select(layer: nn.Module, patterns: list[str], index: int) -> list[str]:
    linear = [n for n, m in layer.named_modules() if isinstance(m, nn.Linear) and n]
    chosen = []
    for pattern in patterns:
        hits = [n for n in linear if re.fullmatch(pattern, n)]
        if not hits:
            raise ValueError(f"target {pattern!r} matches no linear layer in layer {index}; "
                             f"its linear layers are {linear}")
        chosen.extend(h for h in hits if h not in chosen)
    return chosen


@dataclass
class Patch:
    """A Lamer patch built beside a model that it does not change yet (see :func:`build_patch`).

    ``wrappers``: (layer index, layer, name inside the layer, wrapper) of every target;
    ``attention``: the attention modules to switch to their module path.
    """

    state: PatchState
    style: LayerStyle
    wrappers: list[tuple[int, nn.Module, str, LamerLinear]]
    attention: list[nn.Module]

    def parameters(self) -> dict[str, nn.Parameter]:
        """The wrappers' Lamer parameters under the keys :func:`adapter_parameters` gives them once installed."""
        return _lamer_parameters((index, name, wrapper) for index, _, name, wrapper in self.wrappers)


def _check_rank(base: nn.Linear, config: LamerConfig, n_shared: int, n_routed: int, key: str) -> None:
    """A LoRA rank above the layer's width adds nothing but memory: refuse it before allocating."""
    width = min(base.in_features, base.out_features)
    for option, rank, used in (("rank", config.rank, n_routed),
                               ("shared_rank" if config.shared_rank is not None else "rank",
                                config.effective_shared_rank, n_shared)):
        if used and rank > width:
            raise ValueError(f"{option}: {rank} is above the width of {key} ({base.in_features} -> "
                             f"{base.out_features}); a LoRA rank is at most min(in_features, out_features) = "
                             f"{width}: lower {option!r}")


def build_patch(model: nn.Module, config: LamerConfig) -> Patch:
    """Build what :func:`apply_lamer` installs, leaving ``model`` as it is.

    Every check comes first (model not yet patched, targets, attention, each rank against the
    width of its layer), then the experts are allocated. Raises ValueError naming the layer
    and option at fault.
    """
    if patch_state(model) is not None:
        raise ValueError("model is already patched with Lamer adapters")
    _, layers = find_layers(model)
    style = layer_style(layers[0])
    depth = len(layers)
    counts = experts_per_layer(config.allocation, depth)
    context = RoutingContext(batch_axis=style.batch_axis, languages=list(config.languages))
    state = PatchState(config=config, style=style.name, depth=depth, counts=counts, context=context)
    targets, attention = [], []
    for index, (layer, count, patterns) in enumerate(zip(layers, counts, targets_per_layer(config, depth))):
        if count == 0:
            continue
        names = _select(layer, style.expand(patterns), index)
        if any(re.match(style.attention_pattern, n) for n in names):
            owner = layer.get_submodule(style.attention_owner)
            problem = style.attention_problem(owner)
            if problem:
                raise ValueError(f"layer {index}: cannot patch attention projections: {problem}; "
                                 "patch the feed-forward layers instead (targets: [ffn])")
            attention.append(owner)
        n_shared = min(config.shared_experts, count)
        for name in names:
            _check_rank(layer.get_submodule(name), config, n_shared, count - n_shared, f"layers.{index}.{name}")
        targets.extend((index, layer, name, n_shared, count - n_shared) for name in names)
        state.modules[index] = names
    wrappers = []
    for index, layer, name, n_shared, n_routed in targets:
        wrapper = _wrap(layer.get_submodule(name), config, n_shared, n_routed, context, (index, name))
        wrapper.state = state
        wrappers.append((index, layer, name, wrapper))
    return Patch(state, style, wrappers, attention)


def install_patch(model: nn.Module, patch: Patch) -> PatchState:
    """Freeze every base parameter of ``model`` and put the wrappers of ``patch`` in place."""
    for param in model.parameters():
        param.requires_grad_(False)
    for owner in patch.attention:
        patch.style.use_attention_modules(owner)
    for _, layer, name, wrapper in patch.wrappers:
        parent, _, child = name.rpartition(".")
        setattr(layer.get_submodule(parent) if parent else layer, child, wrapper)
    return patch.state


def apply_lamer(model: nn.Module, config: LamerConfig) -> PatchState:
    """Patch ``model`` in place with Lamer experts and freeze every base parameter.

    Returns the patch state; ``parameter_report(model)`` summarises it. Raises ValueError
    when the model is already patched, a target matches nothing, a rank exceeds the width of
    its layer, or attention targets are asked for on an attention that would bypass the
    adapters; the model is then left unchanged.
    """
    return install_patch(model, build_patch(model, config))


def _wrap(base: nn.Linear, config: LamerConfig, n_shared: int, n_routed: int, context: RoutingContext,
          key: tuple[int, str]) -> LamerLinear:
    args = (base.in_features, base.out_features)
    shared = routed = router = None
    if n_shared:
        r = config.effective_shared_rank
        shared = ExpertBank(*args, n_shared, r, config.alpha / r, config.dropout)
    if n_routed:
        routed = ExpertBank(*args, n_routed, config.rank, config.alpha / config.rank, config.dropout)
    if n_routed > 1:
        router = Router.from_config(config, base.in_features, n_routed, context, key)
    wrapper = LamerLinear(base, shared, routed, router)
    return wrapper.to(device=base.weight.device, dtype=base.weight.dtype)


def _lamer_parameters(modules: Iterable[tuple[int, str, LamerLinear]]) -> dict[str, nn.Parameter]:
    out = {}
    for index, name, module in modules:
        for pname, param in module.named_parameters():
            if not pname.startswith("base_layer."):
                out[f"layers.{index}.{name}.{pname}"] = param
    return out


def adapter_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """The trainable Lamer parameters, keyed ``layers.<i>.<module>.<param>`` (nesting-free)."""
    return _lamer_parameters(patched_modules(model))


def total_rank(model: nn.Module) -> int:
    """The sum of the ranks of every expert of every patched module, shared and routed: the LoRA
    capacity of a patch, which a budget-matched comparison holds equal besides the parameter count."""
    return sum(bank.num_experts * bank.rank for _, _, module in patched_modules(model)
               for bank in (module.shared, module.routed) if bank is not None)


def parameter_report(model: nn.Module) -> dict:
    """Parameter counts of a patched model: total, trainable, share, experts per layer, total rank
    (:func:`total_rank`), targets."""
    state = patch_state(model)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    report = {
        "total_params": total,
        "trainable_params": trainable,
        "trainable_percent": round(100.0 * trainable / total, 4) if total else 0.0,
        "adapter_params": sum(p.numel() for p in adapter_parameters(model).values()),
    }
    if state is not None:
        report.update({
            "experts_per_layer": list(state.counts),
            "total_rank": total_rank(model),
            "targets": sorted({n for names in state.modules.values() for n in names}),
            "targets_per_layer": {str(i): names for i, names in sorted(state.modules.items())},
            "allocation": state.config.allocation,
            "rank": state.config.rank,
            "router": state.config.router,
            **{key: getattr(state.config, key) for key in ROUTING_OPTIONS},
            "shared_experts": state.config.shared_experts,
        })
    return report


def routing_losses(model: nn.Module) -> dict[str, torch.Tensor]:
    """The weighted routing losses of the latest forward pass, each averaged over routers, then cleared.

    ``{"balance": load_balance_weight * balance loss, "specialise": specialise_weight *
    specialisation loss}``, each only when some router computed it (weight > 0, training mode,
    and for ``specialise`` the batch's language ids given through :func:`routing_languages`).
    """
    state = patch_state(model)
    if state is None:
        return {}
    ctx, config = state.context, state.config
    out = {}
    for name, losses, weight in (("balance", ctx.aux_losses, config.load_balance_weight),
                                 ("specialise", ctx.specialise_losses, config.specialise_weight)):
        if losses:
            out[name] = torch.stack(list(losses.values())).mean() * weight
            losses.clear()
    return out


def aux_loss(model: nn.Module) -> torch.Tensor:
    """The sum of :func:`routing_losses` (0 when there is none), which it clears."""
    losses = routing_losses(model)
    return torch.stack(list(losses.values())).sum() if losses else torch.zeros(())


def router_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The routers' parameters (gates, or language logit tables) of a patched model."""
    return [param for _index, _name, module in patched_modules(model) if module.router is not None
            for param in module.router.parameters()]


def _require_state(model: nn.Module) -> PatchState:
    state = patch_state(model)
    if state is None:
        raise ValueError("model has no Lamer adapters (apply_lamer or load_adapters first)")
    return state


@contextlib.contextmanager
def routing_languages(model: nn.Module, lang_ids: torch.Tensor | list[str] | None) -> Iterator[None]:
    """Tell the routers the language of each utterance of the batch (codes or indices)."""
    ctx = _require_state(model).context
    if lang_ids is not None and not isinstance(lang_ids, torch.Tensor):
        lang_ids = torch.tensor([ctx.language_index(code) for code in lang_ids], dtype=torch.long)
    previous, ctx.lang_ids = ctx.lang_ids, lang_ids
    try:
        yield
    finally:
        ctx.lang_ids = previous


@contextlib.contextmanager
def track_expert_usage(model: nn.Module) -> Iterator[UsageAccumulator]:
    """Accumulate router weights per layer and language while the block runs.

    ``usage.mean_per_layer()`` then gives ``{layer: {language: [mean weight per expert]}}``
    over routed experts (language ``all`` when no language ids were given).
    """
    ctx = _require_state(model).context
    usage = UsageAccumulator()
    previous, ctx.usage = ctx.usage, usage
    try:
        yield usage
    finally:
        ctx.usage = previous
