"""Run the jobs of ``lamer.recipe.jobs`` as ssl.sh does: each through its queue's ``$cmd``
(cmd.sh) or, for bookkeeping, in place; a ``.done`` record per finished job
(``lamer.recipe.records``).

Up to ``max_jobs`` jobs run at once (default 1: one after another, in the listed order). A job
starts once every job its ``after`` names is done; of the jobs that may start, the earliest in the
list goes first. The list is in stage order, so the chain of continual SSL training (stage 5, the
longest path of an experiment) is never kept waiting by the probes, decoding and scoring that can
run beside it.

Before anything runs, every input of the run's jobs must be made by a job of the run or be on
disk (or be made by a job of an earlier stage that is done): otherwise the run stops at once,
naming the job and the path. A job whose record says it is done is a no-op; one that is stale
(its options or configs changed, its stage is forced with ``force_stage``, or a job it waits for
ran again) runs again, the log saying why, after its earlier outputs are removed so that it
starts afresh, as a first run with these options would (ESPnet's trainers would otherwise resume
a finished training and do nothing). A failed job writes no record and runs again next time,
continuing what it left (ESPnet's trainers resume from their checkpoint). After a failure no new
job starts, the jobs already running are left to finish (as ``make -j`` and Kaldi's run.pl do:
their work is kept, with their records) and the run exits with the failed job's code.
SIGTERM/SIGINT sent to the runner reach every running launcher, which stops its jobs; nothing new
starts. Commands are lists handed to the launcher without a shell: ``[*$cmd, --gpu G, JOB=1:N,
LOG, *argv]``, the ``$cmd`` string split as the shell would split it (shlex), nothing expanded.

One run per experiment directory: a run holds the lock of ``exp/<tag>`` (``exp/.<tag>.lock``,
:mod:`lamer.data.lock`) from before it reads the records to its end, and a second run on the same
directory stops at once, before any job, naming the holder's PID and host.
"""
from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from lamer.atomic import remove_path, write_text_atomic
from lamer.data.lock import output_lock
from lamer.layout import Layout
from lamer.recipe.graph import check_order, missing_input
from lamer.recipe.jobs import STAGE_TITLES, Job
from lamer.recipe.plan import PlanError
from lamer.recipe.records import DONE, TO_RUN, Records, State, config_hashes, job_spec, plan_states

POLL_S = 0.1  # how often running launchers are checked for an exit (jobs take seconds to hours)


def log(message: str) -> None:
    """A line of the recipe's log, ssl.sh's format."""
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} (ssl.sh) {message}", flush=True)


def job_log(job: Job, message: str) -> None:
    """A line of the recipe's log about ``job``, naming its stage: with ``--max_jobs`` above 1, jobs of
    several stages run at once and their lines interleave under the stage titles."""
    log(f"[stage {job.stage}] {job.name}: {message}")


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


def remove_outputs(job: Job) -> list[str]:
    """Remove what an earlier run of ``job`` wrote (its declared outputs: a link itself, never what it
    points to); returns the paths removed. A path that holds the current folder is refused."""
    here = Path.cwd().resolve()
    removed = []
    for output in job.outputs:
        path = Path(output)
        if not os.path.lexists(path):
            continue
        if not path.is_symlink() and here.is_relative_to(path.resolve()):
            raise ValueError(f"{output}: an output of {job.name} that holds the current folder; not removing it")
        remove_path(path)
        removed.append(output)
    return removed


def _elapsed(seconds: float) -> str:
    minutes, seconds = divmod(seconds, 60)
    return f"{int(minutes)} min {seconds:.1f} s" if minutes else f"{seconds:.1f} s"


@dataclass
class _Run:
    """The state of one ``run_jobs`` call: the jobs' states and records, what is done, running,
    failed, and the signal received."""

    stages: range
    jobs: list[Job]
    records: Records
    specs: dict[str, dict]
    states: dict[str, State]
    titled: set[int] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)
    ran: set[str] = field(default_factory=set)
    running: dict[str, tuple[Job, subprocess.Popen, float]] = field(default_factory=dict)
    failure: tuple[Job, int] | None = None
    signum: int | None = None

    def __post_init__(self) -> None:
        self.listed = {job.name for job in self.jobs}

    def reach(self, stage: int) -> None:
        """Log the title of ``stage`` (ssl.sh's stage line) when its first job starts, after the titles
        of the stages before it that have no job ("nothing to do"); a stage's title is logged once.
        Jobs of later stages may start before every job of an earlier one has (``--max_jobs``)."""
        for number in range(self.stages.start, stage):
            if number not in self.titled and not any(job.stage == number for job in self.jobs):
                log(f"Stage {number}: {STAGE_TITLES[number]} (nothing to do)")
                self.titled.add(number)
        if stage not in self.titled:
            empty = not any(job.stage == stage for job in self.jobs)
            log(f"Stage {stage}: {STAGE_TITLES[stage]}" + (" (nothing to do)" if empty else ""))
            self.titled.add(stage)

    def ready(self, job: Job) -> bool:
        """Whether every job ``job`` needs is done (one not in this run is done already)."""
        return all(name in self.finished or name not in self.listed for name in job.after)

    def succeeded(self, job: Job, started: float) -> None:
        self.records.write(job, self.specs[job.name])
        self.finished.add(job.name)
        self.ran.add(job.name)
        job_log(job, f"done in {_elapsed(time.monotonic() - started)}")

    def failed(self, job: Job, rc: int, started: float, why: str) -> None:
        job_log(job, f"failed ({why}) after {_elapsed(time.monotonic() - started)}"
                + (f", see {job.log}" if job.log else ""))
        if self.failure is None:
            self.failure = (job, rc)
            if self.running:
                log(f"waiting for the running jobs to finish: {' '.join(self.running)}")

    def start(self, job: Job, commands: dict[str, str]) -> None:
        """Start ``job``, or skip it when it is done; a stale one has its earlier outputs removed
        first. Bookkeeping runs to its end here."""
        self.reach(job.stage)
        state = self.states[job.name]
        if state.status == DONE:
            job_log(job, "done already")
            self.finished.add(job.name)
            return
        started = time.monotonic()
        if state.status != TO_RUN:
            verb = {name: "reran" if self.states[name].status != TO_RUN else "ran" for name in state.runs}
            job_log(job, f"runs again: {state.why(verb)}")
            self.records.forget(job.name)
            try:
                removed = remove_outputs(job)
            except OSError as err:
                self.failed(job, 1, started, f"removing its earlier outputs: {err}")
                return
            except ValueError as err:
                self.failed(job, 1, started, str(err))
                return
            if removed:
                job_log(job, f"removed its earlier outputs: {' '.join(removed)}")
        job_log(job, "started")
        if job.queue is None:
            try:
                run_in_place(job)
            except (OSError, ValueError) as err:
                self.failed(job, 1, started, str(err))
                return
            self.succeeded(job, started)
            return
        proc = subprocess.Popen(launcher_command(job, commands))
        self.running[job.name] = (job, proc, started)
        if self.signum is not None:  # the signal came while it was being started
            proc.send_signal(self.signum)

    def reap(self) -> None:
        """Wait until at least one running launcher has exited; record each one that has."""
        while True:
            ended = [(name, rc) for name, (_, proc, _) in self.running.items() if (rc := proc.poll()) is not None]
            if ended:
                break
            time.sleep(POLL_S)
        for name, rc in ended:
            job, _, started = self.running.pop(name)
            if rc == 0:
                self.succeeded(job, started)
            else:
                self.failed(job, rc, started, f"exit {rc}")

    def forward(self, signum: int, frame: object) -> None:
        """Signal handler: pass the signal on to every running launcher; start nothing new."""
        self.signum = signum
        for _, proc, _ in self.running.values():
            proc.send_signal(signum)


def job_states(jobs: list[Job], exp: str, force_stage: int | None = None) -> tuple[Records, dict, dict[str, State]]:
    """The records of experiment ``exp``, the specs of ``jobs`` (their configs hashed now) and each
    job's state (``lamer.recipe.records``): what a run of ``jobs`` would do."""
    records = Records(Layout(exp))
    hashes = config_hashes(jobs)
    specs = {job.name: job_spec(job, hashes) for job in jobs}
    return records, specs, plan_states(jobs, records, specs, force_stage)


def run_jobs(jobs: list[Job], exp: str, commands: dict[str, str], stages: range, max_jobs: int = 1,
             force_stage: int | None = None) -> int:
    """Run the jobs of ``stages`` among ``jobs``, up to ``max_jobs`` at once, each once every job of
    its ``after`` is done, the earliest listed first; skip those done (their records in
    ``exp/.done``), run again the stale ones and every job of stage ``force_stage``. ``jobs`` may
    hold the jobs of the other stages too: an input of the run that is not on disk may be made by
    one of them that is done. Return 0, or the exit code of the first failed job (no job starts
    after it; running ones finish). Raises PlanError, before anything runs, for an input nobody
    makes or a ``force_stage`` outside ``stages``. Holds the lock of ``exp`` throughout;
    lamer.data.lock.OutputLocked, naming the holder, when another run holds it."""
    if max_jobs < 1:
        raise ValueError(f"--max_jobs {max_jobs}: expected a positive number of jobs")
    if force_stage is not None and force_stage not in stages:
        raise PlanError(f"--force_stage {force_stage}: not a stage of this run ({stages.start}-{stages.stop - 1})")
    every, jobs = jobs, [job for job in jobs if job.stage in stages]
    check_order(jobs)
    with output_lock(exp, timeout=0):
        return _run_locked(every, jobs, exp, commands, stages, max_jobs, force_stage)


def _run_locked(every: list[Job], jobs: list[Job], exp: str, commands: dict[str, str], stages: range,
                max_jobs: int, force_stage: int | None) -> int:
    """run_jobs once it holds the experiment's lock: ``every`` job of the recipe, ``jobs`` those of
    ``stages``."""
    layout = Layout(exp)
    records, specs, states = job_states(jobs, exp, force_stage)
    problem = missing_input(jobs, every, lambda name: records.get(name) is not None)
    if problem:
        raise PlanError(problem)
    legacy = [job.name for job in jobs if (record := records.get(job.name)) and record.spec is None
              and not record.unreadable]
    run = _Run(stages, jobs, records, specs, states)
    Path(layout.done_dir).mkdir(parents=True, exist_ok=True)
    Path(layout.logs).mkdir(parents=True, exist_ok=True)
    if legacy:
        named = ", ".join(legacy[:3]) + (", ..." if len(legacy) > 3 else "")
        log(f"{len(legacy)} job(s) ({named}) have the empty .done marker of an earlier version, which records no "
            "options: taken as done (--force_stage N runs a stage again)")
    began = time.monotonic()
    pending = list(jobs)
    handlers = {sig: signal.signal(sig, run.forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            # one pass in list order suffices: a job only waits for jobs listed before it
            for job in list(pending):
                if run.failure is not None or run.signum is not None or len(run.running) >= max_jobs:
                    break
                if run.ready(job):
                    pending.remove(job)
                    run.start(job, commands)
            if not run.running:
                break
            run.reap()
        if pending and run.failure is None and run.signum is None:
            raise RuntimeError(f"jobs {[job.name for job in pending]} could not start (their after is not met)")
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    if run.signum is not None:
        log(f"Stopped by signal {run.signum}: the running jobs were passed it; nothing new started")
    if run.failure is not None:
        job, rc = run.failure
        log(f"Stopped: {job.name} failed (exit {rc})" + (f", see {job.log}" if job.log else ""))
        return rc
    if run.signum is not None:
        return 128 + run.signum
    run.reach(stages.stop - 1)
    if 8 in stages:
        log(f"Results: {' '.join(str(p) for p in layout.report_pages())}")
    log(f"Finished stages {stages.start}-{stages.stop - 1} in {exp} ({_elapsed(time.monotonic() - began)})")
    return 0
