"""SSL upstream models: shape presets with random weights, and (see loader) real checkpoints."""
from __future__ import annotations

from torch import nn

from lamer.upstream.presets import FAMILIES, PRESETS, build_preset


def build_upstream(spec: str, family: str = "s3prl_hubert") -> nn.Module:
    """An SSL model from a preset name (random weights, in ``family``) or a local checkpoint path."""
    if spec in PRESETS:
        return build_preset(spec, family)
    raise FileNotFoundError(f"{spec!r} is neither a preset ({', '.join(PRESETS)}) nor a loadable checkpoint")


__all__ = ["FAMILIES", "PRESETS", "build_preset", "build_upstream"]
