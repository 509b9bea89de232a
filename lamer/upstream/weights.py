"""Put a checkpoint's tensors into a model, naming the file and key of every mismatch."""
from __future__ import annotations

import logging

import torch
from torch import nn

from lamer.upstream.naming import PRETRAINING_ONLY, counterparts

logger = logging.getLogger(__name__)


def _listing(keys: list[str]) -> str:
    return ", ".join(keys[:5]) + (f" ... ({len(keys)} in all)" if len(keys) > 5 else "")


def load_checked(model: nn.Module, weights: dict[str, torch.Tensor], source: str,
                 optional: set[str] = frozenset()) -> None:
    """Copy ``weights`` into ``model``; every key must match by name and shape.

    ``optional``: model keys that may be absent from ``weights`` (they keep their values).
    Raises ValueError naming ``source`` and the first differing keys.
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights) - set(optional))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise ValueError(f"{source}: parameters do not match the model built from its config "
                         f"({type(model).__name__}); missing: {_listing(missing) or 'none'}; "
                         f"unexpected: {_listing(unexpected) or 'none'}")
    for key, tensor in weights.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise ValueError(f"{source}: {key} has shape {tuple(tensor.shape)} but the model built from the "
                             f"checkpoint's config expects {tuple(expected[key].shape)}")
    model.load_state_dict(weights, strict=False)


def translate(weights: dict[str, torch.Tensor], side: str, target_keys: set[str],
              source: str) -> dict[str, torch.Tensor]:
    """Rename a state dict from ``side`` ("fairseq" or "hf") to the other side's names.

    Of several possible names the one in ``target_keys`` is taken. Pretraining-only
    parameters without a counterpart are dropped; any other unmapped key is an error.
    """
    out: dict[str, torch.Tensor] = {}
    dropped = []
    for key, tensor in weights.items():
        names = [n for n in counterparts(key, side) if n in target_keys]
        if names:
            out[names[0]] = tensor
        elif PRETRAINING_ONLY.fullmatch(key):
            dropped.append(key)
        else:
            raise ValueError(f"{source}: parameter {key} has no counterpart in the target model")
    if dropped:
        logger.info("%s: pretraining-only parameters not carried over: %s", source, _listing(dropped))
    return out
