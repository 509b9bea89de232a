"""The jobs' dependencies (``after``) as `python -m lamer.bin.plan jobs` lists them: every name is a
job, the list is a topological order, every job waits for each job that writes a path it reads (found
independently, from the paths in their arguments and the decoding table), ``after`` is what the
declared inputs and outputs give, an input no job makes is a file the recipe has, and the demo's key
facts; for the demo plan with run.sh's options, the recipe tests' tiny plan, the real-data plans and
the ablation's systems (--base_exp and --base_dir from stage 4, --train_on none/old/all, fine-tuning).
The derivation itself: test_recipe_graph.py."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from lamer.bin.plan import main as plan_main
from lamer.recipe.graph import holds
from tests.recipe.recipes import TINY_PLAN

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "egs2" / "mini_lamer" / "ssl1"
RUN_SH = ("--synth", "true", "--synth_utts", "240", "--synth_opts", "--test_fraction 0.25", "--nj", "2",
          "--target_feature", "mfcc")  # the demo's run.sh options that name jobs
NEAR_SH = ("--synth", "true", "--synth_utts", "150", "--nj", "2")  # run_ablation.sh's, on plan_near.yaml
WRITES = ("--out", "--out_dir", "--output_dir", "--work_dir", "--dump")  # options naming a job's outputs


def graph(plan: Path, *options: str, capsys) -> dict[str, dict]:
    """The listed jobs by name, in their listed order."""
    assert plan_main(["jobs", "--plan", str(plan), "--root", "corpus/cv", *options]) == 0
    return {job["name"]: job for job in map(json.loads, capsys.readouterr().out.splitlines())}


def ancestors(jobs: dict[str, dict]) -> dict[str, set[str]]:
    """Every job's transitive ``after`` (within the listing)."""
    found: dict[str, set[str]] = {}
    for name, job in jobs.items():
        found[name] = set(job["after"]).union(*(found.get(a, set()) for a in job["after"]))
    return found


def decode_table(jobs: dict[str, dict]) -> list[list[str]]:
    if "decode_jobs" not in jobs:
        return []
    return [row.split("\t") for row in jobs["decode_jobs"]["argv"][2].splitlines()]


def outputs(job: dict, table: list[list[str]]) -> set[str]:
    """The paths a job writes: its output options, a link's or a written file's target, and for the
    decoding (and its merge) the output dirs of the decoding table."""
    argv = job["argv"]
    if argv[0] in ("link", "write"):
        return {argv[-2] if argv[0] == "write" else argv[2]}
    found = {argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg in WRITES}
    if job["name"] in ("decode", "decode_merge"):
        found |= {row[0] for row in table}
    return found


def reads(job: dict, table: list[list[str]]) -> set[str]:
    """Every argument that may be a path (``path,name,type`` and ``key=path`` split), and the
    decoding table's fields for the jobs that read it."""
    argv = job["argv"][1:] if job["argv"][0] == "link" else job["argv"]
    values = [a for a in argv if not a.startswith("-")]
    if job["name"] in ("decode", "decode_merge"):
        values += [field for row in table for field in row]
    return {part for value in values for chunk in value.split(",") for part in chunk.split("=") if part}


def related(path: str, output: str) -> bool:
    return path == output or path.startswith(output + "/") or output.startswith(path + "/")


def check_graph(jobs: dict[str, dict]) -> None:
    """Names exist and come earlier (no cycle), at most the job's stage; each reader waits for every
    other writer of what it reads."""
    order = list(jobs)
    for position, (name, job) in enumerate(jobs.items()):
        for needed in job["after"]:
            assert needed in jobs, f"{name}: after names {needed!r}, not a job"
            assert order.index(needed) < position, f"{name}: after {needed}, listed later"
            assert jobs[needed]["stage"] <= job["stage"], f"{name}: after {needed} of a later stage"
        assert name not in job["after"]
    for name, job in jobs.items():  # after: the jobs whose declared outputs hold a declared input
        makers = [other for other in jobs if other != name and any(
            holds(out, path) for path in job["inputs"] for out in jobs[other]["outputs"])]
        assert set(job["after"]) == set(makers), name
        assert set(job["configs"]) <= set(job["inputs"]), name
    table = decode_table(jobs)
    written = {name: outputs(job, table) for name, job in jobs.items()}
    before = ancestors(jobs)
    for name, job in jobs.items():
        for path in reads(job, table):
            if any(related(path, own) for own in written[name]):
                continue  # its own outputs (resume, shards of one directory)
            for writer, paths in written.items():
                if writer != name and any(related(path, out) for out in paths):
                    assert writer in before[name], f"{name} reads {path}, written by {writer}, without waiting"


def assert_external_inputs(jobs: dict[str, dict], base_model: str, plan: str, method: str, *probes: str) -> None:
    """What no job makes is the corpus root, the shipped base model and these configs (no misspelt
    path), and each of those files exists."""
    made = [out for job in jobs.values() for out in job["outputs"]]
    external = {path for job in jobs.values() for path in job["inputs"] if not any(holds(out, path) for out in made)}
    assert external == {str(DEMO / base_model / "upstream.pt"), str(DEMO / "conf" / plan),
                        str(DEMO / "conf" / "ssl" / method), str(DEMO / "conf" / "ssl" / ".." / "lamer" /
                                                                 "lamer_base.yaml"),
                        *(str(DEMO / "conf" / "probe" / probe) for probe in probes), "conf/probe/decode_ctc.yaml"}
    assert all(Path(path).is_file() for path in external if path.startswith("/"))


def test_demo_graph_key_facts(capsys):
    jobs = graph(DEMO / "conf" / "plan.yaml", *RUN_SH, capsys=capsys)
    check_graph(jobs)
    assert_external_inputs(jobs, "base_model", "plan.yaml", "far.yaml", "probe_cpu_fewlabel.yaml",
                           "probe_cpu_quality.yaml")
    before = ancestors(jobs)
    assert not any(name.endswith("_s2") or "_s2_" in name for name in jobs)  # one continual stage
    for name in ("targets_s1_split", "targets_s1_dev_split"):  # run.sh's MFCC targets reach the stage
        argv = jobs[name]["argv"]
        assert argv[argv.index("--feature") + 1] == "mfcc", name
    assert {"probe_base", "probe_s1", "ssl_s1", "decode_jobs", "probe_test"} <= before["decode"]
    assert len([name for name in jobs if name.startswith("score_")]) == 5
    assert not {"probe_base"} & before["probe_s1"] and not {"probe_s1"} & before["probe_base"]
    # the quality probe: every label, on the base model only, beside the stage; in every report
    assert jobs["probe_quality"]["after"] == ["quality_train", "probe_dev", "quality_tokens", "base_model"]
    assert not {"ssl_s1", "probe_base", "probe_s1"} & before["probe_quality"]
    assert "--minutes_per_dir" in jobs["probe_train"]["argv"] and "--minutes_per_dir" not in jobs[
        "quality_train"]["argv"]
    for protocol in ("retrained", "fixed"):
        assert "score_quality" in before[f"report_{protocol}"]


def test_near_plan_graph_key_facts(capsys):
    """The two-stage plan of the published ablation, with its options."""
    jobs = graph(DEMO / "conf" / "plan_near.yaml", *NEAR_SH, capsys=capsys)
    check_graph(jobs)
    assert_external_inputs(jobs, "base_model_near", "plan_near.yaml", "demo.yaml", "probe_cpu_demo.yaml")
    before = ancestors(jobs)
    assert jobs["data"]["after"] == ["synth"] and jobs["probe_base"]["after"] == [
        "probe_train", "probe_dev", "tokens", "base_model"]
    assert {"ssl_s1", "base_model"} <= before["probe_s1"] and "ssl_s2" not in before["probe_s1"]
    assert {"ssl_s1", "replay_s2_spa"} <= before["targets_s2_split"] and "ssl_s1" in before["ssl_s2"]
    assert "targets_s1_merge" in before["targets_s1_dev_split"]  # labels with the train split's codebook
    # one decoding job reads every probe: its own stage's (retrained) and the base one (fixed)
    assert {"probe_base", "probe_s1", "probe_s2", "ssl_s2", "decode_jobs", "probe_test"} <= before["decode"]
    scores = {name for name in jobs if name.startswith("score_")}
    assert len(scores) == 6 and jobs["score_fixed_base"]["after"] == ["score_retrained_base"]
    for protocol in ("retrained", "fixed"):
        assert {s for s in scores if protocol in s} <= before[f"results_{protocol}"]
        assert {f"results_{protocol}", "expert_usage"} <= before[f"report_{protocol}"]
    # what may run side by side: the probes beside the continual stages and each other
    for probe in ("probe_base", "probe_s1", "probe_s2"):
        others = {"probe_base", "probe_s1", "probe_s2"} - {probe}
        assert not others & before[probe]
    assert "probe_base" not in before["ssl_s2"] and not {"ssl_s1", "ssl_s2"} & before["probe_base"]
    assert "base_model" not in before["replay_s1_eng"] and "tokens" not in before["base_model"]


def test_tiny_plan_graph(tmp_path, capsys):
    (tmp_path / "conf").mkdir()
    for sub in ("ssl", "probe"):
        (tmp_path / "conf" / sub).symlink_to(ROOT / "conf" / sub)
    checkpoint = tmp_path / "tiny.pt"
    checkpoint.write_bytes(b"")
    plan = tmp_path / "conf" / "plan.yaml"
    plan.write_text(TINY_PLAN.format(checkpoint=json.dumps(str(checkpoint))), encoding="utf-8")
    jobs = graph(plan, "--synth", "true", "--synth_utts", "24", capsys=capsys)
    check_graph(jobs)
    assert jobs["base_model"]["after"] == []  # an imported checkpoint needs no data
    assert jobs["decode"]["after"] == ["decode_jobs", "probe_test", "probe_base", "base_model", "probe_s1", "ssl_s1"]
    assert jobs["results_retrained"]["after"] == ["score_retrained_base", "score_retrained_s1"]


@pytest.mark.parametrize("options", [
    ("--train_on", "none", "--tag", "frozen"),
    ("--train_on", "old"),
    ("--train_on", "all"),
    ("--method", str(DEMO / "conf" / "ablation" / "ft.yaml")),
    ("--base_exp", "exp/ab/frozen", "--base_dir", "exp/ab/base", "--tag", "ab/lamer"),
    ("--base_exp", "exp/ab/frozen", "--base_dir", "exp/ab/base", "--tag", "ab/joint_none", "--train_on", "none"),
], ids=["none", "old", "all", "ft", "base_exp", "base_exp_none"])
def test_ablation_systems_build_valid_graphs(capsys, options):
    plan = DEMO / "conf" / "plan_near.yaml"
    full = graph(plan, *NEAR_SH, *options, capsys=capsys)
    check_graph(full)
    # run_ablation.sh runs every system from stage 4: the jobs of stages 1-3 count as done
    part = graph(plan, *NEAR_SH, *options, "--stage", "4", capsys=capsys)
    for name, job in part.items():
        assert job["after"] == full[name]["after"]
        assert all(full[n]["stage"] < 4 for n in job["after"] if n not in part), name
    before = ancestors(full)
    if "none" in options:
        assert full["probe_s2"]["after"] == ["probe_base"] and full["score_fixed_s2"]["after"] == [
            "score_retrained_base"]
    if "--base_exp" in options:
        assert full["probe_base"]["after"] == [] and full["score_retrained_base"]["after"] == []
    else:
        assert "base_model" in before["probe_base"]
    if "none" not in options:
        assert "ssl_s1" in before["probe_s1"] and "ssl_s1" in before["targets_s2_split"]


@pytest.mark.parametrize("name", ["commonvoice", "fleurs"])
def test_real_data_graphs(tmp_path, capsys, name):
    from tests.recipe.test_recipe_jobs import real_recipe

    check_graph(graph(real_recipe(tmp_path, name), "--nj", "8", "--ngpu", "2", "--inference_nj", "4",
                      capsys=capsys))

