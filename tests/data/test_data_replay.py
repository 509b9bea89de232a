"""The replay sample as a library call: its budget in minutes or as a fraction of the stage's new
data dirs, and the data dir it writes with the report of what was drawn."""
import json

import pytest

from lamer.data.datadir_io import read_data_dir, write_data_dir
from lamer.data.replay import ReplayBudget, write_replay
from lamer.data.selection import SplitSizes, total_duration
from lamer.data.subsets import write_split, write_subset
from tests.data.test_data_selection import corpus


def ids(utts) -> list[str]:
    return [utt.utt_id for utt in utts]


def test_a_budget_is_minutes_or_a_fraction_of_the_new_data(tmp_path):
    new = write_data_dir(corpus({"spa_a": 10, "spa_b": 4}, "spa"), tmp_path / "spa")
    other = write_data_dir(corpus({"ita_a": 6}, "ita"), tmp_path / "ita")
    assert ReplayBudget(minutes=1.5).seconds() == 90.0
    both = total_duration(read_data_dir(new)) + total_duration(read_data_dir(other))
    assert ReplayBudget(fraction=0.5, of=(new, other)).seconds() == pytest.approx(0.5 * both)
    for wrong in ({}, {"minutes": 1, "fraction": 0.1, "of": (new,)}, {"fraction": 0.1}, {"minutes": 1, "of": (new,)}):
        with pytest.raises(ValueError, match="replay"):
            ReplayBudget(**wrong)


def test_write_replay_draws_within_the_budget_and_reports_it(tmp_path):
    old = write_data_dir(corpus({f"eng_s{k}": 30 for k in range(6)}), tmp_path / "eng")
    out = tmp_path / "replay" / "s1" / "eng"
    chosen = write_replay(old, out, ReplayBudget(minutes=2), "speaker_balanced", seed=7)
    assert ids(chosen) == ids(read_data_dir(out)) and 108 <= total_duration(chosen) <= 120
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["budget_seconds"] == 120.0 and report["strategy"] == "speaker_balanced" and report["seed"] == 7
    assert report["utterances"] == len(chosen) and report["source"] == str(old)
    assert write_replay(old, tmp_path / "again", ReplayBudget(minutes=2), "speaker_balanced", seed=7) == chosen


def test_subset_and_split_are_library_calls(tmp_path):
    src = write_data_dir(corpus({f"eng_s{k}": 30 for k in range(6)}), tmp_path / "eng")
    assert 30 <= total_duration(write_subset(src, tmp_path / "sub", 0.01, "random", seed=0)) <= 36
    parts = write_split(src, tmp_path / "split", SplitSizes(0.2, 0.2), seed=0)
    assert {name: ids(read_data_dir(tmp_path / "split" / name)) for name in parts} == \
        {name: ids(utts) for name, utts in parts.items()}
