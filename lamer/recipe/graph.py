"""The dependencies of a recipe's jobs, derived from what they read and write (make-style).

A job waits for every other job whose outputs hold one of its inputs (the same path, or a
directory above it): ``derive_after`` computes the jobs' ``after``, which nobody writes by hand,
so a misspelt dependency cannot exist. Two jobs may not write the same path, and a job is listed
after every job it waits for. Before a run, ``missing_input`` finds an input that no job of the
run makes and that is not on disk.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lamer.recipe.jobs import Job


def holds(output: str, path: str) -> bool:
    """Whether writing ``output`` makes ``path``: the same path, or ``output`` is a directory above it."""
    return path == output or path.startswith(output.rstrip("/") + "/")


def check_outputs(jobs: Sequence[Job]) -> None:
    """Raise ValueError when two jobs write the same path (or one writes inside the other's output):
    every path has one writer, so the job that makes an input is never ambiguous."""
    writers = [(out, job.name) for job in jobs for out in job.outputs]
    for i, (out, name) in enumerate(writers):
        for other, other_name in writers[i + 1:]:
            if other_name != name and (holds(out, other) or holds(other, out)):
                raise ValueError(f"jobs {name} and {other_name} both write {out if holds(out, other) else other}")


def check_order(jobs: Sequence[Job]) -> None:
    """Raise ValueError unless every job comes after the listed jobs its ``after`` names (the list is
    a topological order: run in order, one at a time, every job finds its inputs)."""
    seen: set[str] = set()
    listed = {job.name for job in jobs}
    for job in jobs:
        early = [name for name in job.after if name in listed and name not in seen]
        if early:
            raise ValueError(f"job {job.name} needs {early}, which are not listed before it")
        seen.add(job.name)


def derive_after(jobs: Sequence[Job]) -> list[Job]:
    """``jobs`` with each one's ``after``: the other jobs whose outputs hold one of its inputs, in the
    order of its inputs. Raises ValueError as ``check_outputs`` and ``check_order`` do."""
    check_outputs(jobs)
    writers = [(out, job.name) for job in jobs for out in job.outputs]
    derived = []
    for job in jobs:
        after = [name for path in job.inputs for out, name in writers if name != job.name and holds(out, path)]
        derived.append(replace(job, after=tuple(dict.fromkeys(after))))
    check_order(derived)
    return derived


def missing_input(run: Sequence[Job], every: Sequence[Job], done: Callable[[str], bool]) -> str | None:
    """Why a job of ``run`` cannot find an input, or None when each input is made by a job of the run,
    is on disk, or is made by a job of ``every`` outside the run that is ``done`` (by name)."""
    in_run = {job.name for job in run}
    for job in run:
        for path in job.inputs:
            makers = [other for other in every if any(holds(out, path) for out in other.outputs)]
            if any(maker.name in in_run for maker in makers) or os.path.exists(path):
                continue
            outside = [maker for maker in makers if maker.name not in in_run]
            if outside and all(done(maker.name) for maker in outside):
                continue
            if outside:
                maker = outside[0]
                return (f"job {job.name} reads {path}, which is not there: job {maker.name} (stage {maker.stage}) "
                        f"makes it and is not done; run stage {maker.stage} first")
            return (f"job {job.name} reads {path}, which is not there and which no job makes: make it, or fix the "
                    "option or plan entry that names it")
    return None
