"""What a Lamer config says before any model is patched: whether it gives some layer a frame router."""
import pytest

from lamer.adapters import LamerConfig, apply_lamer
from lamer.adapters.router import Router
from lamer.upstream.presets import build_preset

LANGS = ["eng", "fra"]


@pytest.mark.parametrize("options, routed", [
    ({"allocation": "groups:2,4,8"}, True),                            # lamer_base: layers 1 and 2 route
    ({"allocation": "uniform:1", "shared_experts": 0}, False),         # one LoRA
    ({"allocation": "uniform:2", "shared_experts": 1}, False),         # shared + one routed expert per layer
    ({"allocation": "uniform:4", "shared_experts": 0, "router": "topk"}, True),
    ({"allocation": "linear:1-3", "shared_experts": 1}, True),         # 1, 2, 3: the last layer routes
    ({"allocation": "steps:0,2,1", "shared_experts": 0}, True),
    ({"allocation": "groups:2,4,8", "router": "language", "languages": LANGS}, False),  # routed by language
])
def test_frame_routers_are_known_from_the_config_as_the_patch_builds_them(options, routed):
    config = LamerConfig(**options)
    model = build_preset("tiny")  # 3 layers
    apply_lamer(model, config)
    built = any(isinstance(m, Router) and m.mode != "language" for m in model.modules())
    assert config.has_frame_routers == built == routed
