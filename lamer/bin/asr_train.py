"""Train an ASR probe with ESPnet's own ASR task, trainer and options, plus ``frontend: lamer``.

    python -m lamer.bin.asr_train --config conf/probe/probe_char.yaml \\
        --frontend_conf path_or_url=exp/ssl/base.pt --frontend_conf adapters=exp/stage1/adapters ...

Every option is ESPnet's (``python -m lamer.bin.asr_train --help``) but one: a data file's
``cmd |`` lines run only with ``--allow_wav_pipes true`` (lamer/espnet/data_options.py); see
lamer/espnet/frontend.py for the frontend's options.
"""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """ESPnet's ASR training; checkpoints and ``--init_param`` files are read weights-only and
    checked, data files that run commands refused unless allowed."""
    from espnet2.tasks.asr import ASRTask

    from lamer.espnet.data_options import run_task
    from lamer.espnet.task import register_lamer_choices

    register_lamer_choices()
    return run_task("asr_train", ASRTask, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
