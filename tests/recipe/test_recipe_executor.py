"""The job runner behind ssl.sh: markers, failures, links, and signals passed on to the launcher.
Jobs run through the real local launcher (`python -m lamer.bin.launch --backend local`)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lamer.recipe.executor import run_jobs, share
from lamer.recipe.jobs import Job

LOCAL = f"{sys.executable} -m lamer.bin.launch --backend local --max-jobs 2"
COMMANDS = {"train": LOCAL, "cuda": LOCAL, "decode": LOCAL}


def python_job(name: str, stage: int, code: str, nj: int = 1) -> Job:
    argv = (sys.executable, "-c", code, *(("JOB",) if nj > 1 else ()))
    log = f"exp/logs/{name}.JOB.log" if nj > 1 else f"exp/logs/{name}.log"
    return Job(name, stage, "train", 0, nj, log, argv)


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
    assert "fails: failed (exit 3), see exp/logs/fails.log" in capsys.readouterr().out
    Path("out.1").unlink()
    jobs[2] = python_job("fails", 2, "pass")
    assert run_jobs(jobs, "exp", COMMANDS, range(1, 3)) == 0
    out = capsys.readouterr().out
    assert "array: done already" in out and "table: done already" in out
    assert not Path("out.1").exists() and Path("after").exists()


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


def test_sigterm_reaches_the_jobs(tmp_path):
    """Killing the runner (ssl.sh execs it) stops the launcher and its job: no orphan keeps running."""
    script = (
        "import sys\n"
        "from lamer.recipe.executor import run_jobs\n"
        "from lamer.recipe.jobs import Job\n"
        f"job = Job('sleep', 1, 'train', 0, 1, 'exp/logs/sleep.log', ({sys.executable!r}, '-c', "
        "'import os, time; open(\"pid\", \"w\").write(str(os.getpid())); time.sleep(300)'))\n"
        f"sys.exit(run_jobs([job], 'exp', {{'train': {LOCAL!r}}}, range(1, 2)))\n")
    runner = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, start_new_session=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 60
    while not (tmp_path / "pid").is_file() and time.time() < deadline:
        time.sleep(0.2)
    job_pid = int((tmp_path / "pid").read_text())
    os.kill(runner.pid, signal.SIGTERM)
    out, _ = runner.communicate(timeout=60)
    assert runner.returncode != 0, out
    assert not (tmp_path / "exp" / ".done" / "sleep").exists()
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.kill(job_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(job_pid, signal.SIGKILL)
        pytest.fail("the job outlived the runner")
