"""ESPnet's data files (``--*data_path_and_name_and_type PATH,NAME,TYPE``), checked before ESPnet reads them.

ESPnet reads each file with the reader of its TYPE. The ``kaldi_ark`` reader (kaldiio) runs a
line ``<utt> cmd |`` with ``/bin/sh``; the ``sound`` readers (libsndfile) cannot run one and
fail on it inside a data loader, with a traceback. So the entry points that hand files to ESPnet
(``asr_train``, ``ssl_train``, ``asr_inference``) first read every such file with
:mod:`lamer.data.wav_scp`: a line that runs a command stops the program with one line naming
the file and line, unless the user passed ``--allow_wav_pipes true`` and the file's TYPE is
``kaldi_ark``, whose reader runs it.

Neither reader knows Kaldi's ``segments``, and the ``sound`` readers read whole files only, not
positions in an archive (``a.ark:1234``). ESPnet's recipes write such audio to files before
training or decoding (``asr.sh`` stage 3, ``format_wav_scp.sh``), and so does lamer: ``python -m
lamer.bin.datadir format``, or the probe dir (``probe_data dir``) and the SSL targets, which do it
themselves. A data file beside a ``segments`` file, or an archive position in a ``sound`` file,
is refused with one line that says so.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lamer.data.errors import DataError
from lamer.data.wav_scp import PIPE_OPTION, WavEntry, parse_wav_scp, refuse_pipes

RUNS_COMMANDS = ("kaldi_ark",)  # kaldiio.load_scp
SOUND_TYPES = ("sound", "multi_columns_sound", "variable_columns_sound")  # libsndfile: never a command
DATA_OPTION = "data_path_and_name_and_type"  # ESPnet's --data_..., --train_data_..., --valid_data_...
PIPE_HELP = ("run the command of a 'cmd |' line of a kaldi_ark data file (wav.scp) with /bin/sh, as Kaldi "
             "and ESPnet do (default false: such a line is an error). Only for data you trust.")


def add_pipe_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--allow_wav_pipes BOOL`` (ESPnet's spelling of booleans: true/false) to ``parser``."""
    from espnet2.utils.types import str2bool

    parser.add_argument(PIPE_OPTION, type=str2bool, default=False, help=PIPE_HELP)


def data_files(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """``(path, name, type)`` of every data option of ``args``, ESPnet's parsed options."""
    return [tuple(spec) for option, specs in vars(args).items() if option.endswith(DATA_OPTION) and specs
            for spec in specs]


def check_data_files(args: argparse.Namespace, allow_pipes: bool) -> None:
    """Raise :class:`DataError` naming the file and line of the first data line that runs a
    command where it must not: always in a ``sound`` file, in a ``kaldi_ark`` one unless
    ``allow_pipes``; and for an audio file that ESPnet would read wrongly (:func:`_refuse_unread`).
    Raises OSError for a data file that cannot be opened."""
    for path, name, kind in data_files(args):
        for scp in _files(Path(path)):
            if kind not in (*RUNS_COMMANDS, *SOUND_TYPES):
                continue
            entries = parse_wav_scp(scp)
            if kind in RUNS_COMMANDS and not allow_pipes:
                refuse_pipes(entries)
            elif kind in SOUND_TYPES:
                refuse_pipes(entries, f"ESPnet's {kind} reader cannot run it; to run it, give the file "
                                      f"as {path},{name},kaldi_ark and pass {PIPE_OPTION} true")
            _refuse_unread(scp, kind, entries)


def _refuse_unread(scp: Path, kind: str, entries: list[WavEntry]) -> None:
    """Raise :class:`DataError` for audio that ESPnet's ``kind`` reader cannot read as the
    utterances it lists: a ``wav.scp`` keyed by recording (a ``segments`` file beside it), or a
    position in a Kaldi archive in a ``sound`` file (libsndfile reads whole files only)."""
    fix = f"write one file per utterance first: python -m lamer.bin.datadir format {scp.parent} DEST"
    if (scp.parent / "segments").is_file():
        raise DataError(f"{scp.parent / 'segments'}: {scp} lists recordings that segments cut into utterances, "
                        f"which ESPnet's readers do not do; {fix}")
    if kind in SOUND_TYPES:
        for entry in entries:
            if entry.kind == "ark":
                raise DataError(f"{entry.origin}: the audio of {entry.utt} is a position in a Kaldi archive "
                                f"({entry.audio}), which ESPnet's {kind} reader cannot read; {fix}")


def _files(path: Path) -> list[Path]:
    """The file ``path``, or the ``split.N`` files of a directory (ESPnet's ``--multiple_iterator``)."""
    return sorted(path.glob("split.*")) if path.is_dir() else [path]


# ESPnet's options that its parsers leave without a help text (espnet2 202511): training, inference
TRAINING_HELP = {
    "output_dir": "where the training writes its checkpoints, logs and config.yaml",
    "train_shape_file": "a training shape file (<utt> <length>), one per data option, in their order",
    "valid_shape_file": "a validation shape file (<utt> <length>), one per data option, in their order",
    "fold_length": "--batch_type folded: a batch whose longest item is k times this length (one per shape file) "
                   "holds batch_size/(1+k) items",
    "valid_data_path_and_name_and_type": "a validation data file, its name and type: PATH,NAME,TYPE",
}
INFERENCE_HELP = {
    "output_dir": "where the hypotheses go (OUTPUT_DIR/1best_recog)",
    "data_path_and_name_and_type": "a data file to decode, its name and type: PATH,speech,sound (or kaldi_ark)",
    "key_file": "decode only the utterances this file lists (default: every one of the first data file)",
    "allow_variable_data_keys": "accept data names the model does not ask for",
    "streaming": "decode with ESPnet's streaming beam search (streaming models)",
    "hugging_face_decoder": "the model's decoder is a Hugging Face one",
}


def as_tool(parser: argparse.ArgumentParser, prog: str, texts: dict[str, str]) -> argparse.ArgumentParser:
    """ESPnet's ``parser`` as ``python -m lamer.bin.<prog>`` shows it: its usage line names the module
    (ESPnet's names the script's file) and the options ESPnet leaves undescribed get ``texts``."""
    parser.prog = f"python -m lamer.bin.{prog}"
    for action in parser._actions:
        if not action.help and action.dest in texts:
            action.help = texts[action.dest]
    return parser


def task_parser(prog: str, task: Any) -> argparse.ArgumentParser:
    """The parser of ESPnet's ``task`` (``ASRTask``, ``SSLTask``) as ``python -m lamer.bin.<prog>``
    runs it (:func:`as_tool`), ``--allow_wav_pipes`` added."""
    parser = as_tool(task.get_parser(), prog, TRAINING_HELP)
    add_pipe_option(parser)
    return parser


def run_task(prog: str, task: Any, argv: list[str] | None) -> int:
    """ESPnet's training ``task.main`` (``ASRTask``, ``SSLTask``) on ``argv`` (None: the command
    line), parsed by :func:`task_parser`, once its data files pass
    :func:`check_data_files`; parsing included, under :func:`~lamer.runtime.load_guard.run_safely`
    (ESPnet reads ``--config`` and every ``KEY=VALUE`` option as YAML while it parses). Returns the
    exit status (1 with one error line for a refused data file or YAML)."""
    from lamer.runtime.load_guard import run_safely

    def parse_check_run() -> int | None:
        args = task_parser(prog, task).parse_args(argv)
        allow_pipes = args.allow_wav_pipes
        del args.allow_wav_pipes  # ESPnet writes every option into config.yaml, which must stay ESPnet's
        try:
            check_data_files(args, allow_pipes)
        except (DataError, OSError) as err:
            print(f"{prog}: error: {err}", file=sys.stderr)
            return 1
        return task.main(args=args)

    return run_safely(prog, parse_check_run)
