"""The ablation's committed per-run outputs: export from a runs' directory (results, expert usage,
probe logs, trainable counts), and a summary that is a function of those files alone."""
import json
import shutil
from pathlib import Path

import pytest

from lamer.ablation.runs import export_runs
from lamer.ablation.spec import load_ablation
from lamer.ablation.summary import write_summary
from lamer.bin.ablation import main
from lamer.eval import EvalInputError

CONFIG = """
seeds: [0, 1]
plan: conf/plan.yaml
reference: lamer_replay
baseline: ft
expectations:
  - {check: best, protocols: [fixed]}
  - {check: bwt_share, divisor: 5, protocols: [fixed]}
systems:
  frozen: {train_on: none}
  ft: {method: conf/m.yaml}
  lamer_replay: {method: conf/m.yaml}
"""
STAGES = ["base", "s1"]


def results(protocol: str, forget: float, learned: float) -> dict:
    """A results JSON in lamer.eval.results' schema: eng at the base, spa from s1, with LID."""
    return {"stages": STAGES, "introduced": {"spa": "s1", "eng": "base"}, "protocol": protocol,
            "cer": {"s1": {"spa": learned, "eng": 10.1 + forget}, "base": {"eng": 10.1, "spa": 55.3}},
            "lid_acc": {"base": {"eng": 90.0}, "s1": {"eng": 85.5, "spa": 60.25}}}


def epoch_line(epoch: int, cer: float) -> str:
    return (f"[vm] 2026-11-26 00:52:20,000 (trainer:394) INFO: {epoch}epoch results: [train] loss_ctc=150.1, "
            f"cer_ctc=0.5, [valid] loss_ctc=148.2, cer_ctc={cer}, loss=148.2, time=0.9 seconds\n")


def write_run(run: Path, seed: int, system: str, logs: bool) -> None:
    """One run's files as ssl.sh leaves them (plus a large file the export must leave behind)."""
    run.mkdir(parents=True)
    forget, learned = {"frozen": (0, 55.3), "ft": (6 + seed, 30.7), "lamer_replay": (0.5 + seed / 3, 31.1)}[system]
    for protocol in ("retrained", "fixed"):
        (run / f"results_{protocol}.json").write_text(json.dumps(results(protocol, forget, learned + seed)))
    if system == "lamer_replay":
        (run / "expert_usage.json").write_text(json.dumps({"3": {"spa": [0.4, 0.6], "eng": [0.7, 0.3]}}))
    (run / "upstream.pt").write_bytes(b"\0" * 4096)
    if logs:
        for stage in ("base",) if system == "frozen" else ("s1",):
            (run / "logs").mkdir(exist_ok=True)
            (run / "logs" / f"probe_{stage}.log").write_text(
                "".join(epoch_line(k + 1, cer) for k, cer in enumerate((1.0, 0.9, 0.7 - seed / 10))))


@pytest.fixture
def recipe(tmp_path):
    """A recipe with conf/ablation.yaml and its runs under exp/ablation: two seeds, three systems."""
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "plan.yaml").write_text("{}\n")
    (tmp_path / "conf" / "m.yaml").write_text("ssl_adapter: none\n")
    (tmp_path / "conf" / "ablation.yaml").write_text(CONFIG)
    exp = tmp_path / "exp" / "ablation"
    for seed in (0, 1):
        for system in ("frozen", "ft", "lamer_replay"):
            write_run(exp / f"seed{seed}" / system, seed, system, logs=True)
    (exp / "seed1" / "unlisted").mkdir()  # not a system of the config: not exported
    (exp / "trainable.json").write_text(json.dumps(
        {"upstream": str(exp / "base" / "upstream.pt"),
         "systems": {"lamer_replay": {"trainable_percent": 2.5, "method": str(tmp_path / "conf" / "m.yaml")},
                     "ft": {"trainable_percent": 98.0, "method": "/elsewhere/ft.yaml"}}}))
    return tmp_path


def export(recipe: Path, out: Path) -> list[str]:
    return export_runs(load_ablation(recipe / "conf" / "ablation.yaml"), recipe / "exp" / "ablation",
                       recipe / "exp" / "ablation" / "trainable.json", out)


def files(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_export_writes_the_runs_layout_with_probe_curves(recipe):
    runs = recipe / "ablation" / "runs"
    assert export(recipe, runs) == ["seed0/frozen", "seed0/ft", "seed0/lamer_replay",
                                    "seed1/frozen", "seed1/ft", "seed1/lamer_replay"]
    layout = files(runs)
    assert sorted(layout) == ["environment.json", *(f"seed{k}/{system}/{name}" for k in (0, 1)
                                                     for system in ("frozen", "ft", "lamer_replay")
                                                     for name in (["expert_usage.json"] if system == "lamer_replay"
                                                                  else []) + ["probe_cer.json", "results_fixed.json",
                                                                              "results_retrained.json"]),
                              "trainable.json"]
    assert json.loads(layout["seed1/ft/probe_cer.json"]) == {"s1": [1.0, 0.9, 0.6]}
    assert json.loads(layout["seed0/frozen/probe_cer.json"]) == {"base": [1.0, 0.9, 0.7]}
    exported = json.loads(layout["seed0/ft/results_fixed.json"])
    assert exported == results("fixed", 6, 30.7)
    assert list(exported) == sorted(exported) and list(exported["cer"]["s1"]) == ["eng", "spa"]  # sorted keys
    trainable = json.loads(layout["trainable.json"])
    assert trainable["upstream"] == "exp/ablation/base/upstream.pt"  # where the runs were is no result
    assert trainable["systems"]["lamer_replay"] == {"method": "conf/m.yaml", "trainable_percent": 2.5}
    assert trainable["systems"]["ft"]["method"] == "ft.yaml"  # outside the recipe: its name
    environment = json.loads(layout["environment.json"])
    assert "date" not in environment and "pytorch version" in environment
    assert str(recipe) not in "".join(text.decode() for text in layout.values())


def test_exporting_again_gives_the_same_bytes_and_drops_stale_runs(recipe):
    runs = recipe / "runs"
    export(recipe, runs)
    first = files(runs)
    shutil.rmtree(recipe / "exp" / "ablation" / "seed1" / "ft")
    export(recipe, runs)
    second = files(runs)
    assert not any(name.startswith("seed1/ft/") for name in second)
    assert {name: data for name, data in first.items() if not name.startswith("seed1/ft/")} == second


def test_a_run_without_probe_logs_exports_an_empty_curve_map(recipe):
    shutil.rmtree(recipe / "exp" / "ablation" / "seed0" / "ft" / "logs")
    export(recipe, recipe / "runs")
    assert json.loads((recipe / "runs" / "seed0" / "ft" / "probe_cer.json").read_text()) == {}


def test_summary_of_the_same_runs_writes_the_same_json_twice(recipe):
    """Two summaries of one runs layout into two folders: every JSON and the RESULTS.md section
    are byte for byte the same (the PNGs are compared by nothing here: matplotlib's rendering)."""
    runs = recipe / "ablation" / "runs"
    export(recipe, runs)
    ablation = load_ablation(recipe / "conf" / "ablation.yaml")
    for name in ("one", "two"):
        write_summary(ablation, runs, recipe / name / "ablation", recipe / name / "RESULTS.md")
    one, two = files(recipe / "one"), files(recipe / "two")
    assert sorted(one) == sorted(two)
    jsons = [name for name in one if name.endswith(".json")]
    assert sorted(jsons) == [f"ablation/{n}.json" for n in ("curves", "intervals", "paired", "probe_health", "routing",
                                                            "section", "summary")]
    for name in [*jsons, "RESULTS.md"]:
        assert one[name] == two[name], name
    summary = json.loads(one["ablation/summary.json"])
    assert summary["fixed"]["systems"]["ft"]["trainable_percent"] == 98.0
    health = json.loads(one["ablation/probe_health.json"])
    assert health["base probe"]["1"]["base"]["final"] == pytest.approx(0.6)
    assert "date" not in json.loads(one["ablation/section.json"])["environment"]


def test_summary_names_a_missing_file(recipe):
    runs = recipe / "runs"
    export(recipe, runs)
    ablation = load_ablation(recipe / "conf" / "ablation.yaml")
    (runs / "seed1" / "lamer_replay" / "probe_cer.json").unlink()
    with pytest.raises(EvalInputError, match=r"runs/seed1/lamer_replay/probe_cer.json: file not found"):
        write_summary(ablation, runs, recipe / "out", recipe / "RESULTS.md")
    (runs / "trainable.json").unlink()
    with pytest.raises(EvalInputError, match=r"runs/trainable.json: file not found; export the runs first"):
        write_summary(ablation, runs, recipe / "out", recipe / "RESULTS.md")


def test_the_commands_export_then_summarise(recipe, monkeypatch, capsys):
    monkeypatch.chdir(recipe)
    assert main(["export", "--config", "conf/ablation.yaml", "--exp", "exp/ablation",
                 "--trainable", "exp/ablation/trainable.json", "--out", "ablation/runs"]) == 0
    shutil.rmtree("exp")  # the summary needs the repository's files alone
    summary = ["summary", "--config", "conf/ablation.yaml", "--runs", "ablation/runs", "--out", "ablation",
               "--results_md", "RESULTS.md"]
    assert main(summary) == 0
    assert json.loads(Path("ablation/summary.json").read_text())["retrained"]["systems"]["ft"]["seeds"] == [0, 1]
    Path("ablation/runs/environment.json").unlink()
    assert main(summary) == 1
    assert "ablation/runs/environment.json: file not found" in capsys.readouterr().err


RECIPE = Path(__file__).resolve().parents[2] / "egs2" / "mini_lamer" / "ssl1"


@pytest.mark.skipif(not (RECIPE / "ablation" / "runs").is_dir(),
                    reason="the published ablation has no runs layout yet (egs2/mini_lamer/ssl1/ablation/runs)")
def test_the_published_summary_regenerates_from_the_committed_runs(tmp_path):
    """summary.json and the other JSON of egs2/mini_lamer/ssl1/ablation are what the summary of its
    committed runs writes, byte for byte."""
    write_summary(load_ablation(RECIPE / "conf" / "ablation.yaml"), RECIPE / "ablation" / "runs",
                  tmp_path / "ablation", tmp_path / "RESULTS.md")
    for path in sorted((tmp_path / "ablation").glob("*.json")):
        assert path.read_bytes() == (RECIPE / "ablation" / path.name).read_bytes(), path.name


def test_runs_scored_with_per_summarise_as_before(mini_ablation, export_and_summarise):
    """A run whose results carry PER (scored after PER came) is exported with it and summarised
    like one without: the ablation's summary is over CER and LID."""
    recipe = mini_ablation("  frozen: {train_on: none}\n  ft: {method: conf/m.yaml}\n", [0], ["frozen", "ft"])
    exp = recipe / "exp"
    export_and_summarise(recipe, exp, recipe / "plain", recipe / "plain.md")
    for path in exp.glob("seed0/*/results_*.json"):
        obj = json.loads(path.read_text())
        path.write_text(json.dumps({**obj, "per": {stage: {lang: cer / 2 for lang, cer in row.items()}
                                                   for stage, row in obj["cer"].items()},
                                    "g2p": "espeak-ng 1.52.0 (espeakng-loader 0.2.4)"}))
    export_and_summarise(recipe, exp, recipe / "with_per", recipe / "with_per.md")
    assert json.loads((recipe / "runs" / "seed0" / "ft" / "results_fixed.json").read_text())["per"]["s1"]["spa"] == 15
    for name in ("summary.json", "curves.json", "paired.json"):
        assert (recipe / "with_per" / name).read_bytes() == (recipe / "plain" / name).read_bytes()


def test_export_copies_the_utterance_tables_and_refuses_one_of_other_stages(recipe):
    table = recipe / "exp" / "ablation" / "seed0" / "ft" / "utt_errors_fixed.tsv"
    table.write_text("utt\tlang\tref_chars\tchar_edits:base\tchar_edits:s1\nu1\teng\t10\t1\t2\n")
    export(recipe, recipe / "runs")
    assert (recipe / "runs" / "seed0" / "ft" / "utt_errors_fixed.tsv").read_bytes() == table.read_bytes()
    assert not (recipe / "runs" / "seed0" / "ft" / "utt_errors_retrained.tsv").exists()  # the run wrote none
    table.write_text("utt\tlang\tref_chars\tchar_edits:base\nu1\teng\t10\t1\n")
    with pytest.raises(EvalInputError, match=r"utt_errors_fixed.tsv: its stages differ from .*results_fixed.json's "
                                             r"\['base', 's1'\]; collect the run's results again"):
        export(recipe, recipe / "runs")


def routing_vs_ceiling(deep: float) -> dict:
    """A run's routing_vs_ceiling.json (lamer.eval.routing_vs_ceiling): layer 3 after s1."""
    row = {"layer": 3, "experts": 7, "routers": 2, "frames": 480, "js_router": deep, "js_soft": 0.05,
           "js_hard": 0.12, "ratio": deep / 0.12, "frame_acc": 0.31, "chance": 0.5}
    return {"stages": [{"stage": "s1", "languages": ["eng", "spa"], "layers": [row]}]}


def test_routing_against_its_ceiling_is_exported_and_summarised_only_where_measured(recipe):
    """Runs whose recipe measured their routers' ceiling carry routing_vs_ceiling.json into the runs
    layout and the summary gets its table; without it, the summary's files are as before, and a
    stale table of an earlier summary into the same folder goes."""
    exp = recipe / "exp" / "ablation"
    ablation = load_ablation(recipe / "conf" / "ablation.yaml")
    runs, out, page = recipe / "runs", recipe / "summary" / "ablation", recipe / "summary" / "RESULTS.md"
    export(recipe, runs)
    write_summary(ablation, runs, out, page)
    before = files(recipe / "summary")
    for seed in (0, 1):
        (exp / f"seed{seed}" / "lamer_replay" / "routing_vs_ceiling.json").write_text(
            json.dumps(routing_vs_ceiling(0.01 * (seed + 1))))
    export(recipe, runs)
    exported = (runs / "seed1" / "lamer_replay" / "routing_vs_ceiling.json").read_bytes()
    assert json.loads(exported) == routing_vs_ceiling(0.02)
    assert not (runs / "seed1" / "ft" / "routing_vs_ceiling.json").exists()
    write_summary(ablation, runs, out, page)
    assert json.loads((out / "routing_ceiling.json").read_text())["lamer_replay"]["1"] == routing_vs_ceiling(0.02)
    section = page.read_text().split("### Routing against its ceiling\n\n")[1]
    assert "| lamer_replay | L3x7 0.010/0.120 | L3x7 0.020/0.120 |" in section
    for seed in (0, 1):
        (exp / f"seed{seed}" / "lamer_replay" / "routing_vs_ceiling.json").unlink()
    export(recipe, runs)
    write_summary(ablation, runs, out, page)
    after = files(recipe / "summary")
    assert sorted(after) == sorted(before)
    assert {n: after[n] for n in after if not n.endswith(".png")} == {n: before[n] for n in before
                                                                      if not n.endswith(".png")}
    (exp / "seed0" / "lamer_replay" / "routing_vs_ceiling.json").write_text(json.dumps({"stages": []}))
    with pytest.raises(EvalInputError, match=r"seed0/lamer_replay/routing_vs_ceiling.json: expected \{\"stages\""):
        export(recipe, runs)
