"""The ablation's go/no-go checks on synthetic runs with per-utterance edits (tests/eval/synthetic_runs.py):
a testbed that passes, one whose new language is easier than the old, one whose control gains as much
as the reference, and the summary printing them before any ranking."""
import json

from lamer.ablation.go_no_go import go_no_go, ranking_note, render_lines
from lamer.ablation.intervals import pools
from lamer.ablation.runs import export_runs
from lamer.ablation.spec import load_ablation
from lamer.ablation.summary import write_summary
from tests.eval.synthetic_runs import write_recipe

# (eng, spa at base, spa after s1) CER
GO = {"frozen": (20.0, 40.0, 40.0), "ft": (20.0, 40.0, 30.0), "lamer_replay": (20.0, 40.0, 25.0),
      "continue_old": (20.0, 40.0, 38.0)}


def checks(recipe):
    ablation = load_ablation(recipe / "conf" / "ablation.yaml")
    return go_no_go(ablation, pools(ablation, recipe / "exp" / "ablation"))


def test_a_testbed_that_can_show_learning_is_a_go(tmp_path):
    found = checks(write_recipe(tmp_path, [0, 1, 2], GO))["cer"]
    assert (found["frozen"], found["reference"], found["control"]) == ("frozen", "lamer_replay", "continue_old")
    gap = found["gap"]
    assert gap["outcome"] == "pass" and gap["resampled"] == "training seeds and test utterances"
    assert 15 < gap["new_minus_old"]["low"] < 20 < gap["new_minus_old"]["high"]
    gains = found["gains"]
    assert gains["outcome"] == "pass" and gains["difference"]["low"] > 0
    # the difference of the gains is the control's error minus the reference's on the new language
    assert gains["difference"]["mean"] == round(gains["reference_gain"]["mean"] - gains["control_gain"]["mean"], 4)
    assert found["verdict"] == "go" and found["why"] == []
    assert ranking_note({"cer": found}) is None


def test_a_new_language_easier_than_the_old_fails_check_a(tmp_path):
    easy = {name: (40.0, 20.0, final - 20.0) for name, (_, _, final) in GO.items()}
    found = checks(write_recipe(tmp_path, [0, 1, 2], easy))["cer"]
    assert found["gap"]["outcome"] == "fail" and found["gap"]["new_minus_old"]["high"] < 0
    assert found["gains"]["outcome"] == "pass"
    assert found["verdict"] == "inconclusive"
    assert len(found["why"]) == 1 and found["why"][0].startswith("(a) fails: frozen reads the new languages better")
    assert "not meaningful" in ranking_note({"cer": found})


def test_a_control_that_gains_as_much_is_within_noise(tmp_path):
    close = {**GO, "continue_old": (20.0, 40.0, 26.0)}
    found = checks(write_recipe(tmp_path, [0, 1, 2], close))["cer"]
    assert found["gap"]["outcome"] == "pass"
    difference = found["gains"]["difference"]
    assert found["gains"]["outcome"] == "within noise" and difference["low"] < 0 < difference["high"]
    assert found["verdict"] == "inconclusive"
    assert found["why"][0].startswith("(b) is within noise: on the new languages lamer_replay gains ")
    # a control that gains clearly more fails
    more = {**GO, "continue_old": (20.0, 40.0, 15.0)}
    assert checks(write_recipe(tmp_path / "more", [0, 1, 2], more))["cer"]["gains"]["outcome"] == "fail"


def test_one_seed_without_edits_gives_no_noise_estimate(tmp_path):
    found = checks(write_recipe(tmp_path, [0], GO, utterances=False))["cer"]
    assert found["gap"]["outcome"] == found["gains"]["outcome"] == "no noise estimate"
    assert found["verdict"] == "inconclusive" and "nothing varied" in found["why"][0]


def test_a_missing_control_is_not_checked(tmp_path):
    recipe = write_recipe(tmp_path, [0, 1], GO)
    config = recipe / "conf" / "ablation.yaml"
    config.write_text(config.read_text().replace(", control: true", ""))
    found = checks(recipe)["cer"]
    assert found["gains"] == {"outcome": "not checked", "why": "the ablation has no control (control: true)"}
    assert found["verdict"] == "inconclusive" and found["why"] == [
        "(b) not checked: the ablation has no control (control: true)"]


def test_per_is_checked_beside_cer_where_the_runs_scored_it(tmp_path):
    found = checks(write_recipe(tmp_path, [0, 1, 2], GO, per=True))
    assert list(found) == ["cer", "per"] and found["per"]["verdict"] == "go"
    assert "- **PER: go** (training seeds and test utterances resampled)" in render_lines(found)


def test_the_summary_states_the_checks_before_any_ranking(tmp_path, capsys):
    from lamer.bin.ablation import main

    easy = {name: (40.0, 20.0, final - 20.0) for name, (_, _, final) in GO.items()}
    recipe = write_recipe(tmp_path, [0, 1, 2], easy)
    ablation = load_ablation(recipe / "conf" / "ablation.yaml")
    export_runs(ablation, recipe / "exp" / "ablation", recipe / "trainable.json", recipe / "runs")
    assert main(["summary", "--config", str(recipe / "conf" / "ablation.yaml"), "--runs", str(recipe / "runs"),
                 "--out", str(recipe / "ablation"), "--results_md", str(recipe / "RESULTS.md")]) == 0
    printed = capsys.readouterr().out
    assert "Go/no-go (under retrained, before any ranking):\n- **CER: inconclusive**" in printed
    assert "(a) fails" in printed
    text = (recipe / "RESULTS.md").read_text()
    go_at, ranking_at = text.index("### Go/no-go, under `retrained`, before any ranking"), text.index("### Protocol")
    assert go_at < ranking_at and "- **CER: inconclusive** (training seeds and test utterances resampled)" in text
    assert text.count("**Ranking not meaningful**: the go/no-go checks are inconclusive (CER; see above)") == 2
    intervals = json.loads((recipe / "ablation" / "intervals.json").read_text())
    assert intervals["go_no_go"]["cer"]["verdict"] == "inconclusive"
    # the runs' utterance tables travelled with the export
    assert (recipe / "runs" / "seed2" / "ft" / "utt_errors_retrained.tsv").read_bytes() == (
        recipe / "exp" / "ablation" / "seed2" / "ft" / "utt_errors_retrained.tsv").read_bytes()
    # a testbed that passes has no such warning
    recipe = write_recipe(tmp_path / "go", [0, 1, 2], GO)
    export_runs(load_ablation(recipe / "conf" / "ablation.yaml"), recipe / "exp" / "ablation",
                recipe / "trainable.json", recipe / "runs")
    write_summary(load_ablation(recipe / "conf" / "ablation.yaml"), recipe / "runs", recipe / "ablation",
                  recipe / "RESULTS.md")
    text = (recipe / "RESULTS.md").read_text()
    assert "- **CER: go**" in text and "Ranking not meaningful" not in text
    assert "resamples training seeds only" not in text  # every run wrote its utterances' edits


def test_the_summary_says_when_only_the_seeds_were_resampled(tmp_path):
    recipe = write_recipe(tmp_path, [0, 1, 2], GO, utterances=False)
    ablation = load_ablation(recipe / "conf" / "ablation.yaml")
    export_runs(ablation, recipe / "exp" / "ablation", recipe / "trainable.json", recipe / "runs")
    write_summary(ablation, recipe / "runs", recipe / "ablation", recipe / "RESULTS.md")
    text = (recipe / "RESULTS.md").read_text()
    assert ("Every interval here resamples training seeds only: these runs hold no per-utterance edits "
            "(`utt_errors_<protocol>.tsv`") in text
    assert "- **CER: go** (training seeds resampled)" in text


def with_random_init(recipe):
    """``recipe``'s ablation with the random-init reference ``random_init`` added."""
    config = recipe / "conf" / "ablation.yaml"
    config.write_text(config.read_text() + "  random_init: {train_on: none, base_init: random}\n")
    return recipe


def test_a_random_init_reference_worse_than_the_base_passes_check_c(tmp_path):
    found = checks(with_random_init(write_recipe(tmp_path, [0, 1, 2], {**GO, "random_init": (30.0, 50.0, 50.0)})))
    found = found["cer"]
    assert (found["frozen"], found["random"]) == ("frozen", "random_init")
    pretraining = found["pretraining"]
    assert pretraining["outcome"] == "pass" and 5 < pretraining["random_minus_frozen"]["low"]
    assert found["verdict"] == "go" and found["why"] == []
    assert any(line.startswith("  - (c) pre-training gives the probe something (frozen beats the random-init "
                               "random_init): pass") for line in render_lines({"cer": found}))


def test_a_random_init_reference_as_good_as_the_base_makes_the_testbed_inconclusive(tmp_path):
    # the pre-trained base reads no better than random weights: what (a) and (b) say is moot
    found = checks(with_random_init(write_recipe(tmp_path, [0, 1, 2], {**GO, "random_init": (19.0, 39.0, 39.0)})))
    found = found["cer"]
    assert found["gap"]["outcome"] == found["gains"]["outcome"] == "pass"
    assert found["pretraining"]["outcome"] == "fail" and found["verdict"] == "inconclusive"
    assert len(found["why"]) == 1 and found["why"][0].startswith("(c) fails: the random-init random_init reads the "
                                                                 "languages CER ")
    assert "it reads them better" in found["why"][0]
    # the random-init reference is never a candidate, and frozen stays the pre-trained one
    ablation = load_ablation(tmp_path / "conf" / "ablation.yaml")
    assert "random_init" not in ablation.candidates("retrained") + ablation.candidates("fixed")


def test_without_a_random_init_reference_check_c_is_left_out(tmp_path):
    found = checks(write_recipe(tmp_path, [0, 1, 2], GO))["cer"]
    assert "pretraining" not in found and "random" not in found
    assert not any("(c)" in line for line in render_lines({"cer": found}))
