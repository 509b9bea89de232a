"""s3prl's own checkpoint formats and model classes (what ESPnet's S3prlFrontend loads).

- HuBERT, ``hubert_local``: ``{task_cfg, model_cfg, model_weight, dictionaries_symbols}``;
- wav2vec2, ``wav2vec2_local``: ``{task_cfg, model_cfg, model_weight}``;
- WavLM, ``wavlm_local`` (Microsoft's release format): ``{cfg, model}``.

Configs are stored as plain dicts, so the files load with ``torch.load(weights_only=True)``
(s3prl itself calls ``torch.load`` with torch's default, which is weights-only).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import nn

from lamer.atomic import write_atomic
from lamer.upstream.head import HEAD_KEYS, placeholder_head
from lamer.upstream.log_mel import EXTRACTOR_KEY, install_extractor

ARCHES = ("hubert", "wav2vec2", "wavlm")
# marks a HuBERT file whose prediction head is zeros written only because s3prl's loader wants one
PLACEHOLDER_HEAD = "lamer_placeholder_head"
S3PRL_UPSTREAMS = {"hubert": "hubert_local", "wav2vec2": "wav2vec2_local", "wavlm": "wavlm_local"}
# the s3prl hub entry lamer registers for checkpoints s3prl's own loaders cannot build (lamer.probe.s3prl_expert)
LAMER_UPSTREAM = "lamer_local"


def s3prl_upstream_name(arch: str, model_cfg: dict) -> str:
    """The s3prl upstream name that loads a checkpoint of ``arch`` with ``model_cfg``."""
    return LAMER_UPSTREAM if model_cfg.get(EXTRACTOR_KEY) is not None else S3PRL_UPSTREAMS[arch]


def _config_classes(arch: str):
    if arch == "hubert":
        from s3prl.upstream.hubert.hubert_model import HubertConfig, HubertPretrainingConfig

        return HubertConfig, HubertPretrainingConfig
    if arch == "wav2vec2":
        from s3prl.upstream.wav2vec2.wav2vec2_model import AudioPretrainingConfig, Wav2Vec2Config

        return Wav2Vec2Config, AudioPretrainingConfig
    if arch == "wavlm":
        from s3prl.upstream.wavlm.WavLM import WavLMConfig

        return WavLMConfig, None
    raise ValueError(f"unknown SSL architecture {arch!r}; expected one of {ARCHES}")


def config_defaults(arch: str) -> dict:
    """Default values of s3prl's model config for ``arch``, as a plain dict."""
    model_class, _ = _config_classes(arch)
    if dataclasses.is_dataclass(model_class):  # fields without a default (label_rate) are left out
        return {f.name: f.default for f in dataclasses.fields(model_class) if f.default is not dataclasses.MISSING}
    return dict(vars(model_class()))


def _known(cls, cfg: dict) -> dict:
    fields = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in cfg.items() if k in fields}


def build_s3prl_model(arch: str, task_cfg: dict, model_cfg: dict, symbols: list[list[str]] | None = None) -> nn.Module:
    """An s3prl model of ``arch`` from config dicts (unknown keys are ignored, as s3prl does).

    ``symbols``: HuBERT's label dictionaries, which size its prediction head.
    """
    model_class, task_class = _config_classes(arch)
    if arch == "hubert":
        from s3prl.upstream.hubert.hubert_model import HubertModel

        if not symbols:
            raise ValueError("an s3prl HuBERT needs its label dictionaries (dictionaries_symbols)")
        model = HubertModel(model_class(**_known(model_class, model_cfg)),
                            task_class(**_known(task_class, task_cfg)), symbols)
    elif arch == "wav2vec2":
        from s3prl.upstream.wav2vec2.wav2vec2_model import Wav2Vec2Model

        model = Wav2Vec2Model(model_class(**_known(model_class, model_cfg)))
    else:
        from s3prl.upstream.wavlm.WavLM import WavLM

        model = WavLM(model_class(model_cfg))
    return install_extractor(model, model_cfg)


def read_s3prl_checkpoint(state: dict, source: str) -> tuple[str, dict, dict, dict, list[list[str]] | None]:
    """(arch, task_cfg, model_cfg, weights, symbols) of a loaded s3prl converted checkpoint."""
    if "model_weight" in state:
        missing = [k for k in ("task_cfg", "model_cfg") if k not in state]
        if missing:
            raise ValueError(f"{source}: s3prl converted checkpoint without {', '.join(missing)}")
        symbols = state.get("dictionaries_symbols")
        arch = "hubert" if symbols is not None else "wav2vec2"
        weights = state["model_weight"]
        if state.get(PLACEHOLDER_HEAD):
            weights = {k: v for k, v in weights.items() if k not in HEAD_KEYS}
        return arch, dict(state["task_cfg"]), dict(state["model_cfg"]), weights, symbols
    cfg = dict(state["cfg"])
    return "wavlm", {"normalize": bool(cfg.get("normalize", False))}, cfg, state["model"], None


def write_s3prl_checkpoint(path: str | Path, arch: str, task_cfg: dict, model_cfg: dict,
                           weights: dict[str, torch.Tensor], symbols: list[list[str]] | None = None) -> Path:
    """Write weights and configs in the s3prl format of ``arch``, atomically; returns the path.

    A HuBERT without a prediction head gets a zero placeholder one (s3prl's loader requires
    it), marked so that :func:`read_s3prl_checkpoint` leaves it out again.
    """
    weights = {k: v.detach().clone().contiguous().cpu() for k, v in weights.items()}
    if arch == "hubert":
        state = {"task_cfg": dict(task_cfg), "model_cfg": dict(model_cfg), "model_weight": weights,
                 "dictionaries_symbols": [list(s) for s in symbols]}
        if not all(key in weights for key in HEAD_KEYS):
            weights.update(placeholder_head(model_cfg, config_defaults(arch), symbols))
            state[PLACEHOLDER_HEAD] = True
    elif arch == "wav2vec2":
        state = {"task_cfg": dict(task_cfg), "model_cfg": dict(model_cfg), "model_weight": weights}
    elif arch == "wavlm":
        state = {"cfg": {**model_cfg, "normalize": bool(task_cfg.get("normalize", False))}, "model": weights}
    else:
        raise ValueError(f"unknown SSL architecture {arch!r}; expected one of {ARCHES}")
    # saved through a file object: torch names the zip's root folder after a path it is given (here
    # the random temporary name), which would make each save of the same weights differ in its bytes
    # and so in its SHA-256 (a shipped checkpoint must rebuild to the hash its plan records)
    write_atomic(path, lambda handle: torch.save(state, handle))
    return Path(path)
