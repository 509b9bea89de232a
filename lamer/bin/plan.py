"""Answer a recipe's questions about its continual plan (checked first; errors stop the recipe).

    python -m lamer.bin.plan check --plan conf/plan.yaml [--root DATA_ROOT]
    python -m lamer.bin.plan get --plan conf/plan.yaml stages           # s1 s2
    python -m lamer.bin.plan get --plan conf/plan.yaml languages s1     # spa ita
    python -m lamer.bin.plan get --plan conf/plan.yaml seen s1          # eng fra deu spa ita
    python -m lamer.bin.plan get --plan conf/plan.yaml old s1           # eng fra deu
    python -m lamer.bin.plan get --plan conf/plan.yaml previous s1      # base
    python -m lamer.bin.plan introduced --plan conf/plan.yaml           # JSON {iso3: stage}

Other keys for ``get``: corpus, locales [STAGE], all_languages, all_locales, method, probe,
protocols, seed, replay_minutes, replay_fraction, replay_strategy, replay_share (empty without
replay), lang_map (``LOC=iso3,...`` for ``prepare_data --lang_map``), base_model (kind and value),
synth_langs (the synthetic corpus' keys of the plan's languages, for demo recipes).
Lists print space separated, one line.
"""
from __future__ import annotations

import json
import sys

from lamer.bin.options import ToolParser, tool_parser
from lamer.recipe.plan import Plan, PlanError, check_data_root, load_plan


def _stage(plan: Plan, name: str | None):
    if name is None:
        raise PlanError("this key needs a stage name")
    for stage in plan.all_stages:
        if stage.name == name:
            return stage
    raise PlanError(f"{plan.path}: no stage {name!r}; stages are {[s.name for s in plan.all_stages]}")


def _synth_keys(plan: Plan) -> str:
    """The synthetic corpus' language keys for the plan's languages (demo recipes)."""
    from lamer.data.synth.languages import LANGUAGES

    by_iso3 = {lang.iso3: lang.key for lang in LANGUAGES.values()}
    wanted = [lang for s in plan.all_stages for lang in s.languages]
    missing = [lang for lang in wanted if lang not in by_iso3]
    if missing:
        raise PlanError(f"{plan.path}: the synthetic corpus has no voice for {missing}")
    return ",".join(by_iso3[lang] for lang in wanted)


def answer(plan: Plan, key: str, stage: str | None) -> str:
    """The value of ``key`` (for ``stage`` where it needs one) as the recipe reads it."""
    names = [s.name for s in plan.all_stages]
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
        "method": lambda: str(plan.method),
        "probe": lambda: str(plan.probe),
        "protocols": lambda: " ".join(plan.protocols),
        "seed": lambda: str(plan.seed),
        "replay_minutes": lambda: str(plan.replay.get("minutes", "")),
        "replay_fraction": lambda: str(plan.replay.get("fraction", "")),
        "replay_strategy": lambda: str(plan.replay.get("strategy", "random")),
        "replay_share": lambda: str(plan.replay.get("share", "")),
        "lang_map": lambda: ",".join(f"{locale}={iso3}" for locale, iso3 in plan.lang_map.items()),
        "base_model": lambda: " ".join(f"{k} {v}" for k, v in plan.base_model.items()),
        "synth_langs": lambda: _synth_keys(plan),
    }
    if key not in simple:
        raise PlanError(f"unknown key {key!r}; choose one of {sorted([*simple, 'seen', 'old', 'previous'])}")
    return simple[key]()


def build_parser() -> ToolParser:
    parser = tool_parser("plan", __doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="check the plan (and the data root); print a summary")
    check.add_argument("--plan", required=True)
    check.add_argument("--root", help="corpus root to check for every locale of the plan")
    get = sub.add_parser("get", help="print one value")
    get.add_argument("--plan", required=True)
    get.add_argument("key")
    get.add_argument("stage", nargs="?")
    intro = sub.add_parser("introduced", help="JSON {iso3: stage that introduces it}")
    intro.add_argument("--plan", required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        plan = load_plan(args.plan)
        if args.command == "check":
            if args.root is not None:
                check_data_root(plan, args.root)
            for stage in plan.all_stages:
                print(f"{stage.name}: {' '.join(stage.languages)} ({','.join(stage.locales)})")
        elif args.command == "get":
            print(answer(plan, args.key, args.stage))
        else:
            print(json.dumps(plan.introduced()))
    except PlanError as err:
        print(f"plan: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
