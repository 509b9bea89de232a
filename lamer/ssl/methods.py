"""Build the upstream under training and set it up for a method.

Methods differ only in the adapter settings: ``adapter: none`` trains every parameter (full
fine-tuning, or pre-training from scratch), ``adapter: lamer`` patches the upstream with
``apply_lamer`` (single LoRA, uniform mixture of LoRA experts and Lamer are all Lamer
configs: ``conf/lamer/lora.yaml``, ``mole_uniform.yaml``, ``lamer_base.yaml``). The adapter
config comes resolved (:mod:`lamer.ssl.method_config`: the preset with the method's options on
top). From the second stage on, ``--init_adapters`` continues the previous stage's adapters
with their own config; a config that says otherwise is an error unless ``preset_mismatch`` is
``continue`` (logged).
"""
from __future__ import annotations

import logging

import yaml
from torch import nn

from lamer.adapters import LamerConfig, apply_lamer, load_adapters, parameter_report
from lamer.ssl.growth import grow_experts
from lamer.ssl.method_config import ADAPTERS
from lamer.upstream import PRESETS, LoadedUpstream, build_preset, open_upstream

logger = logging.getLogger(__name__)
PRESET_MISMATCH = ("error", "continue")
# growth (add_experts) rewrites the allocation of continued adapters, so it is not compared
_NOT_COMPARED = {"allocation"}


def build_ssl_upstream(spec: str, family: str | None = None, seed: int = 0) -> LoadedUpstream:
    """A preset with random weights drawn from ``seed``, or a local checkpoint (``lamer.upstream``).

    ``family`` builds a preset in that model class (default ``s3prl_hubert``) or converts a
    checkpoint to it (None keeps the checkpoint's own class).
    """
    loaded = open_upstream(spec, family)
    if spec in PRESETS and seed:
        loaded.model.load_state_dict(build_preset(spec, loaded.family, seed=seed).state_dict())
    return loaded


def _check_continued(manifest: dict, init_adapters: str, adapter_config: LamerConfig | None,
                     preset_mismatch: str) -> None:
    """The continued adapters' config against ``adapter_config``, the one this run gives."""
    if adapter_config is None:
        return
    wanted = adapter_config.to_dict()
    have = LamerConfig.from_dict(manifest["config"], source=f"{init_adapters}/manifest.json").to_dict()
    differ = sorted(k for k in set(wanted) | set(have) if k not in _NOT_COMPARED and wanted.get(k) != have.get(k))
    if not differ:
        return
    listing = ", ".join(f"{k}: {have.get(k)!r} there, {wanted.get(k)!r} here" for k in differ)
    if preset_mismatch == "error":
        raise ValueError(f"--init_adapters {init_adapters}: the continued adapters' config differs from the "
                         f"adapter config given (ssl_adapter_preset, ssl_adapter_conf: {listing}); continue them "
                         "with their own config (--preset_mismatch continue) or train new adapters (no "
                         "--init_adapters)")
    logger.warning("continuing %s with its own config; the adapter config given says otherwise (%s)", init_adapters,
                   listing)


def setup_method(upstream: nn.Module, adapter: str, adapter_config: LamerConfig | None = None,
                 init_adapters: str | None = None, add_experts: int = 0, freeze_previous_experts: bool = False,
                 preset_mismatch: str = "error") -> dict:
    """Patch (or not) ``upstream`` for the method; returns its parameter report.

    ``adapter_config``: the resolved adapter config (:mod:`lamer.ssl.method_config`; None: the
    defaults of :class:`LamerConfig`, and nothing to compare continued adapters with).
    ``init_adapters`` continues the adapters of an earlier stage with their manifest's config;
    where ``adapter_config`` gives another (the allocation aside, which growth rewrites),
    ValueError, or with ``preset_mismatch="continue"`` a logged warning. ``add_experts`` then adds
    that many routed experts per patched module, freezing the earlier ones if ``freeze_previous_experts``.
    """
    if adapter not in ADAPTERS:
        raise ValueError(f"adapter must be one of {ADAPTERS}, got {adapter!r}")
    if preset_mismatch not in PRESET_MISMATCH:
        raise ValueError(f"preset_mismatch must be one of {PRESET_MISMATCH}, got {preset_mismatch!r}")
    if adapter == "none":
        if init_adapters or add_experts:
            raise ValueError("init_adapters / add_experts need adapter: lamer (full fine-tuning has no adapters)")
        for param in upstream.parameters():
            param.requires_grad_(True)
        total = sum(p.numel() for p in upstream.parameters())
        return {"total_params": total, "trainable_params": total, "trainable_percent": 100.0}
    if init_adapters:
        manifest = load_adapters(upstream, init_adapters)
        _check_continued(manifest, init_adapters, adapter_config, preset_mismatch)
        logger.info("continuing adapters of %s (stage %s)", init_adapters, (manifest.get("extra") or {}).get("stage"))
    else:
        apply_lamer(upstream, adapter_config or LamerConfig())
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
