"""usage: python -m lamer.bin.launch [options] [JOB=1:N] LOG prog [args...]

Run commands as jobs, Kaldi style: the `$cmd` of cmd.sh.

Options (each takes one value, `--name VALUE` or `--name=VALUE`; dashes or underscores alike):
  --backend local|slurm   where the jobs run (default: local)
  --config FILE           the Slurm config mapping resource options to sbatch options
                          (default: ./conf/slurm.conf, else the toolkit's conf/slurm.conf)
  --max-jobs N            jobs run at once (default: local: this machine's CPU count, as Kaldi's
                          run.pl; slurm: no throttle on the array)
  --max-wait SECONDS      stop (local) or cancel (slurm) the jobs still running after this long
                          (default: no limit)
  --nproc-per-node P      run each job as P torch.distributed ranks per node, through torchrun
                          (local) or srun (slurm) (default: 1)
  --nodes M               nodes per job, slurm only (default: 1)
  --log-level LEVEL       the launcher's own log lines on stderr: ERROR, WARNING, INFO, DEBUG or
                          NOTSET (default: INFO)
Resource requests (local: accepted and ignored; slurm: mapped to sbatch options by the config,
which may define other names too; a name it has no rule for is an error):
  --mem AMOUNT            memory per job, e.g. 500M or 4G (default: the queue's)
  --gpu N                 GPUs per job (default: 0)
  --num-threads N         CPU threads per job, also the log's `# Accounting` threads (default: 1)
  --time LIMIT            time limit per job, e.g. 1:00:00 (default: the queue's)
  --partition P           Slurm partition (default: the queue's)
  --constraint C          Slurm node constraint (default: none)

JOB=A:B runs jobs A..B (any identifier works as the name); the name is replaced by the job index
in the log path and the arguments where it stands as a word, not next to a letter or digit
(`x.JOB.log`, `test_JOB` and `split/JOB` are, `exp/myJOBrun` is not). `prog args...` is the
job's argv, passed on byte for byte and never read by a shell: `;`, `&`, `|`, `>`, `$VAR`, `$(...)`
and globs are plain characters. Unlike Kaldi's run.pl, `prog a \\| sort` or `prog \\> out` pass
`|`, `>` as arguments to prog; for a pipe or a redirection make the command a script (or
`bash -c '...'`).
Each log starts with `# command` (shell-quoted) and ends as Kaldi's run.pl ends it:
`# Accounting: time=SECONDS threads=N` and `# Ended (code RC) at DATE, elapsed time SECONDS seconds`,
RC being the program's own exit status.
Exits 0 when every job succeeded; otherwise names the failed jobs and their logs and exits with
the first failed job's code. SIGTERM, SIGINT or SIGHUP stops the jobs (local: each job's process
group gets SIGTERM, then SIGKILL after a grace period; slurm: scancel) and exits with 128+signal
(143, 130, 129).
"""
from __future__ import annotations

import argparse
import sys

from lamer.bin.options import log_level, setup_logging
from lamer.launch import Interrupted, LaunchError, failure_report, launch, overall_exit_code, parse_launch_args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__, end="", file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    try:
        request = parse_launch_args(argv)
        try:
            setup_logging(log_level(request.log_level))
        except argparse.ArgumentTypeError as err:
            raise LaunchError(f"--log-level: {err}") from None
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
