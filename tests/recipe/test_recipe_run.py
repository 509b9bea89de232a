"""The shared stage script on a tiny plan: re-runs do no work, stage ranges, plan errors, and
a killed SSL training that resumes. Real tools throughout (synthetic corpus, ESPnet trainer)."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.recipe.recipes import make_recipe
PLAN = """corpus: commonvoice
base: [en]
stages:
  - {{name: s1, languages: [es]}}
base_model: {{checkpoint: {checkpoint}}}
method: conf/ssl/demo.yaml
replay: {{minutes: 0.3, strategy: random, share: 0.2}}
probe: conf/probe/probe_cpu_demo.yaml
protocols: [retrained]
seed: 0
"""


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    """A recipe dir sharing the demo's scripts and configs, with its own plan and corpus root."""
    return make_recipe(tmp_path_factory.mktemp("recipe"), PLAN, "tiny")


def run(recipe: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["./ssl.sh", "--synth", "true", "--synth_utts", "24", *args], cwd=recipe,
                          capture_output=True, text=True, timeout=timeout)


def test_data_stages_run_once_then_are_no_ops(recipe):
    first = run(recipe, "--stop_stage", "2")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Stage 1: data preparation" in first.stdout and "Stage 2: probe data" in first.stdout
    text = recipe / "dump" / "probe" / "train" / "text"
    assert {line.split()[1] for line in text.read_text(encoding="utf-8").splitlines()} == {"[eng]", "[spa]"}
    stamp = text.stat().st_mtime_ns
    again = run(recipe, "--stop_stage", "2")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("done already") == 6  # synth, data, probe_{train,dev,test}, tokens
    assert text.stat().st_mtime_ns == stamp


def test_stage_ranges_run_only_what_is_asked(recipe):
    out = run(recipe, "--stage", "2", "--stop_stage", "2")
    assert out.returncode == 0, out.stderr
    assert "Stage 2:" in out.stdout and "Stage 1:" not in out.stdout and "Stage 3:" not in out.stdout


def test_a_bad_plan_stops_before_any_work(recipe):
    bad = recipe / "conf" / "bad.yaml"
    bad.write_text((recipe / "conf" / "plan.yaml").read_text().replace("[es]", "[en]"))
    out = run(recipe, "--plan", "conf/bad.yaml")
    assert out.returncode != 0
    assert "language en (eng) is in both 'base' and 's1'" in out.stderr
    assert not (recipe / "exp" / "bad").exists()


def test_killed_ssl_training_resumes(recipe):
    args = ["--stage", "3", "--stop_stage", "5", "--target_layer", "2", "--num_clusters", "8",
            "--ssl_train_opts", "--max_epoch 3 --num_iters_per_epoch 3 --batch_size 4"]
    proc = subprocess.Popen(["./ssl.sh", "--synth", "true", *args], cwd=recipe, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    checkpoint = recipe / "exp" / "plan" / "ssl" / "s1" / "checkpoint.pth"
    deadline = time.time() + 400
    while not checkpoint.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.5)
    assert checkpoint.exists(), "SSL training wrote no checkpoint"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (recipe / "exp" / "plan" / ".done" / "ssl_s1").exists()
    out = run(recipe, *args)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "targets_s1: done already" in out.stdout
    log = (recipe / "exp" / "plan" / "logs" / "ssl_train_s1.log").read_text(encoding="utf-8")
    assert "The training was resumed" in log
    assert (recipe / "exp" / "plan" / "ssl" / "s1" / "adapters" / "manifest.json").is_file()
