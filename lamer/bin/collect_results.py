"""Gather the per-stage score.json files of a recipe into one results.json.

    python -m lamer.bin.collect_results --plan conf/plan.yaml --scores exp/plan/score/retrained \\
        --protocol retrained --out exp/plan/results_retrained.json \\
        [--utt_errors exp/plan/utt_errors_retrained.tsv]

``--scores`` holds one folder per stage of the plan (``base``, ``s1``, ...), each with the
score.json and per_utt.tsv of ``python -m lamer.bin.score``. ``--utt_errors`` also writes every
test utterance's edits after each stage into one table (lamer.eval.utt_errors), what the
ablation's bootstrap over test utterances resamples.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from lamer.atomic import write_text_atomic
from lamer.bin.options import ToolParser, tool_parser
from lamer.eval import EvalInputError
from lamer.eval.results import collect_results
from lamer.eval.utt_errors import collect_utt_errors
from lamer.recipe.plan import PlanError, load_plan


def build_parser() -> ToolParser:
    parser = tool_parser("collect_results", __doc__)
    parser.add_argument("--plan", required=True, help="the continual plan (its stages and languages)")
    parser.add_argument("--scores", required=True, type=Path, help="folder with one score folder per stage")
    parser.add_argument("--protocol", default="retrained", choices=("retrained", "fixed"),
                        help="the protocol the scores were decoded under (a fresh probe per stage, or the base one)")
    parser.add_argument("--out", required=True, type=Path, help="the results.json to write")
    parser.add_argument("--utt_errors", type=Path,
                        help="also write each test utterance's edits after every stage here (a TSV)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        plan = load_plan(args.plan)
        stage_dirs = {stage.name: args.scores / stage.name for stage in plan.all_stages}
        results = collect_results(stage_dirs, plan.introduced(), protocol=args.protocol)
        table = collect_utt_errors(stage_dirs) if args.utt_errors else None
        write_text_atomic(args.out, json.dumps(results, indent=2, sort_keys=True) + "\n")
        if table is not None:
            write_text_atomic(args.utt_errors, table)
    except (PlanError, EvalInputError, OSError) as err:
        print(f"collect_results: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
