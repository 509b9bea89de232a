"""The replay share: the part of every SSL training batch taken from the replay sample.

One contract for every place a share is given: a number in [0, 1). 0 keeps the replay utterances
out of the batches while the stage's k-means codebook is still fit on them, so that systems that
differ only in the share see the same codebook data. Each value is checked once, where it enters
a process: the plan's ``replay.share`` (:mod:`lamer.recipe.plan`), an ablation system's
``replay_share`` (:mod:`lamer.ablation.spec`), ``ssl.sh --replay_share`` (:mod:`lamer.recipe.jobs`)
and ``ssl_train --replay_share`` run by hand (:mod:`lamer.ssl.task`, as it parses its options). The
recipe hands ssl_train the checked share in each SSL stage's spec (:mod:`lamer.ssl.train_spec`,
whose reader checks its type only), and the replay batch sampler (:mod:`lamer.ssl.sampler`) is
built from that typed field.
"""
from __future__ import annotations

from lamer.yaml_io import brief

WHAT = "the part of every training batch taken from the replay sample, a number in [0, 1) (0: none in the batches)"


def share_problem(value: object) -> str | None:
    """Why ``value`` is not a replay share (:data:`WHAT`), or None if it is one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        return f"{WHAT}, got {brief(value)}"
    return None


def check_share(value: object, where: str) -> float:
    """``value`` as a replay share; ValueError naming ``where`` (the key or option) when it is not one."""
    problem = share_problem(value)
    if problem:
        raise ValueError(f"{where}: {problem}")
    return value  # type: ignore[return-value]  # a number: share_problem says so
