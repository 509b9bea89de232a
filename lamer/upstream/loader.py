"""Build an SSL upstream from a local path, whatever format it is in.

Recognised, by content rather than by file name:

- a transformers directory (``config.json`` + ``model.safetensors`` / ``pytorch_model.bin``)
  of a HuBERT, wav2vec2 or WavLM model -> the transformers model class;
- a fairseq pretraining checkpoint (HuBERT, wav2vec2) -> s3prl's model class, no fairseq needed;
- an s3prl converted checkpoint (``hubert_local`` / ``wav2vec2_local`` / ``wavlm_local``);
- a lamer export directory (``export.json``, see :mod:`lamer.upstream.export`): its base,
  with its adapters loaded.

Training-time randomness inside the model (layer drop, transformers' SpecAugment) is
switched off, as s3prl's own wrapper does: masking for the SSL objective is the engine's job.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from lamer.jsonfile import read_json_object
from lamer.upstream.fairseq import is_fairseq_checkpoint, read_fairseq_checkpoint
from lamer.upstream.head import HEAD_KEYS, PretrainingHead, drop_head, hubert_head
from lamer.upstream.hf import input_normalization, is_hf_directory, load_hf_model, read_hf_config
from lamer.upstream.s3prl_format import build_s3prl_model, read_s3prl_checkpoint
from lamer.upstream.safe_checkpoint import load_checkpoint_file
from lamer.upstream.weights import load_checked

EXPORT_MANIFEST = "export.json"
EXPORT_FORMAT = "lamer-export/1"


@dataclass
class LoadedUpstream:
    """An SSL model with what the rest of lamer needs to know about it.

    ``family``: the model class, as in presets (``s3prl_hubert``, ``hf_wav2vec2``...);
    ``format``: what the source was (``transformers``, ``fairseq``, ``s3prl``, ``lamer-export``,
    ``preset``); ``head``: HuBERT's prediction head when the checkpoint has one;
    ``task_config`` holds at least ``normalize`` (waveform normalisation before the model).
    """

    model: nn.Module
    family: str
    format: str
    head: PretrainingHead | None
    task_config: dict
    model_config: dict
    source: str

    @property
    def arch(self) -> str:
        """``hubert``, ``wav2vec2`` or ``wavlm``."""
        return self.family.split("_", 1)[1]

    @property
    def normalize(self) -> bool:
        return bool(self.task_config.get("normalize", False))


def disable_training_noise(model: nn.Module) -> nn.Module:
    """No layer drop or in-model SpecAugment, in eval mode."""
    if hasattr(model, "config"):  # transformers
        model.config.layerdrop = 0.0
        model.config.apply_spec_augment = False
    elif hasattr(model, "encoder") and hasattr(model.encoder, "layerdrop"):
        model.encoder.layerdrop = 0.0
    return model.eval()


def from_s3prl_parts(arch: str, task_cfg: dict, model_cfg: dict, weights: dict, symbols, fmt: str,
                     source: str) -> LoadedUpstream:
    """Build the s3prl model of ``arch`` from its configs and fill it with ``weights`` (checked)."""
    try:
        model = build_s3prl_model(arch, task_cfg, model_cfg, symbols)
    except (TypeError, ValueError, KeyError, AssertionError) as err:
        raise ValueError(f"{source}: cannot build a {arch} model from the checkpoint's config ({err})") from None
    if arch == "hubert" and not any(key in weights for key in HEAD_KEYS):
        model = drop_head(model)
    load_checked(model, weights, source)
    head = hubert_head(weights, model_cfg, symbols, source) if arch == "hubert" else None
    normalize = bool(task_cfg.get("normalize", model_cfg.get("normalize", False)))
    return LoadedUpstream(disable_training_noise(model), f"s3prl_{arch}", fmt, head,
                          {**task_cfg, "normalize": normalize}, model_cfg, source)


def _load_hf(path: Path) -> LoadedUpstream:
    arch, config = read_hf_config(path)
    normalize = input_normalization(path, config)
    model = load_hf_model(path, arch)
    return LoadedUpstream(disable_training_noise(model), f"hf_{arch}", "transformers", None,
                          {"sample_rate": 16000, "normalize": normalize}, config, str(path))


def _export_entry(directory: Path, manifest: dict, key: str) -> Path:
    """The path an export manifest gives under ``key``, which must lie inside its directory."""
    value = manifest[key]
    where = f"{directory / EXPORT_MANIFEST}: {key!r}"
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where} must be a path relative to {directory}, got {value!r}")
    root, target = directory.resolve(), (directory / value).resolve()
    if root not in target.parents:  # absolute, '..', the directory itself, or a link that leads out
        raise ValueError(f"{where} is {value!r}, which is not inside {directory}; an export refers only to files in "
                         "its own directory: export the model again")
    return directory / value


def _load_export(path: Path) -> LoadedUpstream:
    from lamer.adapters import load_adapters

    manifest_path = path / EXPORT_MANIFEST
    manifest = read_json_object(manifest_path)
    if manifest.get("format") != EXPORT_FORMAT or "upstream" not in manifest:
        raise ValueError(f"{manifest_path}: format is {manifest.get('format')!r}, expected {EXPORT_FORMAT!r} "
                         "with an 'upstream' entry")
    base = _export_entry(path, manifest, "upstream")
    if (base / EXPORT_MANIFEST).is_file():  # export_upstream writes a checkpoint here; a chain could loop
        raise ValueError(f"{manifest_path}: 'upstream' is {manifest['upstream']!r}, another lamer export; it must be "
                         "the base checkpoint or transformers directory: export the model again")
    loaded = load_upstream(base)
    if manifest.get("adapters"):
        load_adapters(loaded.model, _export_entry(path, manifest, "adapters"))
    loaded.format, loaded.source = "lamer-export", str(path)
    return loaded


def _is_wavlm_release(state: dict) -> bool:
    return (isinstance(state.get("cfg"), dict) and "encoder_layers" in state["cfg"]
            and isinstance(state.get("model"), dict))


def load_upstream(path: str | Path) -> LoadedUpstream:
    """Load the SSL model at ``path`` (any supported format, detected from the content).

    Raises FileNotFoundError for a missing path or weights file, ValueError naming the file
    (and key) for an unknown format, a refused pickle, or weights that do not fit the config.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory (expected a transformers directory, "
                                "a fairseq checkpoint, an s3prl converted checkpoint or a lamer export)")
    if path.is_dir():
        if (path / EXPORT_MANIFEST).is_file():
            return _load_export(path)
        if is_hf_directory(path):
            return _load_hf(path)
        raise ValueError(f"{path}: directory without config.json (transformers) or {EXPORT_MANIFEST} (lamer export)")
    if path.suffix == ".safetensors":
        raise ValueError(f"{path}: a bare safetensors file has no model config; give the transformers "
                         "directory that holds it with its config.json")
    state = load_checkpoint_file(path)
    source = str(path)
    if is_fairseq_checkpoint(state):
        return from_s3prl_parts(*read_fairseq_checkpoint(state, source), "fairseq", source)
    if "model_weight" in state or _is_wavlm_release(state):
        return from_s3prl_parts(*read_s3prl_checkpoint(state, source), "s3prl", source)
    keys = ", ".join(sorted(map(str, state))[:8])
    raise ValueError(f"{path}: unknown checkpoint format (top-level keys: {keys or 'none'}); expected a fairseq "
                     "checkpoint (cfg/args + model), an s3prl converted checkpoint (task_cfg, model_cfg, "
                     "model_weight) or a WavLM release (cfg + model)")
