"""What the stage script asks about a checked plan: one value (``plan get``), the plan resolved
(``plan check --print``) and its jobs with their status (``plan jobs``, ssl.sh ``--list``).

:func:`answer` gives the value of a key as ssl.sh reads it (lists space separated, one line);
:func:`resolved` gives the plan, its method as ssl_train runs it and, for a method with adapters,
the experts per layer of its allocation on the base model, whose depth is read from the
checkpoint's configs without its weights (or from the ``upstream`` preset of a ``pretrain``
config), as ESPnet's ``--print_config`` shows a config; :func:`listed_jobs` the jobs of a run and
what the run would do with each.
"""
from __future__ import annotations

from lamer.recipe.executor import job_states
from lamer.recipe.jobs import RecipeOptions, recipe_jobs, synth_keys
from lamer.recipe.plan import Plan, PlanError, Stage
from lamer.yaml_io import YamlError, load_mapping


def _stage(plan: Plan, name: str | None) -> Stage:
    if name is None:
        raise PlanError("this key needs a stage name")
    for stage in plan.all_stages:
        if stage.name == name:
            return stage
    raise PlanError(f"{plan.path}: no stage {name!r}; stages are {[s.name for s in plan.all_stages]}")


def answer(plan: Plan, key: str, stage: str | None) -> str:
    """The value of ``key`` (for ``stage`` where it needs one) as the recipe reads it."""
    names = [s.name for s in plan.all_stages]
    replay = plan.replay
    if key in ("seen", "old", "previous"):
        index = names.index(_stage(plan, stage).name)
        if key == "previous":
            if index == 0:
                raise PlanError("the base stage has no previous stage")
            return names[index - 1]
        upto = plan.all_stages[: index + (1 if key == "seen" else 0)]
        return " ".join(lang for s in upto for lang in s.languages)
    simple = {
        "corpus": lambda: plan.corpus,
        "stages": lambda: " ".join(s.name for s in plan.stages),
        "languages": lambda: " ".join(_stage(plan, stage).languages),
        "locales": lambda: ",".join(_stage(plan, stage).locales) if stage else
        ",".join(loc for s in plan.all_stages for loc in s.locales),
        "all_languages": lambda: " ".join(lang for s in plan.all_stages for lang in s.languages),
        "all_locales": lambda: ",".join(loc for s in plan.all_stages for loc in s.locales),
        "method": lambda: str(plan.method.path),
        "probe": lambda: str(plan.probe),
        "protocols": lambda: " ".join(plan.protocols),
        "seed": lambda: str(plan.seed),
        "replay_minutes": lambda: str(replay.value) if replay and replay.amount == "minutes" else "",
        "replay_fraction": lambda: str(replay.value) if replay and replay.amount == "fraction" else "",
        "replay_strategy": lambda: replay.strategy if replay else "random",
        "replay_share": lambda: str(replay.share) if replay else "",
        "lang_map": lambda: ",".join(f"{locale}={iso3}" for locale, iso3 in plan.lang_map.items()),
        "base_model": lambda: " ".join(f"{k} {v}" for k, v in plan.base_model.as_dict().items() if k != "languages"),
        "pretrained_on": lambda: " ".join(plan.base_model.languages),
        "synth_langs": lambda: synth_keys(plan),
    }
    if key not in simple:
        raise PlanError(f"unknown key {key!r}; choose one of {sorted([*simple, 'seen', 'old', 'previous'])}")
    return simple[key]()


def base_upstream(plan: Plan) -> str:
    """The upstream the plan's SSL stages start from: the checkpoint, or the ``upstream`` of the
    pre-training config (ssl_train's default, ``tiny``, where it names none)."""
    if plan.base_model.checkpoint is not None:
        return plan.base_model.checkpoint
    try:
        return str(load_mapping(plan.base_model.pretrain).get("upstream", "tiny"))
    except YamlError as err:
        raise PlanError(f"base_model.pretrain: {err}") from None


def resolved(plan: Plan) -> dict:
    """What ``check --print`` prints: the plan, its method resolved, and the experts per layer of its
    adapters for the base model's depth (read from its configs, never its weights)."""
    from lamer.adapters.allocation import ScheduleError, experts_per_layer
    from lamer.upstream.depth import upstream_depth

    method = plan.method
    out = {"plan": plan.as_dict(),
           "method": {"config": str(method.path), "preset": str(method.preset) if method.preset else None,
                      "ssl_train": method.ssl_train_config()}}
    if method.adapter_config is not None:
        upstream = base_upstream(plan)
        try:
            depth = upstream_depth(upstream)
        except (OSError, ValueError) as err:
            raise PlanError(f"--print: the depth of the base model {upstream}: {err}") from None
        allocation = method.adapter_config.allocation
        try:
            counts = experts_per_layer(allocation, depth)
        except ScheduleError as err:
            raise PlanError(f"{method.preset or method.path}: allocation: {err}") from None
        out["experts_per_layer"] = {"upstream": upstream, "depth": depth, "allocation": allocation, "counts": counts}
    return out


def listed_jobs(plan: Plan, options: RecipeOptions, force_stage: int | None = None,
                status: bool = False) -> list[dict]:
    """The jobs of ``options``' stages as ``plan jobs`` prints them (:meth:`~lamer.recipe.jobs.Job.as_dict`),
    each with ``status`` (done, stale or to run) and ``why`` from the experiment's records when
    ``status`` (``force_stage``: the stage a run would redo)."""
    listed = recipe_jobs(plan, options)
    states = job_states(listed, options.exp(plan), force_stage)[2] if status else {}
    return [{**job.as_dict(), **({"status": states[job.name].status, "why": states[job.name].why()} if status else {})}
            for job in listed]
