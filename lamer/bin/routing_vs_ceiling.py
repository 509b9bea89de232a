"""Per continual stage and routed layer: the routers' divergence between languages beside its ceiling.

    python -m lamer.bin.routing_vs_ceiling --ceiling s1=exp/plan/routing_ceiling/s1.json \\
        s2=exp/plan/routing_ceiling/s2.json --out exp/plan/routing_vs_ceiling.json

Each --ceiling names a stage and what ``python -m lamer.bin.routing_ceiling`` wrote for its
adapters, in plan order. Writes, per stage and layer (its routers averaged), the trained routers'
mean Jensen-Shannon divergence between languages, the ceiling (the same for a gate routing as a
linear frame-level language classifier on the routers' inputs, top-1, and soft), their ratio and
the classifier's frame accuracy (lamer.eval.routing_vs_ceiling). ``python -m
lamer.bin.forgetting_report --routing_vs_ceiling`` puts it into RESULTS.md and the expert-usage heatmap.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from lamer.bin.options import ToolParser, tool_parser


def build_parser() -> ToolParser:
    parser = tool_parser("routing_vs_ceiling", __doc__)
    parser.add_argument("--ceiling", nargs="+", required=True, metavar="STAGE=FILE",
                        help="a stage's name and the routing_ceiling JSON of its adapters, one per stage in plan order")
    parser.add_argument("--out", type=Path, required=True, help="output JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from lamer.atomic import write_json_atomic
    from lamer.eval import EvalInputError
    from lamer.eval.results import load_json
    from lamer.eval.routing_vs_ceiling import combine

    try:
        ceilings = []
        for given in args.ceiling:
            stage, eq, path = given.partition("=")
            if not eq or not stage or not path:
                raise EvalInputError(f"--ceiling {given!r}: expected STAGE=FILE "
                                     "(e.g. s1=exp/plan/routing_ceiling/s1.json)")
            if stage in [name for name, _, _ in ceilings]:
                raise EvalInputError(f"--ceiling {given!r}: stage {stage!r} is given twice")
            ceilings.append((stage, load_json(Path(path)), path))
        data = combine(ceilings)
    except EvalInputError as err:
        print(f"routing_vs_ceiling: error: {err}", file=sys.stderr)
        return 1
    write_json_atomic(args.out, data)
    logging.info("wrote %s (%d stages)", args.out, len(data["stages"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
