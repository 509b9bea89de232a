"""Run ``ssl_train`` in this process with test hooks (used by the tests as a subprocess).

    python -m tests.ssl.harness [--kill_at_step N] [--dump_params PATH] -- <ssl_train options>

--kill_at_step N: SIGKILL this process at the N-th training forward (counted from the start
    of this process), a hard crash with nothing written on the way out.
--kill_in_save N: SIGKILL this process while it writes the N-th file it saves with torch.save
    (half of the bytes written), as a kill during ESPnet's checkpoint save would.
--dump_params PATH: after training, save every parameter of the trained model (safetensors),
    so ranks of a distributed run can be compared.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys

import torch
from safetensors.torch import save_file

from lamer.ssl.task import SSLTask


class HarnessTask(SSLTask):
    kill_at_step: int | None = None
    built = None

    @classmethod
    def build_model(cls, args):
        model = super().build_model(args)
        if cls.built is None:  # the training model, not the one rebuilt for the export
            cls.built = model
            if cls.kill_at_step is not None:
                calls = {"n": 0}

                def count(module, _inputs):
                    if module.training:
                        calls["n"] += 1
                        if calls["n"] == cls.kill_at_step:
                            os.kill(os.getpid(), signal.SIGKILL)

                model.register_forward_pre_hook(count)
        return model


def die_in_save(count: int) -> None:
    """Make the ``count``-th ``torch.save`` write half its file, then SIGKILL the process."""
    save, calls = torch.save, {"n": 0}

    def dying_save(obj, f, *args, **kwargs):
        calls["n"] += 1
        save(obj, f, *args, **kwargs)
        if calls["n"] == count:
            os.truncate(f, os.path.getsize(f) // 2)
            os.kill(os.getpid(), signal.SIGKILL)

    torch.save = dying_save


def main(argv: list[str]) -> int:
    split = argv.index("--")
    p = argparse.ArgumentParser()
    p.add_argument("--kill_at_step", type=int, default=None)
    p.add_argument("--kill_in_save", type=int, default=None)
    p.add_argument("--dump_params", default=None)
    args = p.parse_args(argv[:split])
    if args.kill_in_save is not None:
        die_in_save(args.kill_in_save)
    HarnessTask.kill_at_step = args.kill_at_step
    HarnessTask.main(cmd=argv[split + 1:])
    if args.dump_params:
        params = {k: v.detach().contiguous() for k, v in HarnessTask.built.named_parameters()}
        save_file(params, args.dump_params)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
