"""What a finished SSL stage leaves for the next stage and the probe.

- adapter methods: ``<out>/adapters`` written by ``save_adapters`` (loads into a bare
  upstream, S3PRLUpstream or ESPnet's S3prlFrontend);
- full fine-tuning / pre-training: ``<out>/upstream.pt``, the whole upstream as an s3prl
  converted HuBERT checkpoint (``S3PRLUpstream("hubert_local", path_or_url=...)``).
"""
from __future__ import annotations

from pathlib import Path

from lamer.adapters import patch_state, save_adapters
from lamer.layout import ModelDir
from lamer.upstream import LoadedUpstream
from lamer.upstream.head import label_symbols
from lamer.upstream.presets import save_s3prl_checkpoint

ADAPTERS_DIR = ModelDir.ADAPTERS
UPSTREAM_FILE = ModelDir.CHECKPOINT


def export_stage(upstream: LoadedUpstream, out_dir: Path, extra: dict | None = None) -> Path:
    """Save the trained upstream's adapters (patched model) or the whole upstream; returns the path."""
    out_dir = Path(out_dir)
    if patch_state(upstream.model) is not None:
        return save_adapters(upstream.model, out_dir / ADAPTERS_DIR, extra=extra)
    if upstream.family != "s3prl_hubert":
        raise ValueError(f"exporting a fully trained upstream needs family s3prl_hubert, got {upstream.family!r} "
                         "(set upstream_conf.family: s3prl_hubert)")
    path = out_dir / UPSTREAM_FILE
    save_s3prl_checkpoint(upstream.model, upstream.task_config, upstream.model_config, str(path),
                          label_symbols(upstream.model))
    return path
