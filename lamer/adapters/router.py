"""Routers that weight the experts of one patched layer, frame by frame or by language.

All routers of a patched model share one ``RoutingContext``: it carries the language ids
of the current batch (for language routing, the specialisation loss and per-language usage
statistics), keeps each router's load-balancing and specialisation losses of the latest forward
pass, and accumulates expert usage when asked.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from lamer.adapters.config import LamerConfig


@dataclass
class UsageAccumulator:
    """Sums of router weights per (layer, module) and language, for usage heatmaps."""

    sums: dict = field(default_factory=lambda: defaultdict(dict))
    frames: dict = field(default_factory=lambda: defaultdict(dict))

    def add(self, key: tuple[int, str], language: str, weight_sum: torch.Tensor, frames: int) -> None:
        sums, counts = self.sums[key], self.frames[key]
        sums[language] = sums.get(language, 0) + weight_sum.detach().double().cpu()
        counts[language] = counts.get(language, 0) + frames

    def mean_per_layer(self) -> dict[int, dict[str, list[float]]]:
        """Mean weight of each expert, per layer and language, averaged over the layer's modules."""
        per_layer: dict[int, dict[str, list[torch.Tensor]]] = defaultdict(lambda: defaultdict(list))
        for (layer, _module), sums in self.sums.items():
            for language, total in sums.items():
                per_layer[layer][language].append(total / max(self.frames[(layer, _module)][language], 1))
        return {layer: {lang: torch.stack(means).mean(0).tolist() for lang, means in langs.items()}
                for layer, langs in sorted(per_layer.items())}


@dataclass
class RoutingContext:
    """State shared by the routers of one patched model during a forward pass.

    batch_axis: the axis of the batch in the activations the patched layers see (1 for
        fairseq-style s3prl layers, which run time-major, 0 for transformers).
    languages: the codes that ``lang_ids`` index.
    """

    batch_axis: int = 0
    languages: list[str] = field(default_factory=list)
    lang_ids: torch.Tensor | None = None
    aux_losses: dict[tuple[int, str], torch.Tensor] = field(default_factory=dict)
    specialise_losses: dict[tuple[int, str], torch.Tensor] = field(default_factory=dict)
    usage: UsageAccumulator | None = None

    def language_index(self, code: str) -> int:
        try:
            return self.languages.index(code)
        except ValueError:
            raise KeyError(f"language {code!r} is not known to the router; known: {self.languages}") from None


class Router(nn.Module):
    """Weights over ``num_experts`` experts for every frame of the input.

    mode ``soft``: softmax of a linear gate; ``topk``: the gate's ``top_k`` best experts,
    renormalised, others 0; ``language``: softmax of a learned per-language logit row,
    the same for every frame of an utterance (so a model can be merged per language);
    ``oracle``: no parameters, the known language of the utterance picks one expert
    (:func:`oracle_weights`: language index ``i`` gets expert ``i mod E``, weight 1, whatever the
    frames hold), the language-oracle baseline of a learned router. Without language ids (the
    probe's feature extraction, which is not told the language) the oracle mixes every expert
    equally, 1/E each: the mix a learned soft router starts from.

    In training, ``compute_aux`` keeps the load-balancing loss in ``context.aux_losses`` and
    ``compute_specialise`` the specialisation loss (:func:`specialisation_loss`, needs the
    batch's ``context.lang_ids``) in ``context.specialise_losses``. ``gate_init_std``: standard
    deviation of the gate's normal initialisation.
    """

    def __init__(self, in_features: int, num_experts: int, mode: str, context: RoutingContext,
                 key: tuple[int, str], top_k: int = 2, temperature: float = 1.0,
                 compute_aux: bool = False, compute_specialise: bool = False, gate_init_std: float = 0.01) -> None:
        super().__init__()
        self.num_experts, self.mode, self.top_k = num_experts, mode, min(top_k, num_experts)
        self.temperature, self.key, self.compute_aux = temperature, key, compute_aux
        self.compute_specialise = compute_specialise
        self.context = context
        if mode == "language":
            self.language_logits = nn.Parameter(torch.zeros(len(context.languages), num_experts))
        elif mode != "oracle":
            self.gate = nn.Linear(in_features, num_experts, bias=False)
            # small random gate: near-uniform start, but ties broken for top-k
            nn.init.normal_(self.gate.weight, std=gate_init_std)

    @classmethod
    def from_config(cls, config: LamerConfig, in_features: int, num_experts: int, context: RoutingContext,
                    key: tuple[int, str]) -> Router:
        """The router a ``LamerConfig`` asks for (mode, top-k, temperature, losses, gate init)."""
        return cls(in_features, num_experts, config.router, context, key, config.top_k, config.temperature,
                   compute_aux=config.load_balance_weight > 0, compute_specialise=config.specialise_weight > 0,
                   gate_init_std=config.gate_init_std)

    def _batch_view(self, per_utt: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Broadcast (B, E) to x's leading shape (..., E) along the context's batch axis."""
        shape = [1] * (x.dim() - 1) + [self.num_experts]
        shape[self.context.batch_axis] = per_utt.shape[0]
        return per_utt.view(shape).expand(*x.shape[:-1], self.num_experts)

    def language_weights(self, index: int) -> torch.Tensor:
        """The (E,) routing weights of language ``index`` (language and oracle modes)."""
        if self.mode == "oracle":
            return oracle_weights(torch.tensor([index]), self.num_experts)[0]
        return F.softmax(self.language_logits[index] / self.temperature, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ctx = self.context
        if self.mode == "language":
            if ctx.lang_ids is None:
                raise RuntimeError("language routing needs language ids: wrap the call in "
                                   "lamer.adapters.routing_languages(model, lang_ids)")
            weights = self._batch_view(F.softmax(self.language_logits[ctx.lang_ids] / self.temperature, -1), x)
        elif self.mode == "oracle":
            if ctx.lang_ids is None:
                weights = x.new_full((*x.shape[:-1], self.num_experts), 1.0 / self.num_experts)
            else:
                weights = self._batch_view(oracle_weights(ctx.lang_ids, self.num_experts).to(x), x)
        else:
            logits = self.gate(x) / self.temperature
            probs = F.softmax(logits, dim=-1)
            if self.mode == "topk" and self.top_k < self.num_experts:
                top_val, top_idx = logits.topk(self.top_k, dim=-1)
                weights = torch.zeros_like(probs).scatter(-1, top_idx, F.softmax(top_val, dim=-1))
            else:
                weights = probs
            if self.compute_aux and self.training:
                # keyed by router: a new forward replaces, never stacks on, an unused loss
                ctx.aux_losses[self.key] = self._balance_loss(probs, weights)
            if self.compute_specialise and self.training and ctx.lang_ids is not None:
                per_utt = probs.movedim(ctx.batch_axis, 0).reshape(probs.shape[ctx.batch_axis], -1, self.num_experts)
                ctx.specialise_losses[self.key] = specialisation_loss(per_utt.mean(1), ctx.lang_ids)
        if ctx.usage is not None:
            self._record_usage(weights)
        return weights

    def _balance_loss(self, probs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        # Switch-Transformer style E * sum_e f_e * P_e: 1.0 when the load is uniform. f_e is
        # the share of assignments (top-k) or, for soft routing, the mean weight itself.
        mean_prob = probs.reshape(-1, self.num_experts).mean(0)
        if self.mode == "topk":
            share = (weights > 0).reshape(-1, self.num_experts).float().mean(0) / self.top_k
        else:
            share = mean_prob
        return self.num_experts * (share * mean_prob).sum()

    def _record_usage(self, weights: torch.Tensor) -> None:
        ctx = self.context
        axis = ctx.batch_axis
        per_utt = weights.detach().movedim(axis, 0).reshape(weights.shape[axis], -1, self.num_experts)
        frames = per_utt.shape[1]
        sums = per_utt.sum(1)
        if ctx.lang_ids is None:
            ctx.usage.add(self.key, "all", sums.sum(0), frames * sums.shape[0])
            return
        for idx in ctx.lang_ids.unique().tolist():
            rows = ctx.lang_ids == idx
            ctx.usage.add(self.key, ctx.languages[idx], sums[rows].sum(0), frames * int(rows.sum()))

    def extra_repr(self) -> str:
        return f"experts={self.num_experts}, mode={self.mode}, top_k={self.top_k}"


def oracle_weights(lang_ids: torch.Tensor, num_experts: int) -> torch.Tensor:
    """(B, E) one-hot weights of the oracle router: language index ``i`` (its place in the language
    list the ids index, e.g. the plan's languages that ssl_train's ``lang`` data holds, base languages
    first) gets expert ``i mod E``. Fixed and deterministic: with at least as many experts as
    languages every language has an expert of its own; with fewer, languages ``i`` and ``i + E``
    share one."""
    return F.one_hot(lang_ids.reshape(-1).long() % num_experts, num_experts).float()


def _entropy(p: torch.Tensor) -> torch.Tensor:
    return -(p * p.clamp_min(1e-12).log()).sum(-1)


def specialisation_loss(per_utt: torch.Tensor, lang_ids: torch.Tensor) -> torch.Tensor:
    """Minus the mutual information (nats) between language and expert choice in a batch.

    ``per_utt``: (B, E) routing distribution of each utterance (its frames' mean weights);
    ``lang_ids``: (B,) language of each. With ``p`` the batch's mean distribution and ``p_l``
    language ``l``'s, MI = H(p) - sum_l share_l * H(p_l): 0 when every language routes alike,
    at most log(E). Minimising ``-MI`` keeps the overall load spread (high H(p)) while pushing
    each language towards its own experts (low H(p_l)), unlike the balance loss, which only
    asks for the first.
    """
    lang_ids = lang_ids.to(per_utt.device).reshape(-1)
    if lang_ids.shape[0] != per_utt.shape[0]:
        raise ValueError(f"{lang_ids.shape[0]} language ids for a batch of {per_utt.shape[0]} utterances")
    languages, index = lang_ids.unique(return_inverse=True)
    one_hot = F.one_hot(index, len(languages)).to(per_utt.dtype)  # (B, L)
    counts = one_hot.sum(0)
    per_language = (one_hot.T @ per_utt) / counts[:, None]  # (L, E)
    share = counts / counts.sum()
    mutual_information = _entropy(per_utt.mean(0)) - (share * _entropy(per_language)).sum()
    return -mutual_information
