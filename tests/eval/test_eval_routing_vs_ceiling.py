"""Routing against its ceiling in the report: per stage and layer, the routers' divergence between
languages beside the ceiling's, as a table in RESULTS.md and on the expert-usage heatmap."""
from __future__ import annotations

import json

import pytest
from matplotlib.text import Text

import lamer.eval.plots as plots
from lamer.bin import forgetting_report
from lamer.eval import EvalInputError
from lamer.eval.routing_vs_ceiling import combine

RESULTS = {"stages": ["base", "s1", "s2"], "introduced": {"eng": "base", "spa": "s1", "fra": "s2"},
           "cer": {"base": {"eng": 20.0}, "s1": {"eng": 25.0, "spa": 30.0},
                   "s2": {"eng": 26.0, "spa": 31.0, "fra": 28.0}}}
USAGE = {"1": {lang: [0.4, 0.3, 0.3] for lang in ("eng", "spa", "fra")},
         "2": {lang: [1 / 7] * 7 for lang in ("eng", "spa", "fra")}}


def router(js_router: float, js_soft: float, experts: int = 7, acc: float = 0.3) -> dict:
    """One router's entry as routing_ceiling writes it."""
    return {"experts": experts, "frames": 240, "frame_acc": acc, "chance": 0.5, "js_soft": js_soft,
            "js_hard": 2 * js_soft, "js_router": js_router, "js_router_train": js_router / 2}


def ceiling(languages: list[str], deep: float) -> dict:
    """routing_ceiling's output for adapters routed in layers 1 (3 experts) and 2 (7), on fc1 and fc2."""
    return {"languages": languages, "eval_languages": languages,
            "routers": {"1.fc1": router(0.0, 0.0, 3), "1.fc2": router(0.0, 0.0, 3),
                        "2.fc1": router(deep, 0.04, acc=0.2), "2.fc2": router(deep + 0.004, 0.06, acc=0.4)}}


def test_layers_average_their_routers_and_refuse_what_is_not_a_ceiling():
    data = combine([("s1", ceiling(["eng", "spa"], 0.008), "s1.json")])
    shallow, deep = data["stages"][0]["layers"]
    assert shallow == {"layer": 1, "experts": 3, "routers": 2, "frames": 240, "js_router": 0.0, "js_soft": 0.0,
                       "js_hard": 0.0, "ratio": None, "frame_acc": 0.3, "chance": 0.5}
    assert (deep["js_router"], deep["js_soft"], deep["js_hard"], deep["frame_acc"]) == pytest.approx(
        (0.010, 0.05, 0.1, 0.3))
    assert deep["ratio"] == pytest.approx(0.1)  # to the top-1 ceiling
    bad = ceiling(["eng", "spa"], 0.01)
    del bad["routers"]["2.fc2"]["js_soft"]
    with pytest.raises(EvalInputError, match=r"^s1.json: routers: 2.fc2: no js_soft$"):
        combine([("s1", bad, "s1.json")])
    bad["routers"]["2.fc2"] = {**router(0.01, 0.05, experts=4)}
    with pytest.raises(EvalInputError, match="s1.json: layer 2: its routers have different numbers of experts"):
        combine([("s1", bad, "s1.json")])


@pytest.fixture
def report_inputs(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps(RESULTS), encoding="utf-8")
    (tmp_path / "usage.json").write_text(json.dumps(USAGE), encoding="utf-8")
    routing = combine([("s1", ceiling(["eng", "spa"], 0.003), "s1.json"),
                       ("s2", ceiling(["eng", "spa", "fra"], 0.008), "s2.json")])
    (tmp_path / "routing.json").write_text(json.dumps(routing), encoding="utf-8")
    return tmp_path


def test_the_report_tables_every_stage_and_the_heatmap_shows_the_last(report_inputs, monkeypatch):
    drawn = {}
    save_png = plots.save_png

    def keep_text(fig, out_png):  # the figure as drawn, then written as the report writes it
        drawn[out_png.name] = [text.get_text() for text in fig.findobj(Text)]
        save_png(fig, out_png)

    monkeypatch.setattr(plots, "save_png", keep_text)
    out = report_inputs / "report"
    assert forgetting_report.main(["--matrix", str(report_inputs / "results.json"), "--expert_usage",
                                   str(report_inputs / "usage.json"), "--routing_vs_ceiling",
                                   str(report_inputs / "routing.json"), "--out", str(out)]) == 0
    page = (out / "RESULTS.md").read_text(encoding="utf-8")
    section = page.split("## Routing against its ceiling\n\n")[1].split("## Plots")[0]
    header = "| layer | experts | routers' JS | ceiling JS | ceiling JS, soft | ratio | frame LID % (chance) |"
    assert header in section
    after_s1, after_s2 = section.split("### After s1 (eng, spa)\n\n")[1].split("### After s2 (eng, spa, fra)\n\n")
    assert "| 1 | 3 | 0.000 | 0.000 | 0.000 | – | 30.0 (50.0) |" in after_s1
    assert "| 2 | 7 | 0.005 | 0.100 | 0.050 | 0.05 | 30.0 (50.0) |" in after_s1
    assert "| 2 | 7 | 0.010 | 0.100 | 0.050 | 0.10 | 30.0 (50.0) |" in after_s2
    labels = drawn["expert_usage.png"]
    assert "layer 1\n0.000/0.000" in labels and "layer 2\n0.010/0.100" in labels  # the last stage's
    assert any("the ceiling of a gate on their inputs" in text for text in labels)
    assert (out / "expert_usage.png").read_bytes().startswith(b"\x89PNG")


def test_a_report_without_the_measure_has_neither(report_inputs, monkeypatch):
    drawn = {}
    monkeypatch.setattr(plots, "save_png", lambda fig, out_png: drawn.update(
        {out_png.name: [text.get_text() for text in fig.findobj(Text)]}))
    out = report_inputs / "plain"
    assert forgetting_report.main(["--matrix", str(report_inputs / "results.json"), "--expert_usage",
                                   str(report_inputs / "usage.json"), "--out", str(out)]) == 0
    assert "Routing against its ceiling" not in (out / "RESULTS.md").read_text(encoding="utf-8")
    assert "layer 2" in drawn["expert_usage.png"] and not any("ceiling" in text for text in drawn["expert_usage.png"])


@pytest.mark.parametrize("content, message", [
    ({"stages": []}, "routing.json: expected {\"stages\": [{\"stage\", \"languages\", \"layers\"}, ...]}"),
    ({"stages": [{"stage": "s1", "languages": [], "layers": [{"layer": 1}]}]},
     "routing.json: stages[0] (s1): layers: expected rows with the keys layer, experts"),
    ({"stages": [{"stage": "s1", "languages": [], "layers": [
        {"layer": 2, "experts": 7, "routers": 2, "frames": 9, "js_router": "high", "js_soft": 0.1, "js_hard": 0.2,
         "ratio": None, "frame_acc": 0.3, "chance": 0.5}]}]},
     "routing.json: stages[0] (s1): layer 2: js_router: expected a finite number, got 'high'"),
])
def test_the_report_refuses_a_malformed_file_in_one_line(report_inputs, capsys, content, message):
    (report_inputs / "routing.json").write_text(json.dumps(content), encoding="utf-8")
    assert forgetting_report.main(["--matrix", str(report_inputs / "results.json"), "--routing_vs_ceiling",
                                   str(report_inputs / "routing.json"), "--out", str(report_inputs / "bad")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("forgetting_report: error: ") and message in err and err.count("\n") == 1
    assert not (report_inputs / "bad").exists()
