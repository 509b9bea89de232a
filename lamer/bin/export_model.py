"""Export an SSL upstream, with its Lamer adapters, for ESPnet (s3prl format) or transformers.

    python -m lamer.bin.export_model --upstream CKPT --adapters exp/stage1/adapters --out exp/export
    python -m lamer.bin.export_model --upstream CKPT --adapters DIR --out DIR --merge --language fra

Without --merge: base model + adapters/ (loadable by lamer, and by ESPnet's frontend: lamer).
With --merge: the adapters folded into the weights (exact only for single-expert or language
routing), a plain model (default format hf: a transformers directory; s3prl for a log-mel front
end, which transformers cannot express). An s3prl-format export names in export.json (espnet) the
ESPnet frontend that loads it, and the tool prints those options: upstream hubert_local /
wav2vec2_local / wavlm_local, or lamer_local for a log-mel front end, which a plain ESPnet
knows once lamer's plugin is installed (python -m lamer.bin.espnet_plugin install).

    python -m lamer.bin.export_model --upstream base_model/upstream.pt --sha256 HEX --out exp/base
    python -m lamer.bin.export_model --upstream base_model/upstream.pt --reinit 0 --out exp/base_random

With --sha256 (a plan's ``base_model.sha256``; stage 3 passes it) the checkpoint file's SHA-256
is checked before anything loads it: on a mismatch the tool stops, naming the file and both
hashes, and writes nothing.
"""
from __future__ import annotations

import logging
import sys

from lamer.bin.options import ToolParser, tool_parser
from lamer.upstream.export import FORMATS, espnet_options, export_model

MISMATCH_FIX = ("The file was damaged, cut short or replaced since its hash was recorded: copy it again, or rebuild "
                "it with the command recorded for it (the demo's shipped base model: "
                "egs2/mini_lamer/ssl1/local/rebuild_base_model.sh). If this file is the one you mean to use, put its "
                "hash in the plan's base_model.sha256 (python -m lamer.bin.checksum FILE prints it).")


def build_parser() -> ToolParser:
    parser = tool_parser("export_model", __doc__)
    parser.add_argument("--upstream", required=True, help="preset name or local checkpoint (transformers dir, "
                                                          "fairseq .pt, s3prl .pt, lamer export dir)")
    parser.add_argument("--sha256", help="expected SHA-256 of the --upstream file (64 hex digits), checked before "
                                         "it is loaded")
    parser.add_argument("--adapters", help="adapter checkpoint directory (save_adapters); none: the base alone")
    parser.add_argument("--out", required=True, help="output directory (replaced atomically)")
    parser.add_argument("--merge", action="store_true", help="fold the adapters into the base weights")
    parser.add_argument("--language", help="with --merge and language routing: the language to merge for")
    parser.add_argument("--format", choices=FORMATS, help="s3prl (default) or hf (default with --merge, unless the "
                                                          "model has a log-mel front end)")
    parser.add_argument("--reinit", type=int, default=None, metavar="SEED",
                        help="export the checkpoint's architecture with random weights drawn from SEED (its "
                             "class's own initialisation) instead of its trained ones: the random-init reference "
                             "that shows what pre-training gives; refused with --adapters")
    parser.add_argument("--no_fingerprint_check", action="store_true",
                        help="load adapters even if they were trained on other base weights")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        out, fmt = export_model(args.upstream, args.out, args.adapters, sha256=args.sha256, mismatch_fix=MISMATCH_FIX,
                                merge=args.merge, language=args.language, fmt=args.format,
                                check_fingerprint=not args.no_fingerprint_check, reinit_seed=args.reinit)
        espnet = espnet_options(out)
    except (OSError, ValueError, KeyError) as err:
        print(f"export_model: error: {err}", file=sys.stderr)
        return 1
    logging.info("wrote %s (%s%s)", out, fmt, ", merged" if args.merge else "")
    if espnet is not None:
        options, needs_lamer = espnet
        plugin = " (a plain ESPnet after: python -m lamer.bin.espnet_plugin install)" if needs_lamer else ""
        logging.info("ESPnet loads it with: %s%s", options, plugin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
