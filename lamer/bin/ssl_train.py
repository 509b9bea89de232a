"""Continual SSL training (HuBERT masked prediction) with ESPnet's trainer.

    python -m lamer.bin.ssl_train --config conf/ssl/lamer.yaml \\
        --train_data_path_and_name_and_type dump/ssl/stage1/wav.scp,speech,sound \\
        --train_data_path_and_name_and_type dump/ssl/stage1/labels,labels,text_int \\
        --train_shape_file dump/ssl/stage1/speech_shape \\
        --valid_data_path_and_name_and_type ... --valid_shape_file ... \\
        --replay_utt2lang dump/ssl/stage1/replay_utt2lang --replay_share 0.2 \\
        --output_dir exp/ssl_stage1 --ngpu 0

The recipe gives each stage its spec instead of the adapter and replay options: ``--spec
exp/<tag>/config/ssl_<stage>.json`` (lamer/ssl/train_spec.py: the adapter, its config with the
preset merged in, the replay utterances and share), read once; the options it replaces
(``--ssl_adapter``, ``--ssl_adapter_preset``, ``--ssl_adapter_conf``, ``--replay_utt2lang``,
``--replay_share``) are then refused beside it.

Stage chaining: ``--init_adapters exp/ssl_stage1/adapters`` continues the previous stage's
experts; add ``--add_experts N --freeze_previous_experts true`` to train N new experts per
module beside frozen old ones. Full fine-tuning chains through ``--upstream
exp/ssl_stage1/upstream.pt``. The prediction head starts fresh (a new codebook); with a reused
codebook keep it with ESPnet's ``--init_param exp/ssl_stage1/latest.pth:head:head``.

Every ESPnet training option works (--resume, --accum_grad, --max_epoch, distributed ones);
``python -m lamer.bin.ssl_train --help`` lists them. The trained adapters end in
``<output_dir>/adapters`` (full fine-tuning: ``<output_dir>/upstream.pt``). Checkpoints and
``--init_param`` files are read weights-only and checked (lamer/runtime/load_guard.py); a data
file's ``cmd |`` lines run only with ``--allow_wav_pipes true`` (lamer/probe/data_options.py).
"""
from __future__ import annotations

import sys

from lamer.bin.options import help_before_imports, usage_line

SYNOPSIS = "[--allow_wav_pipes BOOL] [ESPnet's training options] [the SSL task's options]"


def main(argv: list[str] | None = None) -> int:
    """ESPnet's training of the SSL task; checkpoints and model files are read weights-only, data
    files that run commands refused unless allowed."""
    argv = sys.argv[1:] if argv is None else argv
    with help_before_imports(f"{usage_line('ssl_train', SYNOPSIS)}\n\n{__doc__}", argv):
        from lamer.probe.data_options import run_task
        from lamer.ssl.task import SSLTask
    return run_task("ssl_train", SSLTask, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
