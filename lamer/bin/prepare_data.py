"""Prepare data dirs from Common Voice / FLEURS, draw replay samples and subsets, validate dirs.

    python -m lamer.bin.prepare_data commonvoice --root ROOT --langs en,fr --out DATA --dump DUMP [--nj N] [--skip_bad]
    python -m lamer.bin.prepare_data fleurs --root ROOT --langs en_us,fr_fr --out DATA --dump DUMP [--lang_dir DIR]
    python -m lamer.bin.prepare_data replay --src DATA/eng/train --minutes 30 --out DATA/replay/eng
    python -m lamer.bin.prepare_data replay --src DATA/eng/train --fraction 0.1 --of DATA/spa/train [--of ...] --out OUT
    python -m lamer.bin.prepare_data subset --src DATA/eng/train --hours 1 --out DATA/eng/train_1h
    python -m lamer.bin.prepare_data split --src DATA/eng/all --dev 0.1 --test 0.1 --out DATA/eng
    python -m lamer.bin.prepare_data validate DATA/eng/train [DIR ...]   (as python -m lamer.bin.datadir validate)

Every command that writes takes the lock of its outputs (one writer per output): a second run
on the same output logs the PID holding it and waits, at most --lock_timeout seconds when given
(0: stop at once), then stops with an error naming that PID. SIGTERM and SIGINT end the run at
once, its conversion workers with it; the next run removes what it left and resumes.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from lamer.bin.datadir import validate_dirs
from lamer.bin.options import ToolParser, add_lock_timeout, positive_int, tool_parser
from lamer.data.commonvoice import SPLIT_MODES, prepare_commonvoice
from lamer.data.datadir_io import Utterance, read_data_dir, write_data_dir
from lamer.data.errors import DataError, DiskFull
from lamer.data.fleurs import prepare_fleurs
from lamer.data.languages import parse_lang_map
from lamer.data.lock import output_lock
from lamer.data.prepare import DURATION_TOLERANCE, PrepareOptions
from lamer.data.selection import STRATEGIES, SplitSizes, select_duration, speaker_disjoint_split, total_duration

logger = logging.getLogger("lamer.bin.prepare_data")


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _add_corpus_args(parser: argparse.ArgumentParser, langs_help: str) -> None:
    parser.add_argument("--root", type=Path, required=True, help="folder holding one folder per locale/config")
    parser.add_argument("--langs", type=_csv, required=True, help=langs_help)
    parser.add_argument("--out", type=Path, required=True, help="data root: writes OUT/<iso3>/<split>/")
    parser.add_argument("--dump", type=Path, required=True, help="audio root: writes DUMP/<iso3>/<split>/*.wav")
    parser.add_argument("--splits", type=_csv, default=["train", "dev", "test"],
                        help="comma separated (default: train,dev,test)")
    parser.add_argument("--nj", type=positive_int, default=1, help="parallel audio conversion processes")
    parser.add_argument("--skip_bad", action="store_true",
                        help="skip bad rows (counted in report.json) instead of failing")
    parser.add_argument("--min_duration", type=float, default=0.5, help="seconds (default 0.5)")
    parser.add_argument("--max_duration", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--audio_format", choices=["wav", "flac"], default="wav",
                        help="the format of the converted audio (16 kHz mono)")
    parser.add_argument("--lang_map", default="", help="extra LOCALE=iso3 pairs, comma separated, e.g. xx=yyy")
    parser.add_argument("--lang_dir", type=Path, default=None,
                        help="per-language settings: text overrides from LANG_DIR/<iso3>/lang.yaml where it exists")
    parser.add_argument("--duration_tolerance", type=float, default=DURATION_TOLERANCE, metavar="SECONDS",
                        help="a clip decoding to a length this far from the corpus' own (Common Voice's "
                             f"clip_durations.tsv) is bad audio (default {DURATION_TOLERANCE})")
    add_lock_timeout(parser)


def _options(args: argparse.Namespace) -> PrepareOptions:
    return PrepareOptions(args.nj, args.skip_bad, args.min_duration, args.max_duration, args.audio_format,
                          args.lang_dir, args.lock_timeout, args.duration_tolerance)


def _write_locked(args: argparse.Namespace, utts: list[Utterance], out: Path, extra: dict[str, object]) -> None:
    """Write the data dir ``out`` under its lock (see module doc)."""
    with output_lock(out, args.lock_timeout):
        write_data_dir(utts, out, extra=extra)


def _cmd_commonvoice(args: argparse.Namespace) -> int:
    prepare_commonvoice(args.root, args.langs, args.out, args.dump, _options(args), args.split_mode,
                        args.splits, parse_lang_map(args.lang_map))
    return 0


def _cmd_fleurs(args: argparse.Namespace) -> int:
    prepare_fleurs(args.root, args.langs, args.out, args.dump, _options(args), args.splits,
                   parse_lang_map(args.lang_map))
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    utts = read_data_dir(args.src)
    if args.minutes is not None:
        budget = args.minutes * 60.0
    else:
        budget = args.fraction * sum(total_duration(read_data_dir(new)) for new in args.of)
    chosen = select_duration(utts, budget, args.strategy, args.seed)
    _write_locked(args, chosen, args.out, {"source": str(args.src), "strategy": args.strategy, "seed": args.seed,
                                           "budget_seconds": round(budget, 3),
                                           "seconds": round(total_duration(chosen), 3), "utterances": len(chosen)})
    logger.info("%s: %d utterances, %.1f of %.1f s budget", args.out, len(chosen), total_duration(chosen), budget)
    return 0


def _cmd_subset(args: argparse.Namespace) -> int:
    chosen = select_duration(read_data_dir(args.src), args.hours * 3600.0, args.strategy, args.seed)
    _write_locked(args, chosen, args.out, {"source": str(args.src), "strategy": args.strategy, "seed": args.seed,
                                           "hours": round(total_duration(chosen) / 3600, 4),
                                           "utterances": len(chosen)})
    logger.info("%s: %d utterances, %.3f h", args.out, len(chosen), total_duration(chosen) / 3600)
    return 0


def _cmd_split(args: argparse.Namespace) -> int:
    parts = speaker_disjoint_split(read_data_dir(args.src), SplitSizes(args.dev, args.test), args.seed)
    for name, utts in parts.items():
        if utts:
            _write_locked(args, utts, args.out / name,
                          {"source": str(args.src), "seed": args.seed, "utterances": len(utts)})
            logger.info("%s: %d utterances", args.out / name, len(utts))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    return validate_dirs(args.dirs, check_audio=not args.no_audio)


def build_parser() -> ToolParser:
    """The argument parser with one sub-command per job."""
    parser = tool_parser("prepare_data", __doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    cv = sub.add_parser("commonvoice", help="prepare Common Voice locales")
    _add_corpus_args(cv, "Common Voice locales, comma separated (en,zh-CN,sv-SE)")
    cv.add_argument("--split_mode", choices=SPLIT_MODES, default="validated",
                    help="validated: train = validated.tsv minus dev/test clips; official: train.tsv")
    cv.set_defaults(func=_cmd_commonvoice)

    fl = sub.add_parser("fleurs", help="prepare FLEURS language configs")
    _add_corpus_args(fl, "FLEURS configs, comma separated (en_us,cmn_hans_cn)")
    fl.set_defaults(func=_cmd_fleurs)

    replay = sub.add_parser("replay", help="draw a replay sample from a prepared language")
    replay.add_argument("--src", type=Path, required=True, help="data dir to draw from")
    budget = replay.add_mutually_exclusive_group(required=True)
    budget.add_argument("--minutes", type=float, help="replay duration in minutes")
    budget.add_argument("--fraction", type=float, help="replay duration as a fraction of the --of data dirs' duration")
    replay.add_argument("--of", type=Path, action="append",
                        help="a new language's data dir of the stage (with --fraction; repeat for every new language)")
    replay.add_argument("--strategy", choices=STRATEGIES, default="random",
                        help="random: utterances at random; speaker_balanced: the same duration from every speaker")
    replay.add_argument("--seed", type=int, default=0, help="random seed of the selection")
    replay.add_argument("--out", type=Path, required=True, help="the replay data dir to write")
    add_lock_timeout(replay)
    replay.set_defaults(func=_cmd_replay)

    subset = sub.add_parser("subset", help="take at most some hours of a data dir")
    subset.add_argument("--src", type=Path, required=True, help="data dir to take from")
    subset.add_argument("--hours", type=float, required=True, help="the most audio to keep, in hours")
    subset.add_argument("--strategy", choices=STRATEGIES, default="random",
                        help="random: utterances at random; speaker_balanced: the same duration from every speaker")
    subset.add_argument("--seed", type=int, default=0, help="random seed of the selection")
    subset.add_argument("--out", type=Path, required=True, help="the data dir to write")
    add_lock_timeout(subset)
    subset.set_defaults(func=_cmd_subset)

    split = sub.add_parser("split", help="speaker-disjoint train/dev/test split of a data dir")
    split.add_argument("--src", type=Path, required=True, help="data dir to split")
    split.add_argument("--dev", type=float, default=0.1, help="share of the duration for dev")
    split.add_argument("--test", type=float, default=0.1, help="share of the duration for test")
    split.add_argument("--seed", type=int, default=0, help="random seed of the speakers' assignment")
    split.add_argument("--out", type=Path, required=True, help="writes OUT/train, OUT/dev, OUT/test")
    add_lock_timeout(split)
    split.set_defaults(func=_cmd_split)

    validate = sub.add_parser("validate", help="check data dirs")
    validate.add_argument("dirs", type=Path, nargs="+", help="the data dirs to check")
    validate.add_argument("--no_audio", action="store_true", help="skip opening the audio files")
    validate.set_defaults(func=_cmd_validate)
    return parser


def _die_on_interrupt() -> None:
    """SIGINT ends the run at once like SIGTERM (no KeyboardInterrupt unwinding while workers
    still write); a SIGINT the caller chose to ignore (a background job) stays ignored."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.SIG_DFL)


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command; returns the exit status (1 on bad input, with the reason on stderr)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "replay" and (args.fraction is None) != (args.of is None):
        parser.error("--fraction and --of go together")
    try:
        return args.func(args)
    except (DataError, DiskFull, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    _die_on_interrupt()
    sys.exit(main())
