"""How much the routers of a mixture of LoRA experts specialise, from measured expert usage.

Input: ``expert_usage.json`` (``python -m lamer.bin.expert_usage``):
``{"<layer>": {"<iso3>": [mean router weight per routed expert]}}``. Per layer:

- ``entropy``: the routing distribution's entropy, averaged over languages, divided by
  ``log(experts)``: 1 is a uniform mix, 0 one expert only (routing collapse);
- ``js_mean`` / ``js_max``: Jensen-Shannon divergence (nats) between the languages' routing
  distributions, mean and largest over language pairs: 0 when every language is routed alike,
  ``log 2`` (0.693) at most, for languages sent to disjoint experts.
"""
from __future__ import annotations

import itertools
import math

from lamer.eval import EvalInputError


def _kl(p: list[float], q: list[float]) -> float:
    return sum(a * math.log(a / b) for a, b in zip(p, q) if a > 0)


def js_divergence(p: list[float], q: list[float]) -> float:
    """Jensen-Shannon divergence (natural log) of two distributions over the same experts."""
    mid = [(a + b) / 2 for a, b in zip(p, q)]
    return (_kl(p, mid) + _kl(q, mid)) / 2


def normalized_entropy(p: list[float]) -> float:
    """Entropy of ``p`` over ``log(len(p))``; 1.0 for a single expert (nothing to choose)."""
    if len(p) < 2:
        return 1.0
    return -sum(x * math.log(x) for x in p if x > 0) / math.log(len(p))


def routing_stats(usage: dict[str, dict[str, list[float]]], source: str = "expert usage") -> dict[str, dict]:
    """Per layer: ``{"experts", "languages", "entropy", "js_mean", "js_max"}`` (see the module
    docstring). Raises EvalInputError naming ``source`` and the layer for a malformed entry."""
    out = {}
    for layer, per_lang in usage.items():
        if not isinstance(per_lang, dict) or not per_lang:
            raise EvalInputError(f"{source}: layer {layer!r} has no languages")
        sizes = {len(weights) for weights in per_lang.values()}
        if len(sizes) != 1:
            raise EvalInputError(f"{source}: layer {layer!r}: languages have different numbers of experts "
                                 f"{sorted(sizes)}")
        langs = sorted(per_lang)
        pairs = [js_divergence(per_lang[a], per_lang[b]) for a, b in itertools.combinations(langs, 2)]
        out[str(layer)] = {
            "experts": sizes.pop(),
            "languages": len(langs),
            "entropy": sum(normalized_entropy(per_lang[lang]) for lang in langs) / len(langs),
            "js_mean": sum(pairs) / len(pairs) if pairs else 0.0,
            "js_max": max(pairs) if pairs else 0.0,
        }
    return out


def render_cell(stats: dict[str, dict]) -> str:
    """One table cell: ``L<layer>x<experts> H <entropy> JS <js_mean>/<js_max>`` per layer."""
    return "; ".join(f"L{layer}x{s['experts']} H {s['entropy']:.2f} JS {s['js_mean']:.3f}/{s['js_max']:.3f}"
                     for layer, s in sorted(stats.items(), key=lambda item: int(item[0])))
