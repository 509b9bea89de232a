"""The settings of a Lamer patch: what is patched, how many experts, how they are routed."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lamer.adapters.allocation import ScheduleError, parse_schedule
from lamer.yaml_io import load_yaml

ROUTER_MODES = ("soft", "topk", "language", "oracle")
GATE_MODES = ("soft", "topk")  # routers with a learned gate that reads the frames
# the options of how routers learn, shown by the adapter report
ROUTING_OPTIONS = ("temperature", "load_balance_weight", "specialise_weight", "gate_init_std", "router_lr_scale")


@dataclass
class LamerConfig:
    """Settings of a layer-aware mixture of LoRA experts.

    allocation: experts per layer, a schedule string (see ``allocation.py``); the count of a
        layer includes its shared experts.
    rank / alpha: rank of each routed expert and LoRA scaling ``alpha / rank``.
    shared_experts: always-on experts per patched module (0 for none); their rank is
        ``shared_rank`` (default: ``rank``). A learned scalar per module balances them
        against the routed experts.
    targets: module names to patch in every layer: aliases (``ffn``, ``attn``, ``attn_qv``)
        or regular expressions matched against the name inside the layer (``fc1``,
        ``self_attn\\.(q|v)_proj``).
    layer_targets: per-layer overrides, ``{"0-5": ["fc2"], "11": ["ffn", "attn"]}``.
    router: ``soft`` (every expert weighted per frame), ``topk`` (the ``top_k`` best per
        frame), ``language`` (a learned table picks the weights from a language id), or
        ``oracle`` (no learned router: the utterance's known language picks one routed expert,
        a fixed assignment, see :class:`~lamer.adapters.router.Router`; a language-oracle
        baseline, nothing to train in the router).
    languages: language codes known to the router, needed for ``language`` routing and for
        per-language usage statistics.
    load_balance_weight: weight of the Switch-style load-balancing loss (0: off), which pulls
        every router towards using all experts equally, frame by frame.
    specialise_weight: weight of the specialisation loss (0: off): minus the mutual information
        between the batch's languages and the routers' expert choice (``router.specialisation_loss``),
        averaged over routers. Needs the language of every training utterance (ssl_train's
        ``lang`` data); soft and top-k routers only.
    gate_init_std: standard deviation of the normal initialisation of the gates (soft, top-k).
    router_lr_scale: the routers' learning rate is the optimizer's times this (ssl_train gives
        the router parameters their own parameter group); gates that start near zero need a
        larger one to leave the uniform mix in a short stage.
    """

    allocation: str = "groups:2,4,8"
    rank: int = 4
    alpha: float = 8.0
    dropout: float = 0.0
    shared_experts: int = 1
    shared_rank: int | None = None
    targets: list[str] = field(default_factory=lambda: ["ffn"])
    layer_targets: dict[str, list[str]] = field(default_factory=dict)
    router: str = "soft"
    top_k: int = 2
    temperature: float = 1.0
    load_balance_weight: float = 0.0
    specialise_weight: float = 0.0
    gate_init_std: float = 0.01
    router_lr_scale: float = 1.0
    languages: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        problems = []
        try:  # its form; whether it fits a model's depth is known where the model is (experts_per_layer)
            parse_schedule(self.allocation)
        except ScheduleError as err:
            problems.append(f"allocation: {err}")
        if self.rank < 1:
            problems.append(f"rank must be >= 1, got {self.rank}")
        if self.shared_rank is not None and self.shared_rank < 1:
            problems.append(f"shared_rank must be >= 1, got {self.shared_rank}")
        if self.shared_experts < 0:
            problems.append(f"shared_experts must be >= 0, got {self.shared_experts}")
        if self.router not in ROUTER_MODES:
            problems.append(f"router must be one of {ROUTER_MODES}, got {self.router!r}")
        if self.router == "topk" and self.top_k < 1:
            problems.append(f"top_k must be >= 1, got {self.top_k}")
        if self.router == "language" and not self.languages:
            problems.append("router 'language' needs the list 'languages'")
        if self.temperature <= 0:
            problems.append(f"temperature must be > 0, got {self.temperature}")
        if self.load_balance_weight < 0:
            problems.append(f"load_balance_weight must be >= 0 (0: off), got {self.load_balance_weight}")
        if self.specialise_weight < 0:
            problems.append(f"specialise_weight must be >= 0 (0: off), got {self.specialise_weight}")
        if self.specialise_weight > 0 and self.router not in GATE_MODES:
            problems.append(f"specialise_weight applies to gate routers (soft, topk): router {self.router!r} is "
                            "specialised by construction; set specialise_weight 0")
        if self.router == "oracle":
            # the oracle has no gate: a loss or learning rate of one would be silently unused
            for key, off in (("load_balance_weight", 0.0), ("router_lr_scale", 1.0)):
                if getattr(self, key) != off:
                    problems.append(f"{key} applies to learned routers: router 'oracle' routes by a fixed "
                                    f"language-to-expert assignment and learns nothing; set {key} {off:g}")
        if self.gate_init_std < 0:
            problems.append(f"gate_init_std must be >= 0, got {self.gate_init_std}")
        if self.router_lr_scale <= 0:
            problems.append(f"router_lr_scale must be > 0 (1: the optimizer's learning rate), got "
                            f"{self.router_lr_scale}")
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout must be in [0, 1), got {self.dropout}")
        if not self.targets and not self.layer_targets:
            problems.append("targets is empty: name at least one module (e.g. [ffn])")
        if len(set(self.languages)) != len(self.languages):
            problems.append(f"languages has duplicates: {self.languages}")
        if problems:
            raise ValueError("invalid Lamer config: " + "; ".join(problems))

    @property
    def effective_shared_rank(self) -> int:
        return self.shared_rank if self.shared_rank is not None else self.rank

    @property
    def has_frame_routers(self) -> bool:
        """Whether some layer gets a gate router (soft or top-k): a layer routes when its count less
        its shared experts is above one. Known from the schedule alone, whatever the model's depth
        (every count a schedule names is some layer's, and ``linear`` lies between its two)."""
        if self.router == "language":
            return False
        return any(count - min(self.shared_experts, count) > 1 for count in parse_schedule(self.allocation)[1])

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> LamerConfig:
        """Build from a mapping; unknown keys and bad values are an error naming ``source``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{source}: unknown Lamer option(s) {unknown}; known options are {sorted(known)}")
        try:
            return cls(**values)
        except ValueError as err:
            raise ValueError(f"{source}: {err}") from None

    @classmethod
    def from_yaml(cls, path: str | Path) -> LamerConfig:
        """The config of an ESPnet-style ``adapter: lamer`` YAML file (:func:`preset_options`)."""
        return cls.from_dict(preset_options(path), source=str(path))


def preset_options(path: str | Path) -> dict[str, Any]:
    """The Lamer options of an ESPnet-style ``adapter: lamer`` YAML file (its ``adapter_conf``), as
    written: :meth:`LamerConfig.from_dict` checks them, with any overrides on top.

    A file that is just the option mapping (no ``adapter:`` key) is accepted too. Read by the
    strict loader (:mod:`lamer.yaml_io`): a key given twice is a ValueError naming its line.
    """
    path = Path(path)
    data = load_yaml(path) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    if "adapter" in data:
        if data["adapter"] != "lamer":
            raise ValueError(f"{path}: adapter is {data['adapter']!r}; this reader takes 'lamer'")
        data = data.get("adapter_conf") or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: adapter_conf must be a mapping")
    return data
