"""What the stage script asks about a plan, as library calls (the tool `plan get|check --print|jobs`
prints them): a key's value, the plan resolved with the experts per layer, the jobs of a run with
their status."""
from __future__ import annotations

from pathlib import Path

import pytest

from lamer.recipe.jobs import RecipeOptions
from lamer.recipe.plan import PlanError, load_plan
from lamer.recipe.questions import answer, listed_jobs, resolved

DEMO = Path(__file__).resolve().parents[2] / "egs2" / "mini_lamer" / "ssl1"


def test_answers_are_the_values_the_stage_script_reads():
    plan = load_plan(DEMO / "conf" / "plan_near.yaml")  # two stages
    assert [answer(plan, key, None) for key in ("stages", "replay_share", "replay_minutes", "protocols")] == [
        "s1 s2", "0.2", "2", "retrained fixed"]
    assert answer(plan, "old", "s2") == "eng fra deu spa ita" and answer(plan, "previous", "s1") == "base"
    with pytest.raises(PlanError, match="the base stage has no previous stage"):
        answer(plan, "previous", "base")
    with pytest.raises(PlanError, match="unknown key 'stage'"):
        answer(plan, "stage", None)


def test_the_plan_resolved_with_its_experts_per_layer():
    out = resolved(load_plan(DEMO / "conf" / "plan.yaml"))
    assert list(out) == ["plan", "method", "experts_per_layer"]
    assert out["method"]["ssl_train"]["ssl_adapter_conf"]["allocation"] == "groups:2,4,8"
    assert out["experts_per_layer"]["counts"] == [2, 2, 4, 8]


def test_the_jobs_of_a_run_with_their_status(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plan = load_plan(DEMO / "conf" / "plan.yaml")
    options = RecipeOptions(root="corpus", stage=5, stop_stage=5)
    jobs = listed_jobs(plan, options)
    assert jobs[0]["name"] == "method_config" and "status" not in jobs[0]
    assert {job["stage"] for job in jobs} == {5}
    with_status = listed_jobs(plan, options, status=True)
    assert [job["name"] for job in with_status] == [job["name"] for job in jobs]
    assert {(job["status"], job["why"]) for job in with_status} == {("to run", "")}
