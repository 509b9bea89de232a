"""Paired comparison of two scored experiments, per language, with bootstrap intervals.

A *side* is one stage of one or more experiment directories (one per unit: a training seed, or a
training seed and a probe seed; paired by position with the other side's), each holding the recipe's
``results_<protocol>.json`` and, where the recipe wrote it, ``utt_errors_<protocol>.tsv`` (stage 8).
The comparison is side A minus side B, per language and for the mean over the languages compared,
with the 95% interval of the paired bootstrap of :mod:`lamer.eval.bootstrap`: both sides share every
draw of seeds and of test utterances, so the two must be scored on one test set. The two sides may
be the same experiment at two stages (what a continual stage changed from the base row) or two
experiments at one stage (a system against its control).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from lamer.eval import EvalInputError
from lamer.eval.bootstrap import (
    RESAMPLES,
    SEED,
    RunRates,
    Unit,
    bootstrap,
    format_interval,
    has_spread,
    interval,
    load_run_rates,
    rate_matrix,
    resampled,
    side,
)
from lamer.eval.forgetting import ERROR_RATES
from lamer.eval.markdown import markdown_table
from lamer.layout import results_name

MEAN = "mean"  # the key of the mean over languages (never an ISO 639-3 code: those have 3 letters)
_STAGE = "compared"  # the one stage a side's runs are cut down to, so that both sides read alike
VERDICTS = {"below": "A lower", "above": "B lower", "spans": "within noise"}


@dataclass(frozen=True)
class Side:
    """Experiment directories (one per unit, in unit order) and the stage compared (None: each
    experiment's last stage)."""

    exps: tuple[Path, ...]
    stage: str | None = None


def _one_stage(run: RunRates, stage: str) -> RunRates:
    """``run`` cut down to ``stage``, renamed :data:`_STAGE`."""
    results = run.results
    kept = {"stages": [_STAGE]}
    for rate in ERROR_RATES:
        matrix = rate_matrix(results, rate)
        if matrix is not None:
            kept[rate] = {_STAGE: matrix[stage]}
    utts = run.utts
    if utts is not None:
        utts = dataclasses.replace(utts, stages=(_STAGE,),
                                   edits={rate: {_STAGE: by_stage[stage]} for rate, by_stage in utts.edits.items()})
    return RunRates(dataclasses.replace(results, **kept), utts, run.utts_source)


def load_side(found: Side, protocol: str) -> list[RunRates]:
    """Each experiment's runs of ``protocol`` at the side's stage, its per-utterance edits checked
    against its results; EvalInputError names a missing file or an unknown stage."""
    out = []
    for exp in found.exps:
        run = load_run_rates(exp, protocol)
        stage = found.stage or run.results.stages[-1]
        if stage not in run.results.stages:
            raise EvalInputError(f"{exp / results_name(protocol)}: no stage {stage!r}; it has "
                                 f"{', '.join(run.results.stages)}")
        out.append(_one_stage(run, stage))
    return out


def _languages(runs: list[RunRates], rate: str, asked: list[str] | None, source: str) -> list[str]:
    scored = [set(rate_matrix(run.results, rate)[_STAGE]) for run in runs]
    common = sorted(set.intersection(*scored))
    if not asked:
        if not common:
            raise EvalInputError(f"{source}: the two sides score no language in common")
        return common
    missing = [lang for lang in asked if lang not in common]
    if missing:
        raise EvalInputError(f"{source}: {', '.join(missing)} not scored by every run compared "
                             f"(common to all: {', '.join(common) or 'none'})")
    return list(asked)


def parse_unit(text: str) -> Unit:
    """``SEED`` or ``SEED:PROBE_SEED`` (non-negative integers) as a bootstrap unit."""
    seed, _, probe = text.partition(":")
    if not seed.isdigit() or not (probe.isdigit() or probe == "" and ":" not in text):
        raise EvalInputError(f"unit {text!r}: expected SEED or SEED:PROBE_SEED (non-negative integers)")
    return int(seed), int(probe or 0)


def compare(a: list[RunRates], b: list[RunRates], rate: str = "cer", languages: list[str] | None = None,
            units: list[Unit] | None = None, resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """Side A minus side B (runs as from :func:`load_side`, paired by position) over ``rate``: per
    language and for :data:`MEAN`, each side's estimate and the interval of the difference, with
    a verdict (``A lower``, ``B lower`` or ``within noise``). ``units`` gives each position's
    (training seed, probe seed), default one training seed per position; probe seeds of one
    training seed are drawn within it. Test utterances are drawn where every run has its
    per-utterance edits; otherwise only the units are."""
    source = f"{rate} comparison"
    if len(a) != len(b):
        raise EvalInputError(f"{source}: side A has {len(a)} experiments and side B {len(b)}; they pair by position")
    units = units or [(i, 0) for i in range(len(a))]
    if len(units) != len(a) or len(set(units)) != len(units):
        raise EvalInputError(f"{source}: {len(units)} units for {len(a)} experiments per side; give one distinct "
                             "unit per position")
    if any(rate_matrix(run.results, rate) is None for run in a + b):
        raise EvalInputError(f"{source}: not every run compared was scored with {rate}")
    langs = _languages(a + b, rate, languages, source)

    def metrics(results, rate_name: str) -> dict[str, object]:
        row = rate_matrix(results, rate_name)[_STAGE]
        values = {lang: row[lang] for lang in langs}
        return {**values, MEAN: sum(values.values()) / len(values)}

    utterances = all(run.utts is not None and rate in run.utts.ref for run in a + b)
    paired = {unit: {"a": run_a, "b": run_b} for unit, run_a, run_b in zip(units, a, b)}
    replicates = bootstrap(paired, rate, metrics, utterances, resamples, seed)
    est, rep = replicates.estimates, replicates.replicates
    varied = has_spread(replicates)
    rows = {}
    for key in [*langs, MEAN]:
        found = interval(est["a"][key] - est["b"][key], rep["a"][key] - rep["b"][key])
        rows[key] = {"a": round(est["a"][key], 4), "b": round(est["b"][key], 4), "a_minus_b": found,
                     "verdict": VERDICTS[side(found)] if varied else "no spread"}
    return {"rate": rate, "units": len(a), "resampled": resampled(replicates), "varied": varied, "languages": rows}


def comparison_table(found: dict) -> str:
    """The comparison as a markdown table, one row per language and the mean last."""
    rate = found["rate"].upper()
    rows = [[key, f"{row['a']:.2f}", f"{row['b']:.2f}", format_interval(row["a_minus_b"]), row["verdict"]]
            for key, row in found["languages"].items()]
    return markdown_table(["language", f"A {rate}", f"B {rate}", "A - B [95% interval]", "verdict"], rows)
