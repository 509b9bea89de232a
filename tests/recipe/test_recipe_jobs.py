"""The recipe's jobs as `python -m lamer.bin.plan jobs` lists them, from the plan and options
alone (no data or outputs on disk): names, queues, GPUs, array sizes, stage ranges, the systems
of --train_on and --base_exp, for the demo plan, the two-stage near plan and the real-data plans."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from lamer.bin.plan import main as plan_main
from lamer.recipe.executor import launcher_command
from lamer.recipe.jobs import Job, RecipeOptions, recipe_jobs
from lamer.recipe.plan import Replay, load_plan

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "egs2" / "mini_lamer" / "ssl1"
KEYS = ["name", "stage", "queue", "gpus", "nj", "log", "argv", "after", "inputs", "outputs", "configs", "runtime"]
# Every stage after the first needs a plan of two: the near plan (the demo's before issue 26),
# listed under the demo's tag, so that its jobs write under exp/plan as the demo's do
TWO_STAGES = DEMO / "conf" / "plan_near.yaml"
# the real-data recipes' settings (their run.sh)
REAL_OPTS = ["--nj", "8", "--target_layer", "9", "--num_clusters", "500", "--prep_opts", "--lang-dir local/lang",
             "--token_opts", "--lang-dir local/lang"]


def listed(plan: Path, *options: str, capsys) -> list[dict]:
    """The jobs printed by `plan jobs`, each checked for the documented keys."""
    if plan == TWO_STAGES and "--tag" not in options:
        options = ("--tag", "plan", *options)
    assert plan_main(["jobs", "--plan", str(plan), "--root", "corpus/cv", *options]) == 0
    jobs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    for job in jobs:
        assert list(job) == KEYS + (["status", "why"] if "--status" in options else [])
    assert len({job["name"] for job in jobs}) == len(jobs)
    return jobs


def by_name(jobs: list[dict]) -> dict[str, dict]:
    return {job["name"]: job for job in jobs}


def spec_of(jobs: dict[str, dict], step: str) -> dict:
    """The spec that the job ``<step>_spec`` writes for ``step`` (``--spec`` of its argv)."""
    kind, path, text = jobs[f"{step}_spec"]["argv"]
    assert kind == "write" and jobs[step]["argv"][jobs[step]["argv"].index("--spec") + 1] == path
    return json.loads(text)


def real_recipe(tmp_path: Path, name: str) -> Path:
    """The real-data recipe's plan, its base checkpoint made to exist (a placeholder file)."""
    recipe = ROOT / "egs2" / name / "ssl1"
    (tmp_path / "conf").mkdir()
    for sub in ("ssl", "probe", "lamer"):
        (tmp_path / "conf" / sub).symlink_to(recipe / "conf" / sub)
    checkpoint = tmp_path / "hubert-base.pt"
    checkpoint.write_bytes(b"")
    text = (recipe / "conf" / "plan.yaml").read_text(encoding="utf-8")
    (tmp_path / "conf" / "plan.yaml").write_text(text.replace("/path/to/hubert-base-ls960", str(checkpoint)))
    return tmp_path / "conf" / "plan.yaml"


def test_a_two_stage_plan_lists_every_stage_in_order(capsys):
    jobs = listed(TWO_STAGES, "--synth", "true", capsys=capsys)
    names = [job["name"] for job in jobs]
    assert names[:7] == ["synth", "data", "probe_train", "probe_dev", "probe_test", "tokens", "base_model"]
    assert [job["stage"] for job in jobs] == sorted(job["stage"] for job in jobs)
    assert [n for n in names if n.startswith("replay_")] == [
        "replay_s1_eng", "replay_s1_fra", "replay_s1_deu",
        "replay_s2_eng", "replay_s2_fra", "replay_s2_deu", "replay_s2_spa", "replay_s2_ita"]
    assert [n for n in names if n.startswith("targets_s1")] == [
        "targets_s1_split", "targets_s1_sample", "targets_s1_fit", "targets_s1_label", "targets_s1_merge",
        "targets_s1_dev_split", "targets_s1_dev_label", "targets_s1_dev_merge"]
    assert names[-8:] == ["expert_usage", "routing_ceiling_s1", "routing_ceiling_s2", "routing_vs_ceiling",
                          "results_retrained", "report_retrained", "results_fixed", "report_fixed"]
    jobs = by_name(jobs)
    # every program goes through a queue; only links and small files are written in place
    for job in jobs.values():
        if job["queue"] is None:
            assert job["argv"][0] in ("link", "write") and job["log"] is None
        else:
            assert job["queue"] in ("train", "cuda", "decode") and job["argv"][:2] == ["python", "-m"]
            assert job["log"].startswith("exp/plan/logs/")
    for name in ("ssl_s1", "ssl_s2", "probe_base", "probe_s1", "probe_s2"):
        assert jobs[name]["queue"] == "cuda"
    # the demo imports its shipped base model, hash checked: no GPU job
    assert jobs["base_model"]["argv"][2] == "lamer.bin.export_model" and "--sha256" in jobs["base_model"]["argv"]
    for name in ("base_model", "probe_test", "expert_usage", "score_retrained_s1", "results_fixed", "report_fixed"):
        assert jobs[name]["queue"] == "train"
    assert jobs["decode"]["queue"] == "decode"
    assert jobs["score_fixed_base"]["argv"] == ["link", "exp/plan/score/retrained/base", "exp/plan/score/fixed/base"]
    # stage s2 starts from s1's adapters (the demo method keeps adapters), trains on replay too
    ssl = jobs["ssl_s2"]["argv"]
    assert ssl[ssl.index("--init_adapters") + 1] == "exp/plan/ssl/s1/adapters"
    assert spec_of(jobs, "ssl_s2")["replay"]["utt2lang"] == "exp/plan/targets/s2/train/replay_utt2lang"
    assert ssl[ssl.index("--resume") + 1] == "true"
    split = jobs["targets_s2_split"]["argv"]
    assert split[split.index("--adapters") + 1] == "exp/plan/ssl/s1/adapters"
    assert split.count("--replay_data_dir") == 5
    dev = jobs["targets_s2_dev_split"]["argv"]
    assert dev[dev.index("--codebook") + 1] == "exp/plan/targets/s2/train" and "--replay_data_dir" not in dev


def test_decode_table_lists_each_pair_once(capsys):
    jobs = by_name(listed(TWO_STAGES, "--stage", "7", "--stop_stage", "7", capsys=capsys))
    kind, path, text = jobs["decode_jobs"]["argv"]
    assert (kind, path) == ("write", "exp/plan/decode/jobs.tsv")
    rows = [line.split("\t") for line in text.splitlines()]
    assert [row[0] for row in rows] == ["exp/plan/decode/retrained/base", "exp/plan/decode/retrained/s1",
                                        "exp/plan/decode/retrained/s2", "exp/plan/decode/fixed/s1",
                                        "exp/plan/decode/fixed/s2"]
    # fixed: the base probe reads the stage's adapters
    assert rows[3][1:] == ["exp/plan/probe/base/config.yaml", "exp/plan/probe/base/valid.loss.ave.pth",
                           "exp/plan/ssl/s1/adapters", "exp/plan/base/upstream.pt"]
    assert rows[1][3:] == ["-", "-"]


def test_gpus_asked_of_the_queue(capsys):
    plan = TWO_STAGES
    cpu = listed(plan, capsys=capsys)
    assert all(job["gpus"] == 0 for job in cpu)
    assert not any("cuda" in job["argv"] for job in cpu)
    jobs = by_name(listed(plan, "--ngpu", "2", capsys=capsys))
    for name in ("ssl_s1", "ssl_s2", "probe_base", "probe_s2"):
        assert (jobs[name]["queue"], jobs[name]["gpus"]) == ("cuda", 2)
        assert jobs[name]["argv"][jobs[name]["argv"].index("--ngpu") + 1] == "2"
    for name in ("targets_s1_sample", "targets_s1_label", "targets_s2_dev_label"):
        assert (jobs[name]["queue"], jobs[name]["gpus"]) == ("cuda", 1)
        assert jobs[name]["argv"][-2:] == ["--device", "cuda"]
    for name in ("base_model", "targets_s1_split", "targets_s1_fit", "targets_s1_merge", "data", "score_fixed_s1"):
        assert jobs[name]["gpus"] == 0 and jobs[name]["queue"] == "train"  # base_model: the shipped one, imported
    decode = jobs["decode"]
    assert decode["gpus"] == 0 and decode["argv"][decode["argv"].index("--ngpu") + 1] == "0"
    decode = by_name(listed(plan, "--gpu_inference", "true", capsys=capsys))["decode"]
    assert decode["gpus"] == 1 and decode["argv"][decode["argv"].index("--ngpu") + 1] == "1"


def test_arrays_of_nj_and_inference_nj(capsys):
    jobs = by_name(listed(TWO_STAGES, "--nj", "2", "--inference_nj", "2", capsys=capsys))
    for name in ("targets_s1_sample", "targets_s1_label", "targets_s1_dev_label"):
        job = jobs[name]
        assert job["nj"] == 2 and job["argv"][job["argv"].index("--job") + 1] == "JOB"
        assert job["log"] == f"exp/plan/logs/{name}.JOB.log"
    split = jobs["targets_s1_split"]["argv"]
    assert split[split.index("--nj") + 1] == "2"
    assert jobs["targets_s1_fit"]["nj"] == jobs["targets_s1_merge"]["nj"] == 1
    decode, merge = jobs["decode"], jobs["decode_merge"]
    assert decode["nj"] == 2 and decode["argv"][-6:] == ["--jobs", "exp/plan/decode/jobs.tsv", "--nj", "2",
                                                         "--job", "JOB"]
    assert merge["nj"] == 1 and merge["argv"][3:] == ["merge", "--jobs", "exp/plan/decode/jobs.tsv", "--nj", "2"]
    assert merge["queue"] == "train"


def test_stage_range_filters_jobs(capsys):
    jobs = listed(TWO_STAGES, "--stage", "6", "--stop_stage", "7", capsys=capsys)
    assert {job["stage"] for job in jobs} == {6, 7}
    assert listed(TWO_STAGES, "--stage", "9", capsys=capsys) == []


def test_train_on_none_keeps_the_base_model(capsys):
    jobs = listed(TWO_STAGES, "--train_on", "none", "--tag", "frozen", capsys=capsys)
    named = by_name(jobs)
    assert "expert_usage" not in named and not any(job["stage"] in (4, 5) for job in jobs)
    assert named["probe_s1"]["argv"] == ["link", "exp/frozen/probe/base", "exp/frozen/probe/s1"]
    assert named["score_fixed_s2"]["argv"] == ["link", "exp/frozen/score/retrained/base", "exp/frozen/score/fixed/s2"]
    rows = named["decode_jobs"]["argv"][2].splitlines()
    assert [row.split("\t")[0] for row in rows] == ["exp/frozen/decode/retrained/base"]


def test_train_on_old_and_all(capsys):
    plan = TWO_STAGES
    old = by_name(listed(plan, "--train_on", "old", capsys=capsys))
    assert not any(name.startswith("replay_") for name in old)
    split = old["targets_s2_split"]["argv"]
    assert [split[i + 1] for i, a in enumerate(split) if a == "--data_dir"] == [
        "data/eng/train", "data/fra/train", "data/deu/train"]
    assert "--replay_data_dir" not in split and spec_of(old, "ssl_s2")["replay"] is None
    joint = by_name(listed(plan, "--train_on", "all", capsys=capsys))
    split = joint["targets_s2_split"]["argv"]
    assert [split[i + 1] for i, a in enumerate(split) if a == "--data_dir"] == [
        f"data/{lang}/train" for lang in ("eng", "fra", "deu", "spa", "ita", "nld", "por")]


def test_base_exp_and_base_dir_share_the_base(capsys):
    jobs = by_name(listed(TWO_STAGES, "--base_exp", "exp/ab/frozen", "--base_dir", "exp/ab/base",
                          "--tag", "ab/lamer", "--stage", "5", capsys=capsys))
    assert jobs["probe_base"]["argv"] == ["link", "exp/ab/frozen/probe/base", "exp/ab/lamer/probe/base"]
    assert jobs["score_retrained_base"]["argv"] == ["link", "exp/ab/frozen/score/retrained/base",
                                                    "exp/ab/lamer/score/retrained/base"]
    assert jobs["score_fixed_base"]["argv"][1] == "exp/ab/frozen/score/fixed/base"
    assert "exp/ab/lamer/decode/retrained/base" not in jobs["decode_jobs"]["argv"][2]
    ssl = jobs["ssl_s1"]["argv"]
    assert ssl[ssl.index("--upstream") + 1] == "exp/ab/base/upstream.pt"


def test_base_exp_shares_the_quality_probe_too(capsys):
    """The demo plan's quality probe reads the base model: with --base_exp its scores are linked."""
    own = by_name(listed(DEMO / "conf" / "plan.yaml", "--stage", "6", capsys=capsys))
    argv = own["probe_quality"]["argv"]
    assert argv[argv.index("--output_dir") + 1] == "exp/plan/quality/probe"
    assert argv[argv.index("--token_list") + 1] == "dump/tokens/char_all/tokens.txt"
    rows = own["decode_jobs"]["argv"][2].splitlines()
    assert "\t".join(["exp/plan/quality/decode", "exp/plan/quality/probe/config.yaml",
                      "exp/plan/quality/probe/valid.cer_ctc.ave.pth", "-", "-"]) in rows
    jobs = by_name(listed(DEMO / "conf" / "plan.yaml", "--base_exp", "exp/ab/frozen", "--tag", "ab/lamer",
                          "--stage", "6", capsys=capsys))
    assert "probe_quality" not in jobs and "quality" not in jobs["decode_jobs"]["argv"][2]
    assert jobs["score_quality"]["argv"] == ["link", "exp/ab/frozen/quality/score", "exp/ab/lamer/quality/score"]
    assert jobs["report_retrained"]["argv"][-3:-2] == ["exp/ab/lamer/quality/score"]


def test_probe_seed_seeds_the_probes_apart_from_the_training(capsys):
    jobs = by_name(listed(TWO_STAGES, "--seed", "2", "--probe_seed", "7", capsys=capsys))
    for name in ("probe_base", "probe_s1", "probe_s2"):
        argv = jobs[name]["argv"]
        assert argv[argv.index("--seed") + 1] == "7", name
    for name in ("ssl_s1", "targets_s1_split", "replay_s1_eng"):
        argv = jobs[name]["argv"]
        assert argv[argv.index("--seed") + 1] == "2", name
    default = by_name(listed(TWO_STAGES, "--seed", "2", capsys=capsys))["probe_s1"]["argv"]
    assert default[default.index("--seed") + 1] == "2"  # without --probe_seed the probes take --seed, as before


def test_ssl_exp_links_the_training_of_another_probe_seed(capsys):
    """Another probe seed of the same training: its SSL stages linked, its probes trained on them."""
    jobs = by_name(listed(TWO_STAGES, "--tag", "ab/seed0_probe1/lamer", "--ssl_exp",
                          "exp/ab/seed0_probe0/lamer", "--probe_seed", "1", "--base_exp", "exp/ab/seed0_probe1/frozen",
                          "--stage", "4", capsys=capsys))
    assert jobs["ssl_s1"]["argv"] == ["link", "exp/ab/seed0_probe0/lamer/ssl/s1", "exp/ab/seed0_probe1/lamer/ssl/s1"]
    assert jobs["ssl_s2"]["argv"][0] == "link"
    assert not [name for name in jobs if name.startswith(("replay_", "targets_", "method_config"))]
    assert 'adapters="exp/ab/seed0_probe1/lamer/ssl/s2/adapters"' in jobs["probe_s2"]["argv"]
    assert "ssl_s2" in jobs["probe_s2"]["after"] and "ssl_s2" in jobs["expert_usage"]["after"]


def test_a_full_fine_tuning_method_chains_checkpoints(capsys):
    jobs = by_name(listed(TWO_STAGES, "--method", str(DEMO / "conf" / "ablation" / "ft.yaml"),
                          "--seed", "2", capsys=capsys))
    ssl = jobs["ssl_s2"]["argv"]
    assert ssl[ssl.index("--upstream") + 1] == "exp/plan/ssl/s1/upstream.pt" and "--init_adapters" not in ssl
    assert ssl[ssl.index("--seed") + 1] == "2"
    assert "--adapters" not in jobs["targets_s2_split"]["argv"]
    assert 'path_or_url="exp/plan/ssl/s2/upstream.pt"' in jobs["probe_s2"]["argv"]
    row = jobs["decode_jobs"]["argv"][2].splitlines()[-1].split("\t")
    assert row[3:] == ["none", "exp/plan/ssl/s2/upstream.pt"]
    assert "expert_usage" not in jobs


def test_replay_fraction_share_and_lang_map(tmp_path):
    plan = load_plan(TWO_STAGES)
    plan.replay = Replay("fraction", 0.1, "random", 0.3)
    plan.lang_map = {"en": "eng"}
    jobs = {job.name: job for job in recipe_jobs(plan, RecipeOptions(root="corpus/cv"))}
    replay = list(jobs["replay_s2_eng"].argv)
    assert replay[replay.index("--fraction"):replay.index("--strategy")] == [
        "--fraction", "0.1", "--of", "data/nld/train", "--of", "data/por/train"]
    assert json.loads(jobs["ssl_s1_spec"].argv[2])["replay"]["share"] == 0.3
    data = list(jobs["data"].argv)
    assert data[data.index("--lang_map") + 1] == "en=eng"


@pytest.mark.parametrize("name, corpus, first", [("commonvoice", "commonvoice", "en"), ("fleurs", "fleurs", "en_us")])
def test_real_data_recipes(tmp_path, capsys, name, corpus, first):
    plan = real_recipe(tmp_path, name)
    jobs = by_name(listed(plan, *REAL_OPTS, "--ngpu", "2", "--inference_nj", "4", "--gpu_inference", "true",
                          capsys=capsys))
    data = jobs["data"]["argv"]
    assert data[3] == corpus and data[data.index("--langs") + 1].split(",")[0] == first
    assert data[-2:] == ["--lang-dir", "local/lang"] and data[data.index("--nj") + 1] == "8"
    assert jobs["base_model"]["argv"][2] == "lamer.bin.export_model" and jobs["base_model"]["queue"] == "train"
    assert (jobs["ssl_s1"]["gpus"], jobs["probe_base"]["gpus"], jobs["decode"]["gpus"]) == (2, 2, 1)
    assert (jobs["targets_s1_label"]["nj"], jobs["targets_s1_label"]["gpus"], jobs["decode"]["nj"]) == (8, 1, 4)
    ssl = jobs["ssl_s1"]["argv"]
    assert ssl[ssl.index("--num_classes") + 1] == "500"
    assert "expert_usage" in jobs


def test_bad_options_are_refused(capsys):
    assert plan_main(["jobs", "--plan", str(DEMO / "conf" / "plan.yaml"), "--root", "x", "--nj", "0"]) == 1
    assert "--nj 0" in capsys.readouterr().err
    assert plan_main(["jobs", "--plan", str(DEMO / "conf" / "plan.yaml"), "--root", "x", "--train_on", "some"]) == 1
    assert "--train_on some: expected one of new, old, all, none" in capsys.readouterr().err
    assert plan_main(["jobs", "--plan", str(DEMO / "conf" / "plan.yaml")]) == 1
    assert "no data root" in capsys.readouterr().err
    assert plan_main(["jobs", "--plan", str(DEMO / "conf" / "plan.yaml"), "--root", "x", "--train_on", "none",
                      "--ssl_exp", "exp/other"]) == 1
    assert "--ssl_exp exp/other: --train_on none trains no SSL stage to share" in capsys.readouterr().err
    assert plan_main(["jobs", "--plan", str(DEMO / "conf" / "plan.yaml"), "--root", "x", "--tag", "ab",
                      "--ssl_exp", "exp/ab/"]) == 1
    assert "--ssl_exp exp/ab/: the experiment itself" in capsys.readouterr().err


def test_expdir_and_python_name_where_experiments_go_and_what_runs_them(capsys):
    """asr.sh's --expdir and --python: every queued job runs the given interpreter, every path of the
    experiment is under <expdir>/<tag>; `plan options` lists both, so ssl.sh passes them on."""
    assert plan_main(["options"]) == 0
    assert {"expdir", "python", "dump", "data"} <= set(capsys.readouterr().out.split())
    jobs = listed(TWO_STAGES, "--expdir", "runs/e", "--python", "/opt/py 3/bin/python3", capsys=capsys)
    queued = [job for job in jobs if job["queue"] is not None]
    assert queued and all(job["argv"][:2] == ["/opt/py 3/bin/python3", "-m"] for job in queued)
    assert all(job["log"].startswith("runs/e/plan/logs/") for job in queued)
    outputs = [path for job in jobs for path in job["outputs"]]
    assert all(not path.startswith("exp/") for path in outputs)
    assert any(path.startswith("runs/e/plan/") for path in outputs)
    default = listed(TWO_STAGES, capsys=capsys)
    assert all(job["argv"][0] == "python" for job in default if job["queue"] is not None)
    for empty in ("--expdir", "--python"):
        assert plan_main(["jobs", "--plan", str(DEMO / "conf" / "plan.yaml"), "--root", "x", empty, ""]) == 1
        assert capsys.readouterr().err == f"plan: error: {empty} is empty: give a value (e.g. {empty} " + (
            "exp)\n" if empty == "--expdir" else "python3)\n")


def test_a_method_config_that_gives_a_key_twice_is_refused_with_file_and_line(tmp_path, capsys):
    """Whether a stage leaves adapters is read from the method config: a second ssl_adapter is no silent override."""
    method = tmp_path / "method.yaml"
    method.write_text("ssl_adapter: none\noptim: adam\nssl_adapter: lamer\n")
    assert plan_main(["jobs", "--plan", str(DEMO / "conf" / "plan.yaml"), "--root", "x", "--method", str(method)]) == 1
    assert capsys.readouterr().err == (f"plan: error: method config {method}:3: key 'ssl_adapter' is given twice in "
                                       "one mapping (first at line 1); keep one\n")


def test_launcher_command_is_the_queue_and_the_job():
    job = Job("targets_s1_label", 5, "cuda", 1, 3, "exp/p q/logs/x.JOB.log", ("prog", "--job", "JOB", "a;b"))
    assert launcher_command(job, {"cuda": "python -m lamer.bin.launch --config 'conf/my slurm.conf'"}) == [
        "python", "-m", "lamer.bin.launch", "--config", "conf/my slurm.conf", "--gpu", "1", "JOB=1:3",
        "exp/p q/logs/x.JOB.log", "prog", "--job", "JOB", "a;b"]
    single = Job("score", 7, "train", 0, 1, "l.log", ("prog",))
    assert launcher_command(single, {"train": "run.pl"}) == ["run.pl", "--gpu", "0", "l.log", "prog"]


def test_stage_3_checks_the_plans_sha256_of_an_imported_checkpoint(tmp_path, monkeypatch, capsys):
    """`plan jobs` gives export_model the plan's base_model.sha256; that job then imports the
    checkpoint it was made for and refuses one whose bytes changed."""
    from lamer.bin import export_model
    from lamer.checksum import file_sha256
    from tests.recipe.recipes import TINY_PLAN, make_recipe

    template = TINY_PLAN.replace("{{checkpoint: {checkpoint}}}", "{{checkpoint: {checkpoint}, sha256: SHA}}")
    recipe = make_recipe(tmp_path, template, "tiny")
    plan, checkpoint = recipe / "conf" / "plan.yaml", recipe / "tiny.pt"
    digest = file_sha256(checkpoint)
    plan.write_text(plan.read_text(encoding="utf-8").replace("SHA", digest), encoding="utf-8")
    base_model, = listed(plan, "--stage", "3", "--stop_stage", "3", capsys=capsys)
    argv = base_model["argv"]
    assert argv[:3] == ["python", "-m", "lamer.bin.export_model"]
    assert argv[argv.index("--upstream") + 1] == str(checkpoint) and argv[argv.index("--sha256") + 1] == digest

    monkeypatch.chdir(recipe)
    assert export_model.main(argv[3:]) == 0 and (recipe / "exp" / "plan" / "base" / "upstream.pt").is_file()
    checkpoint.write_bytes(checkpoint.read_bytes().replace(b"model_weight", b"model_weighs"))
    assert export_model.main([*argv[3:-1], str(recipe / "exp" / "other")]) == 1
    assert f"expected {digest}, actual {file_sha256(checkpoint)}" in capsys.readouterr().err
    assert not (recipe / "exp" / "other").exists()


def test_continual_training_gets_the_language_of_every_utterance(capsys):
    """The targets write 'lang' (indices into the plan's languages) and ssl_train reads it, for the
    routers' language routing and specialisation loss."""
    jobs = by_name(listed(TWO_STAGES, capsys=capsys))
    for name in ("targets_s1_split", "targets_s2_dev_split"):
        split = jobs[name]["argv"]
        assert split[split.index("--languages") + 1] == "eng,fra,deu,spa,ita,nld,por"
    ssl = jobs["ssl_s2"]["argv"]
    assert "exp/plan/targets/s2/train/lang,lang,text_int" in ssl
    assert "exp/plan/targets/s2/dev/lang,lang,text_int" in ssl


def test_a_pretrained_base_model_is_a_gpu_job_of_the_base_languages(tmp_path, capsys):
    """base_model: {pretrain: CONFIG} runs pretrain_base on the base languages' train and dev dirs,
    through $cuda_cmd with the --ngpu GPUs (the demo imports a checkpoint instead)."""
    from tests.recipe.recipes import TINY_PLAN, make_recipe

    template = TINY_PLAN.replace("{{checkpoint: {checkpoint}}}", "{{pretrain: conf/ssl/base_pretrain.yaml}}")
    recipe = make_recipe(tmp_path, template, "tiny")
    base_model = by_name(listed(recipe / "conf" / "plan.yaml", "--ngpu", "2", capsys=capsys))["base_model"]
    argv = base_model["argv"]
    assert (base_model["queue"], base_model["gpus"]) == ("cuda", 2) and argv[2] == "lamer.bin.pretrain_base"
    assert argv[argv.index("--train_dir") + 1] == "data/eng/train"
    assert argv[argv.index("--valid_dir") + 1] == "data/eng/dev"
    assert argv[argv.index("--ngpu") + 1] == "2"
    assert set(base_model["after"]) == {"data"}


@pytest.mark.parametrize("options, message", [
    (["--tag", "a\nb"], "--tag 'a\\nb': holds a control character such as a newline"),
    (["--tag=-x"], "--tag '-x': starts with '-'"),
    (["--tag", "my.JOB.run"], "--tag 'my.JOB.run': holds the word JOB, which the launcher replaces"),
    (["--tag", "my_JOB"], "--tag 'my_JOB': holds the word JOB"),
    (["--data", "data/JOB"], "--data 'data/JOB': holds the word JOB"),
])
def test_names_that_would_not_survive_are_refused(options, message, capsys):
    assert plan_main(["jobs", "--plan", str(DEMO / "conf" / "plan.yaml"), "--root", "x", *options]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_a_tag_that_holds_job_inside_a_word_is_kept(capsys):
    jobs = by_name(listed(TWO_STAGES, "--tag", "myJOBrun", capsys=capsys))
    assert jobs["targets_s1_label"]["log"] == "exp/myJOBrun/logs/targets_s1_label.JOB.log"


def test_list_says_what_a_run_would_do(tmp_path, monkeypatch, capsys):
    """`plan jobs --status true` (ssl.sh --list true): done, stale (and why) or to run, from the
    records of exp/<tag>/.done, as a run with these options would find them."""
    from lamer.layout import Layout
    from lamer.recipe.records import Records, config_hashes, job_spec

    monkeypatch.chdir(tmp_path)
    plan = TWO_STAGES
    options = ["--stop_stage", "3"]
    finished = recipe_jobs(load_plan(plan), RecipeOptions(root="corpus/cv", stop_stage=3, tag="plan"))
    records = Records(Layout("exp/plan"))
    for job in finished:  # stages 1-3 ran with these options, but tokens did not finish
        if job.name != "tokens":
            records.write(job, job_spec(job, config_hashes([job])))
    status = {job["name"]: (job["status"], job["why"]) for job in listed(plan, *options, "--status", "true",
                                                                        capsys=capsys)}
    assert status == {"data": ("done", ""), "probe_train": ("done", ""), "probe_dev": ("done", ""),
                      "probe_test": ("done", ""), "tokens": ("to run", ""), "base_model": ("done", "")}
    status = {job["name"]: (job["status"], job["why"]) for job in listed(
        plan, *options, "--prep_opts", "--lock_timeout 5", "--force_stage", "3", "--status", "true", capsys=capsys)}
    assert status == {"data": ("stale", "options changed (argv)"), "probe_train": ("stale", "upstream data runs"),
                      "probe_dev": ("stale", "upstream data runs"), "probe_test": ("stale", "upstream data runs"),
                      "tokens": ("to run", ""), "base_model": ("stale", "forced (--force_stage 3)")}
    # without --status: the jobs alone, from the plan and options (nothing on disk is read)
    assert "status" not in listed(plan, *options, capsys=capsys)[0]


def test_more_data_workers_leave_the_prepared_data_done(tmp_path, monkeypatch, capsys):
    """`--nj` of data preparation says how many workers prepare the languages, not what they write:
    a finished `data` stays done when it changes (the data dirs every experiment shares are kept)."""
    from lamer.layout import Layout
    from lamer.recipe.records import Records, config_hashes, job_spec

    monkeypatch.chdir(tmp_path)
    plan = TWO_STAGES
    finished = recipe_jobs(load_plan(plan), RecipeOptions(root="corpus/cv", stop_stage=1))
    records = Records(Layout("exp/plan"))
    for job in finished:
        records.write(job, job_spec(job, config_hashes([job])))
    status = {job["name"]: (job["status"], job["why"]) for job in listed(
        plan, "--stop_stage", "1", "--nj", "7", "--status", "true", capsys=capsys)}
    assert status == {"data": ("done", "")}
    status = {job["name"]: job["status"] for job in listed(
        plan, "--stop_stage", "1", "--prep_opts", "--lock_timeout 5", "--status", "true", capsys=capsys)}
    assert status == {"data": "stale"}


def test_ssl_stages_read_the_method_resolved_when_the_plan_was_checked(capsys):
    """Bookkeeping steps write what the plan check resolved: the method's training options to
    exp/<tag>/config/method.yaml (its record holds the text and the hashes of the files it was
    resolved from), and each SSL stage's spec (the adapter, its config whole, the replay) to
    exp/<tag>/config/ssl_<stage>.json; every SSL stage's ssl_train reads both, and waits for them."""
    from lamer.ssl.train_spec import ReplaySpec, SSLTrainSpec, train_spec_from_dict

    jobs = by_name(listed(TWO_STAGES, capsys=capsys))
    plan = load_plan(TWO_STAGES)
    write = jobs["method_config"]
    assert (write["stage"], write["queue"], write["outputs"]) == (5, None, ["exp/plan/config/method.yaml"])
    assert write["argv"] == ["write", "exp/plan/config/method.yaml", plan.method.options_text()]
    assert "ssl_adapter" not in write["argv"][2] and "optim: adam\n" in write["argv"][2]
    assert write["configs"] == [str(DEMO / "conf" / "ssl" / "demo.yaml"),
                                str(DEMO / "conf" / "ssl" / ".." / "lamer" / "lamer_base.yaml")]
    for name in ("ssl_s1", "ssl_s2"):
        argv = jobs[name]["argv"]
        assert argv[argv.index("--config") + 1] == "exp/plan/config/method.yaml"
        assert argv[argv.index("--spec") + 1] == f"exp/plan/config/{name}.json"
        assert {"method_config", f"{name}_spec"} <= set(jobs[name]["after"]) and jobs[name]["configs"] == []
        assert not {"--ssl_adapter", "--ssl_adapter_conf", "--replay_share", "--replay_utt2lang"} & set(argv)
        replay = ReplaySpec(f"exp/plan/targets/{name[4:]}/train/replay_utt2lang", 0.2)
        assert train_spec_from_dict(spec_of(jobs, name), "spec") == SSLTrainSpec("lamer", plan.method.adapter_config,
                                                                                 replay)
        assert jobs[f"{name}_spec"]["outputs"] == [f"exp/plan/config/{name}.json"]
    assert "method_config" not in by_name(listed(TWO_STAGES, "--train_on", "none", capsys=capsys))


def test_ssl_train_opts_may_set_the_adapter_but_not_what_else_the_spec_gives(capsys):
    """--ssl_adapter and --ssl_adapter_conf of --ssl_train_opts go into the spec (checked there, once,
    and left out of ssl_train's command line); a preset, the replay and a spec are refused."""
    plan = str(DEMO / "conf" / "plan.yaml")
    jobs = by_name(listed(TWO_STAGES, "--ssl_train_opts", "--ssl_adapter none --max_epoch 2",
                          capsys=capsys))
    assert "--init_adapters" not in jobs["ssl_s2"]["argv"] and "expert_usage" not in jobs
    assert spec_of(jobs, "ssl_s1")["adapter"] == "none" and spec_of(jobs, "ssl_s1")["adapter_config"] is None
    assert jobs["ssl_s1"]["argv"][-2:] == ["--max_epoch", "2"] and "--ssl_adapter" not in jobs["ssl_s1"]["argv"]
    jobs = by_name(listed(TWO_STAGES, "--ssl_train_opts",
                          "--ssl_adapter_conf rank=8 --ssl_adapter_conf=layer_targets.0-1=[fc2]", capsys=capsys))
    config = spec_of(jobs, "ssl_s1")["adapter_config"]
    assert (config["rank"], config["layer_targets"], config["load_balance_weight"]) == (8, {"0-1": ["fc2"]}, 0.01)
    assert "--ssl_adapter_conf" not in jobs["ssl_s1"]["argv"]
    assert plan_main(["jobs", "--plan", plan, "--root", "x", "--ssl_train_opts", "--ssl_adapter_conf rank=0"]) == 1
    assert capsys.readouterr().err.startswith("plan: error: --ssl_train_opts '--ssl_adapter_conf rank=0': "
                                              "--ssl_adapter_conf: invalid Lamer config: rank must be >= 1, got 0")
    for option, says in (("--ssl_adapter_preset p.yaml", "--ssl_adapter_preset: the recipe resolves the method "
                                                         "config's preset into each SSL step's spec"),
                         ("--replay_share 0.5", "--replay_share: the recipe gives each SSL step the plan's "
                                                "replay.share in its spec; change it with ssl.sh --replay_share"),
                         ("--spec x.json", "--spec: the recipe writes each SSL step's spec")):
        assert plan_main(["jobs", "--plan", plan, "--root", "x", "--ssl_train_opts", option]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"--ssl_train_opts '{option}': {says}" in err
    assert plan_main(["jobs", "--plan", plan, "--root", "x", "--ssl_train_opts=--ssl_adapter=prefix"]) == 1
    assert capsys.readouterr().err == "plan: error: --ssl_adapter prefix: expected one of none, lamer\n"


def test_allocation_and_share_reach_ssl_train_read_once(tmp_path, monkeypatch):
    """From the plan check to the model and the sampler's share ssl_train builds for stage s1 (the demo
    plan, on the tiny upstream): the method config and its preset are each read once, by the plan
    check; ssl_train reads the spec file once; its experts per layer are the preset's allocation and
    its replay share the plan's, typed fields of the spec."""
    from lamer.adapters import experts_per_layer, parameter_report
    from lamer.recipe.executor import run_in_place
    from lamer.ssl.task import SSLTask
    from lamer.ssl.train_spec import SSLTrainSpec
    from tests.opened import opened, times

    monkeypatch.chdir(tmp_path)
    method, preset = DEMO / "conf" / "ssl" / "demo.yaml", ROOT / "conf" / "lamer" / "lamer_base.yaml"
    with opened() as counts:
        plan = load_plan(TWO_STAGES)
        jobs = {job.name: job for job in recipe_jobs(plan, RecipeOptions(root="corpus/cv", stage=5, stop_stage=5,
                                                                         tag="plan"))}
        run_in_place(jobs["method_config"])
        run_in_place(jobs["ssl_s1_spec"])
        args = SSLTask.get_parser().parse_args([*jobs["ssl_s1"].argv[3:], "--upstream", "tiny"])
        model = SSLTask.build_upstream(args).model
    assert (times(counts, method), times(counts, preset)) == (1, 1)
    assert (times(counts, "exp/plan/config/method.yaml"), times(counts, "exp/plan/config/ssl_s1.json")) == (1, 1)
    assert isinstance(args.spec, SSLTrainSpec) and args.spec.adapter_config == plan.method.adapter_config
    assert parameter_report(model)["experts_per_layer"] == experts_per_layer(
        plan.method.adapter_config.allocation, 3) == [2, 4, 8]
    assert args.spec.replay.share == plan.replay.share == 0.2
    assert not hasattr(args, "replay_share") and not hasattr(args, "ssl_adapter_conf")


def test_frame_routers_are_measured_against_their_ceiling_after_every_stage(tmp_path, capsys):
    """Stage 8 of a method with frame routers: routing_ceiling on each continual stage's adapters and
    the languages learned so far, capped per language, then one file per run that the reports read.
    Methods without frame routers (full fine-tuning, one LoRA, routing by language) and
    --routing_ceiling false list no such step."""
    plan = TWO_STAGES
    jobs = by_name(listed(plan, capsys=capsys))
    s1 = jobs["routing_ceiling_s1"]
    assert s1["queue"] == "train" and s1["gpus"] == 0 and s1["outputs"] == ["exp/plan/routing_ceiling/s1.json"]
    assert s1["argv"][:3] == ["python", "-m", "lamer.bin.routing_ceiling"]
    argv = s1["argv"]
    assert argv[argv.index("--adapters") + 1] == "exp/plan/ssl/s1/adapters"
    assert argv[argv.index("--max_utts") + 1] == "20" and argv[argv.index("--frames_per_utt") + 1] == "20"
    train, dev = argv.index("--train_data"), argv.index("--eval_data")
    learned = ["eng", "fra", "deu", "spa", "ita"]  # the base languages and s1's: not s2's
    assert argv[train + 1:dev] == [f"data/{lang}/train" for lang in learned]
    assert argv[dev + 1:dev + 6] == [f"data/{lang}/dev" for lang in learned] and argv[dev + 6] == "--max_utts"
    assert sorted(s1["after"]) == ["base_model", "data", "ssl_s1"]
    assert "data/por/dev" in jobs["routing_ceiling_s2"]["argv"]
    combined = jobs["routing_vs_ceiling"]
    assert combined["argv"][2:] == ["lamer.bin.routing_vs_ceiling", "--ceiling", "s1=exp/plan/routing_ceiling/s1.json",
                                    "s2=exp/plan/routing_ceiling/s2.json", "--out", "exp/plan/routing_vs_ceiling.json"]
    assert sorted(combined["after"]) == ["routing_ceiling_s1", "routing_ceiling_s2"]
    for protocol in ("retrained", "fixed"):
        report = jobs[f"report_{protocol}"]
        assert report["argv"][report["argv"].index("--routing_vs_ceiling") + 1] == "exp/plan/routing_vs_ceiling.json"
        assert "routing_vs_ceiling" in report["after"]
    gpu = by_name(listed(plan, "--ngpu", "1", "--routing_ceiling_utts", "7", capsys=capsys))["routing_ceiling_s2"]
    assert (gpu["queue"], gpu["gpus"]) == ("cuda", 1) and gpu["argv"][-4:-2] == ["--device", "cuda"]
    assert gpu["argv"][gpu["argv"].index("--max_utts") + 1] == "7"
    uniform = by_name(listed(plan, "--method", str(DEMO / "conf" / "ablation" / "mole_uniform_replay.yaml"),
                             capsys=capsys))
    assert "routing_vs_ceiling" in uniform
    language = tmp_path / "language.yaml"
    language.write_text(f"ssl_adapter_preset: {ROOT / 'conf' / 'lamer' / 'lamer_base.yaml'}\n"
                        "ssl_adapter_conf: {router: language, languages: [eng, fra, deu, spa, ita, nld, por]}\n")
    for options in (["--method", str(DEMO / "conf" / "ablation" / "ft.yaml")],
                    ["--method", str(DEMO / "conf" / "ablation" / "lora_replay.yaml")],
                    ["--method", str(language)], ["--train_on", "none"], ["--routing_ceiling", "false"]):
        jobs = by_name(listed(plan, *options, capsys=capsys))
        assert not [name for name in jobs if name.startswith("routing")], options
        assert "--routing_vs_ceiling" not in jobs["report_fixed"]["argv"], options
    assert plan_main(["jobs", "--plan", str(plan), "--root", "x", "--routing_ceiling_utts", "0"]) == 1
    assert capsys.readouterr().err == ("plan: error: --routing_ceiling_utts 0: expected a positive number of "
                                       "utterances (--routing_ceiling false skips the measure)\n")


def test_base_init_random_probes_the_base_architecture_with_random_weights(capsys):
    jobs = by_name(listed(TWO_STAGES, "--train_on", "none", "--base_init", "random", "--tag", "rnd",
                          "--seed", "3", capsys=capsys))
    export = jobs["base_random"]["argv"]
    assert export[export.index("--upstream") + 1] == "exp/rnd/base/upstream.pt"  # the plan's base, imported
    assert export[export.index("--reinit") + 1] == "3" and export[export.index("--out") + 1] == "exp/rnd/base_random"
    probe = jobs["probe_base"]
    assert 'path_or_url="exp/rnd/base_random/upstream.pt"' in probe["argv"]
    assert "exp/rnd/base_random/upstream.pt" in probe["inputs"]
    # the default keeps the pre-trained base and has no such job
    default = by_name(listed(TWO_STAGES, "--train_on", "none", "--tag", "rnd", capsys=capsys))
    assert "base_random" not in default and 'path_or_url="exp/rnd/base/upstream.pt"' in default["probe_base"]["argv"]


def test_base_init_is_checked(capsys):
    plan = str(DEMO / "conf" / "plan.yaml")
    assert plan_main(["jobs", "--plan", plan, "--root", "x", "--base_init", "randn"]) == 1
    assert "--base_init randn: expected one of pretrained, random" in capsys.readouterr().err
    assert plan_main(["jobs", "--plan", plan, "--root", "x", "--base_init", "random", "--base_exp", "exp/f"]) == 1
    assert "--base_exp exp/f: its probe read the pre-trained base model" in capsys.readouterr().err


def test_the_probes_labelled_budget_cuts_their_training_set_only(capsys):
    jobs = by_name(listed(DEMO / "conf" / "plan.yaml", "--stop_stage", "2", capsys=capsys))  # probe_minutes: 1.5
    train = jobs["probe_train"]["argv"]
    assert train[train.index("--minutes_per_dir") + 1] == "1.5" and train[train.index("--seed") + 1] == "0"
    assert all("--minutes_per_dir" not in jobs[name]["argv"] for name in ("probe_dev", "probe_test"))
    assert "--minutes_per_dir" not in by_name(listed(TWO_STAGES, "--stop_stage", "2",
                                                     capsys=capsys))["probe_train"]["argv"]


def test_target_feature_mfcc_clusters_mfcc_frames_for_every_continual_stage(capsys):
    """--target_feature mfcc: the continual stages' targets (train and dev) come from MFCC frames,
    not from a layer of the previous stage's model; the default clusters --target_layer."""
    jobs = by_name(listed(TWO_STAGES, "--target_feature", "mfcc", capsys=capsys))
    for name in ("targets_s1_split", "targets_s2_split", "targets_s1_dev_split"):
        argv = jobs[name]["argv"]
        assert argv[argv.index("--feature") + 1] == "mfcc" and "--layer" not in argv, name
        assert argv[argv.index("--upstream") + 1] == "exp/plan/base/upstream.pt" and "--adapters" not in argv, name
    assert "ssl_s1" not in jobs["targets_s2_split"]["after"]  # s2's targets need not wait for s1's training
    default = by_name(listed(TWO_STAGES, "--target_layer", "2", capsys=capsys))
    argv = default["targets_s2_split"]["argv"]
    assert argv[argv.index("--feature") + 1:argv.index("--feature") + 4] == ["layer", "--layer", "2"]
    assert "ssl_s1" in default["targets_s2_split"]["after"]  # layer targets read s1's trained model
    assert plan_main(["jobs", "--plan", str(DEMO / "conf" / "plan.yaml"), "--root", "x", "--target_feature",
                      "fbank"]) == 1
    assert "--target_feature fbank: expected one of layer, mfcc" in capsys.readouterr().err


def decoded_models(jobs: dict[str, dict]) -> list[str]:
    """The probe model of each row of the decoding table."""
    return [line.split("\t")[2] for line in jobs["decode_jobs"]["argv"][2].splitlines()]


def test_decoding_reads_the_average_under_the_probe_configs_first_criterion(capsys):
    far = by_name(listed(DEMO / "conf" / "plan_far.yaml", "--stage", "7", "--stop_stage", "7", capsys=capsys))
    assert decoded_models(far) == ["exp/plan_far/probe/base/valid.cer_ctc.ave.pth",
                                   "exp/plan_far/probe/s1/valid.cer_ctc.ave.pth",
                                   "exp/plan_far/probe/base/valid.cer_ctc.ave.pth"]
    # a criterion among the probe's training options wins, as ESPnet reads it after the config
    jobs = by_name(listed(TWO_STAGES, "--stage", "7", "--stop_stage", "7", "--probe_train_opts",
                          "--max_epoch 3 --best_model_criterion valid,acc_lid,max", capsys=capsys))
    assert {path.rsplit("/", 1)[1] for path in decoded_models(jobs)} == {"valid.acc_lid.ave.pth"}
    assert plan_main(["jobs", "--plan", str(DEMO / "conf" / "plan.yaml"), "--root", "x", "--probe_train_opts",
                      "--best_model_criterion valid,loss"]) != 0
    assert "--best_model_criterion: expected [train|valid, NAME, min|max]" in capsys.readouterr().err
