"""Measure how much each Lamer expert is used, per layer and language, on dev sets.

    python -m lamer.bin.expert_usage --upstream exp/ssl/base.pt --adapters exp/stage2/adapters \\
        --data dump/probe/dev [MORE_DIRS...] --out exp/stage2/expert_usage.json [--png usage.png]

Each data dir needs wav.scp (16 kHz audio) and utt2lang. Writes
{"<layer>": {"<iso3>": [mean router weight per routed expert]}} and, with --png, the heatmap
(lamer.eval.plots.plot_expert_usage).
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from lamer.bin.options import ToolParser, tool_parser


def build_parser() -> ToolParser:
    parser = tool_parser("expert_usage", __doc__)
    parser.add_argument("--upstream", type=Path, required=True, help="base SSL checkpoint (s3prl converted format)")
    parser.add_argument("--upstream_name", default="hubert_local", help="s3prl upstream name (default hubert_local)")
    parser.add_argument("--adapters", type=Path, required=True, help="Lamer adapter directory")
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="data dirs with wav.scp and utt2lang")
    parser.add_argument("--out", type=Path, required=True, help="output JSON")
    parser.add_argument("--png", type=Path, help="also draw the heatmap here")
    parser.add_argument("--device", default="cpu", help="where the upstream runs: cpu, cuda, cuda:N")
    parser.add_argument("--if_routed", action="store_true",
                        help="adapters without a router (plain LoRA) are not an error: write nothing, exit 0")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from lamer.atomic import write_json_atomic
    from lamer.eval.expert_usage import load_patched_upstream, measure_expert_usage, utterances_by_language

    try:
        utterances = utterances_by_language(args.data)
        model = load_patched_upstream(args.upstream, args.adapters, args.upstream_name)
        usage = measure_expert_usage(model, utterances, args.device)
    except (OSError, ValueError) as err:
        print(f"expert_usage: error: {err}", file=sys.stderr)
        return 1
    if not usage and args.if_routed:
        logging.info("%s has no routed layer: no expert usage to measure", args.adapters)
        return 0
    if not usage:
        print(f"expert_usage: error: {args.adapters} has no routed layer (no layer with more than one routed "
              "expert): nothing to measure", file=sys.stderr)
        return 1
    write_json_atomic(args.out, usage)
    logging.info("wrote %s (%d layers, languages %s)", args.out, len(usage), ", ".join(utterances))
    if args.png:
        from lamer.eval.plots import plot_expert_usage

        plot_expert_usage(usage, args.png, title=f"Expert usage of {args.adapters}: mean router weight per expert")
        logging.info("wrote %s", args.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
