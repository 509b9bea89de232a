"""One contract for the replay share, a number in [0, 1), checked where a share enters a process: the
plan, an ablation system, ssl.sh's --replay_share and ssl_train's (command line or --config file),
each refusal naming its key or option with the same words."""
from __future__ import annotations

from pathlib import Path

import pytest

from lamer.ssl.replay_share import WHAT, check_share, share_problem

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "egs2" / "mini_lamer" / "ssl1"


@pytest.mark.parametrize("value", [0, 0.0, 0.2, 0.999])
def test_a_share_is_a_number_in_0_to_1(value):
    assert share_problem(value) is None and check_share(value, "x") == value


@pytest.mark.parametrize("value", [1, 1.0, -0.1, True, "0.2", None, float("nan"), [0.2]])
def test_anything_else_is_refused_naming_where(value):
    with pytest.raises(ValueError) as err:
        check_share(value, "replay.share")
    assert str(err.value).startswith(f"replay.share: {WHAT}, got ")


def _ssl_train_parse_error(capsys, *argv: str) -> str:
    from lamer.ssl.task import SSLTask

    with pytest.raises(SystemExit) as stop:
        SSLTask.get_parser().parse_args([*argv, "--output_dir", "x"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err
    return err.splitlines()[-1]


def test_ssl_train_checks_the_share_as_it_parses(tmp_path, capsys):
    line = _ssl_train_parse_error(capsys, "--replay_utt2lang", "u2l", "--replay_share", "1.5")
    assert line.endswith(f"error: --replay_share: {WHAT}, got 1.5")
    config = tmp_path / "m.yaml"
    config.write_text("replay_share: 2\n")  # ESPnet gives a --config file's values no type
    line = _ssl_train_parse_error(capsys, "--config", str(config), "--replay_utt2lang", "u2l")
    assert line.endswith(f"error: --replay_share: {WHAT}, got 2")
    line = _ssl_train_parse_error(capsys, "--replay_utt2lang", "u2l")
    assert line.endswith("error: --replay_utt2lang needs --replay_share: the part of every batch taken from the "
                         "replay utterances (the plan's replay.share; 0 keeps them out of the batches)")
    line = _ssl_train_parse_error(capsys, "--replay_share", "0.2")
    assert "--replay_share > 0 needs --replay_utt2lang" in line


def test_the_recipe_checks_its_replay_share_option(capsys):
    from lamer.bin.plan import main as plan_main

    assert plan_main(["jobs", "--plan", str(DEMO / "conf" / "plan.yaml"), "--root", "x", "--replay_share", "1"]) == 1
    assert capsys.readouterr().err == f"plan: error: --replay_share 1.0: {WHAT}, got 1.0\n"


def test_the_plan_and_the_ablation_say_the_same(tmp_path):
    from lamer.ablation.spec import AblationError, load_ablation
    from lamer.recipe.plan import PlanError, load_plan

    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "m.yaml").write_text("ssl_adapter: none\n")
    plan = tmp_path / "conf" / "plan.yaml"
    plan.write_text("corpus: commonvoice\nbase: [en]\nstages: [{name: s1, languages: [es]}]\nmethod: conf/m.yaml\n"
                    "probe: conf/m.yaml\nbase_model: {pretrain: conf/m.yaml}\nreplay: {minutes: 1, share: 1}\n")
    with pytest.raises(PlanError) as err:
        load_plan(plan)
    assert str(err.value).endswith(f"replay.share: {WHAT}, got 1")
    ablation = tmp_path / "conf" / "ablation.yaml"
    ablation.write_text("seeds: [0]\nplan: conf/plan.yaml\nsystems: {ft: {method: conf/m.yaml, replay_share: -1}}\n")
    with pytest.raises(AblationError) as err:
        load_ablation(ablation)
    assert f"systems.ft.replay_share: {WHAT}, got -1" in str(err.value)
