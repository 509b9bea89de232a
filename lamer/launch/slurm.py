"""The Slurm backend: the jobs of a launch as one sbatch array, waited for by polling scontrol.

Each array task runs the shared job script (lamer.launch.jobscript), so logs look the same as with
the local backend. Slurm's own messages for a task (time limit, node failure) go to
`q/<log stem>.<task>.out` beside the job script. Polling `scontrol show job` rather than
`sbatch --wait` gives per-task exit codes and reacts within a second on short jobs.

A SIGTERM, SIGINT or SIGHUP to the launcher while it waits cancels the array (`scancel JOBID`:
Slurm signals every task's processes, TERM then KILL after its KillWait) and the launcher exits
128+signal; a failed scancel is reported with the job id to cancel by hand. Commands reach the
tasks as argv through the job script. The one path Slurm itself reads, `--output`, is absolute
with every `%` doubled, so Slurm's patterns never apply to a path; Slurm drops backslashes from it
(and then expands nothing), so a backslash in the file name becomes `_` and one in the folder is
refused before submitting.
"""
from __future__ import annotations

import logging
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import lamer
from lamer.launch.distributed import allocation_options
from lamer.launch.errors import LaunchError
from lamer.launch.jobscript import JobResult, logged_exit_code
from lamer.launch.request import LaunchRequest
from lamer.launch.signals import Interrupted, SignalWatch
from lamer.launch.slurm_conf import SlurmConfig, parse_slurm_config

log = logging.getLogger(__name__)

TOOLKIT_CONFIG = Path(lamer.__file__).resolve().parent.parent / "conf" / "slurm.conf"
_TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
             "PREEMPTED", "BOOT_FAIL", "DEADLINE"}
_POLL_FIRST_S, _POLL_MAX_S = 0.5, 10.0
_CLIENT_TIMEOUT_S = 60


@dataclass(frozen=True)
class TaskState:
    """What scontrol says of one array task."""

    state: str
    exit_code: int  # shell-style: 128+N when killed by signal N


def find_config(request: LaunchRequest) -> SlurmConfig:
    """--config if given; else ./conf/slurm.conf (a recipe's own); else the toolkit's conf/slurm.conf."""
    if request.config:
        return parse_slurm_config(request.config)
    local = Path("conf/slurm.conf")
    return parse_slurm_config(local if local.is_file() else TOOLKIT_CONFIG)


def _client(args: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=_CLIENT_TIMEOUT_S)
    except FileNotFoundError as err:
        raise LaunchError(f"{args[0]} not found: is this a Slurm submit host?") from err
    except subprocess.TimeoutExpired as err:
        raise LaunchError(f"{' '.join(args[:3])} did not answer in {_CLIENT_TIMEOUT_S} s: is slurmctld up?") from err


def _output_base(script: Path) -> str:
    # Beside the job script, named after it; Slurm would drop a backslash of the name.
    return str(script.parent.resolve() / script.stem.replace("\\", "_"))


def task_output(script: Path, task: int) -> Path:
    """Where Slurm writes its own messages (time limit, node failure) for array task `task`."""
    return Path(f"{_output_base(script)}.{task}.out")


def _output_pattern(script: Path) -> str:
    """The `--output` of the array: task_output with every `%` made literal and `%a` for the task."""
    folder = script.parent.resolve()
    if "\\" in str(folder):
        raise LaunchError(f"{folder}: Slurm drops backslashes from output paths and would write the tasks' output "
                          "elsewhere; rename the folder or use --backend local")
    return _output_base(script).replace("%", "%%") + ".%a.out"


def sbatch_command(request: LaunchRequest, config: SlurmConfig, script: Path) -> list[str]:
    """The sbatch call submitting every job of `request` as one array running `script`.

    LaunchError if the job script's folder holds a backslash (see _output_pattern).
    """
    ids = request.job_ids
    throttle = f"%{request.max_jobs}" if request.max_jobs else ""
    command = [*config.submit, "--parsable", f"--job-name={script.stem}", f"--output={_output_pattern(script)}",
               f"--array={ids[0]}-{ids[-1]}{throttle}", *config.options_for(request.resources)]
    if request.distributed:
        command += allocation_options(request.nodes, request.nproc_per_node)
    return command + [str(script)]


def submit(command: list[str]) -> str:
    """Run sbatch; return the job id. LaunchError with sbatch's message if it refuses."""
    done = _client(command)
    if done.returncode != 0:
        message = done.stderr.strip() or done.stdout.strip()
        raise LaunchError(f"sbatch refused the jobs: {message}\n  command: {shlex.join(command)}")
    return done.stdout.strip().split(";")[0]


def _task_ids(field: str) -> list[int]:
    # A pending array shows as one line `ArrayTaskId=1-3%2` or `1,3-4`; a started task as `2`.
    ids: list[int] = []
    for part in field.split("%")[0].split(","):
        first, _, last = part.partition("-")
        ids += range(int(first), int(last or first) + 1)
    return ids


def task_states(job_id: str) -> dict[int, TaskState] | None:
    """Per array task state and exit code from `scontrol show job`; None once Slurm forgot the job."""
    done = _client(["scontrol", "show", "job", "-o", job_id])
    if done.returncode != 0:
        if "Invalid job id" in done.stderr:
            return None
        raise LaunchError(f"scontrol show job {job_id} failed: {done.stderr.strip()}")
    states: dict[int, TaskState] = {}
    for line in done.stdout.splitlines():
        task = re.search(r"\bArrayTaskId=(\S+)", line)
        state = re.search(r"\bJobState=(\S+)", line)
        code = re.search(r"\bExitCode=(\d+):(\d+)", line)
        if not (task and state and code):
            continue
        status, signal = int(code.group(1)), int(code.group(2))
        for task_id in _task_ids(task.group(1)):
            states[task_id] = TaskState(state.group(1), 128 + signal if signal else status)
    return states


def _result(request: LaunchRequest, job_id: int, task: TaskState | None, out: Path) -> JobResult:
    job_log = request.log_for(job_id)
    logged = logged_exit_code(job_log)
    if task is None:
        return JobResult(job_id, job_log, logged, "" if logged is not None else f"Slurm forgot the job; see {out}")
    if task.state not in _TERMINAL:
        return JobResult(job_id, job_log, None, f"cancelled in state {task.state}: --max-wait ran out")
    if task.state == "COMPLETED":
        return JobResult(job_id, job_log, 0)
    detail = "" if task.state == "FAILED" and logged is not None else f"Slurm state {task.state}; see {out}"
    return JobResult(job_id, job_log, logged or task.exit_code or 1, detail)


def _cancel(job_id: str) -> None:
    done = _client(["scancel", job_id])
    if done.returncode != 0:
        log.error("scancel %s failed (%s): cancel it by hand", job_id, done.stderr.strip() or f"exit {done.returncode}")


def wait_for(job_id: str, request: LaunchRequest, script: Path, watch: SignalWatch) -> list[JobResult]:
    """Poll until every task of array `job_id` ended; results by job.

    The array is cancelled when --max-wait runs out, and on a signal (then Interrupted is raised)
    or any other error while waiting.
    """
    started, reported = time.monotonic(), -1
    states: dict[int, TaskState] | None = {}
    finished = False
    try:
        while True:
            states = task_states(job_id)
            if states is None:
                finished = True
                break
            ended = sum(1 for i in request.job_ids if i in states and states[i].state in _TERMINAL)
            if ended == len(request.job_ids):
                finished = True
                break
            if ended != reported and len(request.job_ids) > 1:
                log.info("slurm job %s: %d of %d tasks done", job_id, ended, len(request.job_ids))
                reported = ended
            if request.max_wait and time.monotonic() - started > request.max_wait:
                log.error("slurm job %s: --max-wait %g s ran out: cancelling it", job_id, request.max_wait)
                break
            # Poll cost stays near 5% of the time waited: fast for short jobs, light for long ones.
            watch.sleep(min(_POLL_MAX_S, max(_POLL_FIRST_S, 0.05 * (time.monotonic() - started))))
    except Interrupted as err:
        log.error("slurm job %s: %s: cancelling it", job_id, err)
        raise
    finally:
        if not finished:
            _cancel(job_id)
    return [_result(request, i, (states or {}).get(i), task_output(script, i)) for i in request.job_ids]


def run_slurm(request: LaunchRequest, script: Path, config: SlurmConfig, watch: SignalWatch) -> list[JobResult]:
    """Submit the jobs of `request` (their job script already written) and wait for all of them.

    A signal that arrives while sbatch runs is taken at the first wait, so the array is cancelled.
    """
    command = sbatch_command(request, config, script)
    log.info("submitting with %s (`command` of %s)", shutil.which(command[0]) or command[0], config.path)
    job_id = submit(command)
    log.info("slurm job %s: %d task(s) submitted", job_id, len(request.job_ids))
    return wait_for(job_id, request, script, watch)
