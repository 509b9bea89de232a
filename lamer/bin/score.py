"""Score decoded hypotheses per language: CER, PER, LID accuracy, LID confusion, per-utterance table.

    python -m lamer.bin.score --ref data/test/text --hyp exp/decode/1best_recog/text --utt2lang data/test/utt2lang \\
        [--lid_if_present exp/decode/1best_recog/lid] [--per false] --out DIR

Writes DIR/score.json ({iso: {cer, per, lid_acc, n}}), DIR/summary.json, DIR/per_utt.tsv,
DIR/lid_confusion.json and DIR/lid_confusion.png. PER, the phone error rate, reads reference and
hypothesis with espeak-ng's G2P in the reference language's voice (lamer.data.g2p: a word it reads
in another language is one phone; summary.json names the G2P, its version and rules as "g2p" and
the voice per language as "g2p_voices"); it needs the optional espeakng-loader package, and --per
false leaves it out (score.json without "per", summary.json's PER figures null).

With the probe's language classifier output (``<utt> [iso]`` lines, written by decoding a
``model: lamer_lid`` probe), given by ``--lid`` or by ``--lid_if_present`` when that file
exists, score.json also holds ``lid_acc_classifier`` per language, summary.json its overall
figures (null without a classifier), and DIR/lid_confusion_classifier.{json,png} its confusion.
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
    parser.add_argument("--per", choices=("true", "false"), default="true",
                        help="score the phone error rate too (needs espeak-ng: pip install espeakng-loader)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    return parser


def _per_text(per: float | None) -> str:
    return "" if per is None else f"  PER {per:.2f}%"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    lid = args.lid
    if args.lid_if_present is not None and args.lid_if_present.is_file():
        lid = args.lid_if_present
    try:
        score = score_texts(args.ref, args.hyp, args.utt2lang, lid, per=args.per == "true")
    except EvalInputError as err:
        print(f"score: error: {err}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as err:
        if err.name != "espeakng_loader":
            raise
        print(f"score: error: {err}; or score without it: --per false", file=sys.stderr)
        return 1
    inputs = {"ref": str(args.ref), "hyp": str(args.hyp), "utt2lang": str(args.utt2lang) if args.utt2lang else None,
              "lid": str(lid) if lid else None}
    write_score_dir(score, args.out, inputs)
    summary = score.summary()
    for lang, s in score.per_language().items():
        logging.info("%s: CER %.2f%%%s  LID %.2f%%  n=%d", lang, s["cer"], _per_text(s["per"] if "per" in s else None),
                     s["lid_acc"], s["n"])
    logging.info("all: CER %.2f%%%s  LID %.2f%%  n=%d  (no tag: %d, unknown tag: %d); wrote %s",
                 summary["cer"], _per_text(summary["per"]), summary["lid_acc"], summary["n"], summary["no_tag"],
                 summary["unknown_tag"], args.out)
    if score.has_per:
        logging.info("PER phones by %s, voices %s", score.g2p,
                     " ".join(f"{lang}={voice}" for lang, voice in sorted(score.g2p_voices.items())))
    classifier = summary["lid_acc_classifier"]
    logging.info("LID of the utterance classifier: %s", f"{classifier:.2f}%" if classifier is not None
                 else "absent (the probe has no language classifier: model: lamer_lid adds one)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
