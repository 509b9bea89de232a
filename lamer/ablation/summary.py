"""The ablation summary: every system's results over seeds, per protocol, as JSON, plots and a
generated RESULTS.md section.

Input: the runs layout (``lamer.ablation.runs``, committed under ``<recipe>/ablation/runs``):
``seed<k>/<system>/results_<protocol>.json`` (``lamer.eval.results``), whichever exist, each
run's ``probe_cer.json``, ``expert_usage.json``, ``routing_vs_ceiling.json`` and
``utt_errors_<protocol>.tsv`` (where it has them), and ``trainable.json`` and ``environment.json``
at its top. Nothing else is read and nothing of the moment (date, paths) is written, so the JSON
outputs are a function of those files: the same bytes on every summary. Per run:

- ``avg_cer_final``: average CER over the languages introduced so far, at the run's last stage;
- ``bwt_final``: backward transfer at the last stage (``lamer.eval.forgetting``; negative =
  forgetting);
- ``fwt_mean``: forward transfer averaged over the stages after the base (those where it is
  defined);
- ``lid_acc_final``: LID accuracy averaged over the languages introduced so far, at the last stage;
- ``lid_acc_classifier_final``: the same for the probe's utterance-level language classifier
  (null for probes without one).

Over seeds: mean and sample standard deviation (0 with one seed); a metric undefined in any seed
of a system (no LID scores, no older language) is null for that system.

What the ablation is expected to show (its reference system, baseline and expected relations)
is data in the ablation config, checked by :mod:`lamer.ablation.expectations` on the 95% bootstrap
intervals of :mod:`lamer.ablation.intervals` (over seeds and, where the runs wrote them, test
utterances), after the go/no-go checks of :mod:`lamer.ablation.go_no_go`; the RESULTS.md section
is rendered by :mod:`lamer.ablation.section` from the files written here alone.
"""
from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lamer.ablation.expectations import pairs_of
from lamer.ablation.go_no_go import go_no_go
from lamer.ablation.intervals import INTERVALS, ablation_intervals, pools
from lamer.ablation.runs import ENVIRONMENT, TRAINABLE, read_probe_curves, read_run_file, seed_dir
from lamer.ablation.section import ROUTING_CEILING_OUTPUT, render_results
from lamer.ablation.spec import Ablation
from lamer.atomic import write_json_atomic
from lamer.eval import EvalInputError
from lamer.eval.forgetting import forgetting_metrics, mean_over_introduced
from lamer.eval.probe_health import collect as collect_probe_health
from lamer.eval.results import PROTOCOLS, Results, load_json, load_results
from lamer.eval.routing import routing_stats
from lamer.eval.routing_vs_ceiling import check_routing_vs_ceiling, last_stage_divergence
from lamer.layout import EXPERT_USAGE, ROUTING_VS_CEILING, results_name

METRICS = ("avg_cer_final", "bwt_final", "fwt_mean", "lid_acc_final", "lid_acc_classifier_final")


def run_metrics(results: Results) -> dict:
    """The summary metrics of one run (see the module docstring), plus its per-stage curves:
    ``avg_cer`` and ``old_cer`` (mean CER of the base languages) as lists over ``results.stages``."""
    metrics = forgetting_metrics(results)
    last = results.stages[-1]
    fwt = [metrics["fwt"][s] for s in results.stages[1:] if metrics["fwt"][s] is not None]
    base_languages = [j for j in results.languages if results.stage_index(j) == 0]
    return {
        "avg_cer_final": metrics["avg_cer"][last],
        "bwt_final": metrics["bwt"][last],
        "fwt_mean": sum(fwt) / len(fwt) if fwt else None,
        **{f"{key}_final": mean_over_introduced(results, matrix)[last] if matrix is not None else None
           for key, matrix in (("lid_acc", results.lid_acc), ("lid_acc_classifier", results.lid_acc_classifier))},
        "avg_cer": [metrics["avg_cer"][s] for s in results.stages],
        "old_cer": [sum(results.cer[s][j] for j in base_languages) / len(base_languages) for s in results.stages],
    }


def mean_std(values: list[float | None]) -> dict[str, float] | None:
    """``{"mean", "std"}`` (sample std, 0.0 for one value); None if any value is None or none given."""
    if not values or any(v is None for v in values):
        return None
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def _curve(runs: list[dict], key: str) -> dict[str, list[float | None]]:
    per_stage = [mean_std([run[key][k] for run in runs]) for k in range(len(runs[0][key]))]
    return {"mean": [s and s["mean"] for s in per_stage], "std": [s and s["std"] for s in per_stage]}


def load_runs(ablation: Ablation, runs_dir: Path) -> dict:
    """Every run's metrics (``run_metrics``) found under ``runs_dir``, read once:
    ``{protocol: {system: {"stages": [...], "seeds": {seed: metrics}}}}``, systems without results
    left out. All seeds of a system must share its stages and languages."""
    out: dict = {}
    for protocol in PROTOCOLS:
        out[protocol] = {}
        for system in ablation.systems:
            per_seed, first = {}, None
            for seed in (unit.key for unit in ablation.units):
                path = seed_dir(runs_dir, seed) / system.name / results_name(protocol)
                if not path.is_file():
                    continue
                results = load_results(path)
                if results.protocol != protocol:
                    raise EvalInputError(f"{path}: 'protocol' is {results.protocol!r}, the file name says {protocol!r}")
                if first is None:
                    first = (path, results)
                elif (results.stages, results.introduced) != (first[1].stages, first[1].introduced):
                    raise EvalInputError(f"{path}: stages or languages differ from {first[0]}; the seeds of "
                                         f"system {system.name!r} must run the same plan")
                per_seed[seed] = run_metrics(results)
            if per_seed:
                out[protocol][system.name] = {"stages": first[1].stages, "seeds": per_seed}
    return out


def summarize(ablation: Ablation, runs_dir: Path, trainable: dict | None,
              runs: dict | None = None) -> tuple[dict, dict]:
    """``(summary, curves)`` over the results found under ``runs_dir`` (or ``runs``, as from
    ``load_runs``), per protocol.

    ``summary[protocol]["systems"][name]`` holds the metrics (mean/std over seeds, or None),
    ``trainable_percent`` (from ``trainable``'s ``systems``, None without it) and the seeds found.
    ``curves[protocol][name]`` holds ``stages`` and the per-stage ``avg_cer`` / ``old_cer``
    ``{"mean": [...], "std": [...]}`` of the systems with results. All seeds of a system must
    share its stages and languages.
    """
    runs = load_runs(ablation, runs_dir) if runs is None else runs
    counted = (trainable or {}).get("systems") or {}
    percents = {name: entry.get("trainable_percent") for name, entry in counted.items()}
    summary: dict = {}
    curves: dict = {}
    for protocol in PROTOCOLS:
        systems: dict = {}
        curves[protocol] = {}
        for system in ablation.systems:
            found = runs[protocol].get(system.name)
            metrics = list(found["seeds"].values()) if found else []
            entry = {metric: mean_std([run[metric] for run in metrics]) for metric in METRICS}
            entry["trainable_percent"] = percents.get(system.name)
            entry["seeds"] = list(found["seeds"]) if found else []
            systems[system.name] = entry
            if found:
                curves[protocol][system.name] = {"stages": found["stages"], "avg_cer": _curve(metrics, "avg_cer"),
                                                 "old_cer": _curve(metrics, "old_cer")}
        summary[protocol] = {"systems": systems}
    return summary, curves


def paired_with_reference(runs: dict, method: str | None) -> dict:
    """Per protocol and system, the per-seed differences ``system - method`` (the reference
    system) of the final average CER and BWT over the seeds both have, from ``runs``
    (``load_runs``): ``{protocol: {system: {"seeds", "avg_cer_final", "bwt_final",
    "method_lower_cer"}}}`` (mean/std as in the summary; ``method_lower_cer``: in how many of those
    seeds the method's final average CER is the lower). Within a seed the systems share the base
    model and, under ``fixed``, the base probe, so these differences are free of the between-seed
    spread that the unpaired ± carries."""
    out: dict = {}
    for protocol, systems in runs.items():
        reference = systems.get(method, {}).get("seeds", {})
        out[protocol] = {}
        for name, found in systems.items():
            per_seed = found["seeds"]
            seeds = [seed for seed in per_seed if seed in reference]
            if name == method or not seeds:
                continue
            diffs = {key: [None if per_seed[k][key] is None or reference[k][key] is None
                           else per_seed[k][key] - reference[k][key] for k in seeds]
                     for key in ("avg_cer_final", "bwt_final")}
            out[protocol][name] = {"seeds": seeds, **{key: mean_std(v) for key, v in diffs.items()},
                                   "method_lower_cer": sum(d is not None and d > 0 for d in diffs["avg_cer_final"])}
    return out


def _seeds_found(summary: dict, name: str) -> list[int]:
    """The seeds with results of system ``name`` under any protocol."""
    return sorted({seed for protocol in PROTOCOLS for seed in summary[protocol]["systems"][name]["seeds"]})


def _roles(ablation: Ablation) -> tuple[str | None, str | None]:
    """Names of the joint (upper-bound) and control systems, None where the ablation has none."""
    return (ablation.joint.name if ablation.joint else None, ablation.control.name if ablation.control else None)


def _probe_health(ablation: Ablation, runs_dir: Path, summary: dict, curves: dict) -> dict:
    """Probe training per system and seed (``lamer.eval.probe_health``) of the runs with results,
    from their ``probe_cer.json``; the base probes come from the system that trains none after the
    base (``train_on: none``)."""
    base = next((s.name for s in ablation.systems if s.train_on == "none"), None)
    stages = {name: c["stages"][1:] for protocol in PROTOCOLS for name, c in curves[protocol].items()}
    probes = {name: {seed: read_probe_curves(runs_dir, seed, name) for seed in _seeds_found(summary, name)}
              for name in stages}
    return collect_probe_health(probes, base, stages)


def _per_run(ablation: Ablation, runs_dir: Path, summary: dict, name: str, read: Callable[[Any, str], Any]) -> dict:
    """``{system: {seed: read(json, path)}}`` of the runs with results and a file ``name``."""
    out: dict = {}
    for system in ablation.systems:
        for seed in _seeds_found(summary, system.name):
            path = seed_dir(runs_dir, seed) / system.name / name
            if path.is_file():
                out.setdefault(system.name, {})[seed] = read(load_json(path), str(path))
    return out


def routing_by_run(ablation: Ablation, runs_dir: Path, summary: dict) -> dict:
    """``{system: {seed: routing_stats}}`` of the runs with results and an ``expert_usage.json``
    (systems with routers only)."""
    return _per_run(ablation, runs_dir, summary, EXPERT_USAGE, routing_stats)


def routing_ceiling_by_run(ablation: Ablation, runs_dir: Path, summary: dict) -> dict:
    """``{system: {seed: routing_vs_ceiling}}`` of the runs with results and a ``routing_vs_ceiling.json``."""
    return _per_run(ablation, runs_dir, summary, ROUTING_VS_CEILING, check_routing_vs_ceiling)


def write_summary(ablation: Ablation, runs_dir: Path, out_dir: Path, results_md: Path) -> dict:
    """Write ``summary.json``, ``curves.json``, ``paired.json``, ``intervals.json`` (95% bootstrap
    intervals and the go/no-go checks: lamer.ablation.intervals, lamer.ablation.go_no_go),
    ``probe_health.json``, ``routing.json``, ``section.json`` (the runs' environment and the plots'
    captions) and the PNGs into ``out_dir`` from the runs layout ``runs_dir`` (``lamer.ablation.runs``), then the
    ablation section of ``results_md`` from them (``render_results``); return the summary. The
    JSON files are the same bytes for the same runs; the PNGs are matplotlib's rendering of them."""
    from lamer.eval.plots import (  # matplotlib only here
        plot_expert_usage,
        plot_system_curves,
    )

    method = ablation.reference
    runs_dir = Path(runs_dir)
    trainable = read_run_file(runs_dir, TRAINABLE)
    env = read_run_file(runs_dir, ENVIRONMENT)
    runs = load_runs(ablation, runs_dir)
    summary, curves = summarize(ablation, runs_dir, trainable, runs)
    out_dir = Path(out_dir)
    write_json_atomic(out_dir / "summary.json", summary)
    write_json_atomic(out_dir / "curves.json", curves)
    joint, control = _roles(ablation)
    health = _probe_health(ablation, runs_dir, summary, curves)
    write_json_atomic(out_dir / "probe_health.json", health)
    routing = routing_by_run(ablation, runs_dir, summary)
    write_json_atomic(out_dir / "routing.json", routing)
    ceiling = routing_ceiling_by_run(ablation, runs_dir, summary)
    if ceiling:
        write_json_atomic(out_dir / ROUTING_CEILING_OUTPUT, ceiling)
    else:  # runs that never measured it: no file, not an empty one, so their outputs stay as they were
        (out_dir / ROUTING_CEILING_OUTPUT).unlink(missing_ok=True)
    write_json_atomic(out_dir / "paired.json", paired_with_reference(runs, method))
    pooled = pools(ablation, runs_dir)
    write_json_atomic(out_dir / INTERVALS, {**ablation_intervals(ablation, pooled, pairs_of(ablation)),
                                            "go_no_go": go_no_go(ablation, pooled)})
    pngs = {}
    for protocol in PROTOCOLS:
        found = curves[protocol]
        if not found:
            continue
        stages = next((c["stages"] for name, c in found.items() if name != joint), next(iter(found.values()))["stages"])
        for key, caption in (("avg_cer", "average CER over the languages introduced so far"),
                             ("old_cer", "mean CER of the base languages: forgetting")):
            png = out_dir / f"{key}_{protocol}.png"
            plot_system_curves({name: {"stages": c["stages"], **c[key]} for name, c in found.items()}, stages, png,
                               title=f"{caption[0].upper()}{caption[1:]} ({protocol} probe)", ylabel="CER (%)",
                               joint=joint, control=control)
            pngs[f"{caption[0].upper()}{caption[1:]}, {protocol} probe"] = png.name
    usage = next((p for seed in (unit.key for unit in ablation.units)
                  if (p := seed_dir(runs_dir, seed) / str(method) / EXPERT_USAGE).is_file()), None)
    if usage is not None:
        png = out_dir / f"expert_usage_{method}.png"
        caption = f"Expert usage of {method} ({usage.parent.parent.name})"
        routing = usage.parent / ROUTING_VS_CEILING
        divergence = last_stage_divergence(check_routing_vs_ceiling(load_json(routing), str(routing))) \
            if routing.is_file() else None
        plot_expert_usage(load_json(usage), png, title=f"{caption}: mean router weight per expert",
                          divergence=divergence)
        pngs[caption] = png.name
    write_json_atomic(out_dir / "section.json", {"environment": env, "plots": pngs})
    render_results(ablation, out_dir, results_md)
    return summary
