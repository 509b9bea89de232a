"""transformers model directories (``save_pretrained`` layout) of HuBERT, wav2vec2 and WavLM."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from lamer.atomic import atomic_dir
from lamer.jsonfile import read_json_object
from lamer.upstream.naming import HF_MODEL_CLASSES

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json",
                "pytorch_model.bin", "pytorch_model.bin.index.json")
PREPROCESSOR = "preprocessor_config.json"


def is_hf_directory(path: Path) -> bool:
    return path.is_dir() and (path / "config.json").is_file()


def read_hf_config(path: Path) -> tuple[str, dict]:
    """(architecture, config dict) of a transformers directory, checked."""
    config_path = path / "config.json"
    config = read_json_object(config_path)
    arch = config.get("model_type")
    if arch not in HF_MODEL_CLASSES:
        raise ValueError(f"{config_path}: model_type {arch!r} is not an SSL speech model lamer loads "
                         f"(expected one of {sorted(HF_MODEL_CLASSES)})")
    if not any((path / name).is_file() for name in WEIGHT_FILES):
        raise FileNotFoundError(f"{path}: config.json but no weights ({' or '.join(WEIGHT_FILES)})")
    return arch, config


def input_normalization(path: Path, config: dict) -> bool:
    """Whether waveforms are normalised to zero mean, unit variance before the model.

    Read from the feature extractor's ``do_normalize``; without that file, transformers'
    convention: models with layer-norm CNNs (large / stable-layer-norm ones) normalise.
    """
    preprocessor = path / PREPROCESSOR
    if preprocessor.is_file():
        return bool(read_json_object(preprocessor).get("do_normalize", False))
    return config.get("feat_extract_norm") == "layer"


def load_hf_model(path: Path, arch: str) -> nn.Module:
    """The transformers model in ``path`` (float32, eval mode); every encoder weight must be in the file.

    transformers would silently start missing or mis-shaped weights from random values; here
    they are errors naming the directory and the key.
    """
    import transformers

    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        model, info = getattr(transformers, HF_MODEL_CLASSES[arch]).from_pretrained(
            str(path), output_loading_info=True, ignore_mismatched_sizes=True, dtype=torch.float32,
            local_files_only=True)
    finally:
        transformers.logging.set_verbosity(verbosity)
    mismatched = sorted(info.get("mismatched_keys") or [])
    if mismatched:
        key, in_file, in_model = mismatched[0]
        raise ValueError(f"{path}: {key} has shape {tuple(in_file)} in the weights but config.json gives "
                         f"{tuple(in_model)}" + (f" (and {len(mismatched) - 1} more)" if len(mismatched) > 1 else ""))
    missing = sorted(k for k in info.get("missing_keys") or [] if k != "masked_spec_embed")
    if missing:
        raise ValueError(f"{path}: weights missing for {', '.join(missing[:5])}"
                         + (f" ... ({len(missing)} in all)" if len(missing) > 5 else ""))
    return model.eval()


def write_hf_directory(model: nn.Module, directory: str | Path, normalize: bool) -> Path:
    """``save_pretrained`` plus a feature-extractor config, written to a temp dir and swapped in."""
    from transformers import Wav2Vec2FeatureExtractor

    with atomic_dir(directory) as tmp:
        model.save_pretrained(str(tmp))
        Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=normalize,
                                 return_attention_mask=True).save_pretrained(str(tmp))
    return Path(directory)
