"""Run the jobs of ``lamer.recipe.jobs`` as ssl.sh does: in order, each through its queue's
``$cmd`` (cmd.sh) or, for bookkeeping, in place; a ``.done`` marker per finished job.

A finished job is a no-op on the next run; a failed one writes no marker, stops the run with its
exit code and runs again next time (ESPnet's trainers resume from their checkpoint). Commands are
lists handed to the launcher without a shell: ``[*$cmd, --gpu G, JOB=1:N, LOG, *argv]``, the
``$cmd`` string split as the shell would split it (shlex), nothing expanded.
"""
from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

from lamer.atomic import write_text_atomic
from lamer.recipe.jobs import STAGE_TITLES, Job


def log(message: str) -> None:
    """A line of the recipe's log, ssl.sh's format."""
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} (ssl.sh) {message}", flush=True)


def launcher_command(job: Job, commands: dict[str, str]) -> list[str]:
    """The argv that runs ``job`` through its queue: ``commands`` maps a queue to its ``$cmd`` string."""
    if job.queue not in commands:
        raise ValueError(f"job {job.name}: no command for queue {job.queue!r} (cmd.sh sets {sorted(commands)})")
    array = [f"JOB=1:{job.nj}"] if job.is_array else []
    return [*shlex.split(commands[job.queue]), "--gpu", str(job.gpus), *array, str(job.log), *job.argv]


def share(src: str, dst: str) -> None:
    """``dst`` becomes a link to ``src`` (resolved): an output that is the same computation as src's."""
    if not os.path.exists(src):
        raise FileNotFoundError(f"{src}: not there yet (run the experiment that makes it first)")
    dst_path = Path(dst)
    if dst_path.exists() and not dst_path.is_symlink():
        raise FileExistsError(f"{dst}: exists and is not a link; remove it to share {src}")
    dst_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst_path.with_name(f".{dst_path.name}.link.tmp")
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(os.path.realpath(src))
    os.replace(tmp, dst_path)


def run_in_place(job: Job) -> None:
    """Bookkeeping: ``link SRC DST`` or ``write PATH TEXT``."""
    kind, *args = job.argv
    if kind == "link":
        share(*args)
    elif kind == "write":
        path, text = args
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
    else:
        raise ValueError(f"job {job.name}: unknown bookkeeping {kind!r}")


def run_queued(argv: list[str]) -> int:
    """Run the launcher and wait for it; SIGTERM/SIGINT sent to this process are passed on to it, so
    that it stops its jobs (kill ssl.sh: no job keeps writing into exp/)."""
    proc = subprocess.Popen(argv)
    handlers = {sig: signal.signal(sig, lambda signum, frame: proc.send_signal(signum))
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return proc.wait()
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def run_jobs(jobs: list[Job], exp: str, commands: dict[str, str], stages: range) -> int:
    """Run ``jobs`` (those of ``stages``) in order, skipping those marked done in ``exp/.done``;
    return 0, or the exit code of the first failed job (later jobs do not run)."""
    done = Path(exp) / ".done"
    done.mkdir(parents=True, exist_ok=True)
    (Path(exp) / "logs").mkdir(parents=True, exist_ok=True)
    for number in stages:
        of_stage = [job for job in jobs if job.stage == number]
        log(f"Stage {number}: {STAGE_TITLES[number]}" + ("" if of_stage else " (nothing to do)"))
        for job in of_stage:
            if (done / job.name).is_file():
                log(f"  {job.name}: done already")
                continue
            log(f"  {job.name}")
            if job.queue is None:
                try:
                    run_in_place(job)
                except (OSError, ValueError) as err:
                    log(f"  {job.name}: failed: {err}")
                    return 1
            else:
                rc = run_queued(launcher_command(job, commands))
                if rc != 0:
                    log(f"  {job.name}: failed (exit {rc}), see {job.log}")
                    return rc
            (done / job.name).touch()
    if 8 in stages:
        log(f"Results: {' '.join(str(p) for p in sorted(Path(exp).glob('report/*/RESULTS.md')))}")
    log(f"Finished stages {stages.start}-{stages.stop - 1} in {exp}")
    return 0
