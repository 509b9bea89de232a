"""Print the parameter report of an upstream patched with a Lamer config, as one JSON object.

    python -m lamer.bin.adapter_report --upstream hubert_base --config conf/lamer/lamer_base.yaml

The counts are of the model as loaded: a checkpoint keeps its own model class unless --family
converts it, and a converted model has no prediction head that its checkpoint lacks, so
total_params minus adapter_params is the number of parameters in the checkpoint.
"""
from __future__ import annotations

import json
import sys

from lamer.adapters import LamerConfig, apply_lamer, parameter_report
from lamer.bin.options import ToolParser, tool_parser
from lamer.upstream import FAMILIES, build_upstream


def build_parser() -> ToolParser:
    parser = tool_parser("adapter_report", __doc__)
    parser.add_argument("--upstream", required=True, help="preset name (tiny, small, hubert_base, hubert_large) "
                                                          "or path of a local checkpoint")
    parser.add_argument("--config", required=True, help="Lamer YAML (adapter: lamer + adapter_conf)")
    parser.add_argument("--family", default=None, choices=FAMILIES,
                        help="model class to build a preset in (default s3prl_hubert) or to convert a checkpoint "
                             "to (default: the checkpoint's own, counted as it is)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        model = build_upstream(args.upstream, family=args.family)
        config = LamerConfig.from_yaml(args.config)
        apply_lamer(model, config)
    except (OSError, ValueError, KeyError) as err:
        print(f"adapter_report: error: {err}", file=sys.stderr)
        return 1
    print(json.dumps({"upstream": args.upstream, **parameter_report(model)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
