"""The ablation config is checked before any run, and answers the shell loop's questions."""
from pathlib import Path

import pytest

from lamer.ablation.spec import AblationError, load_ablation
from lamer.bin.ablation import main

GOOD = """
seeds: [0, 1, 2]
plan: conf/plan.yaml
systems:
  frozen: {train_on: none}
  ft: {method: conf/ablation/ft.yaml, replay_share: 0}
  lamer_replay: {method: conf/ablation/lamer_replay.yaml}
  joint: {method: conf/ablation/ft.yaml, plan: conf/plan_joint.yaml, train_on: all, joint: true}
  continue_old: {method: conf/ablation/ft.yaml, train_on: old, control: true}
"""


@pytest.fixture
def recipe(tmp_path):
    (tmp_path / "conf" / "ablation").mkdir(parents=True)
    for name in ("plan.yaml", "plan_joint.yaml", "ablation/ft.yaml", "ablation/lamer_replay.yaml"):
        (tmp_path / "conf" / name).write_text("{}\n")
    return tmp_path


def _write(recipe: Path, text: str) -> Path:
    path = recipe / "conf" / "ablation.yaml"
    path.write_text(text)
    return path


def test_a_good_config_keeps_table_order_and_resolves_paths(recipe):
    ablation = load_ablation(_write(recipe, GOOD))
    assert ablation.seeds == [0, 1, 2]
    assert [s.name for s in ablation.systems] == ["frozen", "ft", "lamer_replay", "joint", "continue_old"]
    conf = recipe.resolve() / "conf"
    assert ablation.system("frozen").method is None and ablation.system("frozen").train_on == "none"
    assert ablation.system("ft").method == conf / "ablation/ft.yaml"
    assert ablation.system("ft").plan == conf / "plan.yaml" and ablation.system("ft").train_on == "new"
    assert ablation.system("joint").plan == conf / "plan_joint.yaml"
    assert ablation.joint.name == "joint" and ablation.control.name == "continue_old"
    assert ablation.system("continue_old").train_on == "old"


@pytest.mark.parametrize("old, new, message", [
    ("  ft: {method: conf/ablation/ft.yaml,", "  ft: {method: conf/ablation/ft.yaml, lr: 0.1,",
     "systems.ft: unknown key(s) ['lr']"),
    ("seeds: [0, 1, 2]", "seeds: [0, 1, 2]\nrepeats: 3", "unknown key(s) ['repeats']"),
    ("replay_share: 0}", "replay_share: 1}", "systems.ft.replay_share: the part of every training batch taken from "
                                            "the replay sample, a number in [0, 1)"),
    ("  ft: {method: conf/ablation/ft.yaml, replay_share: 0}", "  ft: {}", "systems.ft.method: missing"),
    ("frozen: {train_on: none}", "frozen: {train_on: none, method: conf/ablation/ft.yaml}",
     "systems.frozen.method: train_on none trains nothing"),
    ("train_on: old", "train_on: old_only",
     "systems.continue_old.train_on: expected one of ['new', 'old', 'all', 'none']"),
    ("control: true", "joint: true", "joint: true is set on ['joint', 'continue_old']"),
    ("train_on: old,", "train_on: old, joint: true,", "either the joint upper bound or the control"),
    ("ft: {method: conf/ablation/ft.yaml,", "ft: {method: conf/ablation/missing.yaml,",
     "systems.ft.method: conf/ablation/missing.yaml does not exist"),
    ("plan: conf/plan_joint.yaml", "plan: conf/plan_other.yaml",
     "systems.joint.plan: conf/plan_other.yaml does not exist"),
    ("plan: conf/plan.yaml", "plan: conf/nowhere.yaml", "plan: conf/nowhere.yaml does not exist"),
    ("seeds: [0, 1, 2]", "seeds: [0, 0]", "seeds: expected a non-empty list of distinct integers"),
    ("joint: true}", "joint: yes please}", "systems.joint.joint: expected true or false"),
    ("frozen: {train_on: none}", "frozen: {train_on: none, reference_only: [fixd]}",
     "systems.frozen.reference_only: expected a list of distinct protocols from ['retrained', 'fixed']"),
    ("frozen: {train_on: none}", "frozen: {train_on: none, reference_only: fixed}",
     "systems.frozen.reference_only: expected a list of distinct protocols"),
    ("joint: true}", "joint: true, reference_only: [fixed]}",
     "systems.joint.reference_only: the joint upper bound is a reference row under every protocol"),
    ("frozen: {train_on: none}", "frozen: {train_on: none, base_init: randomly}",
     "systems.frozen.base_init: expected one of ['pretrained', 'random'], got 'randomly'"),
    ("train_on: old,", "train_on: old, base_init: random,",
     "systems.continue_old.base_init: random makes a reference of its own"),
])
def test_bad_configs_stop_with_file_and_key_named(recipe, old, new, message):
    assert old in GOOD
    path = _write(recipe, GOOD.replace(old, new))
    with pytest.raises(AblationError) as err:
        load_ablation(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_every_problem_is_reported_at_once(recipe):
    text = (GOOD.replace("ft: {method: conf/ablation/ft.yaml, replay_share: 0}", "ft: {}")
            .replace("train_on: old", "train_on: older"))
    with pytest.raises(AblationError) as err:
        load_ablation(_write(recipe, text))
    assert "systems.ft.method: missing" in str(err.value) and "systems.continue_old.train_on" in str(err.value)


def test_a_missing_config_is_named(tmp_path):
    with pytest.raises(AblationError, match="nowhere.yaml: ablation config not found"):
        load_ablation(tmp_path / "nowhere.yaml")


def test_list_prints_one_tab_separated_line_per_system(recipe, capsys):
    assert main(["list", "--config", str(_write(recipe, GOOD))]) == 0
    conf = recipe.resolve() / "conf"
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert lines == [
        ["frozen", "-", str(conf / "plan.yaml"), "none", "-", "pretrained"],
        ["ft", str(conf / "ablation/ft.yaml"), str(conf / "plan.yaml"), "new", "0", "pretrained"],
        ["lamer_replay", str(conf / "ablation/lamer_replay.yaml"), str(conf / "plan.yaml"), "new", "-", "pretrained"],
        ["joint", str(conf / "ablation/ft.yaml"), str(conf / "plan_joint.yaml"), "all", "-", "pretrained"],
        ["continue_old", str(conf / "ablation/ft.yaml"), str(conf / "plan.yaml"), "old", "-", "pretrained"],
    ]


def test_seeds_prints_them_space_separated(recipe, capsys):
    assert main(["seeds", "--config", str(_write(recipe, GOOD))]) == 0
    assert capsys.readouterr().out == "0 1 2\n"


def test_units_prints_key_seed_and_probe_seed(recipe, capsys):
    assert main(["units", "--config", str(_write(recipe, GOOD))]) == 0
    assert capsys.readouterr().out == "0\t0\t0\n1\t1\t1\n2\t2\t2\n"
    assert main(["units", "--config", str(_write(recipe, GOOD.replace("seeds: [0, 1, 2]",
                                                                      "seeds: [3]\nprobe_seeds: [0, 5]")))]) == 0
    assert capsys.readouterr().out == "3_probe0\t3\t0\n3_probe5\t3\t5\n"


def test_a_bad_config_makes_the_cli_fail_with_the_problem(recipe, capsys):
    bad = GOOD.replace("ft: {method: conf/ablation/ft.yaml, replay_share: 0}", "ft: {}")
    assert main(["list", "--config", str(_write(recipe, bad))]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "systems.ft.method: missing" in captured.err


EXPECTING = GOOD.replace("systems:", """reference: lamer_replay
baseline: ft
expectations:
  - {check: near_best, within: 1.0, protocols: [retrained]}
  - {check: bwt_share, divisor: 5}
  - {check: drifts_like, ratio: [0.5, 2.0]}
systems:""")


def test_candidates_leave_out_the_joint_system_and_reference_rows(recipe):
    ablation = load_ablation(_write(recipe, GOOD.replace("frozen: {train_on: none}",
                                                         "frozen: {train_on: none, reference_only: [fixed]}")))
    assert ablation.system("frozen").reference_only == ("fixed",)
    assert ablation.candidates("fixed") == ["ft", "lamer_replay", "continue_old"]
    assert ablation.candidates("retrained") == ["frozen", "ft", "lamer_replay", "continue_old"]
    assert load_ablation(_write(recipe, GOOD)).candidates("fixed") == ["frozen", "ft", "lamer_replay", "continue_old"]


def test_a_best_check_on_a_reference_that_cannot_compete_is_refused(recipe):
    text = EXPECTING
    load_ablation(_write(recipe, text.replace("frozen: {train_on: none}",
                                              "frozen: {train_on: none, reference_only: [retrained]}")))
    with pytest.raises(AblationError, match=r"expectations\[0\]: near_best under \['retrained'\], where the "
                                            "reference 'lamer_replay' is no candidate"):
        load_ablation(_write(recipe, text.replace("lamer_replay: {method: conf/ablation/lamer_replay.yaml}",
                                                  "lamer_replay: {method: conf/ablation/lamer_replay.yaml, "
                                                  "reference_only: [retrained]}")))


def test_expectations_are_read_with_their_roles(recipe):
    ablation = load_ablation(_write(recipe, EXPECTING))
    assert (ablation.reference, ablation.baseline) == ("lamer_replay", "ft")
    near, share, drift = ablation.expectations
    assert near.check == "near_best" and near.protocols == ("retrained",)
    assert near.params == {"within": 1.0, "rate": "cer"}
    assert share.protocols == ("retrained", "fixed") and share.params == {"divisor": 5, "of": "ft", "rate": "cer"}
    assert drift.params == {"ratio": [0.5, 2.0], "system": "continue_old", "like": "ft", "rate": "cer"}


def test_the_interval_checks_take_their_defaults(recipe):
    """lower compares the reference unless told otherwise, over every language, by any margin;
    forgets needs no stds any more (a config that gives it still loads); every check takes a rate."""
    drifts = "  - {check: drifts_like, ratio: [0.5, 2.0]}\n"
    text = EXPECTING.replace(drifts, drifts + """  - {check: lower, than: frozen}
  - {check: lower, system: ft, than: continue_old, languages: new, by: 2, rate: per, protocols: [retrained]}
  - {check: forgets}
  - {check: forgets, stds: 2, system: lamer_replay}
""")
    lower, specific, forgets, with_stds = load_ablation(_write(recipe, text)).expectations[3:]
    assert lower.params == {"than": "frozen", "system": "lamer_replay", "languages": "all", "by": 0, "rate": "cer"}
    assert specific.params == {"than": "continue_old", "system": "ft", "languages": "new", "by": 2, "rate": "per"}
    assert forgets.params == {"system": "ft", "rate": "cer"}
    assert with_stds.params == {"system": "lamer_replay", "stds": 2, "rate": "cer"}


@pytest.mark.parametrize("new, message", [
    ("{check: lower}", "expectations[3].than: missing; name the system it is compared with"),
    ("{check: lower, than: nobody}", "expectations[3].than: 'nobody' is not a system of this ablation"),
    ("{check: lower, than: ft, languages: some}", "expectations[3].languages: expected one of ['all', 'new', 'old']"),
    ("{check: lower, than: ft, by: -2}", "expectations[3].by: expected a number >= 0, got -2"),
    ("{check: forgets, rate: wer}", "expectations[3].rate: expected one of ['cer', 'per']"),
])
def test_bad_interval_checks_are_refused_naming_the_key(recipe, new, message):
    text = EXPECTING.replace("  - {check: drifts_like, ratio: [0.5, 2.0]}\n",
                             f"  - {{check: drifts_like, ratio: [0.5, 2.0]}}\n  - {new}\n")
    with pytest.raises(AblationError) as err:
        load_ablation(_write(recipe, text))
    assert message in str(err.value)


def test_probe_seeds_make_units_of_every_training_seed(recipe):
    """Without probe_seeds a run's probes take its seed (one unit per seed, keyed by it, as before);
    with them every training seed runs with every probe seed."""
    tied = load_ablation(_write(recipe, GOOD))
    assert tied.probe_seeds is None
    assert [(u.key, u.seed, u.probe_seed) for u in tied.units] == [(0, 0, 0), (1, 1, 1), (2, 2, 2)]
    crossed = load_ablation(_write(recipe, GOOD.replace("seeds: [0, 1, 2]", "seeds: [0, 1]\nprobe_seeds: [0, 7]")))
    assert crossed.probe_seeds == (0, 7)
    assert [(u.key, u.seed, u.probe_seed) for u in crossed.units] == [
        ("0_probe0", 0, 0), ("0_probe7", 0, 7), ("1_probe0", 1, 0), ("1_probe7", 1, 7)]
    for bad in ("probe_seeds: []", "probe_seeds: [1, 1]", "probe_seeds: 3", "probe_seeds: [true]"):
        with pytest.raises(AblationError, match="probe_seeds: expected a non-empty list of distinct integers"):
            load_ablation(_write(recipe, GOOD.replace("seeds: [0, 1, 2]", f"seeds: [0]\n{bad}")))


@pytest.mark.parametrize("old, new, message", [
    ("reference: lamer_replay", "reference: lamer", "reference: 'lamer' is not a system of this ablation"),
    ("reference: lamer_replay\n", "", "expectations: need reference: the system they are about"),
    ("{check: near_best, within: 1.0,", "{check: nearest,", "expectations[0]: expected a mapping with check: one of"),
    ("within: 1.0", "within: -1", "expectations[0].within: expected a number >= 0, got -1"),
    ("divisor: 5}", "divisor: 5, of: lora}", "expectations[1].of: 'lora' is not a system of this ablation"),
    ("divisor: 5}", "divisor: 5, protocols: [both]}", "expectations[1].protocols: expected a non-empty list"),
    ("ratio: [0.5, 2.0]", "ratio: [2.0, 0.5]", "expectations[2].ratio: expected [low, high] with low <= high"),
    ("ratio: [0.5, 2.0]", "ratio: [0.5, 2.0], stds: 2",
     "expectations[2]: unknown key(s) ['stds'] for check drifts_like"),
    ("{check: bwt_share, divisor: 5}", "{check: bwt_share}", "expectations[1].divisor: missing"),
])
def test_bad_expectations_are_refused_naming_the_key(recipe, old, new, message):
    assert old in EXPECTING
    with pytest.raises(AblationError, match="the ablation cannot run") as err:
        load_ablation(_write(recipe, EXPECTING.replace(old, new)))
    assert message in str(err.value)
