"""A two-stage mini ablation on disk (config, plan, method and results files) for the summary tests."""
import json

import pytest

MINI_RESULTS = {"stages": ["base", "s1"], "introduced": {"eng": "base", "spa": "s1"},
                "cer": {"base": {"eng": 10, "spa": 50}, "s1": {"eng": 12, "spa": 30}}}


@pytest.fixture
def mini_ablation(tmp_path):
    """``make(systems_yaml, seeds, with_results)``: write ``conf/ablation.yaml`` with these systems
    and seeds, and MINI_RESULTS under both protocols for ``with_results`` in seed 0; returns the
    recipe directory (its runs are under ``exp/``)."""
    def make(systems_yaml: str, seeds: list[int], with_results: list[str]):
        (tmp_path / "conf").mkdir()
        (tmp_path / "conf" / "plan.yaml").write_text("{}\n")
        (tmp_path / "conf" / "m.yaml").write_text("ssl_adapter: none\n")
        (tmp_path / "conf" / "ablation.yaml").write_text(
            f"seeds: {list(seeds)}\nplan: conf/plan.yaml\nsystems:\n{systems_yaml}")
        for system in with_results:
            for protocol in ("retrained", "fixed"):
                path = tmp_path / "exp" / "seed0" / system / f"results_{protocol}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps({**MINI_RESULTS, "protocol": protocol}))
        return tmp_path
    return make


@pytest.fixture
def export_and_summarise():
    """``run(recipe_dir, exp, out, results_md, trainable=None)``: export the runs under ``exp`` into
    ``<recipe_dir>/runs`` (with ``trainable``, or a trainable.json without counts) and summarise
    them as the recipe does; returns the summary."""
    from lamer.ablation.runs import export_runs
    from lamer.ablation.spec import load_ablation
    from lamer.ablation.summary import write_summary

    def run(recipe_dir, exp, out, results_md, trainable=None):
        if trainable is None:
            trainable = recipe_dir / "trainable.json"
            trainable.write_text(json.dumps({"upstream": "base.pt", "systems": {}}))
        ablation = load_ablation(recipe_dir / "conf" / "ablation.yaml")
        export_runs(ablation, exp, trainable, recipe_dir / "runs")
        return write_summary(ablation, recipe_dir / "runs", out, results_md)
    return run
