"""Score decoded hypotheses per language: CER, LID accuracy, LID confusion, per-utterance table.

    python -m lamer.bin.score --ref data/test/text --hyp exp/decode/1best_recog/text --utt2lang data/test/utt2lang \\
        [--lid_if_present exp/decode/1best_recog/lid] --out DIR

Writes DIR/score.json ({iso: {cer, lid_acc, n}}), DIR/summary.json, DIR/per_utt.tsv,
DIR/lid_confusion.json and DIR/lid_confusion.png. With the probe's language classifier output
(``<utt> [iso]`` lines, written by decoding a ``model: lamer_lid`` probe), given by ``--lid`` or
by ``--lid_if_present`` when that file exists, score.json also holds ``lid_acc_classifier`` per
language, summary.json its overall figures (null without a classifier), and
DIR/lid_confusion_classifier.{json,png} its confusion.
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
    lid = parser.add_mutually_exclusive_group()
    lid.add_argument("--lid", type=Path, help="the language classifier's '<utt> [iso]' file (1best_recog/lid)")
    lid.add_argument("--lid_if_present", type=Path,
                     help="as --lid when this file exists (a probe without a classifier writes none)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s score: %(message)s")
    lid = args.lid
    if args.lid_if_present is not None and args.lid_if_present.is_file():
        lid = args.lid_if_present
    try:
        score = score_texts(args.ref, args.hyp, args.utt2lang, lid)
    except EvalInputError as err:
        print(f"score: error: {err}", file=sys.stderr)
        return 1
    inputs = {"ref": str(args.ref), "hyp": str(args.hyp), "utt2lang": str(args.utt2lang) if args.utt2lang else None,
              "lid": str(lid) if lid else None}
    write_score_dir(score, args.out, inputs)
    summary = score.summary()
    for lang, s in score.per_language().items():
        logging.info("%s: CER %.2f%%  LID %.2f%%  n=%d", lang, s["cer"], s["lid_acc"], s["n"])
    logging.info("all: CER %.2f%%  LID %.2f%%  n=%d  (no tag: %d, unknown tag: %d); wrote %s",
                 summary["cer"], summary["lid_acc"], summary["n"], summary["no_tag"], summary["unknown_tag"], args.out)
    classifier = summary["lid_acc_classifier"]
    logging.info("LID of the utterance classifier: %s", f"{classifier:.2f}%" if classifier is not None
                 else "absent (the probe has no language classifier: model: lamer_lid adds one)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
