"""How much language the routers' inputs carry (a linear frame LID on them), beside the routers' own use of it.

    python -m lamer.bin.routing_ceiling --upstream exp/plan/base/upstream.pt \\
        --adapters exp/plan/ssl/s1/adapters --train_data data/*/train --eval_data data/*/dev \\
        --out exp/plan/routing_ceiling.json

Each data dir needs wav.scp (16 kHz audio) and utt2lang. Per router (``"<layer>.<module>"``)
the JSON gives the frame LID accuracy of a linear classifier fitted on the training dirs and
scored on the evaluation dirs, the Jensen-Shannon divergence between languages that a router
with one expert per language routing as that classifier would reach (soft and top-1), and the
trained router's own divergence on the same frames (lamer.eval.routing_ceiling).
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from lamer.bin.options import ToolParser, tool_parser


def build_parser() -> ToolParser:
    parser = tool_parser("routing_ceiling", __doc__)
    parser.add_argument("--upstream", type=Path, required=True, help="base SSL checkpoint (s3prl converted format)")
    parser.add_argument("--upstream_name", default="hubert_local", help="s3prl upstream name (default hubert_local)")
    parser.add_argument("--adapters", type=Path, required=True, help="Lamer adapter directory")
    parser.add_argument("--train_data", type=Path, nargs="+", required=True,
                        help="data dirs (wav.scp, utt2lang) the classifier is fitted on")
    parser.add_argument("--eval_data", type=Path, nargs="+", required=True,
                        help="held-out data dirs it is scored on (other speakers)")
    parser.add_argument("--out", type=Path, required=True, help="output JSON")
    parser.add_argument("--frames_per_utt", type=int, default=40, help="frames sampled per utterance (default 40)")
    parser.add_argument("--max_utts", type=int, default=100,
                        help="utterances per language and set, evenly spread over the list (default 100)")
    parser.add_argument("--layers", type=int, nargs="+",
                        help="only the routers of these layers (from 0; default: every routed layer); a "
                             "router's frames take about languages x max_utts x frames_per_utt x its input "
                             "dimension x 4 bytes")
    parser.add_argument("--device", default="cpu", help="where the upstream runs: cpu, cuda, cuda:N")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from lamer.atomic import write_json_atomic
    from lamer.eval.expert_usage import load_patched_upstream, utterances_by_language
    from lamer.eval.routing_ceiling import collect_router_frames, routing_ceiling

    try:
        train_utts = utterances_by_language(args.train_data)
        eval_utts = utterances_by_language(args.eval_data)
        missing = sorted(set(eval_utts) - set(train_utts))
        if missing:
            raise ValueError(f"languages {missing} of --eval_data have no utterance in --train_data")
        languages = sorted(train_utts)
        model = load_patched_upstream(args.upstream, args.adapters, args.upstream_name)
        sample = {"frames_per_utt": args.frames_per_utt, "max_utts": args.max_utts, "device": args.device,
                  "layers": set(args.layers) if args.layers else None}
        train = collect_router_frames(model, train_utts, languages, **sample)
        evaluation = collect_router_frames(model, eval_utts, languages, **sample)
        routers = routing_ceiling(train, evaluation, len(languages))
    except (OSError, ValueError) as err:
        print(f"routing_ceiling: error: {err}", file=sys.stderr)
        return 1
    write_json_atomic(args.out, {"languages": languages, "eval_languages": sorted(eval_utts), "routers": routers})
    logging.info("wrote %s (%d routers)", args.out, len(routers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
