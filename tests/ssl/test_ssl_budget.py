"""The budget an ablation holds systems to: the ``matched`` entry of its config, checked on counts."""
from __future__ import annotations

import pytest

from lamer.ssl.budget import Matched, budget_problems, parse_matched

NAMES = {"frozen", "lamer_replay", "lora_replay", "inverted"}
GOOD = {"reference": "lamer_replay", "systems": ["lora_replay", "inverted"], "trainable_params": 0.1,
        "total_rank": 0.05}
COUNTS = {"frozen": {"trainable_params": 0},
          "lamer_replay": {"trainable_params": 1000, "total_rank": 100},
          "lora_replay": {"trainable_params": 1090, "total_rank": 104},
          "inverted": {"trainable_params": 1000, "total_rank": 100}}


def _parse(value):
    problems: list[str] = []
    return parse_matched(value, NAMES, problems), problems


def test_a_good_entry_is_read_whole():
    matched, problems = _parse(GOOD)
    assert not problems
    assert matched == Matched("lamer_replay", ("lora_replay", "inverted"),
                              {"trainable_params": 0.1, "total_rank": 0.05})


@pytest.mark.parametrize("change, message", [
    ({"reference": "ft"}, "matched.reference: 'ft' is not a system of this ablation"),
    ({"systems": []}, "matched.systems: expected a non-empty list of distinct systems"),
    ({"systems": ["inverted", "inverted"]}, "matched.systems: expected a non-empty list of distinct systems"),
    ({"systems": ["uniform"]}, "matched.systems: 'uniform' is not a system of this ablation"),
    ({"systems": ["lamer_replay"]}, "matched.systems: lamer_replay is the reference itself"),
    ({"total_rank": 1.5}, "matched.total_rank: the relative tolerance of the systems' total_rank"),
    ({"trainable_params": "10%"}, "matched.trainable_params: the relative tolerance"),
    ({"trainable_params": None}, "matched.trainable_params: the relative tolerance"),
    ({"tolerance": 0.1}, "matched: unknown key(s) ['tolerance']"),
])
def test_a_bad_entry_names_its_key(change, message):
    matched, problems = _parse({**GOOD, **change})
    assert matched is None and any(message in p for p in problems), problems


def test_a_non_mapping_is_refused():
    assert _parse([0.1])[1] == ["matched: expected a mapping {reference: ..., systems: [...], trainable_params: ..., "
                                "total_rank: ...}, got [0.1]"]


def test_systems_within_their_tolerance_pass_and_those_outside_are_named_with_their_numbers():
    matched, _ = _parse(GOOD)
    assert budget_problems(matched, COUNTS) == []
    counts = {**COUNTS, "lora_replay": {"trainable_params": 1110, "total_rank": 94}}
    assert budget_problems(matched, counts) == [
        "matched.trainable_params: lora_replay has 1110, +11.0% against lamer_replay's 1000, outside the tolerance "
        "of 10%: change its method's rank or allocation",
        "matched.total_rank: lora_replay has 94, -6.0% against lamer_replay's 100, outside the tolerance of 5%: "
        "change its method's rank or allocation"]


def test_a_system_without_adapters_cannot_be_matched():
    matched, _ = _parse({**GOOD, "systems": ["frozen"]})
    assert "matched.systems: frozen has no total_rank" in " ".join(budget_problems(matched, COUNTS))
    matched, _ = _parse({**GOOD, "reference": "frozen", "systems": ["inverted"]})
    assert "matched.reference: frozen has no trainable_params to match" in " ".join(budget_problems(matched, COUNTS))
