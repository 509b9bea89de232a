"""run_ablation.sh at CI size: one seed, two systems, a two-language plan, a few steps.

Real tools throughout (synthetic corpus, ESPnet trainer, probes, scoring); the test checks only
that the loop produces a well-formed summary and shares the seed's base probe, not the numbers.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lamer.ablation.spec import load_ablation
from lamer.ablation.summary import write_summary
from tests.recipe.recipes import DEMO, make_recipe

PLAN = """corpus: commonvoice
base: [en]
stages:
  - {{name: s1, languages: [es]}}
base_model: {{checkpoint: {checkpoint}}}
method: conf/ablation/lamer.yaml
replay: {{minutes: 0.3, strategy: random, share: 0.2}}
probe: conf/probe/probe_cpu_demo.yaml
protocols: [retrained, fixed]
seed: 0
"""
ABLATION = """seeds: [0]
plan: conf/plan.yaml
systems:
  frozen: {train_on: none}
  lamer_replay: {method: conf/ablation/lamer.yaml}
  random_init: {train_on: none, base_init: random}
"""
# lid_acc_classifier_final: the demo probe has the utterance-level language classifier (model: lamer_lid)
METRICS = ("avg_cer_final", "bwt_final", "fwt_mean", "lid_acc_final", "lid_acc_classifier_final")


@pytest.fixture(scope="module")
def ablation(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """A recipe dir with the demo's scripts and configs, a tiny plan, and one ablation run."""
    # the demo probe's input size is the 'small' preset's
    directory = make_recipe(tmp_path_factory.mktemp("recipe"), PLAN, "small", ("ssl.sh", "run_ablation.sh"))
    (directory / "conf" / "ablation").symlink_to(DEMO / "conf" / "ablation")
    (directory / "conf" / "ablation.yaml").write_text(ABLATION)
    out = subprocess.run(
        ["./run_ablation.sh", "--ssl_steps", "2", "--probe_epochs", "1",
         "--ssl_opts", "--synth_utts 24 --target_layer 2 --num_clusters 8"],
        cwd=directory, capture_output=True, text=True, timeout=900)
    return directory, out


def test_ablation_writes_a_well_formed_summary(ablation):
    directory, out = ablation
    assert out.returncode == 0, out.stdout + out.stderr
    summary = json.loads((directory / "ablation" / "summary.json").read_text(encoding="utf-8"))
    for protocol in ("retrained", "fixed"):
        systems = summary[protocol]["systems"]
        assert set(systems) == {"frozen", "lamer_replay", "random_init"}
        for name, entry in systems.items():
            for metric in METRICS:
                value = entry[metric]
                assert set(value) == {"mean", "std"}, (protocol, name, metric)
            assert 0.0 <= entry["avg_cer_final"]["mean"]
            assert entry["avg_cer_final"]["std"] == 0.0  # one seed
        assert systems["frozen"]["trainable_percent"] == systems["random_init"]["trainable_percent"] == 0.0
        assert 0.0 < systems["lamer_replay"]["trainable_percent"] < 100.0
    # frozen keeps the base model: no forgetting, no transfer, under either protocol
    assert summary["fixed"]["systems"]["frozen"]["bwt_final"]["mean"] == 0.0
    assert "<!-- ablation:begin -->" in (directory / "RESULTS.md").read_text(encoding="utf-8")


def test_the_summary_regenerates_from_the_exported_runs(ablation, tmp_path):
    """The loop exports each run's small outputs into ablation/runs; the summary of that layout
    alone (no exp/) writes the same JSON, byte for byte."""
    directory, out = ablation
    assert out.returncode == 0, out.stdout + out.stderr
    runs = directory / "ablation" / "runs"
    assert {p.name for p in (runs / "seed0" / "lamer_replay").iterdir()} >= {
        "results_retrained.json", "results_fixed.json", "probe_cer.json", "utt_errors_retrained.tsv",
        "utt_errors_fixed.tsv"}
    # every test utterance's edits travelled with the run: the intervals resample them, of CER and PER
    intervals = json.loads((directory / "ablation" / "intervals.json").read_text(encoding="utf-8"))
    assert set(intervals["retrained"]) == set(intervals["go_no_go"]) == {"cer", "per"}
    for rate in ("cer", "per"):
        entry = intervals["retrained"][rate]["systems"]["lamer_replay"]
        assert entry["resampled"] == "training seeds and test utterances" and entry["varied"], rate
    assert list(json.loads((runs / "seed0" / "frozen" / "probe_cer.json").read_text()))[0] == "base"
    assert "s1" in json.loads((runs / "seed0" / "lamer_replay" / "probe_cer.json").read_text())
    assert (runs / "trainable.json").is_file() and (runs / "environment.json").is_file()
    write_summary(load_ablation(directory / "conf" / "ablation.yaml"), runs, tmp_path / "ablation",
                  tmp_path / "RESULTS.md")
    for name in ("summary.json", "curves.json", "paired.json", "intervals.json", "probe_health.json", "routing.json",
                 "section.json"):
        assert (tmp_path / "ablation" / name).read_bytes() == (directory / "ablation" / name).read_bytes(), name


def test_systems_share_the_seeds_base_probe(ablation):
    directory, out = ablation
    assert out.returncode == 0, out.stdout + out.stderr
    seed = directory / "exp" / "ablation" / "seed0"
    probe = seed / "lamer_replay" / "probe" / "base"
    assert probe.is_symlink() and probe.resolve() == (seed / "frozen" / "probe" / "base").resolve()
    assert not (seed / "lamer_replay" / "logs" / "probe_base.log").exists()
    # the continual system trained and was scored on its own model
    assert (seed / "lamer_replay" / "ssl" / "s1" / "adapters" / "manifest.json").is_file()
    assert (seed / "lamer_replay" / "score" / "fixed" / "s1" / "score.json").is_file()
    # the base probe's classifier, applied to the stage's features, was decoded and scored
    assert (seed / "lamer_replay" / "decode" / "fixed" / "s1" / "1best_recog" / "lid").is_file()
    report = (seed / "lamer_replay" / "report" / "fixed" / "RESULTS.md").read_text(encoding="utf-8")
    assert "## LID accuracy (%) of the utterance classifier per language after each stage" in report


def test_rerun_does_no_work(ablation):
    directory, out = ablation
    assert out.returncode == 0, out.stdout + out.stderr
    again = subprocess.run(
        ["./run_ablation.sh", "--ssl_steps", "2", "--probe_epochs", "1",
         "--ssl_opts", "--synth_utts 24 --target_layer 2 --num_clusters 8"],
        cwd=directory, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    log = (directory / "exp" / "ablation" / "logs" / "seed0_lamer_replay.log").read_text(encoding="utf-8")
    assert "ssl_s1: done already" in log and "probe_s1: done already" in log


def test_the_random_init_reference_probes_its_own_base_with_random_weights(ablation):
    directory, out = ablation
    assert out.returncode == 0, out.stdout + out.stderr
    run = directory / "exp" / "ablation" / "seed0" / "random_init"
    assert not (run / "probe" / "base").is_symlink() and (run / "logs" / "probe_base.log").is_file()
    manifest = json.loads((run / "base_random" / "export.json").read_text(encoding="utf-8"))
    assert manifest["source"].endswith("(re-initialised: random weights, seed 0)")
    # its own copy of the base model, not the shared one, which the other runs read while it works
    assert (run / "base" / "upstream.pt").is_file()
    intervals = json.loads((directory / "ablation" / "intervals.json").read_text(encoding="utf-8"))
    found = intervals["go_no_go"]["cer"]
    assert found["random"] == "random_init" and "random_minus_frozen" in found["pretraining"]
