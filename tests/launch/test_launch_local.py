"""The local backend through the CLI: per-job logs, failure propagation, --max-jobs, quoting, kills."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.launch.helpers import allreduce_args, log_body, read_ranks, run_launch


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_job_array_writes_one_log_per_job_with_kaldi_header_and_footer(capsys):
    code, err = run_launch(["JOB=1:3", "log/echo.JOB.log", "echo", "job", "JOB", ">", "out.JOB.txt"], capsys)
    assert code == 0, err
    for job in (1, 2, 3):
        assert Path(f"out.{job}.txt").read_text() == f"job {job}\n"
        lines = Path(f"log/echo.{job}.log").read_text().splitlines()
        assert lines[0] == f"# echo job {job} > out.{job}.txt"
        assert lines[1].startswith("# Started at ")
        assert lines[-2].startswith("# Accounting: time=")
        assert lines[-1].startswith("# Ended (code 0) at ")


def test_any_identifier_names_the_array(capsys):
    code, err = run_launch(["SPLIT=2:3", "log/s.SPLIT.log", "echo", "part", "SPLIT"], capsys)
    assert code == 0, err
    assert log_body(Path("log/s.2.log")) == ["part 2"]
    assert log_body(Path("log/s.3.log")) == ["part 3"]
    assert not Path("log/s.1.log").exists()


def test_failing_job_fails_the_launch_naming_job_and_log(capsys):
    code, err = run_launch(["JOB=1:3", "log/f.JOB.log", "bash", "-c", "echo doing JOB; [ JOB -ne 2 ] || exit 7"], capsys)
    assert code == 7
    assert "1 of 3 jobs failed" in err
    assert "job 2: exit 7; log log/f.2.log" in err
    assert "doing 2" in err  # the end of the failed log is shown
    assert Path("log/f.2.log").read_text().splitlines()[-1].startswith("# Ended (code 7)")
    assert Path("log/f.3.log").read_text().splitlines()[-1].startswith("# Ended (code 0)")


def test_failure_inside_a_pipe_fails_the_job(capsys):
    code, err = run_launch(["log/p.log", "false", "|", "cat"], capsys)
    assert code == 1
    assert "job 1: exit 1; log log/p.log" in err


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


def test_argument_with_spaces_and_quotes_stays_one_argument(capsys):
    tricky = """a b  'c' "d" $HOME \\x"""
    code, err = run_launch(["log/q.log", "printf", "<%s>\\n", tricky, "", "plain", "|", "tr", "a-z", "A-Z"], capsys)
    assert code == 0, err
    assert log_body(Path("log/q.log")) == [f"<{tricky.upper()}>", "<>", "<PLAIN>"]


def test_resource_options_are_accepted_by_the_local_backend(capsys):
    code, err = run_launch(["--mem", "4G", "--gpu=0", "--num-threads", "2", "--time", "1:00:00", "log/r.log", "true"], capsys)
    assert code == 0, err
    assert "threads=2" in Path("log/r.log").read_text()


@pytest.mark.parametrize("args, message", [
    (["JOB=1:3", "log/one.log", "true"], "put JOB in the log path"),
    (["JOB=3:1", "log/x.JOB.log", "true"], "bad job range"),
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


def _running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie left for a non-reaping init counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def test_sigterm_to_the_launcher_kills_its_jobs():
    # The recipe's kill-and-resume relies on this: a killed stage leaves no job running.
    proc = subprocess.Popen([sys.executable, "-m", "lamer.bin.launch", "log/k.log",
                             "bash", "-c", "echo $$ > job.pid; exec sleep 60"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (Path("job.pid").exists() and Path("job.pid").read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    job_pid = int(Path("job.pid").read_text())
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 130
    assert "interrupted" in proc.stderr.read()
    assert not _running(job_pid)


def test_nproc_per_node_runs_a_torch_distributed_job_with_torchrun(capsys, tmp_path):
    code, err = run_launch(["--nproc-per-node", "2", "log/ddp.log", *allreduce_args(tmp_path / "ranks")], capsys)
    assert code == 0, err + Path("log/ddp.log").read_text()
    ranks = read_ranks(tmp_path / "ranks")
    assert [r["rank"] for r in ranks] == [0, 1]
    assert all(r["world_size"] == 2 and r["sum"] == 3.0 for r in ranks)
