"""The ablation of a recipe: which systems run, with which method and plan, over which seeds.

An ablation config is a YAML file in the recipe (``conf/ablation.yaml``)::

    seeds: [0, 1, 2]
    probe_seeds: [0, 1]             # optional; default: each run's probes take its seed
    plan: conf/plan.yaml            # default plan of every system
    reference: lamer_replay         # the system the paired differences and the expectations are about
    baseline: ft                    # the system an expectation compares with unless it names another
    expectations:                   # checked under each protocol (default: both), in this order
      - {check: near_best, within: 1.0, protocols: [retrained]}
      - {check: best, protocols: [fixed]}
      - {check: bwt_share, divisor: 5, protocols: [fixed]}
      - {check: forgets, stds: 2}
      - {check: drifts_like, ratio: [0.5, 2.0]}
    matched: {reference: lamer_replay, systems: [lora_replay], trainable_params: 0.10, total_rank: 0.05}
    systems:                        # in table order
      frozen:       {train_on: none, reference_only: [fixed]}   # every stage = base model
      ft:           {method: conf/ablation/ft.yaml, replay_share: 0}   # the plan's replay kept out of the batches
      lamer_replay: {method: conf/ablation/lamer.yaml}
      joint:        {method: conf/ablation/joint.yaml, plan: conf/plan_joint.yaml, train_on: all, joint: true}
      continue_old: {method: conf/ablation/ft.yaml, train_on: old, control: true}

``seeds`` are the training seeds (continual SSL: replay sample, k-means, training). ``probe_seeds``
separates the probes' seed from them: every training seed runs with each probe seed (its probes,
the base probe included, trained with that seed; the training done once per training seed), each
such pair a *unit* of the ablation (``Ablation.units``). Without ``probe_seeds`` a run's probes
take its training seed, one unit per seed, as before the key existed.

Per system: ``method`` (an ``ssl_train`` config; required unless ``train_on: none``, refused
with it), ``plan`` (overrides the default), ``train_on`` (``new``, the default: the stage's new
languages; ``old``: the languages learned before; ``all``: both; ``none``: no continual training),
``replay_share`` (overrides the plan's ``replay.share``: 0 trains without replay batches; the
replay sample is still drawn and joins the k-means codebook's data, the same for every system),
``base_init: random`` (the base model's architecture with random weights, ``ssl.sh --base_init
random``; with ``train_on: none`` the random-init reference of the go/no-go checks, never a
candidate), ``joint: true`` (the upper bound, at most one system), ``control: true`` (the control, at most
one) and ``reference_only`` (the protocols under which the system is a reference row, not a
candidate for best: ``frozen`` under ``fixed``, whose probe was trained on its very features and
which learns no new language). The joint upper bound is a reference row under every protocol.
Paths are relative to the recipe directory (the config's parent's parent). Every problem is
reported together, naming the file and key. ``matched`` (optional) holds ``systems`` to the budget
of ``reference``: trainable parameters and total LoRA rank within the given relative tolerances
(:mod:`lamer.ssl.budget`), which ``python -m lamer.bin.ablation trainable`` checks on the upstream
before anything trains.

The expectations, each checked on the 95% bootstrap intervals of the final metrics and of the
paired differences between systems (:mod:`lamer.ablation.intervals`; ``best`` and ``near_best`` among
the candidates of the protocol: ``Ablation.candidates``). Each holds (yes) when its interval lies on
the expected side of its bound, fails (no) when it lies on the other, and is inconclusive when it
holds the bound; :mod:`lamer.ablation.expectations` states each with its numbers in RESULTS.md:

- ``near_best``: the reference's final average CER is at most ``within`` points above every other
  candidate's;
- ``best``: the reference's final average CER is lower than every other candidate's;
- ``bwt_share``: ``|BWT(reference)| <= |BWT(of)| / divisor`` (``of``: default the baseline);
- ``forgets``: ``system`` (default the baseline) forgets: its final BWT is below 0 (``stds``,
  optional, from when the rule read means: the line also states mean + ``stds`` sample std);
- ``drifts_like``: ``system`` (default the control) drifts comparably to ``like`` (default the
  baseline): the ratio of their BWTs lies in ``ratio`` ``[low, high]``;
- ``lower``: ``system`` (default the reference) has a lower final error than ``than`` by more than
  ``by`` points (default 0), over ``languages``: ``all`` (default, the average over every
  language), ``new`` (introduced after the base) or ``old`` (the base languages).

Every check takes ``rate``: ``cer`` (default) or ``per`` (the phone error rate, where the runs
scored it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lamer.recipe.jobs import BASE_INIT, PRETRAINED, RANDOM_INIT, TRAIN_ON
from lamer.recipe.plan import PlanError, _file, read_mapping
from lamer.ssl.budget import Matched, parse_matched
from lamer.ssl.replay_share import share_problem
from lamer.yaml_io import brief

_KEYS = {"seeds", "probe_seeds", "plan", "systems", "reference", "baseline", "expectations", "matched"}
PROTOCOLS = ("retrained", "fixed")
# per check: its parameters, each with its default (None: required)
OPTIONAL = "optional"  # the default of a parameter that may be left out and has no value then
CHECKS: dict[str, dict[str, Any]] = {
    "near_best": {"within": None},
    "best": {},
    "bwt_share": {"divisor": None, "of": None},
    "forgets": {"stds": OPTIONAL, "system": None},
    "drifts_like": {"ratio": None, "system": None, "like": None},
    "lower": {"than": None, "system": None, "languages": "all", "by": 0},
}
_SYSTEM_PARAMS = {"of", "system", "like", "than"}
LANGUAGES = ("all", "new", "old")
RATES = ("cer", "per")
_SYSTEM_KEYS = {"method", "plan", "train_on", "base_init", "joint", "control", "replay_share", "reference_only"}


class AblationError(PlanError):
    """An ablation config that cannot be run; the message lists every problem found."""


@dataclass(frozen=True)
class System:
    """One row of the ablation: a method trained on some languages under a plan."""

    name: str
    method: Path | None  # None: no continual training (train_on none)
    plan: Path
    train_on: str = "new"
    joint: bool = False
    control: bool = False
    replay_share: float | None = None  # None: the plan's replay.share
    reference_only: tuple[str, ...] = ()  # protocols under which it is a reference row, not a candidate
    base_init: str = PRETRAINED  # random: the base model's architecture with random weights

    def candidate(self, protocol: str) -> bool:
        """Whether the system competes for best under ``protocol``: the joint upper bound and a
        random-init base never do, a system with ``reference_only`` not under those protocols."""
        return not self.joint and self.base_init == PRETRAINED and protocol not in self.reference_only

    @property
    def random_reference(self) -> bool:
        """The random-init reference: the base model's architecture with random weights, untrained."""
        return self.base_init == RANDOM_INIT and self.train_on == "none"


@dataclass(frozen=True)
class Expectation:
    """One expected relation between systems' results (see the module docstring), checked under
    ``protocols``; ``params`` holds the check's parameters, system roles resolved to names."""

    check: str
    protocols: tuple[str, ...]
    params: dict[str, Any]


@dataclass(frozen=True)
class RunUnit:
    """A training seed and a probe seed: the runs of every system with them, under
    ``seed<key>/<system>``. ``key`` is the training seed alone where the probes take it (no
    ``probe_seeds``), ``<seed>_probe<probe_seed>`` otherwise."""

    key: int | str
    seed: int
    probe_seed: int


@dataclass(frozen=True)
class Ablation:
    path: Path
    seeds: list[int]
    systems: list[System]
    reference: str | None = None
    baseline: str | None = None
    expectations: tuple[Expectation, ...] = ()
    matched: Matched | None = None  # the budget some systems are held to (lamer.ssl.budget)
    probe_seeds: tuple[int, ...] | None = None  # None: each run's probes take its training seed

    @property
    def units(self) -> list[RunUnit]:
        """Every (training seed, probe seed) pair the ablation runs, training seed first."""
        if self.probe_seeds is None:
            return [RunUnit(seed, seed, seed) for seed in self.seeds]
        return [RunUnit(f"{seed}_probe{probe}", seed, probe) for seed in self.seeds for probe in self.probe_seeds]

    def system(self, name: str) -> System:
        for system in self.systems:
            if system.name == name:
                return system
        raise AblationError(f"{self.path}: no system {name!r}; systems are {[s.name for s in self.systems]}")

    @property
    def joint(self) -> System | None:
        """The upper-bound system, if the ablation has one."""
        return next((s for s in self.systems if s.joint), None)

    @property
    def control(self) -> System | None:
        """The control system, if the ablation has one."""
        return next((s for s in self.systems if s.control), None)

    def candidates(self, protocol: str) -> list[str]:
        """Names of the systems that compete for best under ``protocol``, in table order."""
        return [s.name for s in self.systems if s.candidate(protocol)]


def _flag(entry: dict, key: str, where: str, problems: list[str]) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        problems.append(f"{where}.{key}: expected true or false, got {brief(value)}")
        return False
    return value


def _system(name: Any, entry: Any, default_plan: Path, recipe_dir: Path, problems: list[str]) -> System | None:
    where = f"systems.{name}"
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_]+", name):
        problems.append(f"{where}: a system name must be letters, digits or _ (it names exp/<seed>/<system>)")
        return None
    if not isinstance(entry, dict):
        problems.append(f"{where}: expected a mapping of {sorted(_SYSTEM_KEYS)}, got {brief(entry)}")
        return None
    unknown = sorted(set(entry) - _SYSTEM_KEYS)
    if unknown:
        problems.append(f"{where}: unknown key(s) {unknown}; known keys are {sorted(_SYSTEM_KEYS)}")
    train_on = entry.get("train_on", "new")
    if train_on not in TRAIN_ON:
        problems.append(f"{where}.train_on: expected one of {list(TRAIN_ON)}, got {brief(train_on)}")
    method = None
    if train_on == "none":
        if "method" in entry:
            problems.append(f"{where}.method: train_on none trains nothing; remove the method")
    elif "method" not in entry:
        problems.append(f"{where}.method: missing; give the ssl_train config of this system "
                        "(or train_on: none for a system without continual training)")
    else:
        method = _file(recipe_dir, entry["method"], f"{where}.method", problems)
    plan = _file(recipe_dir, entry["plan"], f"{where}.plan", problems) if "plan" in entry else default_plan
    joint = _flag(entry, "joint", where, problems)
    control = _flag(entry, "control", where, problems)
    if joint and control:
        problems.append(f"{where}: a system is either the joint upper bound or the control, not both")
    reference_only = entry.get("reference_only", [])
    if (not isinstance(reference_only, list) or any(p not in PROTOCOLS for p in reference_only)
            or len(set(reference_only)) != len(reference_only)):
        problems.append(f"{where}.reference_only: expected a list of distinct protocols from {list(PROTOCOLS)}, "
                        f"got {brief(reference_only)}")
        reference_only = []
    elif joint and reference_only:
        problems.append(f"{where}.reference_only: the joint upper bound is a reference row under every protocol; "
                        "remove reference_only")
    base_init = entry.get("base_init", PRETRAINED)
    if base_init not in BASE_INIT:
        problems.append(f"{where}.base_init: expected one of {list(BASE_INIT)}, got {brief(base_init)}")
        base_init = PRETRAINED
    elif base_init == RANDOM_INIT and (joint or control):
        problems.append(f"{where}.base_init: random makes a reference of its own; the joint upper bound and the "
                        "control start from the pre-trained base")
    share = entry.get("replay_share")
    if share is not None and (problem := share_problem(share)):
        problems.append(f"{where}.replay_share: {problem}")
        share = None
    return System(name, method, plan, train_on if train_on in TRAIN_ON else "new", joint, control, share,
                  tuple(reference_only), base_init)


def _number(value: Any, where: str, problems: list[str]) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        problems.append(f"{where}: expected a number >= 0, got {brief(value)}")
        return False
    return True


def _expectation(index: int, entry: Any, roles: dict[str, str | None], names: set[str],
                 problems: list[str]) -> Expectation | None:
    """One entry of ``expectations``, checked; system parameters default to the roles' systems."""
    where = f"expectations[{index}]"
    if not isinstance(entry, dict) or entry.get("check") not in CHECKS:
        problems.append(f"{where}: expected a mapping with check: one of {sorted(CHECKS)}, got {brief(entry)}")
        return None
    check = entry["check"]
    unknown = sorted(set(entry) - {"check", "protocols", "rate", *CHECKS[check]})
    if unknown:
        problems.append(f"{where}: unknown key(s) {unknown} for check {check}; known: "
                        f"{sorted({'protocols', 'rate', *CHECKS[check]})}")
    rate = entry.get("rate", "cer")
    if rate not in RATES:
        problems.append(f"{where}.rate: expected one of {list(RATES)}, got {brief(rate)}")
    protocols = entry.get("protocols", list(PROTOCOLS))
    if not isinstance(protocols, list) or not protocols or any(p not in PROTOCOLS for p in protocols):
        problems.append(f"{where}.protocols: expected a non-empty list drawn from {list(PROTOCOLS)}, "
                        f"got {brief(protocols)}")
        protocols = []
    system = {"drifts_like": "control", "lower": "reference"}.get(check, "baseline")
    defaults = {"of": roles["baseline"], "system": roles[system], "like": roles["baseline"], "than": None}
    params: dict[str, Any] = {"rate": rate}
    for key, default in CHECKS[check].items():
        if key in _SYSTEM_PARAMS:
            value = entry.get(key, defaults[key])
            if value is not None and value not in names:
                problems.append(f"{where}.{key}: {brief(value)} is not a system of this ablation")
            elif value is None and key == "than":
                problems.append(f"{where}.than: missing; name the system it is compared with")
            params[key] = value
        elif key not in entry:
            if default is None:
                problems.append(f"{where}.{key}: missing")
            elif default != OPTIONAL:
                params[key] = default
        elif key == "languages":
            if entry[key] not in LANGUAGES:
                problems.append(f"{where}.languages: expected one of {list(LANGUAGES)}, got {brief(entry[key])}")
            params[key] = entry[key]
        elif key == "ratio":
            ratio = entry[key]
            if (not isinstance(ratio, list) or len(ratio) != 2
                    or not all(_number(r, f"{where}.ratio", problems) for r in ratio) or ratio[0] > ratio[1]):
                problems.append(f"{where}.ratio: expected [low, high] with low <= high, got {brief(ratio)}")
            params[key] = ratio
        elif _number(entry[key], f"{where}.{key}", problems):
            params[key] = entry[key]
    return Expectation(check, tuple(protocols), params)


def _role(raw: dict, key: str, names: set[str], problems: list[str]) -> str | None:
    value = raw.get(key)
    if value is not None and value not in names:
        problems.append(f"{key}: {brief(value)} is not a system of this ablation ({sorted(names)})")
        return None
    return value


def load_ablation(path: str | Path, recipe_dir: str | Path | None = None) -> Ablation:
    """Read and check an ablation config; raise AblationError listing every problem.

    Relative paths are taken from ``recipe_dir`` (default: the config's parent's parent).
    """
    path = Path(path)
    raw = read_mapping(path, "ablation config", AblationError)
    recipe_dir = Path(recipe_dir) if recipe_dir else path.resolve().parent.parent
    problems: list[str] = []
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        problems.append(f"unknown key(s) {unknown}; known keys are {sorted(_KEYS)}")
    seeds = raw.get("seeds")
    integers = isinstance(seeds, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    if not integers or not seeds or len(set(seeds)) != len(seeds):
        problems.append(f"seeds: expected a non-empty list of distinct integers, got {brief(seeds)}")
        seeds = []
    probe_seeds = raw.get("probe_seeds")
    if probe_seeds is not None and (
            not isinstance(probe_seeds, list) or not probe_seeds or len(set(probe_seeds)) != len(probe_seeds)
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in probe_seeds)):
        problems.append(f"probe_seeds: expected a non-empty list of distinct integers (or no key: the probes take "
                        f"each run's seed), got {brief(probe_seeds)}")
        probe_seeds = None
    default_plan = _file(recipe_dir, raw.get("plan"), "plan", problems)
    entries = raw.get("systems")
    systems: list[System] = []
    if not isinstance(entries, dict) or not entries:
        problems.append("systems: expected a non-empty mapping {name: {method: ..., ...}}")
        entries = {}
    for name, entry in entries.items():
        system = _system(name, entry, default_plan, recipe_dir, problems)
        if system is not None:
            systems.append(system)
    for flag in ("joint", "control"):
        flagged = [s.name for s in systems if getattr(s, flag)]
        if len(flagged) > 1:
            problems.append(f"systems: {flag}: true is set on {flagged}; at most one system can be the {flag}")
    names = {s.name for s in systems}
    roles = {"reference": _role(raw, "reference", names, problems), "baseline": _role(raw, "baseline", names, problems),
             "control": next((s.name for s in systems if s.control), None)}
    entries = raw.get("expectations") or []
    if not isinstance(entries, list):
        problems.append(f"expectations: expected a list of {{check: ..., ...}}, got {brief(entries)}")
        entries = []
    if entries and roles["reference"] is None:
        problems.append("expectations: need reference: the system they are about")
    expectations = [_expectation(i, entry, roles, names, problems) for i, entry in enumerate(entries)]
    reference = next((s for s in systems if s.name == roles["reference"]), None)
    for i, expectation in enumerate(expectations):
        if reference is not None and expectation is not None and expectation.check in ("best", "near_best"):
            excluded = [p for p in expectation.protocols if not reference.candidate(p)]
            if excluded:
                problems.append(f"expectations[{i}]: {expectation.check} under {excluded}, where the reference "
                                f"{reference.name!r} is no candidate (joint or reference_only)")
    matched = parse_matched(raw["matched"], names, problems) if "matched" in raw else None
    if problems:
        raise AblationError(f"{path}: the ablation cannot run:\n  - " + "\n  - ".join(problems))
    return Ablation(path=path, seeds=list(seeds), systems=systems, reference=roles["reference"],
                    baseline=roles["baseline"], expectations=tuple(e for e in expectations if e is not None),
                    matched=matched, probe_seeds=None if probe_seeds is None else tuple(probe_seeds))
