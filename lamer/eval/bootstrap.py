"""A paired, hierarchical bootstrap of error-rate metrics over seeds and test utterances.

The data are runs of several systems under one protocol, one per system and *unit*: a unit is a
(training seed, probe seed) pair, the systems of a unit sharing its seeds and its test set. One
bootstrap replicate draws, with replacement, as many training seeds as there are; within each
drawn training seed as many of its probe seeds as it has; and within each drawn unit, per language,
as many test utterances as the language has. The systems share every draw (paired), so a
difference of two systems' replicates is the replicate of their paired difference. A metric's
replicate is its mean over the drawn units, each unit's value computed from the results matrix
re-aggregated over the drawn utterances (corpus-level rates: drawn edits over drawn reference
lengths). Without per-utterance edits (``utterances=False``) a unit's matrix is its aggregate one
and only the seeds are drawn.

A 95% interval is the 2.5 and 97.5 percentiles of ``RESAMPLES`` replicates; the generator is
seeded (``SEED``) anew for every bootstrap, so the same data give the same intervals. With few
seeds and no utterances the interval is little more than the range of the per-seed values (with
three seeds: their minimum and maximum); with one unit and no utterances it is a point
(:func:`has_spread` says whether a bootstrap can show any noise at all).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lamer.eval import EvalInputError
from lamer.eval.forgetting import ERROR_RATES
from lamer.eval.results import Matrix, Results, load_results
from lamer.eval.utt_errors import UttErrors, read_utt_errors
from lamer.layout import results_name, utt_errors_name

RESAMPLES = 2000
SEED = 0
LEVEL = 0.95
DIGITS = 4  # of the reported figures: far below a meaningful difference, above float noise

Unit = tuple[int, int]  # (training seed, probe seed)
Metrics = Callable[[Results, str], dict[str, object]]


@dataclass(frozen=True)
class RunRates:
    """One run's results and, where it wrote them, its per-utterance edits (``utts_source`` names
    their file in errors)."""

    results: Results
    utts: UttErrors | None = None
    utts_source: str = ""


def rate_matrix(results: Results, rate: str) -> Matrix | None:
    """The ``cer`` or ``per`` matrix of ``results`` (None: no PER)."""
    return results.cer if rate == "cer" else results.per


def _with_matrix(results: Results, rate: str, matrix: dict) -> Results:
    return dataclasses.replace(results, **{rate: matrix})


def check_utts(run: RunRates, rate: str) -> None:
    """EvalInputError unless ``run``'s per-utterance edits give its results' ``rate`` matrix: the
    same stages, and per stage and language the same rate (to 1e-6 points)."""
    utts, matrix = run.utts, rate_matrix(run.results, rate)
    if utts is None or matrix is None:
        return
    if list(utts.stages) != run.results.stages or rate not in utts.ref:
        raise EvalInputError(f"{run.utts_source}: no {rate} edits for the stages {run.results.stages} of its results")
    for stage, row in matrix.items():
        for lang, value in row.items():
            rows = utts.rows_of(lang)
            if not rows:
                raise EvalInputError(f"{run.utts_source}: no utterance of {lang!r}, which its results score")
            edits, ref = (sum(counts[i] for i in rows) for counts in (utts.edits[rate][stage], utts.ref[rate]))
            if abs(100.0 * edits / ref - value) > 1e-6:
                raise EvalInputError(f"{run.utts_source}: {rate} of {lang!r} at {stage!r} is {100.0 * edits / ref:.4f} "
                                     f"from its edits, {value:.4f} in its results; collect the run's results again")


def load_run_rates(run_dir: Path, protocol: str) -> RunRates:
    """A run directory's results of ``protocol`` (stage 8's ``results_<protocol>.json``) and, where
    it wrote them, its per-utterance edits, checked against each other for every rate."""
    utts_path = run_dir / utt_errors_name(protocol)
    run = RunRates(load_results(run_dir / results_name(protocol)),
                   read_utt_errors(utts_path) if utts_path.is_file() else None, str(utts_path))
    for rate in ERROR_RATES:
        check_utts(run, rate)
    return run


def _language_rows(runs: dict[str, RunRates], rate: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per language the utterances' indices in the first run's table and reference lengths; every
    run of the unit must list the same utterances with the same lengths."""
    first_name, first = next(iter(runs.items()))
    out = {}
    for lang in sorted(set(first.utts.langs)):
        rows = first.utts.rows_of(lang)
        ids = [first.utts.utts[i] for i in rows]
        ref = [first.utts.ref[rate][i] for i in rows]
        for name, run in runs.items():
            other = run.utts.rows_of(lang)
            if [run.utts.utts[i] for i in other] != ids or [run.utts.ref[rate][i] for i in other] != ref:
                raise EvalInputError(f"{run.utts_source}: the test utterances of {lang!r} differ from "
                                     f"{first.utts_source}'s ({first_name}); the systems of a seed must be scored on "
                                     "one test set")
        out[lang] = (np.asarray(rows), np.asarray(ref, dtype=np.int64))
    return out


class _Draws:
    """The runs of one unit, ready to be re-aggregated over drawn utterances: per language the rows
    of its utterances and their reference lengths, per run and stage the edits as arrays."""

    def __init__(self, runs: dict[str, RunRates], rate: str):
        self.runs, self.rate = runs, rate
        self.languages = _language_rows(runs, rate)
        self.edits = {name: {stage: np.asarray(edits, dtype=np.int64) for stage, edits in run.utts.edits[rate].items()}
                      for name, run in runs.items()}

    def matrices(self, rng: np.random.Generator, resamples: int) -> dict[str, Results]:
        """Each run's results with its matrix re-aggregated over one draw of utterances that the
        runs share (``(resamples,)`` arrays)."""
        draws = {}
        for lang, (rows, ref) in self.languages.items():
            counts = rng.multinomial(len(rows), np.full(len(rows), 1.0 / len(rows)), size=resamples)
            draws[lang] = (counts, counts @ ref)
        out = {}
        for name, run in self.runs.items():
            matrix = {stage: {lang: 100.0 * (draws[lang][0] @ self.edits[name][stage][self.languages[lang][0]])
                              / draws[lang][1] for lang in row}
                      for stage, row in rate_matrix(run.results, self.rate).items()}
            out[name] = _with_matrix(run.results, self.rate, matrix)
        return out


@dataclass(frozen=True)
class Replicates:
    """Per system and metric: the estimate over all units (mean over training seeds of the mean
    over their probe seeds) and its ``(resamples,)`` bootstrap replicates; None where the metric
    is undefined. ``utterances``: whether test utterances were drawn."""

    estimates: dict[str, dict[str, float | None]]
    replicates: dict[str, dict[str, np.ndarray | None]]
    utterances: bool
    units: tuple[Unit, ...]


def _values(drawn: dict[str, Results], rate: str, metrics: Metrics, resamples: int) -> dict[str, dict]:
    return {name: {key: None if value is None else np.broadcast_to(np.asarray(value, dtype=float), (resamples,))
                   for key, value in metrics(results, rate).items()} for name, results in drawn.items()}


def bootstrap(units: dict[Unit, dict[str, RunRates]], rate: str, metrics: Metrics, utterances: bool,
              resamples: int = RESAMPLES, seed: int = SEED) -> Replicates:
    """The replicates of ``metrics(results, rate)`` (a mapping of metric name to value or None)
    for every system of ``units`` (each unit holding a run of every system), drawn as the module
    docstring says; with ``utterances``, every run must have per-utterance edits of ``rate``."""
    rng = np.random.default_rng(seed)
    by_seed: dict[int, list[Unit]] = {}
    for unit in sorted(units):
        by_seed.setdefault(unit[0], []).append(unit)
    seeds = list(by_seed)
    systems = list(next(iter(units.values())))
    full = {unit: _values({name: run.results for name, run in runs.items()}, rate, metrics, resamples)
            for unit, runs in units.items()}
    names = {name: list(full[next(iter(units))][name]) for name in systems}

    def mean(values: list) -> object:
        return None if any(v is None for v in values) else sum(values) / len(values)

    estimates = {name: {key: mean([mean([full[u][name][key] for u in by_seed[s]]) for s in seeds])
                        for key in names[name]} for name in systems}
    estimates = {name: {key: None if v is None else float(v[0]) for key, v in values.items()}
                 for name, values in estimates.items()}
    draws = {unit: _Draws(runs, rate) for unit, runs in units.items()} if utterances else None
    picked = rng.integers(0, len(seeds), size=(resamples, len(seeds)))
    sums: dict[str, dict[str, np.ndarray | None]] = {name: {key: np.zeros(resamples) for key in names[name]}
                                                    for name in systems}
    for j in range(len(seeds)):
        for s, seed_units in enumerate(by_seed[seed] for seed in seeds):
            chosen = picked[:, j] == s  # the replicates that drew this training seed at position j
            for _ in seed_units:  # as many probe-seed draws as the seed has
                probe = rng.integers(0, len(seed_units), size=resamples)
                for p, unit in enumerate(seed_units):
                    values = full[unit] if draws is None else _values(draws[unit].matrices(rng, resamples), rate,
                                                                      metrics, resamples)
                    mask = chosen & (probe == p)
                    for name, by_key in values.items():
                        for key, value in by_key.items():
                            if value is None or sums[name][key] is None:
                                sums[name][key] = None
                            else:
                                sums[name][key][mask] += value[mask] / len(seed_units)
    replicates = {name: {key: None if total is None else total / len(seeds) for key, total in values.items()}
                  for name, values in sums.items()}
    return Replicates(estimates, replicates, utterances, tuple(sorted(units)))


def resampled(replicates: Replicates) -> str:
    """What a bootstrap drew, in words."""
    seeds = {seed for seed, _ in replicates.units}
    drawn = ["training seeds"] + (["probe seeds"] if len(replicates.units) > len(seeds) else [])
    drawn += ["test utterances"] if replicates.utterances else []
    return ", ".join(drawn[:-1]) + f" and {drawn[-1]}" if len(drawn) > 1 else drawn[0]


def has_spread(replicates: Replicates) -> bool:
    """Whether the bootstrap drew anything that varies: test utterances, or more than one unit."""
    return replicates.utterances or len(replicates.units) > 1


def interval(estimate: float | None, replicates: np.ndarray | None, level: float = LEVEL) -> dict | None:
    """``{"mean", "low", "high"}``: the estimate and the percentile interval of its replicates,
    rounded to ``DIGITS``; None for an undefined metric. A ratio undefined in some replicate
    (a zero denominator) gives None as well."""
    if estimate is None or replicates is None or not np.all(np.isfinite(replicates)) or not np.isfinite(estimate):
        return None
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(replicates, [tail, 100.0 - tail])
    return {key: round(float(value), DIGITS) for key, value in (("mean", estimate), ("low", low), ("high", high))}


def side(found: dict, bound: float = 0.0) -> str:
    """Where the interval ``found`` (as from :func:`interval`) lies against ``bound``: ``above``
    (its low end above it), ``below`` (its high end below it) or ``spans`` (it holds the bound:
    within noise)."""
    if found["low"] > bound:
        return "above"
    return "below" if found["high"] < bound else "spans"


def format_interval(found: dict | None, digits: int = 2) -> str:
    """``mean [low, high]``, or ``–`` for an undefined interval."""
    if found is None:
        return "–"
    return f"{found['mean']:.{digits}f} [{found['low']:.{digits}f}, {found['high']:.{digits}f}]"
