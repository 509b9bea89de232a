"""What the patcher must know about each kind of SSL transformer it can patch.

Two layer styles cover the upstreams we support:

- ``fairseq``: s3prl's HuBERT / wav2vec2 / WavLM layers (fairseq code): FFN ``fc1`` /
  ``fc2``, attention ``self_attn.{q,k,v,out}_proj``; activations are time-major (T, B, C).
- ``hf``: transformers' Hubert / Wav2Vec2 / WavLM layers: FFN
  ``feed_forward.intermediate_dense`` / ``feed_forward.output_dense``, attention
  ``attention.{q,k,v,out}_proj``; activations are batch-major (B, T, C).

fairseq attention hands ``q_proj.weight`` & co. straight to
``F.multi_head_attention_forward``, so a wrapped projection would silently never run (the
bug behind espnet #5721). For s3prl's wav2vec2/HuBERT attention we switch it to its own
module path, which calls the projection modules; WavLM's attention (s3prl's and
transformers') has no such path, so attention targets are refused there.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn


@dataclass(frozen=True)
class LayerStyle:
    """How one style of transformer layer names its parts."""

    name: str
    batch_axis: int
    aliases: dict[str, list[str]]
    attention_pattern: str
    attention_owner: str  # name of the attention submodule inside a layer
    # why adapters on this attention's projections would never run (None: they would), and the
    # switch that makes the attention call its projection modules; the patcher checks every layer
    # before it switches any
    attention_problem: Callable[[nn.Module], str | None] = field(repr=False, default=lambda m: None)
    use_attention_modules: Callable[[nn.Module], None] = field(repr=False, default=lambda m: None)

    def expand(self, targets: list[str]) -> list[str]:
        """Aliases replaced by their patterns; other entries kept as regular expressions."""
        out: list[str] = []
        for target in targets:
            out.extend(self.aliases.get(target, [target]))
        return out


def _fairseq_attention_problem(attention: nn.Module) -> str | None:
    """None for s3prl fairseq attention that has a module path (:func:`_fairseq_attention_switch`)."""
    if hasattr(attention, "_set_skip_embed_dim_check") and hasattr(attention, "skip_embed_dim_check"):
        return None
    return (f"{type(attention).__module__}.{type(attention).__name__} feeds the projection weights "
            "directly to F.multi_head_attention_forward, so adapters on them would never run")


def _fairseq_attention_switch(attention: nn.Module) -> None:
    """Send s3prl fairseq attention through its projection modules."""
    # skip_embed_dim_check is one of the conditions of the fused fast path: set, the
    # attention computes q/k/v/out through self.q_proj(...) etc. (same maths, slower).
    attention._set_skip_embed_dim_check()


def _hf_attention_check(attention: nn.Module) -> str | None:
    """transformers' WavLM attention also hands its weights to F.multi_head_attention_forward."""
    if "WavLM" in type(attention).__name__:
        return (f"transformers' {type(attention).__name__} feeds the projection weights directly to "
                "F.multi_head_attention_forward, so adapters on them would never run")
    return None


FAIRSEQ = LayerStyle(
    name="fairseq",
    batch_axis=1,
    aliases={
        "ffn": [r"fc1", r"fc2"],
        "attn": [r"self_attn\.(q|k|v|out)_proj"],
        "attn_qv": [r"self_attn\.(q|v)_proj"],
    },
    attention_pattern=r"self_attn\.",
    attention_owner="self_attn",
    attention_problem=_fairseq_attention_problem,
    use_attention_modules=_fairseq_attention_switch,
)

HF = LayerStyle(
    name="hf",
    batch_axis=0,
    aliases={
        "ffn": [r"feed_forward\.intermediate_dense", r"feed_forward\.output_dense"],
        "attn": [r"attention\.(q|k|v|out)_proj"],
        "attn_qv": [r"attention\.(q|v)_proj"],
    },
    attention_pattern=r"attention\.",
    attention_owner="attention",
    attention_problem=_hf_attention_check,
)


def layer_style(layer: nn.Module) -> LayerStyle:
    """Recognise the style of a transformer layer, or say clearly that it is unknown."""
    if hasattr(layer, "fc1") and hasattr(layer, "fc2") and hasattr(layer, "self_attn"):
        return FAIRSEQ
    if hasattr(layer, "feed_forward") and hasattr(layer, "attention"):
        return HF
    raise TypeError(f"cannot patch transformer layers of type {type(layer).__module__}.{type(layer).__name__}: "
                    "supported are s3prl (fairseq-style) and transformers HuBERT/wav2vec2/WavLM layers")


def find_layers(model: nn.Module) -> tuple[str, nn.ModuleList]:
    """The transformer layer list of an SSL model, however deeply it is wrapped.

    Looks for the one ``nn.ModuleList`` named ``...encoder.layers`` (s3prl, transformers,
    ESPnet's S3prlFrontend around s3prl all use that name).
    """
    found = [(name, module) for name, module in model.named_modules()
             if isinstance(module, nn.ModuleList) and re.search(r"(^|\.)encoder\.layers$", name)]
    if not found:
        raise ValueError(f"no transformer layers (a ModuleList named 'encoder.layers') in {type(model).__name__}")
    if len(found) > 1:
        names = ", ".join(name for name, _ in found)
        raise ValueError(f"several candidate transformer layer lists in {type(model).__name__}: {names}")
    return found[0]
