"""Layer-aware mixtures of LoRA experts for frozen SSL speech models (independent of ESPnet).

Typical use::

    from lamer.adapters import LamerConfig, apply_lamer, save_adapters, load_adapters
    apply_lamer(upstream, LamerConfig.from_yaml("conf/lamer/lamer_base.yaml"))
    ...train...
    save_adapters(upstream, "exp/stage1/adapters")
    load_adapters(fresh_upstream, "exp/stage1/adapters")  # patches, checks, loads

The names below are imported on first use: the config and the schedule (``config.py``,
``allocation.py``) are plain Python, which the recipe's plan check reads without loading torch.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "lamer.adapters.allocation": ("ScheduleError", "experts_per_layer"),
    "lamer.adapters.checkpoint": ("ManifestMismatch", "fingerprint", "load_adapters", "read_manifest", "save_adapters"),
    "lamer.adapters.config": ("LamerConfig",),
    "lamer.adapters.experts": ("ExpertBank",),
    "lamer.adapters.injection": ("adapter_parameters", "apply_lamer", "aux_loss", "parameter_report", "patch_state",
                                 "patched_modules", "router_parameters", "routing_languages", "routing_losses",
                                 "total_rank", "track_expert_usage"),
    "lamer.adapters.layer": ("LamerLinear",),
    "lamer.adapters.merge": ("merge_adapters",),
    "lamer.adapters.router": ("Router",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value  # the next use finds it directly
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULE_OF})
