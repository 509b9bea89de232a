"""The slurm backend on a real cluster (tools/slurm/ci_slurm_test.sh starts one and sets LAMER_SLURM_TEST=1).

Skipped, with the reason, where no cluster runs. Every call has --max-wait, so a job Slurm
cannot place fails the test instead of hanging CI.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lamer.launch import parse_launch_args
from lamer.launch.jobscript import script_path
from lamer.launch.slurm import task_output
from tests.launch.helpers import (
    ARGV_JOB,
    HEARTBEAT_JOB,
    HOSTILE_ARGS,
    HOSTILE_NAME,
    allreduce_args,
    ended_code,
    expected_argv,
    log_body,
    markers,
    read_ranks,
    received,
    run_launch,
    wait_for_file,
)

MAX_WAIT = ["--max-wait", "120"]


def _cluster_cpus() -> int:
    """CPUs of the first node of the running cluster; pytest.skip with the reason if there is none."""
    if os.environ.get("LAMER_SLURM_TEST") != "1":
        pytest.skip("no Slurm cluster: run tools/slurm/ci_slurm_test.sh (it starts one and sets LAMER_SLURM_TEST=1)")
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%c %t"], capture_output=True, text=True, timeout=20)
    except (FileNotFoundError, subprocess.TimeoutExpired) as err:
        pytest.fail(f"LAMER_SLURM_TEST=1 but sinfo does not answer: {err}")
    fields = out.stdout.split()
    if out.returncode != 0 or len(fields) < 2 or fields[1] not in ("idle", "mix", "alloc"):
        pytest.fail(f"LAMER_SLURM_TEST=1 but the cluster is not usable: {out.stdout.strip()} {out.stderr.strip()}")
    return int(fields[0])


@pytest.fixture(scope="module")
def cluster_cpus() -> int:
    return _cluster_cpus()


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cluster_cpus: int) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_job_array_runs_every_task_with_its_log_and_output(capsys):
    code, err = run_launch(["--backend", "slurm", *MAX_WAIT, "--mem", "100M", "--time", "5",
                            "JOB=1:3", "log/arr.JOB.log", "bash", "-c",
                            "echo task JOB of $SLURM_ARRAY_TASK_ID > out.JOB.txt"], capsys)
    assert code == 0, err
    for job in (1, 2, 3):
        assert Path(f"out.{job}.txt").read_text() == f"task {job} of {job}\n"
        lines = Path(f"log/arr.{job}.log").read_text().splitlines()
        assert lines[0] == f"# bash -c 'echo task {job} of $SLURM_ARRAY_TASK_ID > out.{job}.txt'"
        assert lines[-1].startswith("# Ended (code 0)")


def test_hostile_arguments_log_path_and_cwd_reach_every_task_unchanged(capsys, in_tmp):
    workdir = in_tmp / HOSTILE_NAME
    workdir.mkdir()
    os.chdir(workdir)
    # `%` and `\\` also mean something to Slurm in --output; Slurm's own task output must not move.
    log = f"{HOSTILE_NAME}/log;&$(touch PWNED) %a %% %j/t \\ `touch PWNED` %j.JOB.log"
    args = ["JOB=1:2", log, sys.executable, str(ARGV_JOB), *HOSTILE_ARGS]
    code, err = run_launch(["--backend", "slurm", *MAX_WAIT, *args], capsys)
    assert code == 0, err
    for job in (1, 2):
        job_log = workdir / log.replace("JOB", str(job))
        assert received(job_log) == {"argv": expected_argv(job), "cwd": os.fsencode(workdir)}
        assert ended_code(job_log).startswith("# Ended (code 0)")
        assert task_output(script_path(parse_launch_args(args)), job).exists()
    assert markers(in_tmp) == []


def test_a_scoring_stage_runs_through_slurm_with_the_recipe_calling_convention(capsys):
    # What a recipe's scoring stage does: one lamer CLI job per test set, JOB in every path.
    for job, hyp in ((1, "abcx"), (2, "abcd")):
        Path(f"data/test_{job}").mkdir(parents=True)
        Path(f"decode_{job}").mkdir()
        Path(f"data/test_{job}/text").write_text("utt1 [eng] abcd\n")
        Path(f"decode_{job}/text").write_text(f"utt1 [eng] {hyp}\n")
    code, err = run_launch(["--backend", "slurm", *MAX_WAIT, "--mem", "1G", "JOB=1:2", "log/score.JOB.log",
                            sys.executable, "-m", "lamer.bin.score", "--ref", "data/test_JOB/text",
                            "--hyp", "decode_JOB/text", "--out", "score_JOB"], capsys)
    assert code == 0, err
    cers = [json.loads(Path(f"score_{job}/score.json").read_text())["eng"]["cer"] for job in (1, 2)]
    assert cers == [25.0, 0.0]


def test_failed_task_exit_code_propagates_naming_task_and_log(capsys, in_tmp):
    code, err = run_launch(["--backend", "slurm", *MAX_WAIT, "JOB=1:2", "log/fail.JOB.log",
                            "bash", "-c", "echo here JOB; [ JOB -ne 2 ] || exit 3", "d;touch${IFS}PWNED;#"], capsys)
    assert code == 3
    assert "1 of 2 jobs failed" in err
    assert "job 2: exit 3; log log/fail.2.log" in err
    assert log_body(Path("log/fail.2.log")) == ["here 2"]
    assert ended_code(Path("log/fail.2.log")).startswith("# Ended (code 3)")
    assert markers(in_tmp) == []


def test_num_threads_reaches_slurm_as_cpus_per_task(capsys, cluster_cpus):
    threads = str(min(2, cluster_cpus))
    code, err = run_launch(["--backend", "slurm", *MAX_WAIT, "--num-threads", threads, "log/t.log",
                            "bash", "-c", "echo $SLURM_CPUS_PER_TASK"], capsys)
    assert code == 0, err
    assert log_body(Path("log/t.log")) == [threads]


def test_request_slurm_refuses_is_an_error_with_its_message(capsys):
    code, err = run_launch(["--backend", "slurm", *MAX_WAIT, "--mem", "100000T", "log/big.log", "true"], capsys)
    assert code == 1
    assert "sbatch refused the jobs" in err


def test_max_wait_cancels_the_job(capsys):
    code, err = run_launch(["--backend", "slurm", "--max-wait", "2", "log/slow.log", "sleep", "120"], capsys)
    assert code != 0
    assert "job 1: no exit status, cancelled in state" in err
    # The job is named after its log; the cluster keeps ended jobs for MinJobAge seconds.
    assert _states_of("slow") <= {"CANCELLED", "COMPLETING"}


def _states_of(job_name: str) -> set[str]:
    """Slurm states of the jobs named `job_name` (the stem of their log); the cluster keeps ended jobs a while."""
    squeue = subprocess.run(["squeue", "-h", "-t", "all", "-n", job_name, "-o", "%T"], capture_output=True, text=True,
                            timeout=20)
    assert squeue.stdout.split(), f"no job {job_name!r} in squeue: {squeue.stderr}"
    return set(squeue.stdout.split())


def test_sigterm_to_the_launcher_cancels_the_array_and_its_processes():
    proc = subprocess.Popen([sys.executable, "-m", "lamer.bin.launch", "--backend", "slurm", *MAX_WAIT,
                             "log/hb.log", sys.executable, str(HEARTBEAT_JOB), "pgid", "beat"],
                            stderr=subprocess.PIPE, text=True)
    wait_for_file(Path("beat"), timeout_s=60)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    assert "SIGTERM: cancelling it" in proc.stderr.read()
    assert _states_of("hb") <= {"CANCELLED", "COMPLETING"}
    deadline, size = time.monotonic() + 30, -1  # Slurm signals the job's processes after the cancel
    while Path("beat").stat().st_size != size and time.monotonic() < deadline:
        size = Path("beat").stat().st_size
        time.sleep(1)
    assert Path("beat").stat().st_size == size, "the job kept writing after scancel"


def test_srun_runs_two_ranks_of_a_gloo_all_reduce(capsys, cluster_cpus, tmp_path):
    if cluster_cpus < 2:
        pytest.skip(f"the node has {cluster_cpus} CPU; 2 tasks would never start")
    code, err = run_launch(["--backend", "slurm", *MAX_WAIT, "--nproc-per-node", "2", "log/ddp.log",
                            *allreduce_args(tmp_path / "ranks")], capsys)
    assert code == 0, err + Path("log/ddp.log").read_text()
    ranks = read_ranks(tmp_path / "ranks")
    assert [(r["rank"], r["local_rank"]) for r in ranks] == [(0, 0), (1, 1)]
    assert all(r["world_size"] == 2 and r["sum"] == 3.0 for r in ranks)
