"""Adapter-only checkpoints: safetensors weights plus a manifest checked on load.

A checkpoint directory holds ``adapters.safetensors`` (only the Lamer parameters, keyed
``layers.<i>.<module>.<param>`` so the same file loads into a bare upstream or into one
wrapped by ESPnet) and ``manifest.json``: the Lamer config, the base model's
fingerprint, depth and widths, the patched modules per layer, and the SHA-256 of the
weights file. Loading compares the manifest with the model and names every difference,
instead of failing later on mismatched keys.

The weights file is read and checked against its SHA-256 before the model is touched: a
damaged or altered file (one flipped byte) is refused with a :class:`CorruptAdapters` naming
it, and the model stays as it was. A manifest written before the SHA-256 was recorded loads
with a warning; the file is then only checked for being valid safetensors.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

import lamer
from lamer.adapters.config import LamerConfig
from lamer.adapters.families import find_layers, layer_style
from lamer.adapters.injection import adapter_parameters, build_patch, install_patch, patch_state
from lamer.atomic import atomic_dir
from lamer.checksum import file_sha256
from lamer.jsonfile import read_json_object

WEIGHTS = "adapters.safetensors"
MANIFEST = "manifest.json"
FORMAT = "lamer-adapters/1"
WEIGHTS_HASH = "weights_sha256"

logger = logging.getLogger(__name__)


class ManifestMismatch(ValueError):
    """The adapters were made for another base model or another patch."""


class CorruptAdapters(ValueError):
    """The weights file is damaged or is not the one its manifest was written with."""


def base_parameters(model: nn.Module) -> dict[str, torch.Tensor]:
    """The SSL model's own parameters under their unpatched names, relative to the SSL model.

    Lamer parameters are left out, ``.base_layer`` is dropped from wrapped names, and
    wrappers around the SSL model (S3PRLUpstream, ESPnet's frontend) are stripped, so the
    same base gives the same names however it is nested.
    """
    layers_name, _ = find_layers(model)
    root = layers_name[: -len("encoder.layers")]
    adapter_ids = {id(p) for p in adapter_parameters(model).values()}
    return {name[len(root):].replace(".base_layer.", "."): param
            for name, param in model.named_parameters()
            if name.startswith(root) and id(param) not in adapter_ids}


def fingerprint(model: nn.Module) -> str:
    """A digest of the base weights: names, shapes, a strided sample and the sum of each tensor.

    Cheap on large models (no hash of every byte) yet it changes when any weight changes:
    the float64 sum moves with any single value.
    """
    digest = hashlib.sha256()
    for name, param in sorted(base_parameters(model).items()):
        flat = param.detach().reshape(-1).to(torch.float64)
        digest.update(f"{name}{tuple(param.shape)}".encode())
        digest.update(flat[:: max(1, flat.numel() // 256)].cpu().numpy().tobytes())
        digest.update(f"{flat.sum().item():.12e}".encode())
    return digest.hexdigest()[:32]


def describe_base(model: nn.Module) -> dict:
    """Depth, widths and layer style of the transformer of an SSL model."""
    _, layers = find_layers(model)
    style = layer_style(layers[0])
    ffn_in = layers[0].get_submodule("fc1" if style.name == "fairseq" else "feed_forward.intermediate_dense")
    return {"style": style.name, "depth": len(layers), "hidden_size": ffn_in.in_features,
            "ffn_size": ffn_in.out_features}


def build_manifest(model: nn.Module) -> dict:
    state = patch_state(model)
    if state is None:
        raise ValueError("model has no Lamer adapters to describe")
    return {
        "format": FORMAT,
        "lamer_version": lamer.__version__,
        "config": state.config.to_dict(),
        "base": {**describe_base(model), "fingerprint": fingerprint(model)},
        "experts_per_layer": list(state.counts),
        "modules": {str(i): names for i, names in sorted(state.modules.items())},
        "adapter_params": sum(p.numel() for p in adapter_parameters(model).values()),
    }


def save_adapters(model: nn.Module, directory: str | Path, extra: dict | None = None) -> Path:
    """Write the adapters of a patched model to ``directory`` atomically; returns the path.

    ``extra`` is stored under the manifest's ``extra`` key (training stage, languages...).
    """
    manifest = build_manifest(model)
    if extra:
        manifest["extra"] = extra
    tensors = {k: v.detach().contiguous().cpu() for k, v in adapter_parameters(model).items()}

    with atomic_dir(directory) as tmp:
        save_file(tensors, str(tmp / WEIGHTS), metadata={"format": FORMAT})
        manifest[WEIGHTS_HASH] = file_sha256(tmp / WEIGHTS)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return Path(directory)


# what loading reads from a manifest, and the type of each
_MANIFEST_ENTRIES = {"config": dict, "base": dict, "modules": dict}
_BASE_ENTRIES = {"style": str, "depth": int, "hidden_size": int, "ffn_size": int, "fingerprint": str}


def read_manifest(directory: str | Path) -> dict:
    """Read and sanity-check ``manifest.json`` of an adapter checkpoint.

    Raises ValueError naming the file (and key) when it is not UTF-8 JSON of this format, or
    lacks an entry that loading reads.
    """
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no adapter manifest (is {directory} an adapter checkpoint?)")
    manifest = read_json_object(path)
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: format is {manifest.get('format')!r}, expected {FORMAT!r}")
    for key, kind in _MANIFEST_ENTRIES.items():
        _require(manifest.get(key), kind, key, path)
    for key, kind in _BASE_ENTRIES.items():
        _require(manifest["base"].get(key), kind, f"base.{key}", path)
    return manifest


def _require(value: object, kind: type, key: str, path: Path) -> None:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{path}: '{key}' is missing or not a{'n' if kind is int else ''} {kind.__name__}; "
                         "save_adapters writes it: save the adapters again, or copy the whole checkpoint directory")


def read_weights(directory: str | Path, manifest: dict) -> dict[str, torch.Tensor]:
    """The tensors of ``adapters.safetensors``, checked against the manifest's SHA-256.

    Raises :class:`CorruptAdapters` naming the file when its hash differs, it is not valid
    safetensors (truncated, or another format such as a pickle, which is never unpickled), or a
    tensor (named) is not floating point or holds NaN or infinite values.
    """
    path = Path(directory) / WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(f"{path}: adapter weights missing")
    recorded = manifest.get(WEIGHTS_HASH)
    if recorded is None:
        logger.warning("%s: its manifest records no SHA-256 (saved by an older lamer), so damage inside the "
                       "tensors cannot be detected; save the adapters again to record it", path)
    elif (actual := file_sha256(path)) != recorded:
        raise CorruptAdapters(f"{path}: SHA-256 is {actual}, but {Path(directory) / MANIFEST} records {recorded}: "
                              "the file was damaged or changed after saving; copy or save it again")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CorruptAdapters(f"{path}: not a readable safetensors file ({err}); copy or save it again") from None
    for key, tensor in sorted(tensors.items()):
        if not tensor.dtype.is_floating_point:  # copied into float parameters, integers would pass unnoticed
            raise CorruptAdapters(f"{path}: tensor {key} is {tensor.dtype}; adapter weights are floating point, "
                                  "so this file was not written by save_adapters: save the adapters again")
        if not torch.isfinite(tensor).all():
            raise CorruptAdapters(f"{path}: tensor {key} holds NaN or infinite values (training diverged, or "
                                  "the file was altered); use the adapters of an earlier checkpoint")
    return tensors


def _differences(expected: dict, actual: dict, prefix: str) -> list[str]:
    return [f"{prefix}{key}: checkpoint has {expected.get(key)!r}, model has {actual.get(key)!r}"
            for key in sorted(set(expected) | set(actual)) if expected.get(key) != actual.get(key)]


def load_adapters(model: nn.Module, directory: str | Path, check_fingerprint: bool = True) -> dict:
    """Load adapters saved by ``save_adapters`` into ``model`` and return the manifest.

    An unpatched model is patched with the manifest's config; a patched one must match it.
    Depth, widths, layer style, targets, allocation and rank are compared, and the base
    fingerprint unless ``check_fingerprint`` is False (e.g. a base that was itself fine-tuned
    on purpose). Every difference is listed in one ManifestMismatch. Weights are read with
    safetensors (no pickle) and checked (see module doc), and every module, key and shape must
    match, before the model is changed: the patch is built beside the model and put in place
    only once its weights are in it, so a failed load leaves the model as it was.
    """
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    manifest = read_manifest(directory)
    tensors = read_weights(directory, manifest)
    try:
        config = LamerConfig.from_dict(manifest["config"], source="config")
    except TypeError as err:  # such as rank: "4"
        raise ValueError(f"{manifest_path}: config holds a value of the wrong type ({err})") from None
    except ValueError as err:
        raise ValueError(f"{manifest_path}: {err}") from None
    base = describe_base(model)
    problems = _differences({k: manifest["base"].get(k) for k in base}, base, "base ")
    state = patch_state(model)
    if state is not None:
        problems += _differences(manifest["config"], state.config.to_dict(), "config ")
    if problems:
        raise ManifestMismatch(f"{directory}: adapters do not fit this model:\n  " + "\n  ".join(problems))
    if check_fingerprint:  # of the base weights alone, the same before and after patching
        actual_fp = fingerprint(model)
        if manifest["base"]["fingerprint"] != actual_fp:
            problems.append(f"base fingerprint: checkpoint was trained on {manifest['base']['fingerprint']}, "
                            f"model is {actual_fp} (other base weights; pass check_fingerprint=False to override)")
    patch = None
    if state is None:
        try:
            patch = build_patch(model, config)
        except ValueError as err:
            raise ManifestMismatch(f"{manifest_path}: adapters do not fit this model: {err}") from None
        state, params = patch.state, patch.parameters()
    else:
        params = adapter_parameters(model)
    actual_modules = {str(i): names for i, names in sorted(state.modules.items())}
    problems += _differences(manifest["modules"], actual_modules, "modules of layer ")
    if problems:
        raise ManifestMismatch(f"{directory}: adapters do not fit this model:\n  " + "\n  ".join(problems))
    path = directory / WEIGHTS
    missing, unexpected = sorted(set(params) - set(tensors)), sorted(set(tensors) - set(params))
    if missing or unexpected:
        raise ManifestMismatch(f"{path}: keys do not match the patched model; missing {missing[:5]}"
                               f"{'...' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}"
                               f"{'...' if len(unexpected) > 5 else ''}")
    for key, param in params.items():
        if tensors[key].shape != param.shape:
            raise ManifestMismatch(f"{path}: {key} has shape {tuple(tensors[key].shape)}, "
                                   f"the model expects {tuple(param.shape)}")
    with torch.no_grad():
        for key, param in params.items():
            param.copy_(tensors[key])
    if patch is not None:
        install_patch(model, patch)
    return manifest
