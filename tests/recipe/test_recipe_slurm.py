"""The tiny recipe through a real Slurm cluster: ``LAMER_CMD_BACKEND=slurm ./ssl.sh --nj 2 --inference_nj 2``.

tools/slurm/ci_slurm_test.sh starts a single-node cluster (tools/slurm/cluster.sh), sets
LAMER_SLURM_TEST=1 and runs this; elsewhere it is skipped with the reason. What ran is read from
Slurm's own record of finished jobs (jobcomp/filetxt: one line per array task with its name,
state, exit code and submit directory), and compared with the recipe's job list
(``python -m lamer.bin.plan jobs``): every job that goes through a queue ran as one sbatch array
of ``nj`` tasks, so target extraction (--nj) and decoding (--inference_nj) ran as 2-task arrays.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from tests.recipe.recipes import ROOT, TINY_PLAN, make_recipe

# The options that change the job list, given to ssl.sh and to `plan jobs` alike.
JOB_OPTIONS = ["--synth", "true", "--nj", "2", "--inference_nj", "2"]
# Budgets only: a few iterations of every training, small k-means.
BUDGETS = ["--synth_utts", "16", "--target_layer", "2", "--num_clusters", "8",
           "--ssl_train_opts", "--max_epoch 1 --num_iters_per_epoch 2 --batch_size 4",
           "--probe_train_opts", "--max_epoch 1 --preencoder_conf input_size=32"]  # the tiny preset is 32 wide
RECIPE_TIMEOUT_S = 900


def _scontrol_config() -> dict[str, str]:
    out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        pytest.fail(f"LAMER_SLURM_TEST=1 but scontrol show config fails: {out.stderr.strip()}")
    return dict(re.findall(r"^(\w+)\s+= (.*)$", out.stdout, flags=re.M))


@pytest.fixture(scope="module")
def jobcomp_log() -> Path:
    """The cluster's job completion record; skip without a cluster, fail on one that keeps none."""
    if os.environ.get("LAMER_SLURM_TEST") != "1":
        pytest.skip("no Slurm cluster: run tools/slurm/ci_slurm_test.sh (it starts one and sets LAMER_SLURM_TEST=1)")
    config = _scontrol_config()
    if config.get("JobCompType") != "jobcomp/filetxt":
        pytest.fail(f"the cluster keeps no job completion record (JobCompType={config.get('JobCompType')}): "
                    "start it with tools/slurm/cluster.sh")
    return Path(config["JobCompLoc"])


def slurm_tasks(jobcomp: Path, workdir: Path) -> list[dict[str, str]]:
    """The finished array tasks submitted from ``workdir``, one dict of jobcomp fields each."""
    tasks = []
    for line in jobcomp.read_text(errors="replace").splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if os.path.realpath(fields.get("WorkDir", "")) == os.path.realpath(workdir):
            tasks.append(fields)
    return tasks


def cancel_jobs_from(workdir: Path) -> None:
    """scancel what this test left in the queue (a recipe killed by the timeout)."""
    out = subprocess.run(["squeue", "-h", "-o", "%A %Z"], capture_output=True, text=True, timeout=30)
    ids = [job for job, cwd in (line.split(maxsplit=1) for line in out.stdout.splitlines())
           if os.path.realpath(cwd) == os.path.realpath(workdir)]
    if ids:
        subprocess.run(["scancel", *ids], timeout=30)


def expected_arrays(recipe: Path) -> dict[str, set[int]]:
    """Slurm job name -> array task ids of every queued job that `plan jobs` lists. The launcher
    names a job after its log file (without .log) and numbers its tasks 1..nj."""
    listing = subprocess.run([sys.executable, "-m", "lamer.bin.plan", "jobs", "--plan", "conf/plan.yaml", *JOB_OPTIONS,
                              "--root", str(recipe / "corpus" / "commonvoice")],  # db.sh's, as make_recipe writes it
                             cwd=recipe, capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    jobs = [json.loads(line) for line in listing.stdout.splitlines() if line.strip()]
    return {Path(job["log"]).name.removesuffix(".log"): set(range(1, job["nj"] + 1)) for job in jobs if job["queue"]}


@pytest.fixture(scope="module")
def slurm_run(jobcomp_log: Path, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess, float]:
    recipe = make_recipe(tmp_path_factory.mktemp("slurm_recipe"), TINY_PLAN, "tiny")
    (recipe / "conf" / "slurm.conf").symlink_to(ROOT / "conf" / "slurm.conf")
    env = {**os.environ, "LAMER_CMD_BACKEND": "slurm"}
    started = time.monotonic()
    try:
        done = subprocess.run(["./ssl.sh", *JOB_OPTIONS, *BUDGETS], cwd=recipe, env=env, capture_output=True,
                              text=True, timeout=RECIPE_TIMEOUT_S)
    finally:
        cancel_jobs_from(recipe)
    return recipe, done, time.monotonic() - started


def test_the_recipe_finishes_through_slurm_with_results(slurm_run):
    recipe, done, seconds = slurm_run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    exp = recipe / "exp" / "plan"
    assert (exp / "report" / "retrained" / "RESULTS.md").is_file()
    for stage in ("base", "s1"):
        score = json.loads((exp / "score" / "retrained" / stage / "score.json").read_text())
        assert {"eng", "spa"} <= set(score), score
    print(f"tiny recipe through Slurm: {seconds:.0f} s")


def test_every_queued_job_ran_as_a_slurm_array_of_its_nj_tasks(slurm_run, jobcomp_log):
    recipe, done, _ = slurm_run
    assert done.returncode == 0, done.stderr[-3000:]
    expected = expected_arrays(recipe)
    assert sum(len(tasks) == 2 for tasks in expected.values()) >= 2, f"no 2-task arrays listed: {expected}"
    ran: dict[str, set[int]] = defaultdict(set)
    deadline = time.monotonic() + 10  # slurmctld appends a task's line as it ends: allow it a moment
    while True:
        tasks = slurm_tasks(jobcomp_log, recipe)
        if len(tasks) >= sum(map(len, expected.values())) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for task in tasks:
        assert (task["JobState"], task["ExitCode"]) == ("COMPLETED", "0:0"), task
        ran[task["Name"]].add(int(task["ArrayTaskId"]))
    assert dict(ran) == expected
