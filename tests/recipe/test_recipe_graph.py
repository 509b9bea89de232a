"""Dependencies derived from what jobs read and write (lamer.recipe.graph): a job waits for the job
whose output holds one of its inputs, each path has one writer, makers are listed first, and an input
nobody makes that is not on disk is named with its job."""
from __future__ import annotations

from pathlib import Path

import pytest

from lamer.recipe.graph import derive_after, missing_input
from lamer.recipe.jobs import Job


def made(name: str, stage: int, reads: tuple[str, ...], writes: tuple[str, ...]) -> Job:
    return Job(name, stage, "train", 0, 1, f"logs/{name}.log", ("prog", name), (), reads, writes)


def test_a_job_waits_for_the_job_whose_output_holds_its_input():
    """A file inside another job's output directory, or that output itself; never its own output."""
    jobs = derive_after([made("data", 1, (), ("data/eng/train", "dump/audio")),
                         made("probe", 2, ("data/eng/train",), ("dump/probe/train",)),
                         made("tokens", 2, ("dump/probe/train/text",), ("dump/tokens",)),
                         made("train", 3, ("dump/probe/train/wav.scp", "dump/tokens/tokens.txt", "exp/probe"),
                              ("exp/probe",)),
                         made("other", 3, ("data/eng/training", "dump/probe/trainer"), ("exp/other",))])
    assert [job.after for job in jobs] == [(), ("data",), ("probe",), ("probe", "tokens"), ()]


def test_one_writer_per_path_and_makers_listed_first():
    with pytest.raises(ValueError, match="jobs a and b both write exp/x"):
        derive_after([made("a", 1, (), ("exp/x",)), made("b", 1, (), ("exp/x/y",))])
    with pytest.raises(ValueError, match=r"job b needs \['a'\], which are not listed before it"):
        derive_after([made("b", 1, ("exp/a/file",), ()), made("a", 1, (), ("exp/a",))])


def test_missing_input_names_the_job_and_the_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    every = derive_after([made("a", 1, (), ("exp/a",)), made("b", 2, ("exp/a/x", "conf/b.yaml"), ("exp/b",))])
    run = every[1:]
    assert missing_input(run, every, lambda name: True) == (
        "job b reads conf/b.yaml, which is not there and which no job makes: make it, or fix the option or plan "
        "entry that names it")
    Path("conf").mkdir()
    Path("conf/b.yaml").write_text("")
    assert missing_input(run, every, lambda name: True) is None
    assert missing_input(run, every, lambda name: False) == (
        "job b reads exp/a/x, which is not there: job a (stage 1) makes it and is not done; run stage 1 first")
    assert missing_input(every, every, lambda name: False) is None  # a makes it in this run
