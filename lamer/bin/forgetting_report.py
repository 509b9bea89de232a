"""Continual-learning report over the stages x languages results matrix.

    python -m lamer.bin.forgetting_report --matrix results.json [--joint joint.json] --out DIR

Prints the CER matrix, the metrics (avg_cer, bwt, fwt, im) and the same runs under CL-MASR's
definitions (clmasr_avg_cer, clmasr_bwt_cer, clmasr_im_cer), and writes DIR/metrics.json,
DIR/RESULTS.md and the plots (cer_over_stages.png; per_over_stages.png and the metrics over PER
when results.json has "per"; lid_acc_over_stages.png when it has "lid_acc",
lid_acc_classifier_over_stages.png when it has "lid_acc_classifier"; expert_usage.png with
--expert_usage). joint.json is the joint-training CER per language, {iso: cer} or a score.json
(whose "per" gives PER's intransigence). The expert usage file holds the routers' mean weight per
expert, {"<layer index>": {"<iso3>": [weight, ...]}}. --routing_vs_ceiling (python -m
lamer.bin.routing_vs_ceiling) adds a table per continual stage of the routers' divergence between
languages beside its ceiling, per layer, and annotates the heatmap with the last stage's.
--base_quality (the score directory of a plan's quality_probe) adds the base model read by a probe
trained on every label: CER, PER and LID per language.
"""
from __future__ import annotations

import sys
from pathlib import Path

from lamer.bin.options import ToolParser, tool_parser
from lamer.eval import EvalInputError
from lamer.eval.base_quality import base_quality_section, load_base_quality
from lamer.eval.plots import check_expert_usage
from lamer.eval.report import clmasr_table, matrix_table, metrics_table, write_report
from lamer.eval.results import load_joint, load_joint_per, load_json, load_results
from lamer.eval.routing_vs_ceiling import check_routing_vs_ceiling


def build_parser() -> ToolParser:
    parser = tool_parser("forgetting_report", __doc__)
    parser.add_argument("--matrix", type=Path, required=True,
                        help="results.json (stages, introduced, cer[, lid_acc, lid_acc_classifier, protocol])")
    parser.add_argument("--joint", type=Path, help="joint-training CER per language (for intransigence)")
    parser.add_argument("--expert_usage", type=Path, help="router statistics {layer: {iso: [mean weight per expert]}}")
    parser.add_argument("--expert_usage_if_present", type=Path,
                        help="the same, read only when the file exists (expert_usage --if_routed writes none "
                             "for adapters without routers)")
    parser.add_argument("--routing_vs_ceiling", type=Path,
                        help="the routers against their ceiling per stage and layer (routing_vs_ceiling's output)")
    parser.add_argument("--base_quality", type=Path,
                        help="score directory of the base model read by a probe trained on every label")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.expert_usage is None and args.expert_usage_if_present and args.expert_usage_if_present.is_file():
        args.expert_usage = args.expert_usage_if_present
    try:
        results = load_results(args.matrix)
        joint = load_joint(args.joint, results) if args.joint else None
        joint_per = load_joint_per(args.joint, results) if args.joint else None
        usage = load_json(args.expert_usage) if args.expert_usage else None
        if usage is not None:
            check_expert_usage(usage, str(args.expert_usage))
        routing = None
        if args.routing_vs_ceiling:
            routing = check_routing_vs_ceiling(load_json(args.routing_vs_ceiling), str(args.routing_vs_ceiling))
        quality = base_quality_section(load_base_quality(args.base_quality), results.languages) \
            if args.base_quality else None
    except EvalInputError as err:
        print(f"forgetting_report: error: {err}", file=sys.stderr)
        return 1
    metrics = write_report(results, args.out, joint, str(args.joint) if args.joint else None, usage, joint_per,
                           routing, quality)
    print(f"CER (%), {results.protocol} protocol:\n{matrix_table(results, results.cer)}\n")
    print(f"Metrics (CER points):\n{metrics_table(results, metrics)}\n")
    print(f"Metrics, CL-MASR's definitions (CER points):\n{clmasr_table(results, metrics)}\n")
    if results.per is not None:
        print(f"PER (%):\n{matrix_table(results, results.per)}\n")
        print(f"Metrics (PER points):\n{metrics_table(results, metrics['per'], 'per')}\n")
        print(f"Metrics, CL-MASR's definitions (PER points):\n{clmasr_table(results, metrics['per'], 'per')}\n")
    if quality:
        print(quality + "\n")
    print(f"wrote {args.out / 'RESULTS.md'}, {args.out / 'metrics.json'} and plots")
    return 0


if __name__ == "__main__":
    sys.exit(main())
