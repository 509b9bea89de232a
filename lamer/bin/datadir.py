"""Kaldi's data dir tools (utils/fix_data_dir.sh, subset_data_dir.sh, combine_data.sh,
copy_data_dir.sh, validate_data_dir.sh), which pip's ESPnet does not ship, for our data dirs.

    python -m lamer.bin.datadir fix DIR [--utt_extra_files "f1 f2"] [--spk_extra_files "f3"]
    python -m lamer.bin.datadir subset SRC DEST (--num_utt N | --first N | --last N | --shortest N
                                                 | --per_spk N | --speakers N [--seed S]
                                                 | --utt_list FILE | --spk_list FILE)
    python -m lamer.bin.datadir subset [--first|--last|--shortest|--per-spk|--speakers] SRC N DEST
    python -m lamer.bin.datadir combine DEST SRC [SRC ...]
    python -m lamer.bin.datadir copy SRC DEST [--utt_prefix P] [--utt_suffix S] [--spk_prefix P] [--spk_suffix S]
    python -m lamer.bin.datadir validate DIR [DIR ...] [--no_audio] [--kaldi_only]
    python -m lamer.bin.datadir format SRC DEST [--fs 16000] [--audio_format wav|flac] [--allow_wav_pipes false]

Every per-utterance file is kept consistent, our text.raw included, and segments as Kaldi's
scripts keep them (see lamer/data/dirtools.py for where these differ from Kaldi's scripts).
Arguments also take Kaldi's forms: dashed spellings, subset_data_dir.sh's SRC N DEST, and an
option's value is the next word whatever it starts with (--utt-suffix -s). format writes every
utterance's audio as a file of its own, as ESPnet's format_wav_scp.sh (lamer/data/format_dir.py);
a 'cmd |' line of wav.scp runs only with --allow_wav_pipes true (docs/SECURITY.md).
fix, subset, combine, copy and format hold the lock of the dir they write (one writer per output,
the lock prepare_data takes): a second run on it waits, at most --lock_timeout seconds, naming the PID.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lamer.bin.options import ToolParser, add_lock_timeout, spellings, tool_parser
from lamer.data.audio import AUDIO_FORMATS, TARGET_RATE
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
from lamer.data.format_dir import format_data_dir
from lamer.data.validate import validate_dirs
from lamer.data.wav_scp import PIPE_OPTION

# subset modes that count utterances: subset_data_dir.sh takes them as flags before SRC N DEST
COUNTED_MODES = tuple(name for name in SUBSET_MODES if not name.endswith("_list"))


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


def _cmd_format(args: argparse.Namespace) -> int:
    print(format_data_dir(args.src, args.dest, args.fs, args.audio_format, args.allow_wav_pipes == "true",
                          _extra(args), args.lock_timeout))
    return 0


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

    fmt = sub.add_parser("format", help="copy a data dir, every utterance's audio written as a file of its own "
                                        "(ESPnet's format_wav_scp.sh; segments cut, archives and commands read)")
    fmt.add_argument("src", type=Path, help="the data dir whose audio is written (wav.scp, optional segments)")
    fmt.add_argument("dest", type=Path, help="the copy; its audio goes to DEST/data/")
    fmt.add_argument("--fs", type=int, default=TARGET_RATE, help="sample rate written, in Hz")
    fmt.add_argument("--audio_format", choices=tuple(AUDIO_FORMATS), default="wav",
                     help="file format of the audio written")
    fmt.add_argument(PIPE_OPTION, choices=("true", "false"), default="false",
                     help="run the command of a 'cmd |' line of wav.scp with /bin/sh, as Kaldi and ESPnet do "
                          "(default false: such a line is an error). Only for data you trust.")
    _add_extra_files(fmt)
    fmt.set_defaults(func=_cmd_format)
    return parser


def _is_count(word: str) -> bool:
    return word.lstrip("-").isdigit()


def kaldi_argv(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """``argv`` with Kaldi's argument forms made ours: an option that takes a value takes the next
    word whatever it starts with (``--utt-suffix -s``, as Kaldi's parse_options.sh reads it), and
    ``subset [--first|--last|--shortest|--per-spk|--speakers] SRC N DEST`` (subset_data_dir.sh's
    form; without a flag, N spread evenly) becomes ``subset --MODE N SRC DEST``."""
    commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction)).choices
    at = next((i for i, word in enumerate(argv) if word in commands), None)
    if at is None:
        return argv
    sub = commands[argv[at]]
    takes_value = {option for action in sub._actions if action.nargs != 0 for option in action.option_strings}
    counted = set(spellings(tuple(f"--{name}" for name in COUNTED_MODES))) if argv[at] == "subset" else set()
    words, out, positional, flag = argv[at + 1:], [], [], None
    i = 0
    while i < len(words):
        word = words[i]
        if word in counted and (i + 1 == len(words) or not _is_count(words[i + 1])):
            flag = word  # subset_data_dir.sh's flag: the count comes after SRC
            i += 1
        elif word in takes_value and i + 1 < len(words):
            out.append(f"{word}={words[i + 1]}")
            i += 2
        else:
            (out if word.startswith("-") else positional).append(word)
            i += 1
    if counted and len(positional) == 3 and _is_count(positional[1]):
        src, count, dest = positional
        out += [f"{flag or '--num_utt'}={count}", src, dest]
    else:
        out += ([flag] if flag else []) + positional
    return [*argv[:at + 1], *out]


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command; returns the exit status (1 on bad input, with the reason on stderr)."""
    parser = build_parser()
    args = parser.parse_args(kaldi_argv(parser, sys.argv[1:] if argv is None else argv))
    try:
        return args.func(args)
    except (DataError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
