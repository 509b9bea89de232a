"""The local backend: the jobs of a launch run on this machine, at most `max_jobs` at a time."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path

from lamer.launch.jobscript import JobResult, logged_exit_code
from lamer.launch.request import LaunchRequest

log = logging.getLogger(__name__)

_POLL_S = 0.05
_KILL_GRACE_S = 5.0


def _exit_code(returncode: int) -> int:
    """A shell-style status: 128+N for a process killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def _stop(procs: dict[int, subprocess.Popen]) -> None:
    """TERM every running job's process group, then KILL what outlives the grace period."""
    for proc in procs.values():
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + _KILL_GRACE_S
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def run_scripts(script: Path, request: LaunchRequest, max_jobs: int) -> list[JobResult]:
    """Run `bash script ID` for every job of `request`, at most `max_jobs` at once.

    Each job runs in its own process group, so that an interrupt, a SIGTERM turned into an
    exception by the caller, or `request.max_wait` running out stops every job with its children.
    Returns one JobResult per job, in job order.
    """
    pending = list(request.job_ids)
    running: dict[int, subprocess.Popen] = {}
    codes: dict[int, int] = {}
    timed_out: list[int] = []
    started = time.monotonic()
    try:
        while pending or running:
            while pending and len(running) < max_jobs:
                job_id = pending.pop(0)
                running[job_id] = subprocess.Popen(["bash", str(script), str(job_id)], start_new_session=True)
            for job_id, proc in list(running.items()):
                if proc.poll() is not None:
                    codes[job_id] = _exit_code(proc.returncode)
                    del running[job_id]
                    if len(request.job_ids) > 1:
                        log.info("job %d ended (exit %d): %d of %d done", job_id, codes[job_id], len(codes), len(request.job_ids))
            if request.max_wait and time.monotonic() - started > request.max_wait and running:
                log.error("--max-wait %g s ran out: stopping jobs %s", request.max_wait, sorted(running))
                _stop(running)
                timed_out = sorted(running)
                running.clear()
                break
            if running:
                time.sleep(_POLL_S)
    finally:
        if running:
            _stop(running)
    results = []
    for job_id in request.job_ids:
        job_log = request.log_for(job_id)
        if job_id in codes:
            unfinished = codes[job_id] != 0 and logged_exit_code(job_log) is None
            detail = "no '# Ended' line in its log: killed, or it could not start" if unfinished else ""
            results.append(JobResult(job_id, job_log, codes[job_id], detail))
        else:
            detail = "stopped: --max-wait ran out" if job_id in timed_out else "never started"
            results.append(JobResult(job_id, job_log, None, detail))
    return results
