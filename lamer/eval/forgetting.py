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

Beside these, ``clmasr_metrics`` gives CL-MASR's definitions (Della Libera et al., 2023, "CL-MASR:
A Continual Learning Benchmark for Multilingual ASR", arXiv:2310.16931; as computed by
``benchmarks/CL_MASR/analyze_logs.py`` in github.com/speechbrain/benchmarks), where a *task* is
the set of languages a stage introduces (CL-MASR: the base languages, then one language per task)
and a task's value in a row is the mean of that row over its languages, so that the base languages
count as one task. With T[k][i] that value for task i after stage k:

- ``clmasr_avg_cer[k]`` (CL-MASR's AWER) = mean over tasks i <= k of T[k][i];
- ``clmasr_bwt_cer[k]`` = mean over tasks i < k, the base task included, of (T[i][i] - T[k][i]);
  negative = forgetting; null when no task is older than k;
- ``clmasr_im_cer[k]`` = T[k][k] minus the mean joint-training CER over the languages of task k;
  null at the base stage (CL-MASR measures it on new tasks only), without J, or when no language is
  introduced at k.

CL-MASR's forward transfer is measured against single-task fine-tuning, which lamer does not run:
it has no counterpart here. Over the PER matrix the names end in ``_per``.
"""
from __future__ import annotations

from lamer.eval.results import Matrix, Results

METRICS = ("avg_cer", "bwt", "fwt", "im")
ERROR_RATES = ("cer", "per")
CLMASR_METRICS = ("avg", "bwt", "im")


def metric_names(rate: str = "cer") -> tuple[str, ...]:
    """The metrics' names over the ``rate`` matrix (``cer`` or ``per``): ``METRICS`` with the
    average named after the rate."""
    return (f"avg_{rate}", *METRICS[1:])


def clmasr_metric_names(rate: str = "cer") -> tuple[str, ...]:
    """The names of CL-MASR's metrics over the ``rate`` matrix: ``clmasr_avg_cer``, ``clmasr_bwt_cer``,
    ``clmasr_im_cer`` (``_per`` over PER)."""
    return tuple(f"clmasr_{name}_{rate}" for name in CLMASR_METRICS)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def mean_over_stages(values: dict[str, float | None]) -> float | None:
    """The mean of a metric's values over the stages where it is defined (None when it is nowhere):
    the "Average" that CL-MASR's tables report for each metric."""
    return _mean([value for value in values.values() if value is not None])


def _rate_matrix(results: Results, rate: str) -> Matrix:
    """The ``rate`` matrix of ``results``; a ValueError for an unknown rate or an absent PER."""
    if rate not in ERROR_RATES:
        raise ValueError(f"rate {rate!r}: expected one of {ERROR_RATES}")
    matrix = results.cer if rate == "cer" else results.per
    if matrix is None:
        raise ValueError("the results hold no PER matrix")
    return matrix


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
    W = _rate_matrix(results, rate)
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


def clmasr_metrics(results: Results, joint: dict[str, float] | None = None,
                   rate: str = "cer") -> dict[str, dict[str, float | None]]:
    """CL-MASR's metrics over the ``rate`` matrix, ``{"clmasr_avg_cer": {stage: value},
    "clmasr_bwt_cer": ..., "clmasr_im_cer": ...}`` (``_per`` with ``rate="per"``, ``joint`` then
    the joint-training PER): every stage that introduces languages is one task, valued by the mean
    over them (see the module docstring)."""
    W = _rate_matrix(results, rate)
    tasks: dict[int, list[str]] = {}
    for lang in results.languages:
        tasks.setdefault(results.stage_index(lang), []).append(lang)

    def value(stage: str, task: int) -> float:
        return sum(W[stage][j] for j in tasks[task]) / len(tasks[task])

    avg, bwt, im = clmasr_metric_names(rate)
    metrics: dict[str, dict[str, float | None]] = {avg: {}, bwt: {}, im: {}}
    for k, stage in enumerate(results.stages):
        metrics[avg][stage] = _mean([value(stage, i) for i in tasks if i <= k])
        metrics[bwt][stage] = _mean([value(results.stages[i], i) - value(stage, i) for i in tasks if i < k])
        metrics[im][stage] = (value(stage, k) - _mean([joint[j] for j in tasks[k]])
                              if joint is not None and k > 0 and k in tasks else None)
    return metrics
