"""Budget-matched systems: trainable parameters and total LoRA rank within a stated tolerance of a reference.

An ablation that compares adapter designs at one budget says so in its config (``matched``, read by
:func:`lamer.ablation.spec.load_ablation`)::

    matched: {reference: lamer_replay, systems: [lamer_inverted_replay, ...],
              trainable_params: 0.10, total_rank: 0.05}

Each listed system's ``trainable_params`` and ``total_rank``, as :func:`lamer.ssl.trainable.count_trainable`
counts them on the upstream the ablation runs on (``python -m lamer.bin.ablation trainable``, which
refuses a config whose systems are outside their tolerance before anything trains), must lie within the
given relative tolerance of the reference's: ``|count / reference's count - 1| <= tolerance``. This
module reads no model and imports no torch: the config check reads it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lamer.yaml_io import brief

COUNTS = ("trainable_params", "total_rank")  # what a system's budget is, as count_trainable reports it
_KEYS = {"reference", "systems", *COUNTS}


@dataclass(frozen=True)
class Matched:
    """The budget a set of systems is held to: ``tolerances`` per count of :data:`COUNTS`, relative
    to ``reference``'s."""

    reference: str
    systems: tuple[str, ...]
    tolerances: dict[str, float]


def parse_matched(value: Any, names: set[str], problems: list[str], key: str = "matched") -> Matched | None:
    """The ``matched`` entry ``value`` of a config whose systems are ``names``; each problem is appended
    to ``problems`` naming ``key`` and the part at fault (None when there is one)."""
    if not isinstance(value, dict):
        problems.append(f"{key}: expected a mapping {{reference: ..., systems: [...], trainable_params: ..., "
                        f"total_rank: ...}}, got {brief(value)}")
        return None
    before = len(problems)
    unknown = sorted(set(value) - _KEYS)
    if unknown:
        problems.append(f"{key}: unknown key(s) {unknown}; known keys are {sorted(_KEYS)}")
    reference = value.get("reference")
    if reference not in names:
        problems.append(f"{key}.reference: {brief(reference)} is not a system of this ablation ({sorted(names)})")
    systems = value.get("systems")
    if not isinstance(systems, list) or not systems or len(set(map(str, systems))) != len(systems):
        problems.append(f"{key}.systems: expected a non-empty list of distinct systems, got {brief(systems)}")
        systems = []
    for name in systems:
        if name not in names:
            problems.append(f"{key}.systems: {brief(name)} is not a system of this ablation")
        elif name == reference:
            problems.append(f"{key}.systems: {name} is the reference itself")
    tolerances = {}
    for count in COUNTS:
        tolerance = value.get(count)
        if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance < 1:
            problems.append(f"{key}.{count}: the relative tolerance of the systems' {count} against the "
                            f"reference's, a number in [0, 1) (0.05: within 5%), got {brief(tolerance)}")
        else:
            tolerances[count] = float(tolerance)
    if len(problems) > before:
        return None
    return Matched(str(reference), tuple(systems), tolerances)


def deviation(count: int | float, reference: int | float) -> float:
    """``count`` relative to ``reference``: ``count / reference - 1`` (0.05: 5% more)."""
    return count / reference - 1.0


def budget_problems(matched: Matched, counts: Mapping[str, Mapping[str, Any]], key: str = "matched") -> list[str]:
    """What keeps ``counts`` (``{system: count_trainable's report}``) from the budget of ``matched``:
    one sentence per system and count outside its tolerance, or without the count (a system without
    adapters has no rank); empty when every system is matched."""
    problems = []
    reference = counts[matched.reference]
    for count in COUNTS:
        if not reference.get(count):
            problems.append(f"{key}.reference: {matched.reference} has no {count} to match (a system with adapters "
                            "is needed)")
    if problems:
        return problems
    for name in matched.systems:
        for count, tolerance in matched.tolerances.items():
            have = counts[name].get(count)
            if have is None:
                problems.append(f"{key}.systems: {name} has no {count} (a system without adapters cannot be "
                                "matched)")
                continue
            off = deviation(have, reference[count])
            if abs(off) > tolerance:
                problems.append(f"{key}.{count}: {name} has {have}, {off:+.1%} against {matched.reference}'s "
                                f"{reference[count]}, outside the tolerance of {tolerance:.0%}: change its "
                                "method's rank or allocation")
    return problems
