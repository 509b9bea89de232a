"""Experts per transformer layer, from a schedule string and a model depth.

Schedules:

- ``uniform:E``            E experts in every layer (the MiLorE-SSL setting);
- ``linear:A-B``           from A experts in the first layer to B in the last, rounded;
- ``steps:e0,e1,...``      one count per layer; the list must be as long as the model is deep;
- ``groups:g0,g1,...``     the layers cut into len(groups) contiguous groups of (nearly) equal
                           size, group i getting g_i experts; works for any depth, so
                           ``groups:2,4,8`` is 2-2-2-2-4-4-4-4-8-8-8-8 on 12 layers and
                           8 layers per group on 24; when the depth does not divide, the
                           earlier (shallower) groups take the extra layers;
- ``quartiles:q0,q1,q2,q3`` ``groups`` with exactly four groups;
- ``reverse:SCHEDULE``     any of the above upside down: layer i gets what the last-but-i layer
                           gets under SCHEDULE, so ``reverse:groups:2,4,8`` is 8-8-8-8-4-4-4-4-2-2-2-2
                           on 12 layers and 8-4-2-2 on 4 (``groups:8,4,2`` would be 8-8-4-2 there:
                           the extra layer goes to the first group either way). The same counts
                           as SCHEDULE, more experts in shallow layers: the inverted allocation,
                           matched in experts (and so in parameters on layers of one width).

A count of 0 leaves that layer unpatched.
"""
from __future__ import annotations

KINDS = ("uniform", "linear", "steps", "groups", "quartiles", "reverse")
REVERSE = "reverse"


class ScheduleError(ValueError):
    """A schedule string that cannot be turned into experts per layer."""


def _ints(text: str, spec: str, sep: str = ",") -> list[int]:
    parts = [p.strip() for p in text.split(sep)]
    if not parts or any(p == "" for p in parts):
        raise ScheduleError(f"schedule {spec!r}: empty number in {text!r}")
    values = []
    for part in parts:
        try:
            value = int(part)
        except ValueError:
            raise ScheduleError(f"schedule {spec!r}: {part!r} is not a whole number") from None
        if value < 0:
            raise ScheduleError(f"schedule {spec!r}: expert counts cannot be negative ({value})")
        values.append(value)
    return values


def _split_groups(counts: list[int], depth: int, spec: str) -> list[int]:
    if len(counts) > depth:
        raise ScheduleError(f"schedule {spec!r}: {len(counts)} groups for a model of only {depth} layers")
    base, extra = divmod(depth, len(counts))
    out: list[int] = []
    for i, count in enumerate(counts):
        out.extend([count] * (base + (1 if i < extra else 0)))
    return out


def parse_schedule(spec: str) -> tuple[str, list[int]]:
    """``(kind, numbers)`` of a schedule string (see the module doc), whatever the depth: ScheduleError
    names the offending part of a malformed one (``reverse``: the numbers of the schedule it reverses).
    :class:`~lamer.adapters.config.LamerConfig` checks its ``allocation`` with it; :func:`experts_per_layer`
    expands it for a depth."""
    if not isinstance(spec, str) or ":" not in spec:
        raise ScheduleError(f"schedule {spec!r}: expected KIND:VALUES with KIND one of {', '.join(KINDS)}"
                            " (for example 'uniform:4', 'linear:2-8', 'groups:2,4,8')")
    kind, _, body = spec.partition(":")
    kind, body = kind.strip(), body.strip()
    if kind == REVERSE:
        inner = body.split(":", 1)[0].strip()
        if inner == REVERSE:
            raise ScheduleError(f"schedule {spec!r}: 'reverse' of a reversed schedule is the schedule itself; "
                                "write it without either")
        try:
            _, numbers = parse_schedule(body)
        except ScheduleError as err:
            raise ScheduleError(f"schedule {spec!r}: 'reverse' takes a schedule, e.g. 'reverse:groups:2,4,8' "
                                f"({err})") from None
        return kind, numbers
    if kind == "uniform":
        if "," in body:
            raise ScheduleError(f"schedule {spec!r}: 'uniform' takes one number, e.g. 'uniform:4'")
        return kind, _ints(body, spec)
    if kind == "linear":
        if body.count("-") != 1:
            raise ScheduleError(f"schedule {spec!r}: 'linear' takes FIRST-LAST, e.g. 'linear:2-8'")
        return kind, _ints(body, spec, sep="-")
    if kind in ("steps", "groups", "quartiles"):
        numbers = _ints(body, spec)
        if kind == "quartiles" and len(numbers) != 4:
            raise ScheduleError(f"schedule {spec!r}: 'quartiles' takes exactly 4 counts, got {len(numbers)}")
        return kind, numbers
    raise ScheduleError(f"schedule {spec!r}: unknown kind {kind!r}; choose one of {', '.join(KINDS)}")


def experts_per_layer(spec: str, depth: int) -> list[int]:
    """Turn a schedule string (see the module doc) into one expert count per layer.

    Raises ScheduleError with the offending part named when the string is malformed
    (:func:`parse_schedule`) or does not fit ``depth``.
    """
    if depth < 1:
        raise ScheduleError(f"schedule {spec!r}: model depth must be positive, got {depth}")
    kind, numbers = parse_schedule(spec)
    if kind == REVERSE:
        try:
            return experts_per_layer(spec.partition(":")[2].strip(), depth)[::-1]
        except ScheduleError as err:
            raise ScheduleError(f"schedule {spec!r}: {err}") from None
    if kind == "uniform":
        counts = numbers * depth
    elif kind == "linear":
        first, last = numbers
        if depth == 1:
            counts = [first]
        else:
            # round half up so that linear:2-8 rises evenly instead of banker's rounding
            counts = [int(first + (last - first) * i / (depth - 1) + 0.5) for i in range(depth)]
    elif kind == "steps":
        counts = numbers
        if len(counts) != depth:
            raise ScheduleError(f"schedule {spec!r}: {len(counts)} counts for a model of {depth} layers; "
                                "give one per layer, or use 'groups:' to spread fewer counts over the depth")
    else:  # groups, quartiles
        counts = _split_groups(numbers, depth, spec)
    if not any(counts):
        raise ScheduleError(f"schedule {spec!r}: every layer has 0 experts, nothing would be trained")
    return counts
