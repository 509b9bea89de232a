"""How each probe of an ablation trained: its validation CER per epoch, read from its training log.

A small CTC probe first outputs only blanks (validation CER near 1), then sits on a plateau
where it emits a few frequent characters (about 0.9), and leaves it at an epoch that varies with
its seed and features. A probe that leaves it late scores every language of its stage badly,
which looks like forgetting under the ``retrained`` protocol but is not: this table lets a
reader tell the two apart.

Input: ESPnet's training log of each probe (``<run>/logs/probe_<stage>.log``), whose lines
``<N>epoch results: [train] ... [valid] ... cer_ctc=<x>`` give the epoch's validation CER
(a fraction), read into a curve once when the runs are exported (``probe_cer.json``,
lamer.ablation.runs). A run whose probe is another run's (``frozen``'s base probe, shared)
has no log of its own for it: the base probe is read from the ``frozen`` system of the seed.
"""
from __future__ import annotations

import re
from pathlib import Path

from lamer.eval import EvalInputError

PLATEAU_CER = 0.85  # below this, a probe has left the blank / few-character plateau
_EPOCH = re.compile(r"(\d+)epoch results: .*\[valid\].*?\bcer_ctc=([0-9.]+|nan)")


def valid_cer_curve(log: Path) -> list[float | None]:
    """Validation CER (fraction) per epoch, from epoch 1, read from an ESPnet training log.

    An epoch logged twice (a resumed run) keeps its last value; an epoch without a value (or
    ``nan``) is None. Raises EvalInputError naming the file when no epoch result is found.
    """
    found: dict[int, float | None] = {}
    with open(log, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            match = _EPOCH.search(line)
            if match:
                value = match.group(2)
                found[int(match.group(1))] = None if value == "nan" else float(value)
    if not found:
        raise EvalInputError(f"{log}: no '<N>epoch results' line with a validation cer_ctc")
    return [found.get(epoch) for epoch in range(1, max(found) + 1)]


def escape_epoch(curve: list[float | None], plateau: float = PLATEAU_CER) -> int | None:
    """The first epoch (1-based) whose validation CER is below ``plateau``; None if none is."""
    return next((k + 1 for k, value in enumerate(curve) if value is not None and value < plateau), None)


def curve_entry(curve: list[float | None] | None) -> dict | None:
    """``{"final", "best", "escape_epoch", "epochs"}`` of one probe's validation CER curve, None
    without a curve."""
    if curve is None:
        return None
    values = [v for v in curve if v is not None]
    return {"final": curve[-1], "best": min(values) if values else None,
            "escape_epoch": escape_epoch(curve), "epochs": len(curve)}


def collect(curves: dict[str, dict[int, dict[str, list[float | None]]]], base_system: str | None,
            stages: dict[str, list[str]]) -> dict:
    """Probe entries per system and seed: ``{system: {seed: {stage: entry or None}}}``.

    ``curves[system][seed]`` maps a run's stages to its probes' curves (``probe_cer.json`` of the
    runs layout, lamer.ablation.runs); ``stages[system]`` lists its stages after the base.
    The base probe of a seed is read from ``base_system``'s run of that seed and reported as the
    system ``"base probe"``.
    """
    out: dict = {"base probe": {seed: {"base": curve_entry(run.get("base"))}
                                for seed, run in curves.get(base_system, {}).items()}}
    for system, runs in curves.items():
        if system == base_system:
            continue
        out[system] = {seed: {stage: curve_entry(run.get(stage)) for stage in stages[system]}
                       for seed, run in runs.items()}
    return out


def _cell(entry: dict | None) -> str:
    if entry is None or entry["final"] is None:
        return "–"
    escape = "never" if entry["escape_epoch"] is None else f"e{entry['escape_epoch']}"
    return f"{entry['final']:.2f} ({escape})"


def render_table(health: dict, seeds: list[int]) -> list[list[str]]:
    """Rows ``[system, cell per seed]``; a cell lists ``stage final (eN)`` per stage, where eN is
    the epoch the probe left the plateau."""
    rows = []
    for system, per_seed in health.items():
        cells = []
        for seed in seeds:
            stages = per_seed.get(seed)
            cells.append("–" if not stages else
                         ", ".join(f"{stage} {_cell(entry)}" for stage, entry in stages.items()))
        rows.append([system, *cells])
    return rows
