"""The local backend: the jobs of a launch run on this machine, at most `max_jobs` at a time.

Each job (its job script and every process the program starts) runs in a session and process
group of its own. Stopping jobs, on a signal to the launcher or when --max-wait runs out, sends
SIGTERM to every group, waits up to KILL_GRACE_S for the job scripts to end (a job script waits
for its program, so the program can finish writing and exit), then SIGKILLs what is left in the
groups: once the launcher has returned, no job and no process a job started still runs. A second
signal during the grace period cuts it short, unless it comes within REPEAT_S of the stop: Ctrl-C
in a terminal reaches the launcher both directly and through a recipe that forwards it, and
that counts as one. Only a SIGKILL to the launcher itself escapes all this.
"""
from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

from lamer.launch.jobscript import JobResult, logged_exit_code
from lamer.launch.request import LaunchRequest
from lamer.launch.signals import Interrupted, SignalWatch

log = logging.getLogger(__name__)

_POLL_S = 0.05
KILL_GRACE_S = 5.0
REPEAT_S = 1.0


def _exit_code(wait_status: int) -> int:
    """A shell-style status from a waitpid status: 128+N for a process killed by signal N."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


def _spawn(script: Path, job_id: int) -> int:
    """Start `bash script job_id` as the leader of a new session; its pid, which is also its group id.

    The child gets an empty signal mask (the launcher blocks the signals it forwards) and the
    default SIGPIPE and SIGXFSZ actions (Python ignores those), as a shell would give it.
    """
    return os.posix_spawnp("bash", ["bash", str(script), str(job_id)], os.environ, setsid=True,
                           setsigmask=(), setsigdef=(signal.SIGPIPE, signal.SIGXFSZ))


def _signal_groups(groups: list[int], signum: int) -> None:
    for group in groups:
        try:
            os.killpg(group, signum)
        except (ProcessLookupError, PermissionError):
            pass  # the group is gone (and its id possibly reused by another user's process)


def _collect(running: dict[int, int], codes: dict[int, int]) -> None:
    """Move the jobs of `running` (job id -> pid) that have ended into `codes` (job id -> status)."""
    for job_id, pid in list(running.items()):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            codes[job_id] = _exit_code(status)
            del running[job_id]


def _stop(running: dict[int, int], codes: dict[int, int], watch: SignalWatch) -> None:
    """TERM the groups of `running`, give their job scripts KILL_GRACE_S to end, KILL the groups."""
    groups = list(running.values())
    _signal_groups(groups, signal.SIGTERM)
    stopped_at = time.monotonic()
    while running and time.monotonic() < stopped_at + KILL_GRACE_S:
        _collect(running, codes)
        if running and watch.received(_POLL_S) is not None and time.monotonic() > stopped_at + REPEAT_S:
            log.error("a second signal: killing the jobs now")
            break
    # Also the groups whose job script has ended: a process the program left behind dies too.
    _signal_groups(groups, signal.SIGKILL)
    for job_id, pid in running.items():
        codes[job_id] = _exit_code(os.waitpid(pid, 0)[1])
    running.clear()


def run_scripts(script: Path, request: LaunchRequest, max_jobs: int, watch: SignalWatch) -> list[JobResult]:
    """Run `bash script ID` for every job of `request`, at most `max_jobs` at once.

    Waits through `watch`, so a signal to the launcher stops every running job (see the module
    doc) and then raises Interrupted. Returns one JobResult per job, in job order.
    """
    pending = list(request.job_ids)
    running: dict[int, int] = {}
    codes: dict[int, int] = {}
    stopped: list[int] = []
    started = time.monotonic()
    try:
        while pending or running:
            while pending and len(running) < max_jobs:
                job_id = pending.pop(0)
                running[job_id] = _spawn(script, job_id)
            ended = len(codes)
            _collect(running, codes)
            if len(request.job_ids) > 1 and len(codes) > ended:
                log.info("%d of %d jobs done", len(codes), len(request.job_ids))
            if request.max_wait and time.monotonic() - started > request.max_wait and running:
                log.error("--max-wait %g s ran out: stopping jobs %s", request.max_wait, sorted(running))
                stopped = sorted(running)
                _stop(running, codes, watch)
                break
            if running:
                watch.sleep(_POLL_S)
    except BaseException as err:
        if running:
            logs = ", ".join(str(request.log_for(job_id)) for job_id in sorted(running))
            why = err if isinstance(err, Interrupted) else repr(err)
            log.error("%s: stopping jobs %s (logs: %s)", why, sorted(running), logs)
            _stop(running, codes, watch)
        raise
    results = []
    for job_id in request.job_ids:
        job_log = request.log_for(job_id)
        if job_id in stopped:
            results.append(JobResult(job_id, job_log, None, "stopped: --max-wait ran out"))
        elif job_id in codes:
            unfinished = codes[job_id] != 0 and logged_exit_code(job_log) is None
            detail = "no '# Ended' line in its log: killed, or it could not start" if unfinished else ""
            results.append(JobResult(job_id, job_log, codes[job_id], detail))
        else:
            results.append(JobResult(job_id, job_log, None, "never started"))
    return results
