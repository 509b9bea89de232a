"""Run commands as jobs, Kaldi style: the `$cmd` of cmd.sh.

    python -m lamer.bin.launch [--backend local|slurm] [--config conf/slurm.conf] [--max-jobs N]
        [--max-wait SECONDS] [--nproc-per-node P] [--nodes M]
        [--mem 4G] [--gpu 1] [--num-threads N] [--time 1:00:00] [--partition P] [--constraint C]
        [JOB=1:N] log/x.JOB.log prog args...

JOB=A:B runs jobs A..B (any identifier works as the name); the name is replaced by the job index
in the log path and the arguments where it stands as a word, not next to a letter or digit
(`x.JOB.log`, `test_JOB` and `split/JOB` are, `exp/myJOBrun` is not). `prog args...` is the
job's argv, passed on byte for byte and never read by a shell: `;`, `&`, `|`, `>`, `$VAR`, `$(...)`
and globs are plain characters. Unlike Kaldi's run.pl, `prog a \\| sort` or `prog \\> out` pass
`|`, `>` as arguments to prog; for a pipe or a redirection make the command a script (or
`bash -c '...'`).
Each log starts with `# command` (shell-quoted) and ends with `# Ended (code RC) at DATE`, RC being
the program's own exit status.
local: jobs run on this machine, --max-jobs at a time (default: its CPU count, as Kaldi's run.pl);
resource options are accepted and ignored.
slurm: one sbatch array; resource options mapped by conf/slurm.conf (./conf/slurm.conf, else the
toolkit's); --max-jobs throttles the array. --nproc-per-node P / --nodes M run each job as a
torch.distributed job of P*M ranks (torchrun locally, srun on Slurm).
Exits 0 when every job succeeded; otherwise names the failed jobs and their logs and exits with
the first failed job's code. --max-wait stops (local) or cancels (slurm) jobs still running.
SIGTERM, SIGINT or SIGHUP stops the jobs (local: each job's process group gets SIGTERM, then
SIGKILL after a grace period; slurm: scancel) and exits with 128+signal (143, 130, 129).
"""
from __future__ import annotations

import logging
import sys

from lamer.launch import Interrupted, LaunchError, failure_report, launch, overall_exit_code, parse_launch_args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s launch: %(message)s")
    try:
        request = parse_launch_args(argv)
        results = launch(request)
    except LaunchError as err:
        print(f"launch: error: {err}", file=sys.stderr)
        return 1
    except Interrupted as err:
        done = "cancelled the Slurm jobs" if request.backend == "slurm" else "stopped the jobs"
        print(f"launch: interrupted by {err}: {done}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:  # Ctrl-C before any job started
        print("launch: interrupted by SIGINT", file=sys.stderr)
        return 130
    code = overall_exit_code(results)
    if code:
        print(f"launch: {failure_report(results)}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
