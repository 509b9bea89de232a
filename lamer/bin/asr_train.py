"""Train an ASR probe with ESPnet's own ASR task, trainer and options, plus ``frontend: lamer``.

    python -m lamer.bin.asr_train --config conf/probe/probe_char.yaml \\
        --frontend_conf path_or_url=exp/ssl/base.pt --frontend_conf adapters=exp/stage1/adapters ...

Every option is ESPnet's (``python -m lamer.bin.asr_train --help``) but one: a data file's
``cmd |`` lines run only with ``--allow_wav_pipes true`` (lamer/probe/data_options.py); see
lamer/probe/frontend.py for the frontend's options.
"""
from __future__ import annotations

import sys

from lamer.bin.options import help_before_imports, usage_line

SYNOPSIS = "[--allow_wav_pipes BOOL] [ESPnet's ASR training options]"


def main(argv: list[str] | None = None) -> int:
    """ESPnet's ASR training; checkpoints and ``--init_param`` files are read weights-only and
    checked, data files that run commands refused unless allowed."""
    argv = sys.argv[1:] if argv is None else argv
    with help_before_imports(f"{usage_line('asr_train', SYNOPSIS)}\n\n{__doc__}", argv):
        from espnet2.tasks.asr import ASRTask

        from lamer.probe.asr_task import register_lamer_choices
        from lamer.probe.data_options import run_task

    register_lamer_choices()
    return run_task("asr_train", ASRTask, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
