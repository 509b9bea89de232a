"""How much language the routers' own inputs carry, beside how much the routers use.

A frame router can only send languages to different experts as far as the frame it sees tells
the language. This module measures that ceiling on held-out speech: it records what every
router of a Lamer-patched upstream reads and the weights it gives (a forward hook on the
router, so it is exactly the router's input and output), fits a linear frame-level language
classifier per router on training utterances (the most a linear gate could learn), and scores
it on evaluation utterances:

- ``frame_acc``: the classifier's frame accuracy (``chance``: the most frequent language's share);
- ``js_soft`` / ``js_hard``: the mean Jensen-Shannon divergence (nats) between languages of a
  router with one expert per language that routed as the classifier, by its posteriors
  (soft) or to its best guess only (hard, top-1): what ``js_mean`` of the expert-usage report
  would read for such a router;
- ``js_router`` / ``js_router_train``: the same divergence of the trained router itself on the
  evaluation frames / on the training frames (a gap means routing by speaker, not language).

The classifier is multinomial logistic regression on standardised features, fitted full-batch
with L-BFGS from zero weights: deterministic, no seed. Memory is bounded by sampling at most
``frames_per_utt`` evenly spaced frames of at most ``max_utts`` utterances per language (spread
over the list as Kaldi's ``subset_scp.pl`` does).
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from lamer.adapters import Router, patch_state
from lamer.adapters.config import GATE_MODES
from lamer.data.dirtools import spread_evenly
from lamer.data.wav_scp import WavEntry, read_audio
from lamer.eval.routing import routing_stats
from lamer.progress import progress

logger = logging.getLogger(__name__)


@dataclass
class RouterFrames:
    """Sampled inputs and routing weights of one router, with each frame's language index."""

    inputs: list[torch.Tensor] = field(default_factory=list)
    weights: list[torch.Tensor] = field(default_factory=list)
    labels: list[torch.Tensor] = field(default_factory=list)

    def stacked(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return torch.cat(self.inputs), torch.cat(self.weights), torch.cat(self.labels)


@torch.no_grad()
def collect_router_frames(model: nn.Module, utterances: dict[str, list[WavEntry]], languages: list[str],
                          frames_per_utt: int = 40, max_utts: int = 100, layers: set[int] | None = None,
                          device: str = "cpu") -> dict[str, RouterFrames]:
    """Each router's inputs and output weights on sampled frames, keyed ``"<layer>.<module>"``.

    ``model``: a Lamer-patched S3PRLUpstream (``lamer.eval.expert_usage.load_patched_upstream``);
    ``utterances``: ``{lang: [wav.scp entry, ...]}``; ``languages``: the label order (a
    language outside it is an error); ``layers``: only the routers of these layers (None: all).
    Utterances run one at a time, so batch padding is never sampled (fairseq-style layers may
    append one frame to an odd-length utterance: at most one sampled frame of it).
    Memory: about ``len(languages) * max_utts * frames_per_utt * 4`` bytes per input dimension
    and router.
    """
    if frames_per_utt < 1 or max_utts < 1:
        raise ValueError(f"frames_per_utt and max_utts must be >= 1, got {frames_per_utt} and {max_utts}")
    if patch_state(model) is None:
        raise ValueError("the upstream has no Lamer adapters")
    routers = {f"{m.key[0]}.{m.key[1]}": m for m in model.modules()
               if isinstance(m, Router) and m.mode in GATE_MODES and (layers is None or m.key[0] in layers)}
    if not routers:
        raise ValueError("the adapters have no frame router (soft or top-k) to measure"
                         + (f" in layers {sorted(layers)}" if layers is not None else ""))
    unknown = sorted(set(utterances) - set(languages))
    if unknown:
        raise ValueError(f"languages {unknown} are not in the label list {languages}")
    frames: dict[str, RouterFrames] = defaultdict(RouterFrames)
    label = torch.zeros((), dtype=torch.long)

    def keep(name: str):
        def hook(module: Router, args, output: torch.Tensor) -> None:
            x = args[0].reshape(-1, args[0].shape[-1])
            pick = torch.linspace(0, x.shape[0] - 1, min(frames_per_utt, x.shape[0])).round().long()
            record = frames[name]
            record.inputs.append(x[pick].float().cpu())
            record.weights.append(output.reshape(-1, output.shape[-1])[pick].float().cpu())
            record.labels.append(label.expand(len(pick)).clone())
        return hook

    handles = [router.register_forward_hook(keep(name)) for name, router in routers.items()]
    model = model.to(device)
    try:
        for lang, utts in utterances.items():
            label = torch.tensor(languages.index(lang))
            for entry in progress(spread_evenly(utts, max_utts), desc=f"router inputs {lang}", unit="utt", leave=False):
                wav = torch.from_numpy(read_audio(entry)).to(device)
                model(wav[None], torch.tensor([wav.numel()], device=device))
    finally:
        for handle in handles:
            handle.remove()
    return dict(frames)


def fit_linear_lid(features: torch.Tensor, labels: torch.Tensor, num_classes: int, l2: float = 1e-3,
                   max_iter: int = 200) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Multinomial logistic regression on standardised ``features`` (N, D).

    Returns ``(mean, std, weight)``: predict with ``((x - mean) / std) @ weight[:-1] + weight[-1]``
    (``weight`` is (D + 1, C), its last row the bias); see :func:`lid_posteriors`.
    """
    mean, std = features.mean(0), features.std(0).clamp_min(1e-5)
    x = torch.cat([(features - mean) / std, torch.ones(len(features), 1)], dim=1).double()
    weight = torch.zeros(x.shape[1], num_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(x @ weight, labels) + l2 * weight[:-1].pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return mean, std, weight.detach().float()


def lid_posteriors(classifier: tuple[torch.Tensor, torch.Tensor, torch.Tensor], features: torch.Tensor) -> torch.Tensor:
    """(N, C) language posteriors of :func:`fit_linear_lid`'s classifier."""
    mean, std, weight = classifier
    return F.softmax(((features - mean) / std) @ weight[:-1] + weight[-1], dim=-1)


def mean_pairwise_js(distributions: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean JS divergence (nats) between the languages' mean ``distributions`` (N, E) rows, as the
    expert-usage report computes it (``lamer.eval.routing.routing_stats``)."""
    rows = {str(lang): distributions[labels == lang].double().mean(0).tolist() for lang in labels.unique().tolist()}
    return routing_stats({"router": rows})["router"]["js_mean"]


def routing_ceiling(train: dict[str, RouterFrames], evaluation: dict[str, RouterFrames],
                    num_languages: int) -> dict[str, dict[str, float]]:
    """Per router: ``experts``, ``frames``, ``frame_acc``, ``chance``, ``js_soft``, ``js_hard``,
    ``js_router``, ``js_router_train`` (see the module docstring), the classifier fitted on
    ``train`` and scored on ``evaluation``."""
    out = {}
    for name in sorted(evaluation, key=lambda key: (int(key.split(".")[0]), key)):
        if name not in train:
            raise ValueError(f"router {name} has evaluation frames but no training frames")
        x_train, routed_train, y_train = train[name].stacked()
        x_eval, routed, y_eval = evaluation[name].stacked()
        posteriors = lid_posteriors(fit_linear_lid(x_train, y_train, num_languages), x_eval)
        guesses = posteriors.argmax(-1)
        out[name] = {
            "experts": routed.shape[1],
            "frames": len(y_eval),
            "frame_acc": float((guesses == y_eval).float().mean()),
            "chance": float(y_eval.bincount().max() / len(y_eval)),
            "js_soft": mean_pairwise_js(posteriors, y_eval),
            "js_hard": mean_pairwise_js(F.one_hot(guesses, num_languages).float(), y_eval),
            "js_router": mean_pairwise_js(routed, y_eval),
            "js_router_train": mean_pairwise_js(routed_train, y_train),
        }
        logger.info("router %s: frame LID %.1f%% (chance %.1f%%), JS soft %.3f / hard %.3f, router's JS %.3f",
                    name, 100 * out[name]["frame_acc"], 100 * out[name]["chance"], out[name]["js_soft"],
                    out[name]["js_hard"], out[name]["js_router"])
    return out
