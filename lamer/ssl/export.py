"""What a finished SSL stage leaves for the next stage and the probe.

- adapter methods: ``<out>/adapters`` written by ``save_adapters`` (loads into a bare
  upstream, S3PRLUpstream or ESPnet's S3prlFrontend);
- full fine-tuning / pre-training: ``<out>/upstream.pt``, the whole upstream as an s3prl
  converted HuBERT checkpoint (``S3PRLUpstream("hubert_local", path_or_url=...)``).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from lamer.adapters import save_adapters
from lamer.upstream import PRESETS
from lamer.upstream.presets import get_shape, s3prl_configs, save_s3prl_checkpoint

ADAPTERS_DIR = "adapters"
UPSTREAM_FILE = "upstream.pt"


def s3prl_configs_of(spec: str, family: str) -> tuple[dict, dict]:
    """(task_cfg, model_cfg) of an s3prl HuBERT upstream built from a preset or an s3prl checkpoint."""
    if family != "s3prl_hubert":
        raise ValueError(f"exporting a whole upstream needs family s3prl_hubert, got {family!r}")
    if spec in PRESETS:
        return s3prl_configs(get_shape(spec), family)
    state = torch.load(spec, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or "task_cfg" not in state or "model_cfg" not in state:
        raise ValueError(f"{spec}: not an s3prl converted checkpoint (no task_cfg / model_cfg); "
                         "full fine-tuning can only export s3prl HuBERT upstreams")
    return dict(state["task_cfg"]), dict(state["model_cfg"])


def export_stage(upstream: nn.Module, out_dir: Path, adapter: str, spec: str, family: str,
                 extra: dict | None = None) -> Path:
    """Save the trained upstream's adapters (adapter methods) or the whole upstream; returns the path."""
    out_dir = Path(out_dir)
    if adapter == "none":
        task_cfg, model_cfg = s3prl_configs_of(spec, family)
        path = out_dir / UPSTREAM_FILE
        save_s3prl_checkpoint(upstream, task_cfg, model_cfg, str(path))
        return path
    return save_adapters(upstream, out_dir / ADAPTERS_DIR, extra=extra)
