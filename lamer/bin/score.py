"""Score decoded hypotheses per language: CER, LID accuracy, LID confusion, per-utterance table.

    python -m lamer.bin.score --ref data/test/text --hyp exp/decode/text --utt2lang data/test/utt2lang --out DIR

Writes DIR/score.json ({iso: {cer, lid_acc, n}}), DIR/summary.json, DIR/per_utt.tsv,
DIR/lid_confusion.json and DIR/lid_confusion.png.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from lamer.bin.options import ToolParser, tool_parser
from lamer.eval import EvalInputError
from lamer.eval.scoring import score_texts, write_score_dir


def build_parser() -> ToolParser:
    parser = tool_parser("score", __doc__)
    parser.add_argument("--ref", type=Path, required=True,
                        help="reference text: '<utt> [iso] transcript' (tag optional)")
    parser.add_argument("--hyp", type=Path, required=True, help="hypothesis text: '<utt> [iso] transcript'")
    parser.add_argument("--utt2lang", type=Path, help="'<utt> <iso>' per line; needed when the reference has no tags")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s score: %(message)s")
    try:
        score = score_texts(args.ref, args.hyp, args.utt2lang)
    except EvalInputError as err:
        print(f"score: error: {err}", file=sys.stderr)
        return 1
    inputs = {"ref": str(args.ref), "hyp": str(args.hyp), "utt2lang": str(args.utt2lang) if args.utt2lang else None}
    write_score_dir(score, args.out, inputs)
    summary = score.summary()
    for lang, s in score.per_language().items():
        logging.info("%s: CER %.2f%%  LID %.2f%%  n=%d", lang, s["cer"], s["lid_acc"], s["n"])
    logging.info("all: CER %.2f%%  LID %.2f%%  n=%d  (no tag: %d, unknown tag: %d); wrote %s",
                 summary["cer"], summary["lid_acc"], summary["n"], summary["no_tag"], summary["unknown_tag"], args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
