"""The ablation's 95% intervals: each system's final metrics and the paired differences between
systems, by the bootstrap of :mod:`lamer.eval.bootstrap` over the ablation's units (training and
probe seeds) and, where the runs wrote them (``utt_errors_<protocol>.tsv``), test utterances.
Written to ``intervals.json`` beside the summary::

    {"bootstrap": {"resamples": 2000, "seed": 0, "level": 0.95},
     "<protocol>": {"<rate>": {                 # rate: cer, and per where every run scored it
         "systems": {name: {"units": [...], "resampled": "...", "varied": bool, "<metric>": I, ...}},
         "pairs": {"<a>-<b>": {"units": [...], "resampled": "...", "varied": bool, "<metric>": I (a - b), ...,
                              "bwt_ratio": I (BWT(a) / BWT(b)), "abs_bwt_ratio": I (|BWT(a)| / |BWT(b)|)}}}},
     "go_no_go": {...}}                         # lamer.ablation.go_no_go

with I = ``{"mean", "low", "high"}`` (null where undefined: no older language for BWT, a zero
BWT under a ratio) and ``varied`` false where nothing could vary (one unit without per-utterance
edits: its intervals are points, no evidence either way). The metrics of a run, over its
``rate`` matrix after its last stage: ``avg_final`` (mean over every language introduced),
``new_final`` (the languages introduced after the base), ``old_final`` (the base languages) and
``bwt_final`` (lamer.eval.forgetting).
``pairs`` holds every system against the reference (``<system>-<reference>``: positive, the
reference is lower) and the pairs the expectations compare. An interval is computed over the
units both systems have; ``resampled`` says what was drawn: test utterances only where every run
involved has their edits.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lamer.ablation.runs import seed_dir
from lamer.ablation.spec import Ablation, RunUnit
from lamer.eval import EvalInputError
from lamer.eval.bootstrap import (
    LEVEL,
    RESAMPLES,
    SEED,
    Replicates,
    RunRates,
    bootstrap,
    format_interval,
    has_spread,
    interval,
    load_run_rates,
    resampled,
)
from lamer.eval.forgetting import forgetting_metrics
from lamer.eval.markdown import markdown_table
from lamer.eval.results import PROTOCOLS, Results, load_json
from lamer.layout import results_name

INTERVALS = "intervals.json"
RATES = ("cer", "per")
METRICS = ("avg_final", "new_final", "old_final", "bwt_final")


def final_metrics(results: Results, rate: str) -> dict[str, object]:
    """The run's metrics (module docstring) over its ``rate`` matrix; works on matrices of numbers
    and of bootstrap arrays alike."""
    matrix = results.cer if rate == "cer" else results.per
    last = results.stages[-1]
    metrics = forgetting_metrics(results, rate=rate)
    new = [j for j in results.languages if results.stage_index(j) > 0]
    old = [j for j in results.languages if results.stage_index(j) == 0]
    return {"avg_final": metrics[f"avg_{rate}"][last],
            "new_final": sum(matrix[last][j] for j in new) / len(new) if new else None,
            "old_final": sum(matrix[last][j] for j in old) / len(old),
            "bwt_final": metrics["bwt"][last]}


def load_rates(ablation: Ablation, runs_dir: Path, protocol: str) -> dict[str, dict[RunUnit, RunRates]]:
    """Every run of ``protocol`` under ``runs_dir``: per system, per unit, its results and its
    per-utterance edits where it has them (checked against its results)."""
    out: dict[str, dict[RunUnit, RunRates]] = {}
    for system in ablation.systems:
        for unit in ablation.units:
            run = seed_dir(runs_dir, unit.key) / system.name
            path = run / results_name(protocol)
            if not path.is_file():
                continue
            out.setdefault(system.name, {})[unit] = load_run_rates(run, protocol)
    return out


class Pool:
    """The bootstraps of one protocol and rate, one per set of units (and whether test utterances
    can be drawn), each over every system that has runs at all those units: paired comparisons
    over the same units share their draws."""

    def __init__(self, runs: dict[str, dict[RunUnit, RunRates]], rate: str, resamples: int = RESAMPLES,
                 seed: int = SEED):
        self.rate, self.resamples, self.seed = rate, resamples, seed
        # a system whose runs lack this rate (no PER) takes no part
        self.runs = {name: by_unit for name, by_unit in runs.items()
                     if all((r.results.cer if rate == "cer" else r.results.per) is not None for r in by_unit.values())}
        self._cache: dict[tuple, Replicates] = {}

    def units(self, names: list[str]) -> list[RunUnit]:
        """The units at which every system of ``names`` has a run, in ablation order."""
        if any(name not in self.runs for name in names):
            return []
        first = self.runs[names[0]]
        return [unit for unit in first if all(unit in self.runs[name] for name in names)]

    def _utterances(self, names: list[str], units: list[RunUnit]) -> bool:
        return all(self.runs[name][unit].utts is not None and self.rate in self.runs[name][unit].utts.ref
                   for name in names for unit in units)

    def replicates(self, names: list[str]) -> Replicates | None:
        """The bootstrap over the units ``names`` share, test utterances drawn where all their runs
        there have edits; None when they share no unit."""
        units = self.units(names)
        if not units:
            return None
        utterances = self._utterances(names, units)
        key = (tuple(units), utterances)
        if key not in self._cache:
            members = [name for name in self.runs if all(unit in self.runs[name] for unit in units)
                       and (not utterances or self._utterances([name], units))]
            data = {(unit.seed, unit.probe_seed): {name: self.runs[name][unit] for name in members} for unit in units}
            self._cache[key] = bootstrap(data, self.rate, final_metrics, utterances, self.resamples, self.seed)
        return self._cache[key]


def _header(replicates: Replicates, units: list[RunUnit]) -> dict:
    return {"units": [unit.key for unit in units], "resampled": resampled(replicates),
            "varied": has_spread(replicates)}


def system_intervals(pool: Pool, name: str) -> dict | None:
    """The intervals of one system's metrics, or None without runs."""
    replicates = pool.replicates([name])
    if replicates is None:
        return None
    return {**_header(replicates, pool.units([name])),
            **{key: interval(replicates.estimates[name][key], replicates.replicates[name][key]) for key in METRICS}}


def _ratio(numerator, denominator, absolute: bool):
    if numerator is None or denominator is None:
        return None
    numerator, denominator = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    if absolute:
        numerator, denominator = np.abs(numerator), np.abs(denominator)
    with np.errstate(divide="ignore", invalid="ignore"):  # a zero BWT: inf or nan, an undefined interval
        return numerator / denominator


def pair_intervals(pool: Pool, a: str, b: str) -> dict | None:
    """The paired differences ``a - b`` of every metric and the ratios of their BWTs, over the
    units both have; None when they share none."""
    replicates = pool.replicates([a, b])
    if replicates is None:
        return None
    est, rep = replicates.estimates, replicates.replicates
    out = _header(replicates, pool.units([a, b]))
    for key in METRICS:
        defined = est[a][key] is not None and est[b][key] is not None
        out[key] = interval(est[a][key] - est[b][key], rep[a][key] - rep[b][key]) if defined else None
    for key, absolute in (("bwt_ratio", False), ("abs_bwt_ratio", True)):
        ratio = _ratio(est[a]["bwt_final"], est[b]["bwt_final"], absolute)
        out[key] = interval(ratio, _ratio(rep[a]["bwt_final"], rep[b]["bwt_final"], absolute)) if ratio is not None \
            else None
    return out


def compared_pairs(ablation: Ablation, named: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pairs ``intervals.json`` holds: every system against the reference, then the pairs
    ``named`` (those the expectations compare), each once."""
    reference = ablation.reference
    pairs = [(s.name, reference) for s in ablation.systems if reference and s.name != reference]
    return pairs + [pair for i, pair in enumerate(named) if pair not in pairs and pair not in named[:i]]


def pair_key(a: str, b: str) -> str:
    """The key of the pair ``a - b`` in ``intervals.json``."""
    return f"{a}-{b}"


def pools(ablation: Ablation, runs_dir: Path) -> dict[str, dict[str, Pool]]:
    """``{protocol: {rate: Pool}}`` of the runs found, rates scored by some run only."""
    out: dict[str, dict[str, Pool]] = {}
    for protocol in PROTOCOLS:
        runs = load_rates(ablation, runs_dir, protocol)
        out[protocol] = {rate: pool for rate in RATES if (pool := Pool(runs, rate)).runs}
    return out


def ablation_intervals(ablation: Ablation, pooled: dict[str, dict[str, Pool]], named: list[tuple[str, str]]) -> dict:
    """The content of ``intervals.json`` but its go/no-go checks (module docstring); ``named``:
    the pairs the expectations compare."""
    out: dict = {"bootstrap": {"resamples": RESAMPLES, "seed": SEED, "level": LEVEL}}
    pairs = compared_pairs(ablation, named)
    for protocol, by_rate in pooled.items():
        out[protocol] = {}
        for rate, pool in by_rate.items():
            systems = {s.name: found for s in ablation.systems if (found := system_intervals(pool, s.name))}
            compared = {pair_key(a, b): found for a, b in pairs if (found := pair_intervals(pool, a, b))}
            out[protocol][rate] = {"systems": systems, "pairs": compared}
    return out


def read_intervals(path: Path) -> dict:
    """``intervals.json``, as the summary wrote it; a missing one is named."""
    obj = load_json(Path(path))
    if not isinstance(obj, dict) or "bootstrap" not in obj:
        raise EvalInputError(f"{path}: not the ablation summary's intervals (no 'bootstrap'); run the summary again")
    return obj


def render_paired(ablation: Ablation, intervals: dict, protocol: str) -> list[str]:
    """Per rate of ``protocol``, a Markdown paragraph and table of every system's paired
    differences with the reference, with their intervals (none without a reference)."""
    reference, parts = ablation.reference, []
    for rate, data in intervals.get(protocol, {}).items():
        rows = [[name, *(format_interval(found[key]) for key in METRICS), found["resampled"]]
                for s in ablation.systems if (name := s.name) != reference
                and (found := data["pairs"].get(pair_key(name, reference)))]
        if not rows:
            continue
        label = rate.upper()
        table = markdown_table(["system", *(f"Δ {what} {label} final" for what in ("avg", "new", "old")),
                                f"Δ BWT final ({label})", "resampled"], rows)
        parts.append(f"Paired with {reference}, {label}, with 95% intervals (Δ = system − {reference}: mean over the "
                     f"seeds both have [2.5, 97.5 percentiles of {intervals['bootstrap']['resamples']} bootstrap "
                     "resamples]; avg: every language, new: those introduced after the base, old: the base ones; "
                     f"a positive Δ {label}: {reference} is lower, an interval holding 0: no difference shown).\n\n"
                     + table)
    return parts


def resampling_note(intervals: dict) -> str | None:
    """A sentence for the summary when some interval drew no test utterances (runs without
    ``utt_errors`` tables), None when every one did."""
    drawn = {entry["resampled"] for protocol in PROTOCOLS for data in intervals.get(protocol, {}).values()
             for block in ("systems", "pairs") for entry in data[block].values()}
    without = sorted(what for what in drawn if "test utterances" not in what)
    if not without:
        return None
    every = len(without) == len(drawn)
    return (f"{'Every' if every else 'Some'} interval here resamples {' or '.join(without)} only: "
            f"{'these' if every else 'some'} runs hold no per-utterance edits (`utt_errors_<protocol>.tsv`, "
            "written by runs since the table exists), so such an interval shows the spread of the seeds' values "
            "alone (with three seeds, about their range), not the test sets' sampling noise.")
