"""The shared stage script on a tiny plan: re-runs do no work, stage ranges, plan errors, the
listed jobs are the jobs that run, a failing program fails its step, hostile paths stay data through
every stage (no shell and no YAML parser acts on them), and a killed SSL training that resumes. Real
tools throughout (synthetic corpus, ESPnet trainer)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.recipe.recipes import TINY_PLAN, make_recipe


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    """A recipe dir sharing the demo's scripts and configs, with its own plan and corpus root."""
    return make_recipe(tmp_path_factory.mktemp("recipe"), TINY_PLAN, "tiny")


# a tag, data, dump and base dir made of everything a shell or a YAML parser would act on: each would
# create the file `x` if it reached a shell unquoted (the base dir: ESPnet's unsafe YAML), and ` #`, `: `,
# `{`, `[` would change the path (a comment, a mapping, a flow collection) if it reached YAML unquoted
HOSTILE = {"tag": "t&g (1) $(touch x) 'q' \"dq\" `touch x` ü #2: {a} [b]", "data": "d;touch${IFS}x;# #1: {d} [e]",
           "dump": "du&mp$(touch${IFS}x)`touch${IFS}x`ß #3: {f} [g]",
           "base_dir": '!!python/object/apply:os.system ["touch x"] #4: {h} [i]'}
# the folder of the recipe, so of its corpus root and base checkpoint too
HOSTILE_FOLDER = "R&D (cv) ;touch${IFS}x;# $(touch x) `touch x` 'q' \"dq\" ü #5: {j} [k]"
# budgets of a run through every stage on the tiny model (tests/recipe/test_recipe_slurm.py's)
TINY_BUDGETS = ["--nj", "1", "--synth_utts", "12", "--target_layer", "2", "--num_clusters", "8",
                "--ssl_train_opts", "--max_epoch 1 --num_iters_per_epoch 2 --batch_size 4",
                "--probe_train_opts", "--max_epoch 1 --preencoder_conf input_size=32"]  # the tiny preset is 32 wide


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


@pytest.mark.parametrize("tag", ["-x", "a\nb"])
def test_a_bad_tag_stops_before_any_stage(recipe, tag):
    out = run(recipe, "--tag", tag)
    assert out.returncode == 1
    assert out.stderr.splitlines() == [f"plan: error: --tag {tag!r}: " + (
        "starts with '-', which the tools it is passed to would read as an option; start it with another character"
        if tag.startswith("-") else "holds a control character such as a newline; a tag names exp/<tag> and must be "
        "one printable line")]
    assert "Stage" not in out.stdout and not (recipe / "exp" / tag).exists()


def listing(recipe: Path, *args: str) -> list[dict]:
    """The jobs ssl.sh would run with these options (--list true)."""
    out = run(recipe, *args, "--list", "true")
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def logs_of(job: dict) -> set[str]:
    """The log files a queued job writes (one per array job)."""
    if job["log"] is None:
        return set()
    return {job["log"].replace("JOB", str(i)) for i in range(1, job["nj"] + 1)}


def test_asr_sh_option_names_reach_the_jobs(recipe):
    """--dumpdir (asr.sh's name of --dump), --expdir and --python, as asr.sh takes them."""
    jobs = listing(recipe, "--dumpdir", "d2", "--expdir", "e2", "--python", "python3", "--stop_stage", "2")
    queued = [job for job in jobs if job["queue"] is not None]
    assert queued and all(job["argv"][0] == "python3" and job["log"].startswith("e2/plan/logs/") for job in queued)
    assert by_output(jobs, "d2/probe/train/text") == "probe_train"


def by_output(jobs: list[dict], path: str) -> str:
    """The name of the job that writes ``path`` (or a directory holding it)."""
    return next(job["name"] for job in jobs if any(path == out or path.startswith(out + "/") for out in job["outputs"]))


def test_ssl_sh_runs_exactly_the_listed_jobs(recipe):
    # stages 1-2 ran in the first test (same options), this run adds 3-4: together, stages 1-4
    args = ("--stop_stage", "4")
    jobs = listing(recipe, *args)
    assert [job["stage"] for job in jobs] == sorted(job["stage"] for job in jobs) and jobs[-1]["stage"] == 4
    assert listing(recipe, *args, "--max_jobs", "2") == jobs  # how the jobs run, not which
    out = run(recipe, *args, "--max_jobs", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    for name in (job["name"] for job in jobs):  # each ran once (a start and an end line) or was done
        ran = out.stdout.count(f"] {name}: started") == out.stdout.count(f"] {name}: done in ") == 1
        assert ran or f"] {name}: done already" in out.stdout, name
    exp = recipe / "exp" / "plan"
    assert {p.name for p in (exp / ".done").iterdir()} == {job["name"] for job in jobs}
    ran = {str(p.relative_to(recipe)) for p in (exp / "logs").glob("*.log")}
    assert ran == set().union(*(logs_of(job) for job in jobs))
    for job in jobs:
        for log in logs_of(job):
            text = (recipe / log).read_text(encoding="utf-8")
            assert text.rstrip().splitlines()[-1].startswith("# Ended (code 0)"), log
            assert job["argv"][2] in text.splitlines()[0]  # the log's `# command` header names the program
    assert (exp / "replay" / "s1" / "eng" / "wav.scp").is_file()


def test_a_failing_program_fails_its_step(recipe):
    args = ("--stop_stage", "3", "--tag", "failing", "--token_opts", "--vocab-size lots")
    out = run(recipe, *args)
    assert out.returncode != 0
    assert "tokens: failed" in out.stdout and "Stage 3" not in out.stdout
    done = recipe / "exp" / "failing" / ".done"
    assert (done / "probe_test").is_file() and not (done / "tokens").exists()
    log = (recipe / "exp" / "failing" / "logs" / "tokens.log").read_text(encoding="utf-8")
    assert "# Ended (code 0)" not in log and "# Ended (code" in log


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Path, Path]:
    """A recipe under a hostile folder name, with both protocols (so the fixed one's frontend override
    too): the folder above it, where no `x` may appear, and the recipe."""
    top = tmp_path_factory.mktemp("hostile")
    directory = top / HOSTILE_FOLDER
    directory.mkdir()
    plan = TINY_PLAN.replace("protocols: [retrained]", "protocols: [retrained, fixed]")
    return top, make_recipe(directory, plan, "tiny")


def no_file_x(top: Path) -> bool:
    return not [p for p in top.rglob("x")] and not (Path.cwd() / "x").exists()


def test_hostile_paths_are_data(hostile):
    """A hostile tag, data, dump and base dir: stages 1-4 run, every stage's jobs list, no shell acts on
    a path, and the probes get the base dir as a quoted YAML string."""
    top, recipe = hostile
    options = [arg for name, value in HOSTILE.items() for arg in (f"--{name}", value)]
    jobs = listing(recipe, *options)
    assert {job["stage"] for job in jobs} == set(range(1, 9))
    assert any(HOSTILE["data"] in arg for job in jobs for arg in job["argv"])
    probe = next(job for job in jobs if job["name"] == "probe_base")["argv"]
    key, _, value = probe[probe.index("--frontend_conf") + 1].partition("=")
    assert key == "path_or_url" and value.startswith('"')  # a quoted YAML string: the path, whatever it holds
    assert yaml.safe_load(value) == f"{HOSTILE['base_dir']}/upstream.pt"
    out = run(recipe, *options, *TINY_BUDGETS, "--stop_stage", "4")
    assert out.returncode == 0, out.stdout + out.stderr
    exp = recipe / "exp" / HOSTILE["tag"]
    assert {p.name for p in (exp / ".done").iterdir()} == {job["name"] for job in jobs if job["stage"] <= 4}
    assert (recipe / HOSTILE["data"] / "spa" / "train" / "wav.scp").is_file()
    assert (recipe / HOSTILE["dump"] / "probe" / "test" / "text").is_file()
    assert (recipe / HOSTILE["base_dir"] / "upstream.pt").is_file()
    assert (exp / "replay" / "s1" / "eng" / "wav.scp").is_file()
    assert no_file_x(top)


@pytest.mark.slow
def test_hostile_paths_reach_every_stage_unchanged(hostile):
    """All 8 stages with the hostile paths (stages 1-4 are done already after the test above): every
    probe's frontend reads the base dir and adapters it was given, byte for byte, both protocols decode
    and score, the report is written, and nothing ran."""
    top, recipe = hostile
    options = [arg for name, value in HOSTILE.items() for arg in (f"--{name}", value)]
    out = run(recipe, *options, *TINY_BUDGETS, timeout=1200)
    assert out.returncode == 0, out.stdout + out.stderr
    exp = recipe / "exp" / HOSTILE["tag"]
    assert {p.name for p in (exp / ".done").iterdir()} == {job["name"] for job in listing(recipe, *options)}
    base, adapters = f"{HOSTILE['base_dir']}/upstream.pt", f"exp/{HOSTILE['tag']}/ssl/s1/adapters"
    for stage, used in (("base", None), ("s1", adapters)):
        frontend = yaml.safe_load((exp / "probe" / stage / "config.yaml").read_text(encoding="utf-8"))["frontend_conf"]
        assert (frontend["path_or_url"], frontend["adapters"]) == (base, used)
    override = exp / "decode" / "fixed" / "s1" / "split1" / "1" / "config_frontend_override.yaml"  # block 1 of 1
    fixed = yaml.safe_load(override.read_text(encoding="utf-8"))
    assert fixed["frontend_conf"]["adapters"] == str((recipe / adapters).resolve())
    assert fixed["frontend_conf"]["path_or_url"] == str((recipe / base).resolve())
    for protocol in ("retrained", "fixed"):
        assert (exp / "score" / protocol / "s1").is_dir() and (exp / "report" / protocol / "RESULTS.md").is_file()
    assert no_file_x(top)


def test_a_base_dir_that_is_yaml_code_runs_nothing(recipe):
    """Issue 25's command: ESPnet read `--frontend_conf path_or_url=<base_dir>/upstream.pt` with PyYAML's
    unsafe loader, so this base dir ran `touch PWNED` in stage 6 (the probe then fails: no base model)."""
    run(recipe, "--stage", "6", "--stop_stage", "6", "--tag", "pwned", "--base_dir",
        '!!python/object/apply:os.system ["touch PWNED"] #', timeout=300)
    assert not [p for p in recipe.rglob("PWNED")] and not (Path.cwd() / "PWNED").exists()


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
    assert "targets_s1_dev_merge: done already" in out.stdout
    log = (recipe / "exp" / "plan" / "logs" / "ssl_s1.log").read_text(encoding="utf-8")
    assert "The training was resumed" in log
    assert (recipe / "exp" / "plan" / "ssl" / "s1" / "adapters" / "manifest.json").is_file()


def started(out: str) -> set[str]:
    return {line.split()[4].rstrip(":") for line in out.splitlines() if line.endswith(": started")}


def test_a_changed_option_reruns_its_step_and_the_steps_after_it(recipe):
    """Stages 1-4 under their own tag, then --prep_opts changes the data job's command: --list true
    says what a run would do, the run does it (data, then the probe data, token list and replay
    sample that read it, the log saying why; the corpus and the base model stay done), a run with
    the same options does nothing, and --force_stage 3 redoes the base model alone."""
    args = ("--stop_stage", "4", "--tag", "rerun")
    first = run(recipe, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    changed = (*args, "--prep_opts", "--lock_timeout 600")
    status = {job["name"]: (job["status"], job["why"]) for job in listing(recipe, *changed)}
    assert status == {"synth": ("done", ""), "data": ("stale", "options changed (argv)"),
                      "probe_train": ("stale", "upstream data runs"), "probe_dev": ("stale", "upstream data runs"),
                      "probe_test": ("stale", "upstream data runs"), "tokens": ("stale", "upstream probe_train runs"),
                      "base_model": ("done", ""), "replay_s1_eng": ("stale", "upstream data runs")}
    out = run(recipe, *changed)
    assert out.returncode == 0, out.stdout + out.stderr
    assert started(out.stdout) == {"data", "probe_train", "probe_dev", "probe_test", "tokens", "replay_s1_eng"}
    assert "] data: runs again: options changed (argv)" in out.stdout
    assert "] data: removed its earlier outputs: data/eng/train " in out.stdout
    assert "] probe_train: runs again: upstream data reran" in out.stdout
    assert "] tokens: runs again: upstream probe_train reran" in out.stdout
    assert "] synth: done already" in out.stdout and "] base_model: done already" in out.stdout
    record = json.loads((recipe / "exp" / "rerun" / ".done" / "data").read_text(encoding="utf-8"))
    assert record["spec"]["argv"][-2:] == ["--lock_timeout", "600"]
    again = run(recipe, *changed)
    assert again.returncode == 0 and started(again.stdout) == set(), again.stdout
    forced = run(recipe, *changed, "--force_stage", "3")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert started(forced.stdout) == {"base_model"}
    assert "] base_model: runs again: forced (--force_stage 3)" in forced.stdout


def test_the_quality_probe_reads_the_base_model_with_every_label(tmp_path):
    """A plan with a labelled budget and a quality probe, through all 8 stages: the quality probe trains
    on every labelled utterance where the stages' probes get the budget, and the report prints it."""
    plan = TINY_PLAN.replace("seed: 0", "seed: 0\nprobe_minutes: 0.05\nquality_probe: conf/probe/probe_cpu_demo.yaml")
    recipe = make_recipe(tmp_path, plan, "tiny")
    out = run(recipe, *TINY_BUDGETS, "--routing_ceiling", "false", "--max_jobs", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    labelled = (recipe / "dump" / "probe" / "train" / "text").read_text(encoding="utf-8").splitlines()
    every = (recipe / "dump" / "probe" / "train_all" / "text").read_text(encoding="utf-8").splitlines()
    assert set(labelled) < set(every)
    exp = recipe / "exp" / "plan"
    frontend = yaml.safe_load((exp / "quality" / "probe" / "config.yaml").read_text(encoding="utf-8"))
    assert frontend["frontend_conf"]["adapters"] is None and frontend["train_data_path_and_name_and_type"][0][0] == \
        "dump/probe/train_all/wav.scp"
    score = json.loads((exp / "quality" / "score" / "score.json").read_text(encoding="utf-8"))
    assert set(score) == {"eng", "spa"}
    report = (exp / "report" / "retrained" / "RESULTS.md").read_text(encoding="utf-8")
    section = report.split("## The base model with every label\n\n")[1]
    assert [row.split(" | ")[0] for row in section.splitlines()[2:5]] == ["| eng", "| spa", "| all"]
    assert f"| eng | {score['eng']['cer']:.2f} |" in section
