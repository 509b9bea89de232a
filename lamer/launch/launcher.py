"""One entry point for every backend: write the job script, run it, collect per-job results."""
from __future__ import annotations

import os

from lamer.launch.distributed import srun_command, torchrun_command
from lamer.launch.jobscript import JobResult, write_job_script
from lamer.launch.local import run_scripts
from lamer.launch.request import LaunchRequest
from lamer.launch.signals import forwarded_signals
from lamer.launch.slurm import find_config, run_slurm


def launch(request: LaunchRequest) -> list[JobResult]:
    """Run every job of `request` on its backend and wait for all; one JobResult per job.

    Raises LaunchError before anything runs when the request or the Slurm config is unusable.
    Logs of a previous run are removed first, so a job's end status is never a stale one.
    SIGTERM, SIGINT or SIGHUP while it runs (in the main thread) stops the local jobs or cancels
    the Slurm array, then raises lamer.launch.signals.Interrupted (exit status: its exit_code).
    """
    for job in request.job_ids:
        request.log_for(job).unlink(missing_ok=True)
    with forwarded_signals() as watch:
        if request.backend == "slurm":
            config = find_config(request)  # a bad config fails before any file is written
            wrap = (lambda job: srun_command(request.command_for(job))) if request.distributed else None
            return run_slurm(request, write_job_script(request, wrap), config, watch)
        nproc = request.nproc_per_node
        wrap = (lambda job: torchrun_command(request.command_for(job), nproc)) if request.distributed else None
        # As Kaldi's run.pl: without --max-jobs, as many jobs at once as this machine has CPUs.
        return run_scripts(write_job_script(request, wrap), request, request.max_jobs or os.cpu_count() or 1, watch)
