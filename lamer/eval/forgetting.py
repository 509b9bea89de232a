"""Continual-learning metrics over the results matrix.

With W[k][j] the CER of language j after stage k, t(j) the stage that introduced j, and the
first stage as the base:

- ``avg_cer[k]`` = mean over j with t(j) <= k of W[k][j];
- ``bwt[k]`` = mean over j with t(j) < k of (W[t(j)][j] - W[k][j]); negative = forgetting;
  null when no language is older than k;
- ``fwt[k]`` = mean over j with t(j) = k of (W[base][j] - W[k][j]), over those j the base row
  holds; null when it holds none (at the base stage itself it is 0 by construction);
- ``im[k]`` = mean over j with t(j) = k of (W[k][j] - J[j]), J the joint-training CER;
  null without J or when no language is introduced at k.
"""
from __future__ import annotations

from lamer.eval.results import Matrix, Results

METRICS = ("avg_cer", "bwt", "fwt", "im")


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def mean_over_introduced(results: Results, matrix: Matrix) -> dict[str, float | None]:
    """Per stage k, the mean of ``matrix[k][j]`` over the languages j with t(j) <= k (None when
    there are none): ``avg_cer`` for the CER matrix, and the same average for LID accuracy."""
    return {
        stage: _mean([matrix[stage][j] for j in results.languages if results.stage_index(j) <= k])
        for k, stage in enumerate(results.stages)
    }


def forgetting_metrics(results: Results, joint: dict[str, float] | None = None) -> dict[str, dict[str, float | None]]:
    """``{"avg_cer": {stage: value}, "bwt": ..., "fwt": ..., "im": ...}`` (CER points; None
    where the metric is undefined, see the module docstring)."""
    W = results.cer
    base = results.stages[0]
    metrics: dict[str, dict[str, float | None]] = {name: {} for name in METRICS}
    metrics["avg_cer"] = mean_over_introduced(results, W)
    for k, stage in enumerate(results.stages):
        old = [j for j in results.languages if results.stage_index(j) < k]
        new = [j for j in results.languages if results.stage_index(j) == k]
        metrics["bwt"][stage] = _mean([W[results.introduced[j]][j] - W[stage][j] for j in old])
        metrics["fwt"][stage] = _mean([W[base][j] - W[stage][j] for j in new if j in W[base]])
        metrics["im"][stage] = _mean([W[stage][j] - joint[j] for j in new]) if joint is not None else None
    return metrics
