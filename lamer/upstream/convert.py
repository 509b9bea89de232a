"""Move an upstream between s3prl's and transformers' model classes, adapters included.

The encoder's weights are renamed (see :mod:`lamer.upstream.naming`); a model patched with
Lamer adapters is patched again on the other side with the same config and its adapter
tensors copied under the other side's module names, so the outputs stay the same.
"""
from __future__ import annotations

import copy
import dataclasses

import torch

from lamer.upstream.head import HEAD_KEYS, drop_head, label_symbols
from lamer.upstream.loader import LoadedUpstream, disable_training_noise
from lamer.upstream.naming import HF_MODEL_CLASSES, counterparts, fairseq_cfg_from_hf, hf_config_from_fairseq
from lamer.upstream.s3prl_format import build_s3prl_model, config_defaults
from lamer.upstream.weights import load_checked, translate

DEFAULT_LABELS = 100  # k-means classes of a new HuBERT head (as in the presets)


def base_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The SSL model's own tensors under their unpatched names (adapters left out)."""
    from lamer.adapters.checkpoint import base_parameters

    return {name: param.detach() for name, param in base_parameters(model).items()}


def _to_hf(loaded: LoadedUpstream) -> LoadedUpstream:
    import transformers

    try:
        config = hf_config_from_fairseq(loaded.arch, loaded.model_config, config_defaults(loaded.arch))
    except ValueError as err:
        raise ValueError(f"{loaded.source}: cannot express this model in transformers: {err}") from None
    model = getattr(transformers, HF_MODEL_CLASSES[loaded.arch])(config)
    target = model.state_dict()
    weights = translate(base_weights(loaded.model), "fairseq", set(target), loaded.source)
    load_checked(model, weights, loaded.source, optional={"masked_spec_embed"})
    return dataclasses.replace(loaded, model=disable_training_noise(model), family=f"hf_{loaded.arch}",
                               model_config=config.to_dict())


def _to_s3prl(loaded: LoadedUpstream) -> LoadedUpstream:
    head = loaded.head
    final_dim = 0
    if head is not None:
        final_dim = head.final_proj_weight.shape[0] // (len(head.symbols) if head.untie_final_proj else 1)
    try:
        task_cfg, model_cfg = fairseq_cfg_from_hf(loaded.arch, loaded.model.config, loaded.normalize, final_dim)
    except ValueError as err:
        raise ValueError(f"{loaded.source}: cannot express this model in s3prl: {err}") from None
    if head is not None:
        model_cfg.update(untie_final_proj=head.untie_final_proj, logit_temp=head.logit_temperature)
    symbols = head.symbols if head is not None else [[str(i) for i in range(DEFAULT_LABELS)]]
    model = build_s3prl_model(loaded.arch, task_cfg, model_cfg, symbols if loaded.arch == "hubert" else None)
    target = model.state_dict()
    weights = translate(base_weights(loaded.model), "hf", set(target), loaded.source)
    if head is not None and loaded.arch == "hubert":
        weights.update(head.state_dict())
    if head is None and loaded.arch == "hubert":  # what the source does not have is not made up
        target = drop_head(model).state_dict()
    fresh = {k for k in target if k in ("mask_emb", *HEAD_KEYS) or k.startswith(("project_q.", "quantizer."))}
    load_checked(model, weights, loaded.source, optional=fresh)
    return dataclasses.replace(loaded, model=disable_training_noise(model), family=f"s3prl_{loaded.arch}",
                               task_config=task_cfg, model_config=model_cfg)


def _new_model(loaded: LoadedUpstream) -> torch.nn.Module:
    """A new model of ``loaded``'s class and configuration, as its class initialises it."""
    if loaded.family.startswith("hf_"):
        return type(loaded.model)(copy.deepcopy(loaded.model.config))
    symbols, headless = None, False
    if loaded.arch == "hubert":
        headless = loaded.model.label_embs_concat is None
        symbols = loaded.head.symbols if loaded.head is not None else label_symbols(loaded.model, DEFAULT_LABELS)
    model = build_s3prl_model(loaded.arch, loaded.task_config, loaded.model_config, symbols)
    return drop_head(model) if headless else model


def _fresh_copy(loaded: LoadedUpstream) -> LoadedUpstream:
    """A new model of the same class with the same base weights (no deepcopy: s3prl's
    weight-normed convs cannot be deep-copied before their first forward)."""
    model = _new_model(loaded)
    load_checked(model, base_weights(loaded.model), loaded.source)
    return dataclasses.replace(loaded, model=disable_training_noise(model))


def random_copy(loaded: LoadedUpstream, seed: int) -> LoadedUpstream:
    """The random-init reference of ``loaded``: a model of its class and configuration (front end,
    depth, width) whose weights are the class's own initialisation drawn from ``seed``, so that a
    probe on it measures what the architecture gives without pre-training. Adapters are not carried
    (ValueError on a patched model): the reference is of the base model."""
    from lamer.adapters import patch_state

    if patch_state(loaded.model) is not None:
        raise ValueError(f"{loaded.source}: the random-init reference is of a base model; export it without adapters")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _new_model(loaded)
    return dataclasses.replace(loaded, model=disable_training_noise(model),
                               source=f"{loaded.source} (re-initialised: random weights, seed {seed})")


def _module_name(name: str, layer: int, side: str | None) -> str:
    """A linear module's name inside transformer layer ``layer`` on the other side (None: same side)."""
    if side is None:
        return name
    prefix = f"encoder.layers.{layer}."
    names = counterparts(f"{prefix}{name}.weight", side)
    if not names:
        raise ValueError(f"adapted module {name!r} of layer {layer} has no counterpart")
    return names[0][len(prefix):-len(".weight")]


def _carry_adapters(source: torch.nn.Module, target: torch.nn.Module, side: str | None) -> None:
    from lamer.adapters import adapter_parameters, apply_lamer, patch_state

    state = patch_state(source)
    try:
        new_state = apply_lamer(target, state.config)
    except ValueError as err:
        raise ValueError(f"cannot re-apply the adapters on the converted model ({err}); style-specific target "
                         "patterns do not carry over, use the aliases ffn / attn / attn_qv") from None
    renamed = {i: [_module_name(n, i, side) for n in names] for i, names in state.modules.items()}
    if {i: sorted(n) for i, n in renamed.items()} != {i: sorted(n) for i, n in new_state.modules.items()}:
        raise ValueError(f"adapted modules differ after conversion: {state.modules} became {new_state.modules}")
    params = adapter_parameters(target)
    with torch.no_grad():
        for key, value in adapter_parameters(source).items():
            _, layer, rest = key.split(".", 2)
            for name in state.modules[int(layer)]:
                if rest.startswith(name + "."):
                    params[f"layers.{layer}.{_module_name(name, int(layer), side)}.{rest[len(name) + 1:]}"].copy_(value)
                    break


def convert_upstream(loaded: LoadedUpstream, family: str, fresh: bool = False) -> LoadedUpstream:
    """``loaded`` as a model of ``family`` (same architecture), adapters included.

    Already of that family: ``loaded`` itself, or with ``fresh`` a new, independent copy.
    Raises ValueError when the architectures differ or the model cannot be expressed in the
    other implementation (see :mod:`lamer.upstream.naming`).
    """
    impl, _, arch = family.partition("_")
    if arch != loaded.arch or impl not in ("s3prl", "hf"):
        raise ValueError(f"{loaded.source}: cannot convert a {loaded.family} model into {family} "
                         "(conversion keeps the architecture: s3prl_<arch> <-> hf_<arch>)")
    from lamer.adapters import patch_state

    if family == loaded.family:
        if not fresh:
            return loaded
        converted, side = _fresh_copy(loaded), None
    elif impl == "hf":
        converted, side = _to_hf(loaded), "fairseq"
    else:
        converted, side = _to_s3prl(loaded), "hf"
    if patch_state(loaded.model) is not None:
        _carry_adapters(loaded.model, converted.model, side)
    return converted
