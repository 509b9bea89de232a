"""Forgetting metrics on hand-made matrices with values worked out by hand, results.json
validation, collecting per-stage score.json files, and RESULTS.md."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lamer.eval import EvalInputError
from lamer.eval.forgetting import clmasr_metrics, forgetting_metrics
from lamer.eval.report import environment, write_report
from lamer.eval.results import collect_results, load_joint, load_results, results_from_dict

# a, b introduced at base, c at s1 (also scored at base, before it was learned), d at s2
# (scored at s1 before it was learned, but missing from the base row).
MATRIX = {
    "stages": ["base", "s1", "s2"],
    "introduced": {"a": "base", "b": "base", "c": "s1", "d": "s2"},
    "cer": {
        "base": {"a": 10, "b": 20, "c": 50},
        "s1": {"a": 12, "b": 23, "c": 30, "d": 60},
        "s2": {"a": 15, "b": 25, "c": 33, "d": 40},
    },
}
JOINT = {"a": 8, "b": 18, "c": 25, "d": 35}


def test_metrics_on_hand_made_matrix_with_joint():
    metrics = forgetting_metrics(results_from_dict(MATRIX), JOINT)
    expected = {
        # mean CER over introduced languages: (10+20)/2, (12+23+30)/3, (15+25+33+40)/4
        "avg_cer": {"base": 15.0, "s1": 65 / 3, "s2": 28.25},
        # CER at introduction minus now, over older languages: none; (-2-3)/2; (-5-5-3)/3
        "bwt": {"base": None, "s1": -2.5, "s2": -13 / 3},
        # base CER minus now over new languages: 0 by construction; c: 50-30; d absent from base
        "fwt": {"base": 0.0, "s1": 20.0, "s2": None},
        # now minus joint over new languages: (2+2)/2; 30-25; 40-35
        "im": {"base": 2.0, "s1": 5.0, "s2": 5.0},
    }
    assert metrics == {name: pytest.approx(values) for name, values in expected.items()}


def test_metrics_without_joint_leave_im_null():
    metrics = forgetting_metrics(results_from_dict(MATRIX))
    assert metrics["im"] == {"base": None, "s1": None, "s2": None}
    assert metrics["bwt"]["s1"] == pytest.approx(-2.5)


def test_single_stage_matrix():
    results = results_from_dict({"stages": ["base"], "introduced": {"a": "base", "b": "base"},
                                 "cer": {"base": {"a": 10, "b": 30}}})
    assert forgetting_metrics(results) == {"avg_cer": {"base": 20.0}, "bwt": {"base": None},
                                           "fwt": {"base": 0.0}, "im": {"base": None}}
    assert forgetting_metrics(results, {"a": 5, "b": 10})["im"] == {"base": 12.5}


def test_stage_without_new_languages_has_null_fwt_and_im():
    results = results_from_dict({"stages": ["base", "s1"], "introduced": {"a": "base"},
                                 "cer": {"base": {"a": 10}, "s1": {"a": 14}}})
    metrics = forgetting_metrics(results, {"a": 9})
    assert (metrics["fwt"]["s1"], metrics["im"]["s1"], metrics["bwt"]["s1"]) == (None, None, -4.0)


# MATRIX with a second language, e, introduced at s2: the base and s2 each introduce two languages.
TWO_PER_STAGE = {**MATRIX, "introduced": {**MATRIX["introduced"], "e": "s2"},
                 "cer": {**MATRIX["cer"], "s2": {**MATRIX["cer"]["s2"], "e": 20}}}
JOINT_E = {**JOINT, "e": 15}


def test_clmasr_metrics_count_each_stage_as_one_task():
    results = results_from_dict(TWO_PER_STAGE)
    metrics = clmasr_metrics(results, JOINT_E)
    # Tasks: base {a, b}, s1 {c}, s2 {d, e}; a task's CER is the mean over its languages.
    # Rows of task CERs: base [15]; s1 [(12+23)/2 = 17.5, 30]; s2 [(15+25)/2 = 20, 33, (40+20)/2 = 30].
    expected = {
        # mean over the tasks so far: 15; (17.5+30)/2; (20+33+30)/3
        "clmasr_avg_cer": {"base": 15.0, "s1": 23.75, "s2": 83 / 3},
        # task CER when learned minus now, over older tasks, base included: none; 15-17.5; (15-20 + 30-33)/2
        "clmasr_bwt_cer": {"base": None, "s1": -2.5, "s2": -4.0},
        # new task's CER minus its joint CER: none at the base; 30-25; 30 - (35+15)/2
        "clmasr_im_cer": {"base": None, "s1": 5.0, "s2": 5.0},
    }
    assert metrics == {name: pytest.approx(values) for name, values in expected.items()}
    # ours weighs the two base languages as two: (12+23+30)/3 at s1, (15+25+33+40+20)/5 at s2
    ours = forgetting_metrics(results, JOINT_E)
    assert ours["avg_cer"] == pytest.approx({"base": 15.0, "s1": 65 / 3, "s2": 26.6})
    # and its backward transfer averages over the three old languages: (-5-5-3)/3
    assert ours["bwt"]["s2"] == pytest.approx(-13 / 3)


def test_clmasr_metrics_without_joint_single_stage_and_a_stage_without_new_languages():
    assert clmasr_metrics(results_from_dict(MATRIX))["clmasr_im_cer"] == {"base": None, "s1": None, "s2": None}
    single = results_from_dict({"stages": ["base"], "introduced": {"a": "base", "b": "base"},
                                "cer": {"base": {"a": 10, "b": 30}}})
    assert clmasr_metrics(single, {"a": 5, "b": 10}) == {
        "clmasr_avg_cer": {"base": 20.0}, "clmasr_bwt_cer": {"base": None}, "clmasr_im_cer": {"base": None}}
    # s1 trains on no new language: it is no task of its own, yet its row is measured
    idle = results_from_dict({"stages": ["base", "s1"], "introduced": {"a": "base", "b": "base"},
                              "cer": {"base": {"a": 10, "b": 20}, "s1": {"a": 14, "b": 22}}})
    assert clmasr_metrics(idle, {"a": 9, "b": 9}) == {
        "clmasr_avg_cer": {"base": 15.0, "s1": 18.0}, "clmasr_bwt_cer": {"base": None, "s1": -3.0},
        "clmasr_im_cer": {"base": None, "s1": None}}


def broken(**changes):
    obj = json.loads(json.dumps(MATRIX))
    for key, value in changes.items():
        if value is None:
            del obj[key]
        else:
            obj[key] = value
    return obj


@pytest.mark.parametrize(
    "obj, message",
    [
        (broken(cer=None), r"missing key 'cer'"),
        (broken(**{"lid-acc": {}}), r"unknown key\(s\) \['lid-acc'\]"),
        (broken(stages=["base", "base"]), r"'stages' must be a non-empty list of distinct"),
        (broken(introduced={"a": "s9"}), r"introduced\['a'\] = 's9' is not in 'stages'"),
        (broken(protocol="frozen"), r"'protocol' must be one of"),
        (broken(cer={"base": {"a": 1, "b": 2}, "s1": {"a": 1, "b": 2, "c": 3}}), r"cer\['s2'\] is missing"),
        (broken(cer={**MATRIX["cer"], "s3": {}}), r"cer\['s3'\]: stage not in 'stages'"),
        (broken(cer={**MATRIX["cer"], "s2": {"a": 1, "b": 2, "c": 3}}),
         r"cer\['s2'\] lacks 'd', introduced at 's2'"),
        (broken(cer={**MATRIX["cer"], "s1": {**MATRIX["cer"]["s1"], "zz": 1}}),
         r"cer\['s1'\]\['zz'\]: language not in 'introduced'"),
        (broken(cer={**MATRIX["cer"], "s1": {**MATRIX["cer"]["s1"], "a": -1}}), r"cer\['s1'\]\['a'\]: -1"),
        (broken(cer={**MATRIX["cer"], "s1": {**MATRIX["cer"]["s1"], "a": "12"}}),
         r"cer\['s1'\]\['a'\]: expected a finite number"),
        (broken(lid_acc={s: {j: 101 for j in row} for s, row in MATRIX["cer"].items()}),
         r"lid_acc\['base'\]\['a'\]: 101 is not a percentage in \[0, 100\]"),
    ],
)
def test_invalid_results_name_the_key(obj, message):
    with pytest.raises(EvalInputError, match=message):
        results_from_dict(obj, "results.json")


def test_invalid_json_names_file_and_line(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('{"stages": ["base"],\n "cer": }\n')
    with pytest.raises(EvalInputError, match=r"results.json:2: invalid JSON"):
        load_results(path)


def test_joint_accepts_score_json_and_needs_every_language(tmp_path):
    results = results_from_dict(MATRIX)
    path = tmp_path / "joint.json"
    path.write_text(json.dumps({j: {"cer": v, "lid_acc": 90.0, "n": 3} for j, v in JOINT.items()}))
    assert load_joint(path, results) == JOINT
    path.write_text(json.dumps({"a": 1.0}))
    with pytest.raises(EvalInputError, match=r"joint.json: no joint-training CER for \['b', 'c', 'd'\]"):
        load_joint(path, results)


def write_scores(directory: Path, scores: dict[str, tuple[float, float]]) -> Path:
    directory.mkdir()
    (directory / "score.json").write_text(
        json.dumps({lang: {"cer": cer, "lid_acc": lid, "n": 4} for lang, (cer, lid) in scores.items()}))
    return directory


def test_collect_results_from_stage_score_dirs(tmp_path):
    base = write_scores(tmp_path / "base", {"a": (10.0, 90.0), "b": (55.0, 20.0)})
    s1 = write_scores(tmp_path / "s1", {"a": (12.0, 85.0), "b": (30.0, 75.0)})
    collected = collect_results({"base": base, "s1": s1}, {"a": "base", "b": "s1"}, protocol="fixed")
    assert collected == {
        "stages": ["base", "s1"], "introduced": {"a": "base", "b": "s1"},
        "cer": {"base": {"a": 10.0, "b": 55.0}, "s1": {"a": 12.0, "b": 30.0}},
        "lid_acc": {"base": {"a": 90.0, "b": 20.0}, "s1": {"a": 85.0, "b": 75.0}},
        "protocol": "fixed",
    }
    with pytest.raises(EvalInputError, match=r"cer\['s1'\] lacks 'c'"):
        collect_results({"base": base, "s1": s1}, {"a": "base", "b": "s1", "c": "s1"})


def test_collect_results_carries_the_classifier_lid_of_every_stage(tmp_path):
    base = write_scores(tmp_path / "base", {"a": (10.0, 90.0), "b": (55.0, 20.0)})
    s1 = write_scores(tmp_path / "s1", {"a": (12.0, 85.0), "b": (30.0, 75.0)})
    for directory, accuracy in ((base, 95.0), (s1, 70.0)):
        scores = json.loads((directory / "score.json").read_text())
        (directory / "score.json").write_text(json.dumps(
            {lang: {**entry, "lid_acc_classifier": accuracy} for lang, entry in scores.items()}))
    collected = collect_results({"base": base, "s1": s1}, {"a": "base", "b": "s1"})
    assert collected["lid_acc_classifier"] == {"base": {"a": 95.0, "b": 95.0}, "s1": {"a": 70.0, "b": 70.0}}
    assert results_from_dict(collected).lid_acc_classifier == collected["lid_acc_classifier"]
    plain = write_scores(tmp_path / "s2", {"a": (12.0, 85.0), "b": (30.0, 75.0)})
    with pytest.raises(EvalInputError, match=r"s2/score.json: no 'lid_acc_classifier', which stage\(s\) base, s1"):
        collect_results({"base": base, "s1": s1, "s2": plain}, {"a": "base", "b": "s1"})


def test_report_shows_the_classifier_lid_beside_the_tag_lid(tmp_path):
    lid = {s: {j: 80.0 for j in row} for s, row in MATRIX["cer"].items()}
    classifier = {s: {j: 97.5 for j in row} for s, row in MATRIX["cer"].items()}
    write_report(results_from_dict({**MATRIX, "lid_acc": lid, "lid_acc_classifier": classifier}), tmp_path / "with")
    text = (tmp_path / "with" / "RESULTS.md").read_text()
    assert "## LID accuracy (%) per language after each stage" in text
    assert "## LID accuracy (%) of the utterance classifier per language after each stage" in text
    assert "| base | **97.50** |" in text
    assert "(lid_acc_classifier_over_stages.png)" in text
    assert (tmp_path / "with" / "lid_acc_classifier_over_stages.png").read_bytes().startswith(b"\x89PNG")
    write_report(results_from_dict({**MATRIX, "lid_acc": lid}), tmp_path / "without")
    text = (tmp_path / "without" / "RESULTS.md").read_text()
    assert "Absent: this run's probes have no utterance-level language classifier" in text
    assert not (tmp_path / "without" / "lid_acc_classifier_over_stages.png").exists()


def test_write_report(tmp_path):
    lid = {s: {j: 80.0 for j in row} for s, row in MATRIX["cer"].items()}
    results = results_from_dict({**MATRIX, "lid_acc": lid, "protocol": "fixed"})
    metrics = write_report(results, tmp_path / "out", JOINT, "joint.json")
    assert json.loads((tmp_path / "out" / "metrics.json").read_text()) == metrics
    text = (tmp_path / "out" / "RESULTS.md").read_text()
    assert "fixed: the probe trained on the base model is kept frozen" in text
    # c was scored at base before it was introduced (italic) and introduced at s1 (bold)
    assert "| base | **10.00** | **20.00** | _50.00_ | – |" in text
    assert "| s1 | 12.00 | 23.00 | **30.00** | _60.00_ |" in text
    assert "| s2 | 28.25 | -4.33 | – | 5.00 |" in text
    # CL-MASR's, in a table of their own after ours: s2 avg (15+25)/2, 33, 40 -> 31; bwt (15-20 + 30-33)/2
    assert text.index("## Continual-learning metrics (CER points)") < text.index(
        "## Continual-learning metrics, CL-MASR's definitions (CER points)")
    assert "| stage | clmasr_avg_cer | clmasr_bwt_cer | clmasr_im_cer |" in text
    assert "| s2 | 31.00 | -4.00 | 5.00 |" in text
    # CL-MASR's "Average" columns: (15 + 23.75 + 31)/3, (-2.5-4)/2, (5+5)/2
    assert "| mean over stages | 23.25 | -3.25 | 5.00 |" in text
    assert "forward transfer is measured against single-task fine-tuning, which lamer does not run" in text
    assert metrics["clmasr_mean_over_stages_cer"] == pytest.approx(
        {"clmasr_avg_cer": 23.25, "clmasr_bwt_cer": -3.25, "clmasr_im_cer": 5.0})
    assert list(metrics) == ["avg_cer", "bwt", "fwt", "im", "clmasr_avg_cer", "clmasr_bwt_cer", "clmasr_im_cer",
                             "clmasr_mean_over_stages_cer"]
    assert "## LID accuracy (%)" in text and "![CER per language over stages](cer_over_stages.png)" in text
    for png in ("cer_over_stages.png", "lid_acc_over_stages.png"):
        assert (tmp_path / "out" / png).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_default_protocol_is_retrained_and_lid_is_optional(tmp_path):
    write_report(results_from_dict(MATRIX), tmp_path)
    text = (tmp_path / "RESULTS.md").read_text()
    assert "retrained: a fresh downstream probe" in text
    assert "LID accuracy" not in text and not (tmp_path / "lid_acc_over_stages.png").exists()
    assert "| s2 | 28.25 | -4.33 | – | – |" in text


def test_environment_header_is_espnets_with_the_repository_commit(tmp_path):
    env = environment()
    assert list(env) == ["date", "python version", "espnet version", "pytorch version", "Git hash", "Commit date"]
    repo = Path(__file__).resolve().parent
    done = subprocess.run(["git", "show", "-s", "--format=%H%n%cd", "HEAD"], cwd=repo, capture_output=True, text=True)
    expected = done.stdout.strip().split("\n") if done.returncode == 0 else ["unknown", "unknown"]
    assert [env["Git hash"], env["Commit date"]] == expected
    assert env["pytorch version"].startswith("pytorch 2.") and env["espnet version"].startswith("espnet ")
    write_report(results_from_dict(MATRIX), tmp_path)
    text = (tmp_path / "RESULTS.md").read_text()
    block = text[text.index("## Environments\n\n"):].split("\n\n")[1].splitlines()
    assert [line.split(":")[0] for line in block] == ["- date", "- python version", "- espnet version",
                                                      "- pytorch version", "- Git hash", "  - Commit date"]
    assert block[4] == f"- Git hash: `{expected[0]}`"


# The PER matrix of the same runs (phones by espeak-ng); JOINT_PER the joint training's PER.
PER = {
    "base": {"a": 6, "b": 12, "c": 40},
    "s1": {"a": 8, "b": 12, "c": 20, "d": 50},
    "s2": {"a": 9, "b": 15, "c": 22, "d": 30},
}
JOINT_PER = {"a": 5, "b": 10, "c": 18, "d": 27}
G2P = "espeak-ng 1.52.0 (espeakng-loader 0.2.4)"
VOICES = {"a": "en-us", "b": "fr", "c": "de", "d": "vi"}  # the espeak-ng voice of each language's PER


def test_per_metrics_on_hand_made_matrix():
    metrics = forgetting_metrics(results_from_dict({**MATRIX, "per": PER, "g2p": G2P}), JOINT_PER, rate="per")
    expected = {
        # (6+12)/2, (8+12+20)/3, (9+15+22+30)/4
        "avg_per": {"base": 9.0, "s1": 40 / 3, "s2": 19.0},
        # none; (6-8 + 12-12)/2; (6-9 + 12-15 + 20-22)/3
        "bwt": {"base": None, "s1": -1.0, "s2": -8 / 3},
        # 0 by construction; c: 40-20; d absent from base
        "fwt": {"base": 0.0, "s1": 20.0, "s2": None},
        # (6-5 + 12-10)/2; 20-18; 30-27
        "im": {"base": 1.5, "s1": 2.0, "s2": 3.0},
    }
    assert metrics == {name: pytest.approx(values) for name, values in expected.items()}
    with pytest.raises(ValueError, match="no PER matrix"):
        forgetting_metrics(results_from_dict(MATRIX), rate="per")
    with pytest.raises(ValueError, match="no PER matrix"):
        clmasr_metrics(results_from_dict(MATRIX), rate="per")


def test_results_with_and_without_per():
    results = results_from_dict({**MATRIX, "per": PER, "g2p": G2P})
    assert (results.per, results.g2p, results.g2p_voices) == (PER, G2P, None)
    assert results.to_dict() == {**MATRIX, "per": PER, "g2p": G2P, "protocol": "retrained"}
    assert list(results.to_dict()) == ["stages", "introduced", "cer", "per", "g2p", "protocol"]
    with_voices = results_from_dict({**MATRIX, "per": PER, "g2p": G2P, "g2p_voices": VOICES})
    assert with_voices.g2p_voices == VOICES
    assert list(with_voices.to_dict()) == ["stages", "introduced", "cer", "per", "g2p", "g2p_voices", "protocol"]
    plain = results_from_dict(MATRIX)
    assert (plain.per, plain.g2p) == (None, None) and plain.to_dict() == {**MATRIX, "protocol": "retrained"}


@pytest.mark.parametrize("obj, message", [
    ({**MATRIX, "per": {"base": PER["base"], "s1": PER["s1"]}}, r"per\['s2'\] is missing"),
    ({**MATRIX, "per": {**PER, "s1": {**PER["s1"], "a": -1}}}, r"per\['s1'\]\['a'\]: -1"),
    ({**MATRIX, "g2p": G2P}, r"'g2p' must name the G2P of the 'per' matrix"),
    ({**MATRIX, "per": PER, "g2p": ""}, r"'g2p' must name the G2P"),
    ({**MATRIX, "per": PER, "g2p_voices": VOICES}, r"'g2p_voices' must name the espeak-ng voice .*with 'g2p'"),
    ({**MATRIX, "per": PER, "g2p": G2P, "g2p_voices": {"a": "en-us"}},
     r"'g2p_voices' must name the espeak-ng voice of every language of the 'per' matrix \(\['a', 'b', 'c', 'd'\]\)"),
    ({**MATRIX, "per": PER, "g2p": G2P, "g2p_voices": {**VOICES, "d": ""}}, r"'g2p_voices' must name"),
])
def test_invalid_per_names_the_key(obj, message):
    with pytest.raises(EvalInputError, match=message):
        results_from_dict(obj, "results.json")


def write_per(directory: Path, per: dict[str, float], g2p: str = G2P, voices: dict[str, str] | None = None) -> Path:
    """Add PER to a stage's score.json and its G2P (and voices, where given) to its summary.json, as score does."""
    scores = json.loads((directory / "score.json").read_text())
    (directory / "score.json").write_text(json.dumps({lang: {**e, "per": per[lang]} for lang, e in scores.items()}))
    (directory / "summary.json").write_text(json.dumps({"g2p": g2p, "per": 1.0}
                                                       | ({"g2p_voices": voices} if voices is not None else {})))
    return directory


def test_collect_results_carries_the_per_of_every_stage_and_its_g2p(tmp_path):
    base = write_per(write_scores(tmp_path / "base", {"a": (10.0, 90.0), "b": (55.0, 20.0)}), {"a": 6.0, "b": 40.0})
    s1 = write_per(write_scores(tmp_path / "s1", {"a": (12.0, 85.0), "b": (30.0, 75.0)}), {"a": 7.0, "b": 21.0})
    collected = collect_results({"base": base, "s1": s1}, {"a": "base", "b": "s1"})
    assert collected["per"] == {"base": {"a": 6.0, "b": 40.0}, "s1": {"a": 7.0, "b": 21.0}}
    assert collected["g2p"] == G2P and collected["cer"]["s1"] == {"a": 12.0, "b": 30.0}
    plain = write_scores(tmp_path / "s2", {"a": (12.0, 85.0), "b": (30.0, 75.0)})
    with pytest.raises(EvalInputError, match=r"s2/score.json: no 'per', which stage\(s\) base, s1 have: score every "
                                             r"stage with the phone error rate"):
        collect_results({"base": base, "s1": s1, "s2": plain}, {"a": "base", "b": "s1"})
    other = write_per(write_scores(tmp_path / "s3", {"a": (12.0, 85.0), "b": (30.0, 75.0)}), {"a": 7.0, "b": 21.0},
                      g2p="espeak-ng 1.51 (espeakng-loader 0.1)")
    with pytest.raises(EvalInputError, match=r"s3/summary.json: PER phones by 'espeak-ng 1.51 .*stage 'base'"):
        collect_results({"base": base, "s1": s1, "s3": other}, {"a": "base", "b": "s1"})


def test_collect_results_carries_the_voice_of_every_language(tmp_path):
    def stage(name: str, voices: dict[str, str] | None) -> Path:
        return write_per(write_scores(tmp_path / name, {"a": (10.0, 90.0), "b": (55.0, 20.0)}),
                         {"a": 6.0, "b": 40.0}, voices=voices)

    voices = {"a": "en-us", "b": "vi"}
    collected = collect_results({"base": stage("base", voices), "s1": stage("s1", voices)}, {"a": "base", "b": "s1"})
    assert collected["g2p_voices"] == voices and list(collected)[4:6] == ["g2p", "g2p_voices"]
    with pytest.raises(EvalInputError, match=r"s2/summary.json: PER of 'b' read with espeak-ng voice 'fr', stage "
                                             r"'base''s with 'vi'"):
        collect_results({"base": tmp_path / "base", "s2": stage("s2", {"a": "en-us", "b": "fr"})},
                        {"a": "base", "b": "s2"})
    with pytest.raises(EvalInputError, match=r"old/summary.json: 'g2p_voices' absent, unlike in stage 'base'"):
        collect_results({"base": tmp_path / "base", "old": stage("old", None)}, {"a": "base", "b": "old"})
    with pytest.raises(EvalInputError, match=r"bad/summary.json: 'g2p_voices' must map each language"):
        collect_results({"bad": stage("bad", ["en-us"])}, {"a": "bad", "b": "bad"})


def _without_date(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("- date: "))


def test_report_shows_per_beside_cer(tmp_path):
    lid = {s: {j: 80.0 for j in row} for s, row in MATRIX["cer"].items()}
    with_per = results_from_dict({**MATRIX, "lid_acc": lid, "per": PER, "g2p": G2P})
    metrics = write_report(with_per, tmp_path / "out", JOINT, "joint.json", joint_per=JOINT_PER)
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved == metrics and saved["per"]["im"] == pytest.approx({"base": 1.5, "s1": 2.0, "s2": 3.0})
    assert saved["avg_cer"]["s2"] == pytest.approx(28.25)  # the CER metrics as before
    text = (tmp_path / "out" / "RESULTS.md").read_text()
    assert "## PER (%) per language after each stage" in text
    assert "| base | **6.00** | **12.00** | _40.00_ | – |" in text
    assert f"by `{G2P}` with the voice of the reference language (`lamer.data.g2p`" in text
    write_report(results_from_dict({**MATRIX, "lid_acc": lid, "per": PER, "g2p": G2P, "g2p_voices": VOICES}),
                 tmp_path / "voices", JOINT, "joint.json", joint_per=JOINT_PER)
    assert (f"by `{G2P}` with the voice of the reference language (espeak-ng voices: a `en-us`, b `fr`, c `de`, "
            "d `vi`) (`lamer.data.g2p`") in (tmp_path / "voices" / "RESULTS.md").read_text()
    assert "## Continual-learning metrics (PER points)" in text and "| stage | avg_per | bwt | fwt | im |" in text
    assert "| s2 | 19.00 | -2.67 | – | 3.00 |" in text
    assert "- avg_per: mean PER over the languages introduced so far" in text
    # CL-MASR's over PER: s2 avg ((9+15)/2 + 22 + 30)/3, bwt (9-12 + 20-22)/2, im 30-27
    assert "## Continual-learning metrics, CL-MASR's definitions (PER points)" in text
    assert "| s2 | 21.33 | -2.50 | 3.00 |" in text
    assert saved["per"]["clmasr_bwt_per"] == pytest.approx({"base": None, "s1": -1.0, "s2": -2.5})
    assert saved["per"]["clmasr_im_per"] == pytest.approx({"base": None, "s1": 2.0, "s2": 3.0})
    assert text.index("## CER (%)") < text.index("## PER (%)") < text.index("## LID accuracy (%)")
    assert "![PER per language over stages](per_over_stages.png)" in text
    assert (tmp_path / "out" / "per_over_stages.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    # without PER: no trace of it, and the report of results that never had it
    write_report(results_from_dict({**MATRIX, "lid_acc": lid}), tmp_path / "out", JOINT, "joint.json")
    write_report(results_from_dict({**MATRIX, "lid_acc": lid}), tmp_path / "plain", JOINT, "joint.json")
    assert not (tmp_path / "out" / "per_over_stages.png").exists()
    for name in ("RESULTS.md", "metrics.json"):
        assert (_without_date((tmp_path / "out" / name).read_text())
                == _without_date((tmp_path / "plain" / name).read_text()))
    plain = (tmp_path / "plain" / "RESULTS.md").read_text()
    assert "## PER" not in plain and "PER points" not in plain and "per_over_stages" not in plain
