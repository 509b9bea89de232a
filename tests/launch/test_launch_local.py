"""The local backend through the CLI: per-job logs, failure propagation, --max-jobs, hostile inputs, kills."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.launch.helpers import (
    ARGV_JOB,
    HEARTBEAT_JOB,
    HOSTILE_ARGS,
    HOSTILE_NAME,
    allreduce_args,
    ended_code,
    expected_argv,
    group_members,
    log_body,
    markers,
    read_ranks,
    received,
    run_launch,
    wait_for_file,
)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_job_array_writes_one_log_per_job_with_kaldi_header_and_footer(capsys):
    code, err = run_launch(["JOB=1:3", "log/echo.JOB.log", "bash", "-c", "echo job JOB > out.JOB.txt"], capsys)
    assert code == 0, err
    for job in (1, 2, 3):
        assert Path(f"out.{job}.txt").read_text() == f"job {job}\n"
        lines = Path(f"log/echo.{job}.log").read_text().splitlines()
        assert lines[0] == f"# bash -c 'echo job {job} > out.{job}.txt'"  # the argv, shell-quoted
        assert lines[1].startswith("# Started at ")
        assert lines[-2].startswith("# Accounting: time=")
        assert lines[-1].startswith("# Ended (code 0) at ")


def test_any_identifier_names_the_array(capsys):
    code, err = run_launch(["SPLIT=2:3", "log/s.SPLIT.log", "echo", "part", "SPLIT"], capsys)
    assert code == 0, err
    assert log_body(Path("log/s.2.log")) == ["part 2"]
    assert log_body(Path("log/s.3.log")) == ["part 3"]
    assert not Path("log/s.1.log").exists()


def test_the_array_name_is_replaced_where_it_stands_as_a_word(capsys):
    # a tag such as myJOBrun ran its jobs in exp/my1run, exp/my2run
    args = ["exp/myJOBrun", "JOBS", "test_JOB", "a.JOB.b", "--job=JOB", "JOB"]
    code, err = run_launch(["JOB=1:2", "exp/myJOBrun/log/x.JOB.log", "echo", *args], capsys)
    assert code == 0, err
    for job in (1, 2):
        assert log_body(Path(f"exp/myJOBrun/log/x.{job}.log")) == [
            f"exp/myJOBrun JOBS test_{job} a.{job}.b --job={job} {job}"]
    assert sorted(p.name for p in Path("exp").iterdir()) == ["myJOBrun"]


def test_failing_job_fails_the_launch_naming_job_and_log(capsys):
    script = "echo doing JOB; [ JOB -ne 2 ] || exit 7"
    code, err = run_launch(["JOB=1:3", "log/f.JOB.log", "bash", "-c", script], capsys)
    assert code == 7
    assert "1 of 3 jobs failed" in err
    assert "job 2: exit 7; log log/f.2.log" in err
    assert "doing 2" in err  # the end of the failed log is shown
    assert Path("log/f.2.log").read_text().splitlines()[-1].startswith("# Ended (code 7)")
    assert Path("log/f.3.log").read_text().splitlines()[-1].startswith("# Ended (code 0)")


def _max_concurrency(max_jobs: list[str], capsys) -> int:
    # Each job registers itself, counts the registered jobs, holds on a little, then leaves.
    Path("running").mkdir()
    script = "touch running/JOB; ls running | wc -l; sleep 0.4; rm running/JOB"
    code, err = run_launch([*max_jobs, "JOB=1:4", "log/c.JOB.log", "bash", "-c", script], capsys)
    assert code == 0, err
    return max(int(log_body(Path(f"log/c.{job}.log"))[0]) for job in range(1, 5))


def test_max_jobs_limits_parallel_jobs(capsys):
    assert _max_concurrency(["--max-jobs", "2"], capsys) <= 2


def test_a_larger_max_jobs_runs_more_jobs_at_once(capsys):
    assert _max_concurrency(["--max-jobs", "4"], capsys) >= 3


def test_hostile_arguments_log_path_and_cwd_reach_the_program_as_exact_bytes(capsys, in_tmp):
    workdir = in_tmp / HOSTILE_NAME
    workdir.mkdir()
    os.chdir(workdir)
    log = f"{HOSTILE_NAME}/log;&$(touch PWNED)`touch PWNED`/x ${{IFS}}é.JOB.log"
    code, err = run_launch(["JOB=1:2", log, sys.executable, str(ARGV_JOB), *HOSTILE_ARGS], capsys)
    assert code == 0, err
    for job in (1, 2):
        job_log = workdir / log.replace("JOB", str(job))
        assert received(job_log) == {"argv": expected_argv(job), "cwd": os.fsencode(workdir)}
        assert ended_code(job_log).startswith("# Ended (code 0)")
    assert markers(in_tmp) == []


def test_shell_operators_are_plain_arguments(capsys):
    # Kaldi's run.pl would pipe and redirect here; commands are data, so prog gets the words.
    code, err = run_launch(["log/q.log", "printf", "<%s>\\n", "a", "|", "sort", ">", "out.txt", "$HOME"], capsys)
    assert code == 0, err
    assert log_body(Path("log/q.log")) == ["<a>", "<|>", "<sort>", "<>>", "<out.txt>", "<$HOME>"]
    assert not Path("out.txt").exists()


def test_failing_program_is_a_failed_job_with_its_own_status(capsys, in_tmp):
    # The case of issue 16: an argument ending in `;#` once turned a failure into `# Ended (code 0)`.
    code, err = run_launch(["log/f.log", sys.executable, "-c", "import sys; sys.exit(3)", "d;touch${IFS}PWNED;#"],
                           capsys)
    assert code == 3
    assert ended_code(Path("log/f.log")).startswith("# Ended (code 3)")
    assert "job 1: exit 3; log log/f.log" in err
    assert markers(in_tmp) == []


@pytest.mark.parametrize("argv, status", [
    (["no-such-program-lamer"], 127),
    ([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"], 128 + signal.SIGKILL),
])
def test_program_that_cannot_start_or_is_killed_fails_the_job(argv, status, capsys):
    code, err = run_launch(["log/k.log", *argv], capsys)
    assert code == status
    assert ended_code(Path("log/k.log")).startswith(f"# Ended (code {status})")
    assert f"job 1: exit {status}; log log/k.log" in err


def test_resource_options_are_accepted_by_the_local_backend(capsys):
    resources = ["--mem", "4G", "--gpu=0", "--num-threads", "2", "--time", "1:00:00"]
    code, err = run_launch([*resources, "log/r.log", "true"], capsys)
    assert code == 0, err
    assert "threads=2" in Path("log/r.log").read_text()


@pytest.mark.parametrize("args, message", [
    (["JOB=1:3", "log/one.log", "true"], "put JOB in the log path"),
    (["JOB=3:1", "log/x.JOB.log", "true"], "bad job range"),
    (["JOB=1:0", "log/x.JOB.log", "true"], "bad job range 'JOB=1:0'"),
    (["JOB=1:-1", "log/x.JOB.log", "true"], "bad job range 'JOB=1:-1'"),
    (["JOB=1:3", "log/myJOBrun.log", "true"], "put JOB in the log path"),
    (["JOB=1-3", "log/x.JOB.log", "true"], "bad job range"),
    (["--backend", "sge", "log/x.log", "true"], "unknown --backend 'sge'"),
    (["--nodes", "2", "log/x.log", "true"], "--nodes 2 needs --backend slurm"),
    (["--max-jobs", "0", "log/x.log", "true"], "--max-jobs needs a positive integer"),
    (["--mem", "lots", "log/x.log", "true"], "--mem 'lots'"),
    (["--mem"], "option --mem needs a value"),
    (["log/x.log"], "expected [options] [JOB=1:N] LOG prog"),
])
def test_bad_calls_are_refused_before_running_anything(args, message, capsys):
    code, err = run_launch(args, capsys)
    assert code == 1
    assert message in err
    assert not Path("log").exists()


def test_max_wait_stops_running_jobs(capsys):
    started = time.monotonic()
    code, err = run_launch(["--max-wait", "1", "JOB=1:2", "log/w.JOB.log", "sleep", "30"], capsys)
    assert time.monotonic() - started < 15
    assert code != 0
    assert "job 2: no exit status, stopped: --max-wait ran out; log log/w.2.log" in err


def _start_heartbeats(*extra: str) -> tuple[subprocess.Popen, list[int]]:
    """The launcher running two heartbeat jobs, each a program and its child; and their process groups."""
    proc = subprocess.Popen([sys.executable, "-m", "lamer.bin.launch", "JOB=1:2", "log/hb.JOB.log", sys.executable,
                             str(HEARTBEAT_JOB), "pgid.JOB", "beat.JOB", *extra], stderr=subprocess.PIPE, text=True)
    groups = [int(wait_for_file(Path(f"pgid.{job}"))) for job in (1, 2)]
    for job in (1, 2):
        wait_for_file(Path(f"beat.{job}"))
    assert all(len(group_members(group)) >= 2 for group in groups)  # program and child alive
    return proc, groups


def _assert_stopped(groups: list[int]) -> None:
    deadline = time.monotonic() + 5  # SIGKILLed processes take a moment to become zombies
    while any(group_members(group) for group in groups) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [group_members(group) for group in groups] == [[], []]
    sizes = [Path(f"beat.{job}").stat().st_size for job in (1, 2)]
    time.sleep(0.3)
    assert [Path(f"beat.{job}").stat().st_size for job in (1, 2)] == sizes, "a heartbeat kept growing"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_to_the_launcher_stops_every_job_and_the_processes_it_started(signum):
    # What makes killing a recipe safe: no job keeps writing into exp/ after the launcher exits.
    proc, groups = _start_heartbeats()
    proc.send_signal(signum)
    assert proc.wait(timeout=30) == 128 + signum
    assert f"interrupted by {signal.Signals(signum).name}" in proc.stderr.read()
    _assert_stopped(groups)
    for job in (1, 2):  # the jobs got SIGTERM; the job script waited for its program and logged its status
        assert ended_code(Path(f"log/hb.{job}.log")).startswith("# Ended (code 143)")


def test_a_stopped_and_continued_launcher_goes_on_with_its_jobs():
    # Ctrl-Z then `fg`, or a Slurm suspend and resume: SIGSTOP and SIGCONT are no stop request
    proc, groups = _start_heartbeats()
    for _ in range(3):
        proc.send_signal(signal.SIGSTOP)
        time.sleep(0.3)
        proc.send_signal(signal.SIGCONT)
        time.sleep(0.3)
    assert proc.poll() is None and all(len(group_members(group)) >= 2 for group in groups)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 143
    assert "interrupted by SIGTERM" in proc.stderr.read()
    _assert_stopped(groups)


def test_jobs_that_ignore_sigterm_are_killed_after_the_grace_period():
    proc, groups = _start_heartbeats("--ignore-term")
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)  # Ctrl-C from the terminal and from a recipe that forwards it: one stop
    assert proc.wait(timeout=30) == 130
    assert time.monotonic() - started >= 4  # the grace period (5 s) was given
    _assert_stopped(groups)


def test_a_second_signal_kills_the_jobs_at_once():
    proc, groups = _start_heartbeats("--ignore-term")
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 143
    assert time.monotonic() - started < 4.5
    assert "a second signal" in proc.stderr.read()
    _assert_stopped(groups)


def test_nproc_per_node_runs_a_torch_distributed_job_with_torchrun(capsys, tmp_path):
    out_dir = tmp_path / HOSTILE_NAME / "ranks"  # torchrun hands the argv on untouched too
    code, err = run_launch(["--nproc-per-node", "2", "log/ddp.log", *allreduce_args(out_dir)], capsys)
    assert code == 0, err + Path("log/ddp.log").read_text()
    assert markers(tmp_path) == []
    ranks = read_ranks(out_dir)
    assert [r["rank"] for r in ranks] == [0, 1]
    assert all(r["world_size"] == 2 and r["sum"] == 3.0 for r in ranks)
