"""Compare two scored experiments per language, with paired bootstrap intervals.

    python -m lamer.bin.compare_runs --a EXP [EXP ...] [--a_stage S] --b EXP [EXP ...] [--b_stage S] \
        [--units 0:0 0:1] [--protocol retrained] [--rate cer] [--languages hin vie] [--out comparison.json]

Each side is one stage (default: each experiment's last) of one experiment directory per training
seed (or per training and probe seed, named by --units 0:0 0:1 ...), the two sides paired by
position. The experiments need stage 8's results_<protocol>.json; with utt_errors_<protocol>.tsv
beside it the bootstrap draws test utterances too, so a single seed still gets an interval. Prints a
table of A, B and A - B per language and for their mean, each difference with its 95% interval and a
verdict (A lower, B lower, within noise). Examples: what a continual stage changed, ``--a exp/x
--a_stage s1 --b exp/x --b_stage base``; a system against its control, ``--a exp/lamer --b
exp/control``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from lamer.atomic import write_json_atomic
from lamer.bin.options import ToolParser, tool_parser
from lamer.eval import EvalInputError
from lamer.eval.compare import Side, compare, comparison_table, load_side, parse_unit
from lamer.eval.forgetting import ERROR_RATES
from lamer.eval.results import PROTOCOLS


def build_parser() -> ToolParser:
    parser = tool_parser("compare_runs", __doc__)
    parser.add_argument("--a", type=Path, nargs="+", required=True, help="side A: experiment directories, one per seed")
    parser.add_argument("--a_stage", help="side A's stage (default: each experiment's last)")
    parser.add_argument("--b", type=Path, nargs="+", required=True, help="side B: experiment directories, one per seed")
    parser.add_argument("--b_stage", help="side B's stage (default: each experiment's last)")
    parser.add_argument("--protocol", default="retrained", choices=PROTOCOLS, help="which results of the experiments")
    parser.add_argument("--rate", default="cer", choices=ERROR_RATES, help="the error rate compared")
    parser.add_argument("--units", nargs="+",
                        help="each position's SEED or SEED:PROBE_SEED (default: one training seed per position); "
                             "the probe seeds of a training seed are drawn within it")
    parser.add_argument("--languages", nargs="+", help="languages compared (default: every one both sides score)")
    parser.add_argument("--out", type=Path, help="also write the comparison as JSON here")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        sides = [load_side(Side(tuple(exps), stage), args.protocol)
                 for exps, stage in ((args.a, args.a_stage), (args.b, args.b_stage))]
        units = [parse_unit(text) for text in args.units] if args.units else None
        found = compare(*sides, rate=args.rate, languages=args.languages, units=units)
    except EvalInputError as err:
        print(f"compare_runs: error: {err}", file=sys.stderr)
        return 1
    found = {"protocol": args.protocol,
             "a": {"experiments": [str(p) for p in args.a], "stage": args.a_stage},
             "b": {"experiments": [str(p) for p in args.b], "stage": args.b_stage}, **found}
    print(f"{args.rate.upper()} (%), {args.protocol}; resampled: {found['resampled']}\n{comparison_table(found)}")
    if args.out:
        write_json_atomic(args.out, found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
