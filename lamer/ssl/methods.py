"""Build the upstream under training and set it up for a method.

Methods differ only in the adapter settings: ``adapter: none`` trains every parameter (full
fine-tuning, or pre-training from scratch), ``adapter: lamer`` patches the upstream with
``apply_lamer`` (single LoRA, uniform mixture of LoRA experts and Lamer are all Lamer
configs: ``conf/lamer/lora.yaml``, ``mole_uniform.yaml``, ``lamer_base.yaml``).
"""
from __future__ import annotations

import logging
from pathlib import Path

import yaml
from torch import nn

import lamer
from lamer.adapters import LamerConfig, apply_lamer, load_adapters, parameter_report
from lamer.ssl.growth import grow_experts
from lamer.upstream import PRESETS, LoadedUpstream, build_preset, open_upstream

logger = logging.getLogger(__name__)
ADAPTERS = ("none", "lamer")


def build_ssl_upstream(spec: str, family: str | None = None, seed: int = 0) -> LoadedUpstream:
    """A preset with random weights drawn from ``seed``, or a local checkpoint (``lamer.upstream``).

    ``family`` builds a preset in that model class (default ``s3prl_hubert``) or converts a
    checkpoint to it (None keeps the checkpoint's own class).
    """
    loaded = open_upstream(spec, family)
    if spec in PRESETS and seed:
        loaded.model.load_state_dict(build_preset(spec, loaded.family, seed=seed).state_dict())
    return loaded


def _resolve(preset: str) -> Path:
    """``preset`` as given, or relative to the lamer checkout (configs name ``conf/lamer/...``)."""
    path = Path(preset)
    if not path.is_file() and not path.is_absolute():
        path = Path(lamer.__file__).resolve().parents[1] / preset
    if not path.is_file():
        raise FileNotFoundError(f"adapter preset {preset}: no such file")
    return path


def lamer_config(preset: str | None, overrides: dict | None) -> LamerConfig:
    """A Lamer config from a preset file (``adapter: lamer`` YAML) with ``overrides`` on top."""
    values: dict = {}
    if preset:
        values = LamerConfig.from_yaml(_resolve(preset)).to_dict()
    values.update(overrides or {})
    return LamerConfig.from_dict(values, source=preset or "adapter_conf")


def setup_method(upstream: nn.Module, adapter: str, adapter_preset: str | None = None,
                 adapter_conf: dict | None = None, init_adapters: str | None = None,
                 add_experts: int = 0, freeze_previous_experts: bool = False) -> dict:
    """Patch (or not) ``upstream`` for the method; returns its parameter report.

    ``init_adapters`` continues the adapters of an earlier stage (their manifest's config wins
    over ``adapter_preset`` / ``adapter_conf``); ``add_experts`` then adds that many routed
    experts per patched module, freezing the earlier ones if ``freeze_previous_experts``.
    """
    if adapter not in ADAPTERS:
        raise ValueError(f"adapter must be one of {ADAPTERS}, got {adapter!r}")
    if adapter == "none":
        if init_adapters or add_experts:
            raise ValueError("init_adapters / add_experts need adapter: lamer (full fine-tuning has no adapters)")
        for param in upstream.parameters():
            param.requires_grad_(True)
        total = sum(p.numel() for p in upstream.parameters())
        return {"total_params": total, "trainable_params": total, "trainable_percent": 100.0}
    if init_adapters:
        manifest = load_adapters(upstream, init_adapters)
        logger.info("continuing adapters of %s (stage %s)", init_adapters, (manifest.get("extra") or {}).get("stage"))
    else:
        apply_lamer(upstream, lamer_config(adapter_preset, adapter_conf))
    if add_experts:
        counts = grow_experts(upstream, add_experts, freeze_previous_experts)
        logger.info("added %d experts per module; experts per layer now %s", add_experts, counts)
    elif freeze_previous_experts:
        raise ValueError("freeze_previous_experts needs add_experts > 0 (otherwise nothing would train)")
    return parameter_report(upstream)


def describe(report: dict) -> str:
    """One log line of a parameter report."""
    return yaml.safe_dump({k: report[k] for k in ("total_params", "trainable_params", "trainable_percent")},
                          default_flow_style=True).strip()
