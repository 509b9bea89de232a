"""Continual-learning metrics over the results matrix, of its CER or of its PER.

With W[k][j] the CER (or PER) of language j after stage k, t(j) the stage that introduced j, and
the first stage as the base:

- ``avg_cer[k]`` = mean over j with t(j) <= k of W[k][j];
- ``bwt[k]`` = mean over j with t(j) < k of (W[t(j)][j] - W[k][j]); negative = forgetting;
  null when no language is older than k;
- ``fwt[k]`` = mean over j with t(j) = k of (W[base][j] - W[k][j]), over those j the base row
  holds; null when it holds none (at the base stage itself it is 0 by construction);
- ``im[k]`` = mean over j with t(j) = k of (W[k][j] - J[j]), J the joint-training CER (PER);
  null without J or when no language is introduced at k.

Over the PER matrix the average is named ``avg_per``.
"""
from __future__ import annotations

from lamer.eval.results import Matrix, Results

METRICS = ("avg_cer", "bwt", "fwt", "im")
ERROR_RATES = ("cer", "per")


def metric_names(rate: str = "cer") -> tuple[str, ...]:
    """The metrics' names over the ``rate`` matrix (``cer`` or ``per``): ``METRICS`` with the
    average named after the rate."""
    return (f"avg_{rate}", *METRICS[1:])


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def mean_over_introduced(results: Results, matrix: Matrix) -> dict[str, float | None]:
    """Per stage k, the mean of ``matrix[k][j]`` over the languages j with t(j) <= k (None when
    there are none): ``avg_cer`` for the CER matrix, and the same average for LID accuracy."""
    return {
        stage: _mean([matrix[stage][j] for j in results.languages if results.stage_index(j) <= k])
        for k, stage in enumerate(results.stages)
    }


def forgetting_metrics(results: Results, joint: dict[str, float] | None = None,
                       rate: str = "cer") -> dict[str, dict[str, float | None]]:
    """``{"avg_cer": {stage: value}, "bwt": ..., "fwt": ..., "im": ...}`` (CER points; None
    where the metric is undefined, see the module docstring); with ``rate="per"`` the same over
    the PER matrix (``avg_per`` first; ``joint`` then holds the joint-training PER), which
    ``results`` must have."""
    if rate not in ERROR_RATES:
        raise ValueError(f"rate {rate!r}: expected one of {ERROR_RATES}")
    W = results.cer if rate == "cer" else results.per
    if W is None:
        raise ValueError("the results hold no PER matrix")
    base = results.stages[0]
    names = metric_names(rate)
    metrics: dict[str, dict[str, float | None]] = {name: {} for name in names}
    metrics[names[0]] = mean_over_introduced(results, W)
    for k, stage in enumerate(results.stages):
        old = [j for j in results.languages if results.stage_index(j) < k]
        new = [j for j in results.languages if results.stage_index(j) == k]
        metrics["bwt"][stage] = _mean([W[results.introduced[j]][j] - W[stage][j] for j in old])
        metrics["fwt"][stage] = _mean([W[base][j] - W[stage][j] for j in new if j in W[base]])
        metrics["im"][stage] = _mean([W[stage][j] - joint[j] for j in new]) if joint is not None else None
    return metrics
