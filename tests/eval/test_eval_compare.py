"""Paired per-language comparison of scored experiments (lamer.eval.compare, lamer.bin.compare_runs),
on synthetic runs with per-utterance edits (tests/eval/synthetic_runs.py)."""
import json

import pytest

from lamer.bin import compare_runs
from lamer.eval import EvalInputError
from lamer.eval.compare import MEAN, Side, compare, load_side, parse_unit
from tests.eval.synthetic_runs import run_files


def experiment(directory, rates, seed=0, name="x", **kwargs):
    """An experiment directory with stage 8's files for CER ``rates[stage][lang]``."""
    directory.mkdir(parents=True)
    for file_name, text in run_files(rates, seed, name, **kwargs).items():
        (directory / file_name).write_text(text)
    return directory


LEARNS = {"base": {"eng": 20.0, "spa": 40.0}, "s1": {"eng": 21.0, "spa": 30.0}}
CONTROL = {"base": {"eng": 20.0, "spa": 40.0}, "s1": {"eng": 20.0, "spa": 40.0}}


def test_a_stage_that_learns_a_language_shows_below_its_base_row(tmp_path):
    """The same experiment at s1 against its base row: spa's 10-point fall is outside the noise;
    eng, moved by 1 point on 40 utterances, is within noise."""
    exp = experiment(tmp_path / "x", LEARNS)
    found = compare(load_side(Side((exp,), "s1"), "retrained"), load_side(Side((exp,), "base"), "retrained"))
    spa = found["languages"]["spa"]
    fall = spa["a_minus_b"]
    assert spa["verdict"] == "A lower" and fall["low"] < fall["mean"] < fall["high"] < 0
    assert found["languages"]["eng"]["verdict"] == "within noise"
    assert found["resampled"] == "training seeds and test utterances" and found["varied"]
    mean = found["languages"][MEAN]
    assert mean["a_minus_b"]["mean"] == pytest.approx((spa["a_minus_b"]["mean"]
                                                      + found["languages"]["eng"]["a_minus_b"]["mean"]) / 2, abs=1e-3)


def test_two_experiments_at_their_last_stage_and_the_sign(tmp_path):
    """A system against a control that learns nothing: B minus A is the mirror of A minus B."""
    a = experiment(tmp_path / "a", LEARNS, name="a")
    b = experiment(tmp_path / "b", CONTROL, name="b")
    forward = compare(load_side(Side((a,)), "retrained"), load_side(Side((b,)), "retrained"), languages=["spa"])
    backward = compare(load_side(Side((b,)), "retrained"), load_side(Side((a,)), "retrained"), languages=["spa"])
    assert list(forward["languages"]) == ["spa", MEAN]
    assert forward["languages"]["spa"]["verdict"] == "A lower"
    assert backward["languages"]["spa"]["verdict"] == "B lower"
    assert backward["languages"]["spa"]["a_minus_b"]["mean"] == -forward["languages"]["spa"]["a_minus_b"]["mean"]


def test_without_utterance_edits_one_seed_gives_no_spread(tmp_path):
    exp = experiment(tmp_path / "x", LEARNS, utterances=False)
    found = compare(load_side(Side((exp,), "s1"), "retrained"), load_side(Side((exp,), "base"), "retrained"))
    assert not found["varied"] and found["resampled"] == "training seeds"
    assert {row["verdict"] for row in found["languages"].values()} == {"no spread"}


def test_bad_inputs_are_named(tmp_path):
    exp = experiment(tmp_path / "x", LEARNS)
    with pytest.raises(EvalInputError, match=r"results_retrained.json: no stage 's2'; it has base, s1"):
        load_side(Side((exp,), "s2"), "retrained")
    with pytest.raises(EvalInputError, match="results_fixed.json"):
        load_side(Side((exp,)), "fixed")
    side = load_side(Side((exp,)), "retrained")
    with pytest.raises(EvalInputError, match="side A has 2 experiments and side B 1"):
        compare(side + side, side)
    with pytest.raises(EvalInputError, match="fra not scored by every run"):
        compare(side, side, languages=["fra"])
    with pytest.raises(EvalInputError, match="not every run compared was scored with per"):
        compare(side, side, rate="per")


def test_other_test_sets_are_refused(tmp_path):
    a = experiment(tmp_path / "a", LEARNS)
    b = experiment(tmp_path / "b", LEARNS)
    table = b / "utt_errors_retrained.tsv"
    table.write_text(table.read_text().replace("spa_00\t", "spa_99\t"))
    with pytest.raises(EvalInputError, match="test utterances of 'spa' differ"):
        compare(load_side(Side((a,)), "retrained"), load_side(Side((b,)), "retrained"))


def test_the_tool_prints_the_table_and_writes_json(tmp_path, capsys):
    a = experiment(tmp_path / "a", LEARNS, per=True)
    out = tmp_path / "cmp.json"
    assert compare_runs.main(["--a", str(a), "--a_stage", "s1", "--b", str(a), "--b_stage", "base",
                              "--rate", "per", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| spa |" in printed and "A lower" in printed and "PER (%)" in printed
    saved = json.loads(out.read_text())
    assert saved["rate"] == "per" and saved["a"] == {"experiments": [str(a)], "stage": "s1"}
    assert saved["languages"]["spa"]["verdict"] == "A lower"
    assert compare_runs.main(["--a", str(a), "--b", str(tmp_path / "none")]) == 1
    assert "compare_runs: error:" in capsys.readouterr().err


def test_units_name_probe_seeds_drawn_within_their_training_seed(tmp_path):
    """Two probe seeds of one training seed: the bootstrap says so, and bad units are refused."""
    runs = [experiment(tmp_path / f"p{probe}", LEARNS, seed=f"0_{probe}") for probe in (0, 1)]
    side_a = [load_side(Side((run,), "s1"), "retrained")[0] for run in runs]
    side_b = [load_side(Side((run,), "base"), "retrained")[0] for run in runs]
    found = compare(side_a, side_b, units=[parse_unit("0:0"), parse_unit("0:1")])
    assert found["resampled"] == "training seeds, probe seeds and test utterances"
    assert found["languages"]["spa"]["verdict"] == "A lower"
    for bad in ("x", "1:", "-1", "0:1:2"):
        with pytest.raises(EvalInputError, match="expected SEED or SEED:PROBE_SEED"):
            parse_unit(bad)
    with pytest.raises(EvalInputError, match="give one distinct unit per position"):
        compare(side_a, side_b, units=[(0, 0), (0, 0)])
