"""Kaldi's data dir tools (utils/fix_data_dir.sh, subset_data_dir.sh, combine_data.sh,
copy_data_dir.sh, validate_data_dir.sh), which pip's ESPnet does not ship, for our data dirs.

    python -m lamer.bin.datadir fix DIR [--utt_extra_files "f1 f2"] [--spk_extra_files "f3"]
    python -m lamer.bin.datadir subset SRC DEST (--num_utt N | --first N | --last N | --shortest N
                                                 | --per_spk N | --speakers N [--seed S]
                                                 | --utt_list FILE | --spk_list FILE)
    python -m lamer.bin.datadir combine DEST SRC [SRC ...]
    python -m lamer.bin.datadir copy SRC DEST [--utt_prefix P] [--utt_suffix S] [--spk_prefix P] [--spk_suffix S]
    python -m lamer.bin.datadir validate DIR [DIR ...] [--no_audio] [--kaldi_only]

Every per-utterance file is kept consistent, our text.raw included (see lamer/data/dirtools.py
for where these differ from Kaldi's scripts). Options also take Kaldi's dashed spellings.
fix, subset, combine and copy hold the lock of the dir they write (one writer per output, the lock
prepare_data takes): a second run on it waits, at most --lock_timeout seconds, naming the PID.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lamer.bin.options import ToolParser, add_lock_timeout, tool_parser
from lamer.data.dirtools import (
    SUBSET_MODES,
    ExtraFiles,
    Renaming,
    combine_data_dirs,
    copy_data_dir,
    fix_data_dir,
    subset_data_dir,
)
from lamer.data.errors import DataError
from lamer.data.validate import validate_data_dir


def _extra(args: argparse.Namespace) -> ExtraFiles:
    return ExtraFiles(tuple(args.utt_extra_files.split()), tuple(args.spk_extra_files.split()))


def _cmd_fix(args: argparse.Namespace) -> int:
    print(f"fix {args.dir}: {fix_data_dir(args.dir, _extra(args), args.lock_timeout)}")
    return 0


def _cmd_subset(args: argparse.Namespace) -> int:
    mode = next(name for name in SUBSET_MODES if getattr(args, name) is not None)
    summary = subset_data_dir(args.src, args.dest, mode, getattr(args, mode), args.seed, _extra(args),
                              args.lock_timeout)
    print(f"subset {args.src} -> {args.dest}: {summary}")
    return 0


def _cmd_combine(args: argparse.Namespace) -> int:
    print(f"combine -> {args.dest}: {combine_data_dirs(args.dest, args.srcs, _extra(args), args.lock_timeout)}")
    return 0


def _cmd_copy(args: argparse.Namespace) -> int:
    renaming = Renaming(args.utt_prefix, args.utt_suffix, args.spk_prefix, args.spk_suffix)
    print(copy_data_dir(args.src, args.dest, renaming, _extra(args), args.lock_timeout))
    return 0


def validate_dirs(dirs: list[Path], check_audio: bool = True, kaldi_only: bool = False) -> int:
    """Validate every dir of ``dirs``: its problems on stderr, ``DIR: OK`` or the count on stdout;
    returns the exit status (1 when any dir has a problem)."""
    failed = 0
    for data_dir in dirs:
        problems = validate_data_dir(data_dir, check_audio=check_audio, kaldi_only=kaldi_only)
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{data_dir}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
        failed += bool(problems)
    return 1 if failed else 0


def _cmd_validate(args: argparse.Namespace) -> int:
    return validate_dirs(args.dirs, check_audio=not args.no_audio, kaldi_only=args.kaldi_only)


def _add_extra_files(parser: argparse.ArgumentParser) -> None:
    """The options of every tool that writes a data dir: extra files to keep consistent, the lock."""
    parser.add_argument("--utt_extra_files", default="", metavar="'F1 F2'",
            help="more per-utterance files to keep consistent (text.raw always is)")
    parser.add_argument("--spk_extra_files", default="", metavar="'F1 F2'",
                        help="more per-speaker files to keep consistent")
    add_lock_timeout(parser)


def build_parser() -> ToolParser:
    """The argument parser with one sub-command per tool."""
    parser = tool_parser("datadir", __doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    fix = sub.add_parser("fix", help="sort, keep the utterances found in every file, regenerate spk2utt "
                                     "(fix_data_dir.sh); old files in DIR/.backup")
    fix.add_argument("dir", type=Path, help="the data dir to fix in place")
    _add_extra_files(fix)
    fix.set_defaults(func=_cmd_fix)

    subset = sub.add_parser("subset", help="a subset of a data dir (subset_data_dir.sh)")
    subset.add_argument("src", type=Path, help="the data dir to take from")
    subset.add_argument("dest", type=Path, help="the data dir to write")
    modes = subset.add_mutually_exclusive_group(required=True)
    for name, text in SUBSET_MODES.items():
        listed = name.endswith("_list")
        modes.add_argument(f"--{name}", type=Path if listed else int, metavar="FILE" if listed else "N", help=text)
    subset.add_argument("--seed", type=int, default=0, help="random seed of --speakers (default 0)")
    _add_extra_files(subset)
    subset.set_defaults(func=_cmd_subset)

    combine = sub.add_parser("combine", help="several data dirs into one (combine_data.sh); "
                                             "an utterance id in two sources is an error")
    combine.add_argument("dest", type=Path, help="the data dir to write")
    combine.add_argument("srcs", type=Path, nargs="+", help="the data dirs to combine")
    _add_extra_files(combine)
    combine.set_defaults(func=_cmd_combine)

    copy = sub.add_parser("copy", help="copy a data dir, optionally renaming ids (copy_data_dir.sh)")
    copy.add_argument("src", type=Path, help="the data dir to copy")
    copy.add_argument("dest", type=Path, help="the data dir to write")
    for name in ("utt_prefix", "utt_suffix", "spk_prefix", "spk_suffix"):
        copy.add_argument(f"--{name}", default="", help=f"{name.replace('_', ' ')} added to every id")
    _add_extra_files(copy)
    copy.set_defaults(func=_cmd_copy)

    validate = sub.add_parser("validate", help="check data dirs (validate_data_dir.sh --no-feats, then ours)")
    validate.add_argument("dirs", type=Path, nargs="+", help="the data dirs to check")
    validate.add_argument("--no_audio", action="store_true", help="skip opening the audio files")
    validate.add_argument("--kaldi_only", action="store_true",
            help="only Kaldi's checks, for a dir that is not ours (no utt2lang/utt2dur needed)")
    validate.set_defaults(func=_cmd_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command; returns the exit status (1 on bad input, with the reason on stderr)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DataError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
