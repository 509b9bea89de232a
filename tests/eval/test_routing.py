"""Router specialisation from measured expert usage: entropy and divergence between languages."""
import json
import math

import pytest

from lamer.eval import EvalInputError
from lamer.eval.routing import (
    js_divergence,
    normalized_entropy,
    render_cell,
    routing_stats,
)


def test_divergence_is_zero_for_alike_and_log2_for_disjoint_routing():
    assert js_divergence([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert js_divergence([1.0, 0.0], [0.0, 1.0]) == pytest.approx(math.log(2))
    assert 0 < js_divergence([0.7, 0.3], [0.3, 0.7]) < math.log(2)


def test_entropy_is_one_for_a_uniform_mix_and_zero_for_collapse():
    assert normalized_entropy([0.25] * 4) == pytest.approx(1.0)
    assert normalized_entropy([1.0, 0.0, 0.0]) == 0.0
    assert normalized_entropy([1.0]) == 1.0


def test_stats_per_layer_average_over_languages_and_pairs():
    usage = {"3": {"eng": [1.0, 0.0], "fra": [0.0, 1.0], "spa": [1.0, 0.0]},
             "2": {"eng": [0.5, 0.5], "fra": [0.5, 0.5]}}
    stats = routing_stats(usage)
    assert stats["3"]["experts"] == 2 and stats["3"]["languages"] == 3
    assert stats["3"]["entropy"] == 0.0
    assert stats["3"]["js_mean"] == pytest.approx(2 * math.log(2) / 3)  # two of three pairs disjoint
    assert stats["3"]["js_max"] == pytest.approx(math.log(2))
    assert stats["2"] == {"experts": 2, "languages": 2, "entropy": pytest.approx(1.0), "js_mean": 0.0, "js_max": 0.0}
    assert render_cell(stats) == "L2x2 H 1.00 JS 0.000/0.000; L3x2 H 0.00 JS 0.462/0.693"


def test_malformed_usage_is_refused_naming_the_file_and_layer():
    with pytest.raises(EvalInputError, match=r"usage.json: layer '3'.*different numbers of experts"):
        routing_stats({"3": {"eng": [0.5, 0.5], "fra": [1.0, 0.0, 0.0]}}, "usage.json")
    with pytest.raises(EvalInputError, match="layer '1' has no languages"):
        routing_stats({"1": {}})


def test_the_summary_writes_routing_for_runs_with_expert_usage(mini_ablation, export_and_summarise):
    tmp_path = mini_ablation("  ft: {method: conf/m.yaml}\n  lamer_replay: {method: conf/m.yaml}\n", [0, 1],
                             ["ft", "lamer_replay"])
    exp = tmp_path / "exp"
    (exp / "seed0" / "lamer_replay" / "expert_usage.json").write_text(
        json.dumps({"3": {"eng": [0.5, 0.5], "spa": [0.5, 0.5]}}))
    # a seed without results is not reported, even with a usage file
    (exp / "seed1" / "lamer_replay").mkdir(parents=True)
    (exp / "seed1" / "lamer_replay" / "expert_usage.json").write_text(json.dumps({"3": {"eng": [1.0, 0.0]}}))
    export_and_summarise(tmp_path, exp, tmp_path / "out", tmp_path / "RESULTS.md")
    routing = json.loads((tmp_path / "out" / "routing.json").read_text())
    assert list(routing) == ["lamer_replay"] and list(routing["lamer_replay"]) == ["0"]
    assert "| lamer_replay | L3x2 H 1.00 JS 0.000/0.000 | – |" in (tmp_path / "RESULTS.md").read_text()
