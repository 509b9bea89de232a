"""Answer a recipe's questions about its continual plan (checked first; errors stop the recipe).

    python -m lamer.bin.plan check --plan conf/plan.yaml [--root DATA_ROOT] [--print]
    python -m lamer.bin.plan get --plan conf/plan.yaml stages           # s1
    python -m lamer.bin.plan get --plan conf/plan.yaml languages s1     # vie hin
    python -m lamer.bin.plan get --plan conf/plan.yaml seen s1          # eng fra deu vie hin
    python -m lamer.bin.plan get --plan conf/plan.yaml old s1           # eng fra deu
    python -m lamer.bin.plan get --plan conf/plan.yaml previous s1      # base
    python -m lamer.bin.plan introduced --plan conf/plan.yaml           # JSON {iso3: stage}
    python -m lamer.bin.plan options                                    # ssl.sh options of jobs/run
    python -m lamer.bin.plan jobs --plan conf/plan.yaml --root CORPUS [--status true] [--force_stage N] \
        [ssl.sh options]
    python -m lamer.bin.plan run --plan conf/plan.yaml --root CORPUS --train_cmd CMD --cuda_cmd CMD \
        --decode_cmd CMD [--max_jobs N] [--force_stage N] [ssl.sh options]

Other keys for ``get``: corpus, locales [STAGE], all_languages, all_locales, method, probe,
protocols, seed, replay_minutes, replay_fraction, replay_strategy, replay_share (empty without
replay), lang_map (``LOC=iso3,...`` for ``prepare_data --lang_map``), base_model (kind and value,
then ``sha256 HEX`` where the plan gives one), pretrained_on (the checkpoint's languages, where
given), synth_langs (the synthetic corpus' keys of the plan's languages, for demo recipes).
Lists print space separated, one line.

``check --print`` prints the checked plan as YAML (``plan``: languages as ISO 639-3, paths
resolved), its method resolved (``method``: the config, the preset it names and ``ssl_train``, what
every SSL stage's ssl_train runs with, the adapter preset merged into ``ssl_adapter_conf``: the
adapter part in each stage's spec, exp/<tag>/config/ssl_<stage>.json, the other options in
exp/<tag>/config/method.yaml) and, for a method with adapters, ``experts_per_layer``: the
allocation expanded for the base model's depth (shared experts included), which is read from the
checkpoint's configs without its weights, or from the ``upstream`` preset of a ``pretrain``
config; ESPnet's ``--print_config`` in spirit.

``jobs`` prints the recipe's jobs, one JSON object per line (name, stage, queue, gpus, nj, log,
argv, after, inputs, outputs, configs; lamer.recipe.jobs), from the plan and ssl.sh's options
alone (--stage, --stop_stage, --tag, --nj, --inference_nj, --ngpu, --gpu_inference, --synth,
--method, --seed, --train_on, --base_init, --base_dir, --base_exp, --data, --dump, --expdir, --python,
--target_layer, --num_clusters, --decoding, --decode_config, the *_opts strings; same names and
defaults): what each job reads and writes, and the jobs it waits for (``after``, derived from
those). With
``--status true`` (ssl.sh --list true) each object also says what a run would do with the job,
from the records under exp/<tag>/.done: ``status`` done, stale or "to run", and ``why`` a stale
job runs again. ``run`` executes that same list through the given ``$cmd`` strings, up to
--max_jobs at once (default 1: one after another), with a .done record per finished job under
exp/<tag>/.done (ssl.sh calls it): a job whose options or configs changed since it ran runs
again, and so do the jobs after it; it holds the lock of exp/<tag>, so a second ``run`` on the same
experiment stops at once naming the first. --force_stage N runs every job of stage N again, and the jobs
after them. --max_jobs and --force_stage change how the jobs run, not which: they are not job
options.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys

import yaml

from lamer.bin.options import ToolParser, tool_parser
from lamer.data.errors import DataError
from lamer.recipe.executor import run_jobs
from lamer.recipe.jobs import RecipeOptions, recipe_graph
from lamer.recipe.plan import PlanError, check_data_root, load_plan
from lamer.recipe.questions import answer, listed_jobs, resolved

# what each of ssl.sh's job options does (ssl.sh --help says the same)
RECIPE_OPTION_HELP = {
    "stage": "first stage to run (1-8)",
    "stop_stage": "last stage to run",
    "tag": "experiment name: <expdir>/<tag> (default: the plan file's stem)",
    "root": "the corpus root (db.sh); needed by stage 1 only",
    "nj": "parallel jobs of data preparation and target extraction shards",
    "inference_nj": "decoding jobs per run (JOB=1:N over a split of the test set)",
    "ngpu": "GPUs of each training job (0: CPU); target extraction shards get one each",
    "gpu_inference": "true: one GPU per decoding job",
    "synth": "write the synthetic demo corpus into the corpus root first",
    "synth_utts": "utterances per language of the synthetic corpus",
    "synth_opts": "extra options of synth_corpus",
    "prep_opts": "extra options of prepare_data (e.g. --lang_dir local/lang)",
    "token_opts": "extra options of probe_data tokens (e.g. --lang_dir local/lang)",
    "target_feature": "what the continual stages' k-means targets cluster: layer (--target_layer of the previous "
                      "stage's model, HuBERT's later iterations) or mfcc (MFCC frames, its first iteration: for "
                      "languages the base model never heard)",
    "target_layer": "transformer layer (1-based) clustered for the SSL targets",
    "num_clusters": "k-means clusters of the SSL targets",
    "pretrain_opts": "extra options of pretrain_base (after its --, i.e. ESPnet options)",
    "ssl_train_opts": "extra ESPnet options of ssl_train",
    "probe_train_opts": "extra ESPnet options of asr_train (the probe)",
    "decode_config": "ESPnet decoding config of the probes",
    "decoding": "greedy: best-path CTC (fast on CPU); beam: ESPnet's beam search",
    "routing_ceiling": "stage 8: measure every continual stage's routers against their ceiling, per layer "
                       "(routing_ceiling, methods with frame routers only); false: skip it",
    "routing_ceiling_utts": "utterances per language of the train and of the dev dirs that routing_ceiling "
                            "reads, 20 frames each: its cost",
    "method": "SSL method config (default: the plan's)",
    "seed": "random seed (default: the plan's)",
    "probe_seed": "random seed of the probes (default: --seed's)",
    "train_on": "what a continual stage trains on: new (its languages, with replay), old (the base languages), "
                "all (every language so far), none (nothing: the base model)",
    "base_init": "pretrained: the plan's base model; random: its architecture with random weights drawn from the "
                 "seed, the reference that shows what pre-training gives (stage 3 exports it to <expdir>/<tag>/"
                 "base_random)",
    "replay_share": "part of every SSL training batch from the replay sample (default: the plan's replay.share)",
    "base_dir": "base model directory (default: <expdir>/<tag>/base)",
    "base_exp": "reuse probe/base and score/*/base of this experiment directory (default: none)",
    "ssl_exp": "link the continual SSL stages (4-5) of this experiment directory instead of training them, e.g. "
               "for another probe seed (default: none)",
    "data": "Kaldi data dirs: <data>/<iso3>/<split>",
    "dump": "converted audio, probe data and token lists (ssl.sh also takes asr.sh's --dumpdir)",
    "expdir": "the directory of the experiments: <expdir>/<tag>",
    "python": "the interpreter that runs every job",
}


def _add_recipe_options(parser: argparse.ArgumentParser) -> None:
    """ssl.sh's options that change its jobs, as ``--name VALUE`` with ssl.sh's defaults (booleans
    as Kaldi's ``true``/``false``)."""
    types = {"int": int, "str": str, "int | None": int, "float | None": float}
    for option in dataclasses.fields(RecipeOptions):
        text = RECIPE_OPTION_HELP[option.name]
        if option.type == "bool":
            parser.add_argument(f"--{option.name}", choices=("true", "false"), default=str(option.default).lower(),
                                help=text)
        else:
            parser.add_argument(f"--{option.name}", type=types[str(option.type)], default=option.default, help=text)


def _recipe_options(args: argparse.Namespace) -> RecipeOptions:
    values = {}
    for option in dataclasses.fields(RecipeOptions):
        value = getattr(args, option.name)
        values[option.name] = value == "true" if option.type == "bool" else value
    return RecipeOptions(**values)


PLAN_HELP = "the continual plan (conf/plan.yaml)"


def build_parser() -> ToolParser:
    parser = tool_parser("plan", __doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="check the plan (and the data root); print a summary")
    check.add_argument("--plan", required=True, help=PLAN_HELP)
    check.add_argument("--root", help="corpus root to check for every locale of the plan")
    check.add_argument("--print", action="store_true",
                       help="print the resolved plan, method and adapter config as YAML, with experts per layer "
                            "for the base model's depth, instead of the summary (default: the summary)")
    get = sub.add_parser("get", help="print one value")
    get.add_argument("--plan", required=True, help=PLAN_HELP)
    get.add_argument("key", help="what to print: corpus, stages, languages, ... (listed above)")
    get.add_argument("stage", nargs="?", help="the stage, for the keys that need one (languages, seen, old, previous)")
    intro = sub.add_parser("introduced", help="JSON {iso3: stage that introduces it}")
    intro.add_argument("--plan", required=True, help=PLAN_HELP)
    sub.add_parser("options", help="the names of the ssl.sh options that change the jobs, space separated")
    jobs = sub.add_parser("jobs", help="print the recipe's jobs, one JSON object per line")
    run = sub.add_parser("run", help="run the recipe's jobs through the $cmd of their queue (ssl.sh)")
    for listing in (jobs, run):
        listing.add_argument("--plan", required=True, help=PLAN_HELP)
        _add_recipe_options(listing)
        listing.add_argument("--force_stage", type=int, default=None,
                             help="run every job of this stage again, and the jobs after them")
    jobs.add_argument("--status", choices=("true", "false"), default="false",
                      help="true: add each job's status (done, stale, to run) and why, from exp/<tag>/.done")
    for queue in ("train", "cuda", "decode"):
        run.add_argument(f"--{queue}_cmd", required=True, help=f"the ${queue}_cmd of cmd.sh")
    run.add_argument("--max_jobs", type=int, default=1,
                     help="jobs run at once, each as soon as the jobs it needs are done (1: one after another)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "options":
        print(" ".join(option.name for option in dataclasses.fields(RecipeOptions)))
        return 0
    try:
        plan = load_plan(args.plan)
        if args.command in ("jobs", "run"):
            options = _recipe_options(args)
            stages = range(max(options.stage, 1), min(options.stop_stage, 8) + 1)
            if args.force_stage is not None and args.force_stage not in stages:
                raise PlanError(f"--force_stage {args.force_stage}: not a stage of this run "
                                f"(--stage {options.stage} --stop_stage {options.stop_stage})")
            if args.command == "jobs":
                for job in listed_jobs(plan, options, args.force_stage, status=args.status == "true"):
                    print(json.dumps(job, ensure_ascii=False))
                return 0
            commands = {queue: getattr(args, f"{queue}_cmd") for queue in ("train", "cuda", "decode")}
            if args.max_jobs < 1:
                raise PlanError(f"--max_jobs {args.max_jobs}: expected a positive number of jobs")
            return run_jobs(recipe_graph(plan, options), options.exp(plan), commands, stages, args.max_jobs,
                            args.force_stage)
        if args.command == "check":
            if args.root is not None:
                check_data_root(plan, args.root)
            if args.print:
                print(yaml.safe_dump(resolved(plan), sort_keys=False, allow_unicode=True, default_flow_style=None),
                      end="")
                return 0
            for stage in plan.all_stages:
                print(f"{stage.name}: {' '.join(stage.languages)} ({','.join(stage.locales)})")
        elif args.command == "get":
            print(answer(plan, args.key, args.stage))
        else:
            print(json.dumps(plan.introduced()))
    except (PlanError, DataError) as err:  # DataError: another run holds the experiment's lock
        print(f"plan: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
