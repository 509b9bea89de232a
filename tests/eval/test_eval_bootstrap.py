"""The paired bootstrap over seeds and test utterances (lamer.eval.bootstrap, through the ablation's
pools of lamer.ablation.intervals), on synthetic runs with per-utterance edits (tests/eval/synthetic_runs.py)."""
import json

import pytest

from lamer.ablation.intervals import Pool, load_rates, pair_intervals, pools, system_intervals
from lamer.ablation.spec import load_ablation
from lamer.eval import EvalInputError
from tests.eval.synthetic_runs import write_recipe

# (eng, spa at base, spa after s1): lamer_replay learns spa to 25, ft to 30, the control stays near 38
SYSTEMS = {"frozen": (20.0, 40.0, 40.0), "ft": (20.0, 40.0, 30.0), "lamer_replay": (20.0, 40.0, 25.0),
           "continue_old": (20.0, 40.0, 38.0)}


def pool_of(recipe, rate="cer", **kwargs) -> Pool:
    ablation = load_ablation(recipe / "conf" / "ablation.yaml")
    return Pool(load_rates(ablation, recipe / "exp" / "ablation", "retrained"), rate, **kwargs)


def test_a_known_difference_is_found_with_an_interval_excluding_zero(tmp_path):
    """ft reads the new language 5 points worse than lamer_replay: the paired interval over three
    seeds and 40 utterances per language lies above 0 and holds the truth; the old language, the
    same utterances scored alike, differs by nothing."""
    found = pair_intervals(pool_of(write_recipe(tmp_path, [0, 1, 2], SYSTEMS)), "ft", "lamer_replay")
    assert found["resampled"] == "training seeds and test utterances" and found["varied"]
    assert found["units"] == [0, 1, 2]
    new = found["new_final"]
    assert 0 < new["low"] < new["mean"] < new["high"] and new["low"] < 5 < new["high"]
    assert found["old_final"] == {"mean": 0.0, "low": 0.0, "high": 0.0}
    assert found["avg_final"]["mean"] == pytest.approx(new["mean"] / 2, abs=1e-4)


def test_systems_alike_but_for_noise_give_an_interval_containing_zero(tmp_path):
    """Two systems with the same rates, each with its own noise: no difference is shown."""
    systems = {**SYSTEMS, "continue_old": SYSTEMS["ft"]}
    found = pair_intervals(pool_of(write_recipe(tmp_path, [0, 1, 2], systems)), "continue_old", "ft")
    assert found["new_final"]["low"] < 0 < found["new_final"]["high"]
    assert found["new_final"]["mean"] != 0.0  # the noise is there: the interval is not a point


def test_the_same_data_and_seed_give_the_same_intervals(tmp_path):
    recipe = write_recipe(tmp_path, [0, 1, 2], SYSTEMS)
    first, again = (pair_intervals(pool_of(recipe), "ft", "lamer_replay") for _ in range(2))
    assert first == again
    other = pair_intervals(pool_of(recipe, seed=1), "ft", "lamer_replay")
    assert other["new_final"]["mean"] == first["new_final"]["mean"]  # the estimate is the data's
    assert (other["new_final"]["low"], other["new_final"]["high"]) != (first["new_final"]["low"],
                                                                       first["new_final"]["high"])


def test_without_utterance_edits_only_the_seeds_are_resampled(tmp_path):
    """Runs without utt_errors tables (published before the tables existed): seeds only, and with
    three seeds the 95% interval is the range of the per-seed differences."""
    recipe = write_recipe(tmp_path, [0, 1, 2], SYSTEMS, utterances=False)
    found = pair_intervals(pool_of(recipe), "ft", "lamer_replay")
    assert found["resampled"] == "training seeds" and found["varied"]
    per_seed = []
    for seed in (0, 1, 2):
        cer = {name: json.loads((recipe / "exp" / "ablation" / f"seed{seed}" / name / "results_retrained.json")
                                .read_text())["cer"]["s1"]["spa"] for name in ("ft", "lamer_replay")}
        per_seed.append(cer["ft"] - cer["lamer_replay"])
    assert found["new_final"]["low"] == pytest.approx(min(per_seed), abs=1e-4)
    assert found["new_final"]["high"] == pytest.approx(max(per_seed), abs=1e-4)
    assert found["new_final"]["mean"] == pytest.approx(sum(per_seed) / 3, abs=1e-4)


def test_a_pair_is_resampled_over_utterances_only_where_both_have_their_edits(tmp_path):
    recipe = write_recipe(tmp_path, [0, 1], SYSTEMS)
    for seed in (0, 1):
        (recipe / "exp" / "ablation" / f"seed{seed}" / "ft" / "utt_errors_retrained.tsv").unlink()
    pool = pool_of(recipe)
    assert pair_intervals(pool, "ft", "lamer_replay")["resampled"] == "training seeds"
    assert pair_intervals(pool, "continue_old", "lamer_replay")["resampled"] == "training seeds and test utterances"
    assert system_intervals(pool, "ft")["resampled"] == "training seeds"


def test_one_seed_without_edits_varies_nothing(tmp_path):
    found = pair_intervals(pool_of(write_recipe(tmp_path, [0], SYSTEMS, utterances=False)), "ft", "lamer_replay")
    assert not found["varied"] and found["new_final"]["low"] == found["new_final"]["high"]


def test_probe_seeds_are_a_level_of_their_own(tmp_path):
    recipe = write_recipe(tmp_path, [0, 1], {**SYSTEMS, "ft": (20.0, 40.0, 35.0)}, probe_seeds=[0, 1])
    found = pair_intervals(pool_of(recipe), "ft", "lamer_replay")
    assert found["resampled"] == "training seeds, probe seeds and test utterances"
    assert found["units"] == ["0_probe0", "0_probe1", "1_probe0", "1_probe1"]
    assert 0 < found["new_final"]["low"] < 10 < found["new_final"]["high"]


def test_edits_that_disagree_with_the_results_are_refused(tmp_path):
    recipe = write_recipe(tmp_path, [0], SYSTEMS)
    table = recipe / "exp" / "ablation" / "seed0" / "ft" / "utt_errors_retrained.tsv"
    lines = table.read_text().splitlines()
    fields = lines[-1].split("\t")
    lines[-1] = "\t".join([*fields[:-1], str(int(fields[-1]) + 1)])  # one more edit of spa after s1
    table.write_text("\n".join(lines) + "\n")
    with pytest.raises(EvalInputError, match=r"seed0/ft/utt_errors_retrained.tsv: cer of 'spa' at 's1' is .* from its "
                                             r"edits, .* in its results; collect the run's results again"):
        pools(load_ablation(recipe / "conf" / "ablation.yaml"), recipe / "exp" / "ablation")


def test_systems_scored_on_other_utterances_are_refused(tmp_path):
    recipe = write_recipe(tmp_path, [0], SYSTEMS)
    table = recipe / "exp" / "ablation" / "seed0" / "ft" / "utt_errors_retrained.tsv"
    table.write_text(table.read_text().replace("spa_00\t", "spa_xx\t"))
    with pytest.raises(EvalInputError, match=r"ft/utt_errors_retrained.tsv: the test utterances of 'spa' differ from"):
        pair_intervals(pool_of(recipe), "ft", "lamer_replay")
