"""run_ablation.sh's loop over the ablation's units (seeds, and probe seeds where the config has them),
with ssl.sh replaced by a stand-in that records its options and leaves a results file: which
options each run gets, and that the runs are exported and summarised per unit. The real ssl.sh
runs in test_run_ablation.py."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.recipe.recipes import DEMO, TINY_PLAN, make_recipe

# records its arguments under exp/calls/ and, for a run of stages 4-8, writes its results
STAND_IN = """#!/usr/bin/env bash
set -euo pipefail
args=("$@")
tag=; stop=100
for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in --tag) tag=${args[i+1]} ;; --stop_stage) stop=${args[i+1]} ;; esac
done
mkdir -p exp/calls exp/${tag}
printf '%s\\n' "$@" >"exp/calls/${tag//\\//+}"
if [[ ${stop} == 3 ]]; then
    mkdir -p exp/ablation/base && cp small.pt exp/ablation/base/upstream.pt
    exit 0
fi
for protocol in retrained fixed; do
    cat >"exp/${tag}/results_${protocol}.json" <<EOF
{"stages": ["base", "s1"], "introduced": {"eng": "base", "spa": "s1"}, "protocol": "${protocol}",
 "cer": {"base": {"eng": 20.0, "spa": 50.0}, "s1": {"eng": 22.0, "spa": 30.0}}}
EOF
done
"""
CONFIG = """seeds: [0, 1]{probe_seeds}
plan: conf/plan.yaml
systems:
  frozen: {{train_on: none}}
  lamer_replay: {{method: conf/ablation/lamer.yaml}}
"""


def run_ablation(directory: Path, probe_seeds: str) -> dict[str, list[str]]:
    """Run the loop in a recipe with the stand-in; return each ssl.sh call's arguments by tag."""
    make_recipe(directory, TINY_PLAN, "small", ("run_ablation.sh",))
    (directory / "conf" / "ablation").symlink_to(DEMO / "conf" / "ablation")
    (directory / "conf" / "ablation.yaml").write_text(CONFIG.format(probe_seeds=probe_seeds))
    (directory / "ssl.sh").write_text(STAND_IN)
    (directory / "ssl.sh").chmod(0o755)
    out = subprocess.run(["./run_ablation.sh", "--jobs", "2"], cwd=directory, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    return {path.name.replace("+", "/"): path.read_text().splitlines()
            for path in (directory / "exp" / "calls").iterdir()}


def option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def test_without_probe_seeds_each_run_probes_with_its_seed(tmp_path):
    calls = run_ablation(tmp_path, "")
    assert sorted(calls) == ["ablation/seed0/frozen", "ablation/seed0/lamer_replay", "ablation/seed1/frozen",
                             "ablation/seed1/lamer_replay", "ablation/shared"]
    lamer = calls["ablation/seed1/lamer_replay"]
    assert option(lamer, "--seed") == "1" and option(lamer, "--base_exp") == "exp/ablation/seed1/frozen"
    assert not any("--probe_seed" in args or "--ssl_exp" in args for args in calls.values())
    assert json.loads((tmp_path / "ablation" / "summary.json").read_text())["fixed"]["systems"]["lamer_replay"][
        "seeds"] == [0, 1]
    intervals = json.loads((tmp_path / "ablation" / "intervals.json").read_text())
    assert intervals["fixed"]["cer"]["systems"]["lamer_replay"]["units"] == [0, 1]
    assert intervals["fixed"]["cer"]["systems"]["lamer_replay"]["resampled"] == "training seeds"


def test_probe_seeds_run_every_seed_once_per_probe_seed_sharing_its_training(tmp_path):
    calls = run_ablation(tmp_path, "\nprobe_seeds: [0, 5]")
    units = ["seed0_probe0", "seed0_probe5", "seed1_probe0", "seed1_probe5"]
    assert sorted(calls) == sorted([f"ablation/{unit}/{name}" for unit in units for name in ("frozen", "lamer_replay")]
                                   + ["ablation/shared"])
    for unit in units:
        seed, probe = unit[len("seed"):].split("_probe")
        for name in ("frozen", "lamer_replay"):
            args = calls[f"ablation/{unit}/{name}"]
            assert (option(args, "--seed"), option(args, "--probe_seed")) == (seed, probe), (unit, name)
        assert option(calls[f"ablation/{unit}/lamer_replay"], "--base_exp") == f"exp/ablation/{unit}/frozen"
    # the first probe seed of a seed trains; the others link its SSL stages
    assert option(calls["ablation/seed0_probe0/lamer_replay"], "--ssl_exp") is None
    assert option(calls["ablation/seed0_probe5/lamer_replay"], "--ssl_exp") == "exp/ablation/seed0_probe0/lamer_replay"
    assert option(calls["ablation/seed1_probe5/lamer_replay"], "--ssl_exp") == "exp/ablation/seed1_probe0/lamer_replay"
    assert option(calls["ablation/seed0_probe5/frozen"], "--ssl_exp") is None  # nothing to link: no training
    summary = json.loads((tmp_path / "ablation" / "summary.json").read_text())
    assert summary["retrained"]["systems"]["lamer_replay"]["seeds"] == ["0_probe0", "0_probe5", "1_probe0", "1_probe5"]
    assert (tmp_path / "ablation" / "runs" / "seed1_probe5" / "lamer_replay" / "results_fixed.json").is_file()
    intervals = json.loads((tmp_path / "ablation" / "intervals.json").read_text())
    assert intervals["retrained"]["cer"]["systems"]["lamer_replay"]["resampled"] == "training seeds and probe seeds"
    assert "× seeds 0, 1 × probe seeds 0, 5" in (tmp_path / "RESULTS.md").read_text()


@pytest.mark.parametrize("seeds", ["7", "0 7"])
def test_a_seed_outside_the_config_is_refused(tmp_path, seeds):
    make_recipe(tmp_path, TINY_PLAN, "small", ("run_ablation.sh",))
    (tmp_path / "conf" / "ablation").symlink_to(DEMO / "conf" / "ablation")
    (tmp_path / "conf" / "ablation.yaml").write_text(CONFIG.format(probe_seeds=""))
    out = subprocess.run(["./run_ablation.sh", "--seeds", seeds], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 2 and "--seeds: 7 is not a seed of conf/ablation.yaml" in out.stderr
