"""ESPnet's data files (``--*data_path_and_name_and_type PATH,NAME,TYPE``), checked before ESPnet reads them.

ESPnet reads each file with the reader of its TYPE. The ``kaldi_ark`` reader (kaldiio) runs a
line ``<utt> cmd |`` with ``/bin/sh``; the ``sound`` readers (libsndfile) cannot run one and
fail on it inside a data loader, with a traceback. So the entry points that hand files to ESPnet
(``asr_train``, ``ssl_train``, ``asr_inference``) first read every such file with
:mod:`lamer.data.wav_scp`: a line that runs a command stops the program with one line naming
the file and line, unless the user passed ``--allow_wav_pipes true`` and the file's TYPE is
``kaldi_ark``, whose reader runs it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lamer.data.errors import DataError
from lamer.data.wav_scp import PIPE_OPTION, parse_wav_scp, refuse_pipes

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
    ``allow_pipes``. Raises OSError for a data file that cannot be opened."""
    for path, name, kind in data_files(args):
        for scp in _files(Path(path)):
            if kind in RUNS_COMMANDS and not allow_pipes:
                refuse_pipes(parse_wav_scp(scp))
            elif kind in SOUND_TYPES:
                refuse_pipes(parse_wav_scp(scp), f"ESPnet's {kind} reader cannot run it; to run it, give the file "
                                                 f"as {path},{name},kaldi_ark and pass {PIPE_OPTION} true")


def _files(path: Path) -> list[Path]:
    """The file ``path``, or the ``split.N`` files of a directory (ESPnet's ``--multiple_iterator``)."""
    return sorted(path.glob("split.*")) if path.is_dir() else [path]


def run_task(prog: str, task: Any, argv: list[str] | None) -> int:
    """ESPnet's training ``task.main`` (``ASRTask``, ``SSLTask``) on ``argv`` (None: the command
    line), parsed by the task's own parser plus ``--allow_wav_pipes``, once its data files pass
    :func:`check_data_files`; parsing included, under :func:`~lamer.espnet.safe_load.run_safely`
    (ESPnet reads ``--config`` and every ``KEY=VALUE`` option as YAML while it parses). Returns the
    exit status (1 with one error line for a refused data file or YAML)."""
    from lamer.espnet.safe_load import run_safely

    def parse_check_run() -> int | None:
        parser = task.get_parser()
        add_pipe_option(parser)
        args = parser.parse_args(argv)
        allow_pipes = args.allow_wav_pipes
        del args.allow_wav_pipes  # ESPnet writes every option into config.yaml, which must stay ESPnet's
        try:
            check_data_files(args, allow_pipes)
        except (DataError, OSError) as err:
            print(f"{prog}: error: {err}", file=sys.stderr)
            return 1
        return task.main(args=args)

    return run_safely(prog, parse_check_run)
