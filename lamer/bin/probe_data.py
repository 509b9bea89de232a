"""Prepare the inputs of the ASR+LID probe from Kaldi data dirs.

    python -m lamer.bin.probe_data dir --data data/eng/train data/fra/train --out dump/probe/train
    python -m lamer.bin.probe_data dir --data data/eng/train data/fra/train --out dump/probe/train \\
        --minutes_per_dir 1.5 --seed 0
    python -m lamer.bin.probe_data tokens --text dump/probe/train/text --out dump/tokens/char [--lang_dir local/lang]
    python -m lamer.bin.probe_data tokens --text dump/probe/train/text --out dump/tokens/bpe200 \\
        --token_type bpe --vocab_size 200

``dir`` writes wav.scp, text ('<utt> [iso] transcript'), utt2lang and speech_shape;
``tokens`` writes tokens.txt and nlsyms.txt (the language tags), and bpe.model for bpe; with
``--lang_dir``, the ``tokens`` settings of LANG_DIR/<iso3>/lang.yaml drop a language's rare
characters (they become <unk>) and report.json says what was dropped. Each output is locked
while written: a second run on it waits (at most --lock_timeout seconds), naming the PID holding it.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from lamer.bin.options import ToolParser, tool_parser
from lamer.data.errors import DataError


def build_parser() -> ToolParser:
    parser = tool_parser("probe_data", __doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    merge = sub.add_parser("dir", help="merge data dirs into one probe dir")
    merge.add_argument("--data", type=Path, nargs="+", required=True, help="Kaldi data dirs (lamer.data format)")
    merge.add_argument("--out", type=Path, required=True, help="the probe dir to write")
    merge.add_argument("--minutes_per_dir", type=float, default=None, metavar="MINUTES",
                       help="keep at most MINUTES of each data dir (one language's split), chosen speaker-balanced "
                            "from --seed: the probes' labelled budget (default: every utterance)")
    merge.add_argument("--seed", type=int, default=0, help="seed of the --minutes_per_dir choice (default: 0)")
    merge.add_argument("--lock_timeout", type=float, default=None, metavar="SECONDS",
                       help="how long to wait for another run writing --out (default: no limit; 0: stop at once)")
    tokens = sub.add_parser("tokens", help="token list (and sentencepiece model) from a probe text")
    tokens.add_argument("--text", type=Path, required=True, help="the probe dir's text (training set)")
    tokens.add_argument("--out", type=Path, required=True, help="the token list directory to write")
    tokens.add_argument("--token_type", choices=("char", "bpe"), default="char",
                        help="char: one token per character; bpe: a sentencepiece model's pieces")
    tokens.add_argument("--vocab_size", type=int, default=200, help="sentencepiece vocabulary (bpe only)")
    tokens.add_argument("--lang_dir", type=Path, default=None,
                        help="per-language settings: char token settings from LANG_DIR/<iso3>/lang.yaml "
                             "where it exists")
    tokens.add_argument("--lock_timeout", type=float, default=None, metavar="SECONDS",
                        help="how long to wait for another run writing --out (default: no limit; 0: stop at once)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from lamer.probe.inputs import write_probe_dir, write_token_dir

    try:
        if args.command == "dir":
            counts = write_probe_dir(args.data, args.out, args.lock_timeout, args.minutes_per_dir, args.seed)
            logging.info("wrote %s: %s", args.out, ", ".join(f"{lang} {n}" for lang, n in counts.items()))
        else:
            tokens = write_token_dir(args.text, args.out, args.token_type, args.vocab_size, args.lang_dir,
                                     args.lock_timeout)
            logging.info("wrote %s: %d tokens (%s)", args.out, len(tokens), args.token_type)
    except (OSError, DataError, ValueError, RuntimeError) as err:
        print(f"probe_data: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
