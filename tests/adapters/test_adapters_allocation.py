import pytest

from lamer.adapters import ScheduleError, experts_per_layer


@pytest.mark.parametrize("spec, depth, expected", [
    ("uniform:4", 12, [4] * 12),
    ("uniform:1", 3, [1, 1, 1]),
    ("linear:2-8", 12, [2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8]),
    ("linear:2-8", 4, [2, 4, 6, 8]),
    ("linear:8-2", 4, [8, 6, 4, 2]),
    ("steps:2,2,2,2,4,4,4,4,8,8,8,8", 12, [2, 2, 2, 2, 4, 4, 4, 4, 8, 8, 8, 8]),
    ("steps:0,1,2", 3, [0, 1, 2]),
    ("groups:2,4,8", 12, [2, 2, 2, 2, 4, 4, 4, 4, 8, 8, 8, 8]),
    ("groups:2,4,8", 24, [2] * 8 + [4] * 8 + [8] * 8),
    ("groups:2,4,8", 7, [2, 2, 2, 4, 4, 8, 8]),
    ("quartiles:1,2,4,8", 6, [1, 1, 2, 2, 4, 8]),
    (" groups: 2, 4 ", 4, [2, 2, 4, 4]),
    ("reverse:groups:2,4,8", 12, [8, 8, 8, 8, 4, 4, 4, 4, 2, 2, 2, 2]),
    # the mirror of groups:2,4,8 at depth 4 (2-2-4-8), which groups:8,4,2 (8-8-4-2) is not
    ("reverse:groups:2,4,8", 4, [8, 4, 2, 2]),
    ("reverse: linear:2-8", 4, [8, 6, 4, 2]),
    ("reverse:steps:0,1,2", 3, [2, 1, 0]),
])
def test_schedules_give_the_expected_counts(spec, depth, expected):
    assert experts_per_layer(spec, depth) == expected


@pytest.mark.parametrize("spec, depth, message", [
    ("4", 12, "expected KIND:VALUES"),
    ("uniform", 12, "expected KIND:VALUES"),
    ("cubic:2-8", 12, "unknown kind 'cubic'"),
    ("uniform:four", 12, "'four' is not a whole number"),
    ("uniform:2,4", 12, "'uniform' takes one number"),
    ("uniform:-1", 12, "cannot be negative"),
    ("uniform:0", 12, "every layer has 0 experts"),
    ("linear:2", 12, "'linear' takes FIRST-LAST"),
    ("linear:2-4-8", 12, "'linear' takes FIRST-LAST"),
    ("steps:2,2,4", 12, "3 counts for a model of 12 layers"),
    ("steps:2,,4", 3, "empty number"),
    ("groups:1,2,3,4,5", 4, "5 groups for a model of only 4 layers"),
    ("quartiles:2,4,8", 12, "exactly 4 counts"),
    ("uniform:4", 0, "depth must be positive"),
    ("reverse:", 4, "'reverse' takes a schedule, e.g. 'reverse:groups:2,4,8'"),
    ("reverse:cubic:2-8", 4, "schedule 'reverse:cubic:2-8': 'reverse' takes a schedule"),
    ("reverse:reverse:uniform:2", 4, "'reverse' of a reversed schedule is the schedule itself"),
    ("reverse:steps:1,2", 4, "schedule 'reverse:steps:1,2': schedule 'steps:1,2': 2 counts for a model of 4"),
])
def test_bad_schedules_say_what_is_wrong(spec, depth, message):
    with pytest.raises(ScheduleError, match=message.replace("(", r"\(")):
        experts_per_layer(spec, depth)


@pytest.mark.parametrize("spec", ["groups:2,4,8", "linear:1-7", "quartiles:1,2,4,8"])
@pytest.mark.parametrize("depth", [4, 7, 12])
def test_a_reversed_schedule_has_the_same_counts_in_the_opposite_order(spec, depth):
    forward = experts_per_layer(spec, depth)
    assert experts_per_layer(f"reverse:{spec}", depth) == forward[::-1]


def test_a_lamer_config_with_a_bad_reversed_allocation_names_the_key():
    from lamer.adapters import LamerConfig

    with pytest.raises(ValueError, match="allocation: schedule 'reverse:groups:two': 'reverse' takes a schedule"):
        LamerConfig(allocation="reverse:groups:two")
