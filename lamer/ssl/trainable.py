"""What a continual-training method trains: parameter counts of a method config on an upstream.

The method config is the ESPnet-style YAML of ``python -m lamer.bin.ssl_train``, read once by
:func:`lamer.ssl.method_config.read_method` (the reader of the recipe's plan check); its adapter
config, the preset resolved, is applied to the upstream by the same
:func:`lamer.ssl.methods.setup_method` that training uses. The count is of the upstream
only: the HuBERT prediction head that training adds starts fresh each stage and is not kept.

Two counts: ``trainable_params``, the parameters that receive a gradient in one masked forward
and backward pass of the encoder up to the scored layer (what training really updates), and
``optimizer_params``, those that require a gradient (what the optimizer is given). They differ
where the upstream holds parameters its encoder forward never uses (an s3prl HuBERT's own
``final_proj`` and ``label_embs_concat``): full fine-tuning is 100% of the latter, less of the
former.
"""
from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from pathlib import Path

import torch

from lamer.atomic import write_json_atomic
from lamer.ssl.budget import Matched, budget_problems
from lamer.ssl.encoder import MaskedUpstream
from lamer.ssl.method_config import read_method
from lamer.ssl.methods import setup_method
from lamer.ssl.model import MaskedPredictionModel
from lamer.upstream import open_upstream

logger = logging.getLogger(__name__)
_PROBE_SAMPLES = 16000  # one second of 16 kHz audio: enough frames for every layer to run
_PREDICT_LAYER = inspect.signature(MaskedPredictionModel).parameters["predict_layer"].default  # ssl_train's


def _updated_params(model: torch.nn.Module, predict_layer: int) -> int:
    """Parameters of ``model`` that get a gradient from one masked forward of its encoder, the
    output of layer ``predict_layer`` standing in for the loss."""
    encoder = MaskedUpstream(model)
    wavs = torch.randn(1, _PROBE_SAMPLES, generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([_PROBE_SAMPLES])
    frames = int(encoder.frame_lengths(lengths).max())
    mask = torch.zeros(1, frames, dtype=torch.bool)
    mask[:, : frames // 2] = True
    model.zero_grad(set_to_none=True)
    was_training = model.training
    model.train()
    try:
        encoder(wavs, lengths, mask)[predict_layer].square().mean().backward()
    finally:
        model.train(was_training)
    count = sum(p.numel() for p in model.parameters() if p.grad is not None)
    model.zero_grad(set_to_none=True)
    return count


def count_trainable(upstream: str | Path, method: Path | None) -> dict:
    """Parameter counts of ``method`` (None: no training at all) built on ``upstream``.

    Returns ``{"adapter", "total_params", "trainable_params", "trainable_percent",
    "optimizer_params", "optimizer_percent"}`` (see the module docstring) plus, when adapters are
    patched, ``experts_per_layer`` (shared experts included), ``total_rank`` (the experts' ranks summed
    over every patched module: :func:`lamer.adapters.injection.total_rank`), ``allocation`` and ``targets``.
    Percentages are of the patched upstream's parameters (base plus adapters).
    """
    resolved = read_method(method) if method is not None else None
    model = open_upstream(upstream).model
    if resolved is None:
        for param in model.parameters():
            param.requires_grad_(False)
        adapter, report, predict_layer = None, {}, _PREDICT_LAYER
    else:
        adapter = resolved.adapter
        predict_layer = (resolved.options.get("model_conf") or {}).get("predict_layer", _PREDICT_LAYER)
        report = setup_method(model, adapter, resolved.adapter_config)
    total = sum(p.numel() for p in model.parameters())
    optimizer = sum(p.numel() for p in model.parameters() if p.requires_grad)
    trainable = _updated_params(model, predict_layer) if optimizer else 0
    out = {
        "adapter": adapter,
        "total_params": total,
        "trainable_params": trainable,
        "trainable_percent": 100.0 * trainable / total,
        "optimizer_params": optimizer,
        "optimizer_percent": 100.0 * optimizer / total,
    }
    for key in ("experts_per_layer", "total_rank", "allocation", "targets"):
        if key in report:
            out[key] = report[key]
    return out


def write_trainable(methods: Mapping[str, Path | None], upstream: str | Path, out: str | Path,
                    matched: Matched | None = None) -> dict:
    """:func:`count_trainable` of every named method (None: no training) on ``upstream``, written as
    ``{"upstream", "systems": {name: {"method", **counts}}}`` to the JSON file ``out`` (atomically);
    returns what it wrote. Each system's count is logged. With ``matched``, systems outside its
    budget (:func:`lamer.ssl.budget.budget_problems`) raise ValueError naming each, and nothing is
    written."""
    systems = {}
    for name, method in methods.items():
        report = count_trainable(upstream, method)
        systems[name] = {"method": str(method) if method else None, **report}
        logger.info("%s: %d of %d parameters trained (%.3f%%)", name, report["trainable_params"],
                    report["total_params"], report["trainable_percent"])
    problems = budget_problems(matched, systems) if matched else []
    if problems:
        raise ValueError(f"on {upstream}: " + "; ".join(problems))
    written = {"upstream": str(upstream), "systems": systems}
    write_json_atomic(out, written)
    return written
