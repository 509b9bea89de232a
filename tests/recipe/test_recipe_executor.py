"""The job runner behind ssl.sh: markers, failures, links, jobs side by side (--max_jobs) in the
order of their `after`, and signals passed on to every running launcher. Jobs run through the real
local launcher (`python -m lamer.bin.launch --backend local`)."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lamer.bin.plan import main as plan_main
from lamer.data.lock import OutputLocked
from lamer.recipe.executor import run_jobs, share
from lamer.recipe.jobs import Job

LOCAL = f"{sys.executable} -m lamer.bin.launch --backend local --max-jobs 2"
COMMANDS = {"train": LOCAL, "cuda": LOCAL, "decode": LOCAL}


def python_job(name: str, stage: int, code: str, nj: int = 1, after: tuple[str, ...] = ()) -> Job:
    argv = (sys.executable, "-c", code, *(("JOB",) if nj > 1 else ()))
    log = f"exp/logs/{name}.JOB.log" if nj > 1 else f"exp/logs/{name}.log"
    return Job(name, stage, "train", 0, nj, log, argv, after)


# a job that records when it ran (monotonic clock, shared by the processes of this machine)
TIMED = ("import sys, time; start = time.monotonic(); time.sleep({seconds}); "
         "open('times.{name}', 'w').write(f'{{start}} {{time.monotonic()}}')")


def timed_job(name: str, seconds: float, stage: int = 1, after: tuple[str, ...] = ()) -> Job:
    return python_job(name, stage, TIMED.format(seconds=seconds, name=name), after=after)


def times(name: str) -> tuple[float, float]:
    start, end = Path(f"times.{name}").read_text().split()
    return float(start), float(end)


def test_jobs_run_once_and_a_failure_stops_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write = "import sys, pathlib; pathlib.Path(f'out.{sys.argv[1]}').write_text('x')"
    jobs = [python_job("array", 1, write, nj=2),
            Job("table", 1, None, 0, 1, None, ("write", "exp/t/jobs.tsv", "a\tb\n")),
            python_job("fails", 2, "raise SystemExit(3)"),
            python_job("after", 2, "open('after', 'w')")]
    assert run_jobs(jobs, "exp", COMMANDS, range(1, 3)) == 3
    assert Path("out.1").is_file() and Path("out.2").is_file()
    assert Path("exp/t/jobs.tsv").read_text() == "a\tb\n"
    assert sorted(p.name for p in Path("exp/.done").iterdir()) == ["array", "table"]
    assert not Path("after").exists()
    out = capsys.readouterr().out
    assert "fails: failed (exit 3) after" in out and "Stopped: fails failed (exit 3), see exp/logs/fails.log" in out
    Path("out.1").unlink()
    jobs[2] = python_job("fails", 2, "pass")
    assert run_jobs(jobs, "exp", COMMANDS, range(1, 3)) == 0
    out = capsys.readouterr().out
    assert "array: done already" in out and "table: done already" in out
    assert not Path("out.1").exists() and Path("after").exists()


def test_independent_jobs_run_side_by_side_and_wait_for_their_after(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    jobs = [timed_job("a", 4), timed_job("b", 4), timed_job("e", 0.5),
            timed_job("c", 0.5, stage=2, after=("a", "b")),
            timed_job("d", 0.5, stage=2, after=("a",))]
    began = time.monotonic()
    assert run_jobs(jobs, "exp", COMMANDS, range(1, 3), max_jobs=2) == 0
    took = time.monotonic() - began
    (a0, a1), (b0, b1), (c0, _), (d0, _), (e0, _) = (times(name) for name in "abcde")
    assert a0 < b1 and b0 < a1, "a and b did not overlap"
    assert e0 >= min(a1, b1), "three jobs ran at once"
    assert c0 >= max(a1, b1) and d0 >= a1
    # one after another, the sleeps alone take 9.5 s (and each launcher about a second more)
    assert took < 9, f"{took:.1f} s: no faster than one job after another"
    out = capsys.readouterr().out
    for name in "abcde":
        assert f"  {name}: started" in out and f"  {name}: done in " in out
    assert sorted(p.name for p in Path("exp/.done").iterdir()) == ["a", "b", "c", "d", "e"]


def test_one_job_at_a_time_keeps_the_listed_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    jobs = [timed_job("a", 0.2), timed_job("b", 0.2), timed_job("c", 0.2, stage=2)]
    assert run_jobs(jobs, "exp", COMMANDS, range(1, 3)) == 0
    (_, a1), (b0, b1), (c0, _) = (times(name) for name in "abc")
    assert a1 <= b0 and b1 <= c0


def test_after_a_failure_nothing_starts_and_running_jobs_finish(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    jobs = [timed_job("slow", 2), python_job("fails", 1, "raise SystemExit(3)"), timed_job("later", 0.1),
            timed_job("next", 0.1, stage=2, after=("slow",))]
    assert run_jobs(jobs, "exp", COMMANDS, range(1, 3), max_jobs=2) == 3
    assert Path("times.slow").is_file() and not Path("times.later").exists() and not Path("times.next").exists()
    assert sorted(p.name for p in Path("exp/.done").iterdir()) == ["slow"]
    out = capsys.readouterr().out
    assert "waiting for the running jobs to finish: slow" in out
    assert "Stopped: fails failed (exit 3), see exp/logs/fails.log" in out
    # the re-run skips what is done and runs the rest
    Path("times.slow").unlink()
    jobs[1] = python_job("fails", 1, "pass")
    assert run_jobs(jobs, "exp", COMMANDS, range(1, 3), max_jobs=2) == 0
    assert "slow: done already" in capsys.readouterr().out
    assert not Path("times.slow").exists() and Path("times.later").is_file() and Path("times.next").is_file()


def test_jobs_listed_before_what_they_need_are_refused(tmp_path):
    jobs = [timed_job("b", 0, after=("a",)), timed_job("a", 0)]
    with pytest.raises(ValueError, match=r"job b needs \['a'\], which are not listed before it"):
        run_jobs(jobs, str(tmp_path / "exp"), COMMANDS, range(1, 2), max_jobs=2)


def test_share_links_to_the_resolved_source(tmp_path):
    src = tmp_path / "a" / "probe"
    with pytest.raises(FileNotFoundError, match="not there yet"):
        share(str(src), str(tmp_path / "b" / "probe"))
    src.mkdir(parents=True)
    share(str(src), str(tmp_path / "b" / "probe"))
    share(str(src), str(tmp_path / "b" / "probe"))  # again: replaces the link
    assert os.readlink(tmp_path / "b" / "probe") == str(src.resolve())
    (tmp_path / "c").mkdir()
    with pytest.raises(FileExistsError, match="not a link"):
        share(str(src), str(tmp_path / "c"))


def test_sigterm_reaches_every_running_job(tmp_path):
    """Killing the runner (ssl.sh execs it) stops every running launcher and its job: no orphan keeps
    running, and the job waiting for them does not start."""
    sleep = "import os, sys, time; open(f'pid.{sys.argv[1]}', 'w').write(str(os.getpid())); time.sleep(300)"
    script = (
        "import sys\n"
        "from lamer.recipe.executor import run_jobs\n"
        "from lamer.recipe.jobs import Job\n"
        f"jobs = [Job(n, 1, 'train', 0, 1, f'exp/logs/{{n}}.log', ({sys.executable!r}, '-c', {sleep!r}, n)) "
        "for n in ('one', 'two')]\n"
        f"jobs.append(Job('then', 1, 'train', 0, 1, 'exp/logs/then.log', ({sys.executable!r}, '-c', "
        "'open(\"then\", \"w\")'), ('one', 'two')))\n"
        f"sys.exit(run_jobs(jobs, 'exp', {{'train': {LOCAL!r}}}, range(1, 2), max_jobs=2))\n")
    runner = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, start_new_session=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pids = [tmp_path / "pid.one", tmp_path / "pid.two"]
    deadline = time.time() + 60
    while not all(p.is_file() and p.read_text() for p in pids) and time.time() < deadline:
        time.sleep(0.2)
    job_pids = [int(p.read_text()) for p in pids]
    os.kill(runner.pid, signal.SIGTERM)
    out, _ = runner.communicate(timeout=60)
    assert runner.returncode != 0, out
    assert not (tmp_path / "exp" / ".done").exists() or not any((tmp_path / "exp" / ".done").iterdir())
    assert not (tmp_path / "then").exists()
    deadline = time.time() + 10
    alive = set(job_pids)
    while alive and time.time() < deadline:
        for pid in list(alive):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                alive.discard(pid)
        time.sleep(0.2)
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"jobs {sorted(alive)} outlived the runner"


def test_one_run_per_experiment_directory_naming_the_holder(tmp_path, monkeypatch, capsys):
    """While one run (ssl.sh execs the runner) works on exp/plan, a second and a third on it stop before
    any job, naming the first one's PID and host; once it has ended, the next run proceeds."""
    monkeypatch.chdir(tmp_path)
    wait = "import pathlib, time; pathlib.Path('started').touch(); time.sleep(300)"
    script = ("import sys\n"
              "from lamer.recipe.executor import run_jobs\n"
              "from lamer.recipe.jobs import Job\n"
              f"job = Job('slow', 8, 'train', 0, 1, 'exp/plan/logs/slow.log', ({sys.executable!r}, '-c', {wait!r}))\n"
              f"sys.exit(run_jobs([job], 'exp/plan', {{'train': {LOCAL!r}}}, range(8, 9)))\n")
    first = subprocess.Popen([sys.executable, "-c", script], start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not Path("started").is_file() and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.1)
        assert Path("started").is_file(), "the first run never started its job"
        holder = f"exp/plan: being written by PID {first.pid} on {socket.gethostname()} (lock exp/.plan.lock)"
        with pytest.raises(OutputLocked, match=re.escape(holder)):
            run_jobs([python_job("second", 8, "open('second', 'w')")], "exp/plan", COMMANDS, range(8, 9))
        plan = Path(__file__).resolve().parents[2] / "egs2" / "mini_lamer" / "ssl1" / "conf" / "plan.yaml"
        commands = [arg for queue in ("train", "cuda", "decode") for arg in (f"--{queue}_cmd", LOCAL)]
        assert plan_main(["run", "--plan", str(plan), "--root", "x", "--stage", "8", *commands]) == 1
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith(f"plan: error: {holder}"), err
        assert not Path("second").exists() and not Path("exp/plan/logs/expert_usage.log").exists()
    finally:
        os.killpg(first.pid, signal.SIGTERM)
        first.wait(60)
    assert run_jobs([python_job("second", 8, "open('second', 'w')")], "exp/plan", COMMANDS, range(8, 9)) == 0
    assert Path("second").is_file()
