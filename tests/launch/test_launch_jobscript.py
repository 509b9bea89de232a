"""The job script run directly with bash, as a Slurm array task runs it (SLURM_ARRAY_TASK_ID set)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lamer.launch import LaunchError, LaunchRequest, launch, parse_launch_args
from lamer.launch.jobscript import write_job_script
from tests.launch.helpers import ARGV_JOB, HOSTILE_ARGS, HOSTILE_NAME, ended_code, expected_argv, markers, received


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run_as_array_task(script: Path, task: int) -> subprocess.CompletedProcess:
    # From another directory: the script must find its working directory by itself, as on a node.
    env = {**os.environ, "SLURM_ARRAY_TASK_ID": str(task)}
    return subprocess.run(["bash", str(script.resolve())], env=env, cwd="/", capture_output=True, timeout=60)


def test_array_task_gets_hostile_arguments_log_path_and_cwd_unchanged(in_tmp):
    workdir = in_tmp / HOSTILE_NAME
    workdir.mkdir()
    os.chdir(workdir)
    log = f"{HOSTILE_NAME}/log;&$(touch PWNED)/t ${{IFS}}`touch PWNED`.JOB.log"
    script = write_job_script(parse_launch_args(["JOB=1:3", log, sys.executable, str(ARGV_JOB), *HOSTILE_ARGS]))
    done = _run_as_array_task(script, 2)
    assert done.returncode == 0, done.stderr
    job_log = workdir / log.replace("JOB", "2")
    assert received(job_log) == {"argv": expected_argv(2), "cwd": os.fsencode(workdir)}
    assert ended_code(job_log).startswith("# Ended (code 0)")
    assert not (workdir / log.replace("JOB", "1")).exists()
    assert markers(in_tmp) == []


def test_array_task_exits_with_the_programs_status_and_logs_it():
    script = write_job_script(parse_launch_args(["JOB=1:2", "log/f.JOB.log", sys.executable, "-c",
                                                 "import sys; sys.exit(int(sys.argv[1]) + 4)", "JOB"]))
    done = _run_as_array_task(script, 1)
    assert done.returncode == 5
    assert ended_code(Path("log/f.1.log")).startswith("# Ended (code 5)")


def test_the_log_ends_as_kaldis_run_pl_ends_it():
    """`# Accounting: time=N threads=T` then `# Ended (code RC) at DATE, elapsed time N seconds`."""
    script = write_job_script(parse_launch_args(["--num-threads", "2", "log/e.log", sys.executable, "-c",
                                                 "import time, sys; time.sleep(1.2); sys.exit(3)"]))
    assert _run_as_array_task(script, 1).returncode == 3
    accounting, ended = Path("log/e.log").read_text().splitlines()[-2:]
    took = re.fullmatch(r"# Accounting: time=(\d+) threads=2", accounting)
    assert took and 1 <= int(took.group(1)) <= 30, accounting
    assert re.fullmatch(rf"# Ended \(code 3\) at .+, elapsed time {took.group(1)} seconds", ended), ended


def test_unknown_array_task_is_an_error():
    script = write_job_script(parse_launch_args(["JOB=1:2", "log/u.JOB.log", "true"]))
    done = _run_as_array_task(script, 7)
    assert done.returncode == 2
    assert b"no job '7' here" in done.stderr


def test_nul_byte_in_an_argument_is_refused_before_anything_runs():
    request = LaunchRequest(log="log/n.log", argv=("printf", "a\0b"))
    with pytest.raises(LaunchError, match="job 1: argument .* holds a NUL byte"):
        launch(request)
    assert not Path("log/n.log").exists()


def test_log_header_is_one_line_that_bash_turns_back_into_the_same_argv(in_tmp):
    script = write_job_script(parse_launch_args(["log/h.log", sys.executable, str(ARGV_JOB), *HOSTILE_ARGS]))
    assert _run_as_array_task(script, 1).returncode == 0
    header, started = Path("log/h.log").read_text(encoding="utf-8").splitlines()[:2]
    assert header.startswith("# ") and started.startswith("# Started at ")
    replay = subprocess.run(["bash", "-c", header[2:]], capture_output=True, text=True, timeout=60)
    assert [bytes.fromhex(arg) for arg in json.loads(replay.stdout)["argv"]] == [os.fsencode(a) for a in HOSTILE_ARGS]
    assert markers(in_tmp) == []
