"""lamer.launch.slurm_rank, the program srun starts once per rank: it hands the job's argv on unchanged."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.launch.helpers import ARGV_JOB, HOSTILE_ARGS

# What srun sets for task 1 of 2 of job 4242; MASTER_ADDR given, so no scontrol lookup is needed.
_TASK_ENV = {"SLURM_PROCID": "1", "SLURM_LOCALID": "1", "SLURM_NTASKS": "2", "SLURM_JOB_ID": "4242",
             "SLURM_JOB_NODELIST": "node1", "MASTER_ADDR": "127.0.0.1"}


def test_rank_runs_the_argv_with_hostile_arguments_unchanged_and_the_torch_env_set(tmp_path):
    probe = "import json, os, sys; print(json.dumps([os.environ[k] for k in ('RANK', 'WORLD_SIZE', 'MASTER_PORT')]))"
    done = subprocess.run([sys.executable, "-m", "lamer.launch.slurm_rank", sys.executable, "-c", probe],
                          env={**os.environ, **_TASK_ENV}, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["1", "2", str(20000 + 4242)]
    done = subprocess.run([sys.executable, "-m", "lamer.launch.slurm_rank", sys.executable, str(ARGV_JOB),
                           *HOSTILE_ARGS], env={**os.environ, **_TASK_ENV}, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [bytes.fromhex(arg) for arg in json.loads(done.stdout)["argv"]] == [os.fsencode(a) for a in HOSTILE_ARGS]
    assert not list(tmp_path.iterdir())  # no marker file
