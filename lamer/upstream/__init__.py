"""SSL upstream models: shape presets with random weights, and real checkpoints from local paths.

``build_upstream(spec)`` takes a preset name or a path in any supported format (see
:mod:`lamer.upstream.loader`); ``open_upstream`` returns the same model with its format,
configs and HuBERT prediction head (:class:`LoadedUpstream`).
"""
from __future__ import annotations

from pathlib import Path

from torch import nn

from lamer.upstream.loader import LoadedUpstream, load_upstream
from lamer.upstream.presets import FAMILIES, PRESETS, build_preset, get_shape, s3prl_configs


def _preset(name: str, family: str) -> LoadedUpstream:
    from lamer.upstream.head import hubert_head

    model = build_preset(name, family)
    shape = get_shape(name)
    if family.startswith("s3prl_"):
        task_cfg, model_cfg = s3prl_configs(shape, family)
        symbols = [[str(i) for i in range(model.label_embs_concat.shape[0])]] if family == "s3prl_hubert" else None
        head = hubert_head(model.state_dict(), model_cfg, symbols, name) if symbols else None
    else:
        task_cfg = {"sample_rate": 16000, "normalize": shape.layer_norm_first}
        model_cfg, head = model.config.to_dict(), None
    return LoadedUpstream(model, family, "preset", head, {**task_cfg, "normalize": shape.layer_norm_first},
                          model_cfg, name)


def open_upstream(spec: str | Path, family: str | None = None) -> LoadedUpstream:
    """A preset (random weights, built in ``family``, default ``s3prl_hubert``) or a local checkpoint.

    For a checkpoint, ``family`` (if given) converts the loaded model to that model class
    of the same architecture, e.g. a transformers HuBERT directory to ``s3prl_hubert``
    for ESPnet's S3prlFrontend.
    """
    if str(spec) in PRESETS:
        family = family or "s3prl_hubert"
        if family not in FAMILIES:
            raise ValueError(f"unknown upstream family {family!r}; choose one of {FAMILIES}")
        return _preset(str(spec), family)
    if not Path(spec).exists():
        raise FileNotFoundError(f"{spec!r} is neither a preset ({', '.join(PRESETS)}) nor an existing path")
    loaded = load_upstream(spec)
    if family is not None:
        from lamer.upstream.convert import convert_upstream

        loaded = convert_upstream(loaded, family)
    return loaded


def build_upstream(spec: str | Path, family: str | None = None) -> nn.Module:
    """An SSL model from a preset name or a local checkpoint path (see :func:`open_upstream`)."""
    return open_upstream(spec, family).model


__all__ = ["FAMILIES", "PRESETS", "LoadedUpstream", "build_preset", "build_upstream", "load_upstream",
           "open_upstream"]
