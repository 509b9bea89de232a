"""The depth of an SSL upstream (its transformer layers), read from its configs, never its weights.

What a schedule of experts per layer is expanded for (``plan check --print``) before any model is
built: a preset's shape; a transformers directory's ``config.json`` (transformers' defaults for
what it leaves out); a checkpoint file's model config, the tensors memory-mapped and not read
(except in a pre-zip torch file, which cannot be mapped), with s3prl's defaults; the base of a
lamer export directory.
"""
from __future__ import annotations

from pathlib import Path

from lamer.jsonfile import read_json_object
from lamer.upstream.fairseq import is_fairseq_checkpoint, read_fairseq_checkpoint
from lamer.upstream.loader import EXPORT_MANIFEST
from lamer.upstream.presets import PRESETS
from lamer.upstream.s3prl_format import config_defaults, read_s3prl_checkpoint
from lamer.upstream.safe_checkpoint import UnreadableCheckpoint, load_checkpoint_file


def upstream_depth(spec: str | Path) -> int:
    """Transformer layers of the preset or local checkpoint ``spec`` (the formats ``load_upstream``
    reads). FileNotFoundError / ValueError name the path for anything else."""
    if str(spec) in PRESETS:
        return PRESETS[str(spec)].layers
    path = Path(spec)
    if path.is_dir():
        if (path / EXPORT_MANIFEST).is_file():
            base = read_json_object(path / EXPORT_MANIFEST).get("upstream")
            if not isinstance(base, str) or not base or Path(base).is_absolute() or ".." in Path(base).parts:
                raise ValueError(f"{path / EXPORT_MANIFEST}: 'upstream' is {base!r}, not a path inside {path}")
            return upstream_depth(path / base)
        from transformers import AutoConfig

        return int(AutoConfig.from_pretrained(str(path), local_files_only=True).num_hidden_layers)
    try:
        state = load_checkpoint_file(path, mmap=True)
    except UnreadableCheckpoint:  # a pre-zip torch file: read whole
        state = load_checkpoint_file(path)
    source = str(path)
    if is_fairseq_checkpoint(state):
        arch, _, model_cfg, _, _ = read_fairseq_checkpoint(state, source)
    elif "model_weight" in state or isinstance(state.get("cfg"), dict):
        arch, _, model_cfg, _, _ = read_s3prl_checkpoint(state, source)
    else:
        raise ValueError(f"{path}: unknown checkpoint format (expected a fairseq checkpoint, an s3prl converted "
                         "checkpoint or a WavLM release)")
    return int(model_cfg.get("encoder_layers", config_defaults(arch)["encoder_layers"]))
