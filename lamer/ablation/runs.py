"""The ablation's per-run outputs, small enough to commit (``<recipe>/ablation/runs/``), from which
``python -m lamer.bin.ablation summary`` regenerates every summary file byte for byte.

Layout, exported from the runs' directory (``exp/ablation``) by ``python -m lamer.bin.ablation
export``::

    runs/trainable.json                         # the trainable command's output
    runs/environment.json                       # versions and git commit of the exporting checkout
    runs/seed<k>/<system>/results_<protocol>.json   # lamer.eval.results, as the run scored it
                                                    # (seed<k>_probe<p>/ with probe_seeds)
    runs/seed<k>/<system>/utt_errors_<protocol>.tsv # lamer.eval.utt_errors, where the run wrote it
    runs/seed<k>/<system>/expert_usage.json     # systems with routers only
    runs/seed<k>/<system>/routing_vs_ceiling.json   # runs that measured their routers' ceiling
    runs/seed<k>/<system>/probe_cer.json        # {stage: validation CER (fraction) per epoch}

A run is exported when it has results under either protocol. ``probe_cer.json`` holds, for each
stage of the run whose probe log (``logs/probe_<stage>.log``) exists, the curve
``lamer.eval.probe_health.valid_cer_curve`` reads from it. Absolute paths in ``trainable.json``
are made relative to the recipe. The ``utt_errors`` tables are copied as they are; every JSON
file is written with sorted keys and Python's shortest round-trip floats, without dates or
absolute paths, so exporting the same runs twice gives the same bytes; the environment leaves
out ESPnet's ``date`` for that reason.
"""
from __future__ import annotations

import json
from pathlib import Path

from lamer.ablation.spec import Ablation
from lamer.atomic import atomic_dir, write_json_atomic, write_text_atomic
from lamer.eval import EvalInputError
from lamer.eval.probe_health import valid_cer_curve
from lamer.eval.report import environment
from lamer.eval.results import PROTOCOLS, load_json, load_results
from lamer.eval.routing_vs_ceiling import check_routing_vs_ceiling
from lamer.eval.utt_errors import read_utt_errors
from lamer.layout import EXPERT_USAGE, ROUTING_VS_CEILING, Layout, results_name, utt_errors_name

TRAINABLE = "trainable.json"
ENVIRONMENT = "environment.json"
PROBE_CER = "probe_cer.json"


def seed_dir(runs_dir: Path, seed: int | str) -> Path:
    """Where the runs of one seed (a unit's key: ``Ablation.units``) live: ``<runs>/seed<key>`` (the
    same under ``exp/ablation``)."""
    return Path(runs_dir) / f"seed{seed}"


def _canonical(obj: object) -> object:
    """``obj`` with every mapping's keys sorted, so that its JSON does not depend on insertion order."""
    return json.loads(json.dumps(obj, sort_keys=True))


def _portable(value: object, recipe_dir: Path) -> object:
    """An absolute path made relative to the recipe (its file name outside it): where the runs
    were is no result. Anything else is returned as it is."""
    if not isinstance(value, str) or not Path(value).is_absolute():
        return value
    path = Path(value)
    return path.relative_to(recipe_dir).as_posix() if path.is_relative_to(recipe_dir) else path.name


def _portable_trainable(trainable: object, path: Path, recipe_dir: Path) -> dict:
    """The trainable command's output with its ``upstream`` and the systems' ``method`` paths portable."""
    if not isinstance(trainable, dict) or not isinstance(trainable.get("systems"), dict):
        raise EvalInputError(f"{path}: expected the trainable command's output, a mapping with 'systems'")
    systems = {name: {key: _portable(value, recipe_dir) if key == "method" else value for key, value in entry.items()}
               if isinstance(entry, dict) else entry for name, entry in trainable["systems"].items()}
    return {**trainable, "upstream": _portable(trainable.get("upstream"), recipe_dir), "systems": systems}


def probe_curves(run: Path, stages: list[str]) -> dict[str, list[float | None]]:
    """Validation CER per epoch of each of ``stages`` whose probe log ``<run>/logs/probe_<stage>.log``
    exists."""
    logs = {stage: Path(Layout(str(run)).log(f"probe_{stage}")) for stage in stages}
    return {stage: valid_cer_curve(log) for stage, log in logs.items() if log.is_file()}


def _export_run(run: Path, out: Path) -> None:
    stages: list[str] = []
    for protocol in PROTOCOLS:
        path = run / results_name(protocol)
        if path.is_file():
            results = load_results(path)  # validated: a broken file is refused here, not at summary time
            if results.protocol != protocol:
                raise EvalInputError(f"{path}: 'protocol' is {results.protocol!r}, the file name says {protocol!r}")
            write_json_atomic(out / path.name, _canonical(load_json(path)))
            stages += [stage for stage in results.stages if stage not in stages]
            utt_errors = run / utt_errors_name(protocol)
            if utt_errors.is_file():  # runs scored before the table existed have none
                if list(read_utt_errors(utt_errors).stages) != results.stages:
                    raise EvalInputError(f"{utt_errors}: its stages differ from {path}'s {results.stages}; "
                                         "collect the run's results again")
                write_text_atomic(out / utt_errors.name, utt_errors.read_text(encoding="utf-8"))
    if (run / EXPERT_USAGE).is_file():
        write_json_atomic(out / EXPERT_USAGE, _canonical(load_json(run / EXPERT_USAGE)))
    if (run / ROUTING_VS_CEILING).is_file():
        routing = check_routing_vs_ceiling(load_json(run / ROUTING_VS_CEILING), str(run / ROUTING_VS_CEILING))
        write_json_atomic(out / ROUTING_VS_CEILING, _canonical(routing))
    write_json_atomic(out / PROBE_CER, _canonical(probe_curves(run, stages)))


def export_runs(ablation: Ablation, exp_dir: Path, trainable_json: Path, out_dir: Path) -> list[str]:
    """Write the runs layout (module docstring) of every run of ``ablation`` under ``exp_dir`` that
    has results into ``out_dir``, replacing it as a whole (atomically: runs no longer in the
    config or the experiment do not linger); return the runs exported as ``seed<k>/<system>``."""
    recipe_dir = ablation.path.resolve().parent.parent  # where the config's paths are taken from
    trainable = _portable_trainable(load_json(Path(trainable_json)), Path(trainable_json), recipe_dir)
    exported = []
    with atomic_dir(out_dir) as tmp:
        write_json_atomic(tmp / TRAINABLE, _canonical(trainable))
        write_json_atomic(tmp / ENVIRONMENT, _canonical({k: v for k, v in environment().items() if k != "date"}))
        for seed in (unit.key for unit in ablation.units):
            for system in ablation.systems:
                run = seed_dir(exp_dir, seed) / system.name
                if any((run / results_name(p)).is_file() for p in PROTOCOLS):
                    _export_run(run, seed_dir(tmp, seed) / system.name)
                    exported.append(f"seed{seed}/{system.name}")
    return exported


def read_run_file(runs_dir: Path, name: str) -> object:
    """A top-level file of the runs layout (``trainable.json``, ``environment.json``); a missing
    one is named with how to make it."""
    path = Path(runs_dir) / name
    if not path.is_file():
        raise EvalInputError(f"{path}: file not found; export the runs first "
                             "(python -m lamer.bin.ablation export --config conf/ablation.yaml --exp exp/ablation "
                             f"--trainable exp/ablation/trainable.json --out {runs_dir})")
    return load_json(path)


def read_probe_curves(runs_dir: Path, seed: int, system: str) -> dict[str, list[float | None]]:
    """``probe_cer.json`` of one exported run; a missing one is named."""
    path = seed_dir(runs_dir, seed) / system / PROBE_CER
    if not path.is_file():
        raise EvalInputError(f"{path}: file not found; every exported run has one (re-export the runs)")
    curves = load_json(path)
    if not isinstance(curves, dict) or not all(isinstance(v, list) for v in curves.values()):
        raise EvalInputError(f"{path}: expected {{stage: [validation CER per epoch]}}")
    return curves
