"""Run commands as jobs, Kaldi style: the `$cmd` of cmd.sh.

    python -m lamer.bin.launch [--backend local|slurm] [--config conf/slurm.conf] [--max-jobs N]
        [--max-wait SECONDS] [--nproc-per-node P] [--nodes M]
        [--mem 4G] [--gpu 1] [--num-threads N] [--time 1:00:00] [--partition P] [--constraint C]
        [JOB=1:N] log/x.JOB.log prog args...

JOB=A:B runs jobs A..B (any identifier works as the name); the name is replaced by the job index
in the log path and the arguments. Arguments are joined like Kaldi's run.pl (quoted only when they
hold spaces or quotes, so `\\|` and `\\>` stay shell operators) and run with `bash -o pipefail -c`.
Each log starts with `# command` and ends with `# Ended (code RC) at DATE`.
local: jobs run on this machine, --max-jobs at a time (default: its CPU count, as Kaldi's run.pl);
resource options are accepted and ignored.
slurm: one sbatch array; resource options mapped by conf/slurm.conf (./conf/slurm.conf, else the
toolkit's); --max-jobs throttles the array. --nproc-per-node P / --nodes M run each job as a
torch.distributed job of P*M ranks (torchrun locally, srun on Slurm).
Exits 0 when every job succeeded; otherwise names the failed jobs and their logs and exits with
the first failed job's code. --max-wait stops (local) or cancels (slurm) jobs still running.
"""
from __future__ import annotations

import logging
import signal
import sys

from lamer.launch import LaunchError, failure_report, launch, overall_exit_code, parse_launch_args


def _raise_on_sigterm(signum: int, frame: object) -> None:
    # Lets the backend's cleanup (kill job process groups, scancel) run as for Ctrl-C.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s launch: %(message)s")
    try:
        request = parse_launch_args(argv)
        signal.signal(signal.SIGTERM, _raise_on_sigterm)
        results = launch(request)
    except LaunchError as err:
        print(f"launch: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("launch: interrupted: stopped the jobs", file=sys.stderr)
        return 130
    code = overall_exit_code(results)
    if code:
        print(f"launch: {failure_report(results)}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
