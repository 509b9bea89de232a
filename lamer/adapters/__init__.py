"""Layer-aware mixtures of LoRA experts for frozen SSL speech models (independent of ESPnet).

Typical use::

    from lamer.adapters import LamerConfig, apply_lamer, save_adapters, load_adapters
    apply_lamer(upstream, LamerConfig.from_yaml("conf/lamer/lamer_base.yaml"))
    ...train...
    save_adapters(upstream, "exp/stage1/adapters")
    load_adapters(fresh_upstream, "exp/stage1/adapters")  # patches, checks, loads
"""
from lamer.adapters.allocation import ScheduleError, experts_per_layer
from lamer.adapters.checkpoint import ManifestMismatch, fingerprint, load_adapters, read_manifest, save_adapters
from lamer.adapters.config import LamerConfig
from lamer.adapters.experts import ExpertBank
from lamer.adapters.injection import (
    adapter_parameters,
    apply_lamer,
    aux_loss,
    parameter_report,
    patch_state,
    patched_modules,
    router_parameters,
    routing_languages,
    routing_losses,
    track_expert_usage,
)
from lamer.adapters.layer import LamerLinear
from lamer.adapters.merge import merge_adapters
from lamer.adapters.router import Router

__all__ = [
    "ExpertBank", "LamerConfig", "LamerLinear", "ManifestMismatch", "Router", "ScheduleError",
    "adapter_parameters", "apply_lamer", "aux_loss", "experts_per_layer", "fingerprint",
    "load_adapters", "merge_adapters", "parameter_report", "patch_state", "patched_modules",
    "read_manifest", "router_parameters", "routing_languages", "routing_losses", "save_adapters",
    "track_expert_usage",
]
