"""Answer the ablation loop's questions and summarise its runs (conf/ablation.yaml of a recipe).

    python -m lamer.bin.ablation list --config conf/ablation.yaml
        # one line per system: name<TAB>method or -<TAB>plan<TAB>train_on<TAB>replay_share or -<TAB>base_init
    python -m lamer.bin.ablation seeds --config conf/ablation.yaml          # 0 1 2
    python -m lamer.bin.ablation units --config conf/ablation.yaml
        # one line per unit: key<TAB>seed<TAB>probe seed (key: the seed, or <seed>_probe<p> with probe_seeds)
    python -m lamer.bin.ablation trainable --config conf/ablation.yaml \\
        --upstream exp/ablation/base/upstream.pt --out exp/ablation/trainable.json
    python -m lamer.bin.ablation export --config conf/ablation.yaml --exp exp/ablation \\
        --trainable exp/ablation/trainable.json --out ablation/runs
    python -m lamer.bin.ablation summary --config conf/ablation.yaml --runs ablation/runs \\
        --out ablation --results_md RESULTS.md
    python -m lamer.bin.ablation render --config conf/ablation.yaml --out ablation --results_md RESULTS.md

``trainable`` builds every system's method on the base upstream and counts what it trains
(lamer.ssl.trainable); a config's ``matched`` systems outside their budget (lamer.ssl.budget) stop it
with the counts named, nothing written. ``export`` copies each run's small outputs from the runs' directory into
the layout committed with the recipe (lamer.ablation.runs: results per protocol, expert
usage, the probes' validation CER per epoch from their logs, trainable counts, environment), the
same bytes for the same runs. ``summary`` reads that layout alone (every
``<runs>/seed<k>/<system>/results_<protocol>.json`` that exists, with its run's files) and writes
``<out>/summary.json``, ``<out>/curves.json``, ``<out>/paired.json`` (every system against the
config's reference system, seed by seed), ``<out>/intervals.json`` (95% bootstrap intervals of the
metrics and the paired differences, over seeds and, where the runs wrote their edits, test
utterances: lamer.ablation.intervals; and the go/no-go checks, also printed: lamer.ablation.go_no_go),
``<out>/probe_health.json`` (each probe's validation CER per epoch: lamer.eval.probe_health),
``<out>/routing.json`` (router entropy and divergence between languages, from each run's
expert_usage.json: lamer.eval.routing), ``<out>/section.json`` (the runs' environment and the
plots' captions), all of them the same bytes on every summary of the
same runs; the plots ``<out>/{avg_cer,old_cer}_<protocol>.png`` (and
``<out>/expert_usage_<reference>.png`` from the first seed with ``<reference>/expert_usage.json``),
matplotlib's rendering, not compared byte for byte; and the section of ``--results_md`` between
``<!-- ablation:begin -->`` and ``<!-- ablation:end -->`` (lamer.ablation.section), with the
config's expectations checked. ``render`` rewrites that section from the files of ``--out`` alone
(published outputs, or after editing the config's expectations), leaving every file of ``--out``
as it is.
"""
from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path

from lamer.ablation.spec import AblationError, load_ablation
from lamer.bin.options import ToolParser, tool_parser

CONFIG_HELP = "the ablation config: systems, seeds, reference, expectations (conf/ablation.yaml)"


def build_parser() -> ToolParser:
    parser = tool_parser("ablation", __doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("list", "one line per system: name, method (- for none), plan, train_on, replay_share (- for "
                                "the plan's), base_init; tab-separated"),
                       ("seeds", "the seeds, space-separated"),
                       ("units", "one line per (seed, probe seed) unit: its key (exp/ablation/seed<key>), seed and "
                                 "probe seed; tab-separated")):
        sub.add_parser(name, help=text).add_argument("--config", type=Path, required=True, help=CONFIG_HELP)
    trainable = sub.add_parser("trainable", help="trainable parameters of every system on the base upstream (JSON)")
    trainable.add_argument("--config", type=Path, required=True, help=CONFIG_HELP)
    trainable.add_argument("--upstream", required=True, help="base SSL checkpoint (or a preset name)")
    trainable.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    export = sub.add_parser("export", help="the runs' small outputs into the committed runs layout")
    export.add_argument("--config", type=Path, required=True, help=CONFIG_HELP)
    export.add_argument("--exp", type=Path, required=True, help="holds seed<k>/<system>/ of the runs")
    export.add_argument("--trainable", type=Path, required=True, help="output of the trainable command")
    export.add_argument("--out", type=Path, required=True, help="the runs layout to write (replaced as a whole)")
    summary = sub.add_parser("summary", help="summary.json, curves.json, paired.json, probe_health.json, "
                                             "routing.json, plots and the RESULTS.md section")
    summary.add_argument("--config", type=Path, required=True, help=CONFIG_HELP)
    summary.add_argument("--runs", type=Path, required=True, help="the runs layout the export command wrote")
    summary.add_argument("--out", type=Path, required=True, help="directory for summary.json, curves.json, PNGs")
    summary.add_argument("--results_md", type=Path, required=True, help="RESULTS.md whose ablation section to update")
    summary.add_argument("--seeds", type=int, nargs="+",
                         help="summarise these of the config's seeds only (default: all), the same for every system")
    render = sub.add_parser("render", help="the RESULTS.md section again, from the files of an earlier summary")
    render.add_argument("--config", type=Path, required=True, help=CONFIG_HELP)
    render.add_argument("--out", type=Path, required=True, help="the summary's output directory")
    render.add_argument("--results_md", type=Path, required=True, help="RESULTS.md whose ablation section to update")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.getLogger("s3prl").setLevel(logging.WARNING)  # a model-config line per system otherwise
    try:
        ablation = load_ablation(args.config)
        if args.command == "list":
            for s in ablation.systems:
                share = "-" if s.replay_share is None else f"{s.replay_share:g}"
                print(f"{s.name}\t{s.method if s.method else '-'}\t{s.plan}\t{s.train_on}\t{share}\t{s.base_init}")
        elif args.command == "seeds":
            print(" ".join(map(str, ablation.seeds)))
        elif args.command == "units":
            for unit in ablation.units:
                print(f"{unit.key}\t{unit.seed}\t{unit.probe_seed}")
        elif args.command == "trainable":
            from lamer.ssl.trainable import write_trainable

            try:
                write_trainable({system.name: system.method for system in ablation.systems}, args.upstream, args.out,
                                ablation.matched)
            except ValueError as err:  # systems outside the budget, before hours of training on them
                raise AblationError(f"{ablation.path}: {err}") from None
        elif args.command == "export":
            from lamer.ablation.runs import export_runs

            exported = export_runs(ablation, args.exp, args.trainable, args.out)
            logging.info("exported %d runs into %s", len(exported), args.out)
        elif args.command == "render":
            from lamer.ablation.section import render_results

            render_results(ablation, args.out, args.results_md)
        else:
            from lamer.ablation.summary import write_summary

            if args.seeds:
                unknown = sorted(set(args.seeds) - set(ablation.seeds))
                if unknown:
                    raise AblationError(f"--seeds {unknown}: not seeds of {args.config} ({ablation.seeds})")
                ablation = dataclasses.replace(ablation, seeds=sorted(set(args.seeds)))
            from lamer.ablation.go_no_go import render_lines
            from lamer.ablation.intervals import INTERVALS, read_intervals

            write_summary(ablation, args.runs, args.out, args.results_md)
            print("Go/no-go (under retrained, before any ranking):")
            print("\n".join(render_lines(read_intervals(args.out / INTERVALS)["go_no_go"])) or "- not checked")
            logging.info("wrote %s/summary.json and the ablation section of %s", args.out, args.results_md)
    except (AblationError, OSError, ValueError) as err:
        print(f"ablation: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
