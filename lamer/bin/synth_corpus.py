"""Generate the synthetic multilingual corpus (espeak-ng voices, wordfreq words).

    python -m lamer.bin.synth_corpus --out DIR --langs en,fr,de --utts_per_lang 300 --seed 0 [--nj 2]

Writes DIR/commonvoice/<locale>/ (a Common Voice release folder) and DIR/fleurs/<config>/ (a
FLEURS language folder) for each language, with speaker-disjoint train/dev/test splits.
Re-running with the same settings skips finished languages. --list_langs prints the languages.
espeak-ng is GPL-3.0: an optional demo dependency (pip install espeakng-loader).
"""
from __future__ import annotations

import logging
import sys
import time

from lamer.bin.options import ToolParser, positive_int, tool_parser
from lamer.data.synth import LANGUAGES, SynthConfig, generate_corpus


def build_parser() -> ToolParser:
    defaults = SynthConfig(utts_per_lang=3)
    parser = tool_parser("synth_corpus", __doc__)
    parser.add_argument("--out", help="output folder (gets commonvoice/ and fleurs/)")
    parser.add_argument("--langs", help=f"comma-separated language keys, from: {','.join(LANGUAGES)}")
    parser.add_argument("--utts_per_lang", type=int, help="utterances per language, all splits together")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed of texts, speakers and voices")
    parser.add_argument("--nj", type=positive_int, default=1, help="worker processes")
    parser.add_argument("--vocab_size", type=int, default=defaults.vocab_size,
                        help="most frequent usable words per language that sentences draw from")
    parser.add_argument("--num_speakers", type=int, default=defaults.num_speakers,
                        help="speakers in the pool shared by all languages")
    parser.add_argument("--dev_speakers", type=int, default=defaults.dev_speakers,
                        help="speakers of the pool kept for dev")
    parser.add_argument("--test_speakers", type=int, default=defaults.test_speakers,
                        help="speakers of the pool kept for test")
    parser.add_argument("--dev_fraction", type=float, default=defaults.dev_fraction,
                        help="share of each language's utterances in dev")
    parser.add_argument("--test_fraction", type=float, default=defaults.test_fraction,
                        help="share of each language's utterances in test")
    parser.add_argument("--list_langs", action="store_true", help="print the language table and exit")
    return parser


def _print_languages() -> None:
    print("key\tespeak\twordfreq\tcv_locale\tfleurs_config\tiso3\tscript")
    for lang in LANGUAGES.values():
        print("\t".join((lang.key, lang.espeak_voice, lang.wordfreq_code, lang.cv_locale, lang.fleurs_config,
                         lang.iso3, lang.script)))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list_langs:
        _print_languages()
        return 0
    missing = [flag for flag, value in (("--out", args.out), ("--langs", args.langs),
                                        ("--utts_per_lang", args.utts_per_lang)) if value is None]
    if missing:
        parser.error(f"missing {', '.join(missing)}")
    started = time.perf_counter()
    try:
        config = SynthConfig(
            utts_per_lang=args.utts_per_lang, seed=args.seed, vocab_size=args.vocab_size,
            num_speakers=args.num_speakers, dev_speakers=args.dev_speakers,
            test_speakers=args.test_speakers, dev_fraction=args.dev_fraction,
            test_fraction=args.test_fraction,
        )
        made = generate_corpus(args.out, [key.strip() for key in args.langs.split(",") if key.strip()],
                               config, nj=args.nj)
    except (ValueError, FileExistsError, ModuleNotFoundError) as err:
        print(f"synth_corpus: error: {err}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    if made:
        total = len(made) * config.utts_per_lang
        logging.info("generated %s: %d utterances in %.1f s (%.1f utt/s)", ",".join(made), total,
                     elapsed, total / elapsed)
    else:
        logging.info("nothing to do: every language is already generated with these settings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
