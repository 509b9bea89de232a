"""Contiguous shards of an ordered list, as Kaldi's ``split_scp.pl`` cuts a list over ``JOB=1:N``.

Sharded steps (``ssl_targets label``, ``asr_inference --nj``) give job J (1-based) the J-th block;
concatenating the blocks' outputs in job order gives back the list's order, so a merge is a
concatenation and its result does not depend on N.
"""
from __future__ import annotations


def contiguous_blocks(count: int, nj: int) -> list[range]:
    """``nj`` contiguous index ranges covering ``range(count)``; sizes differ by at most one, the
    larger blocks first (a block is empty when ``nj > count``)."""
    if nj < 1:
        raise ValueError(f"the number of jobs must be >= 1, got {nj}")
    size, larger = divmod(count, nj)
    blocks, start = [], 0
    for job in range(nj):
        end = start + size + (1 if job < larger else 0)
        blocks.append(range(start, end))
        start = end
    return blocks


def job_block(count: int, nj: int, job: int) -> range:
    """The block of job ``job`` (1-based, as ``JOB=1:nj``) of ``contiguous_blocks(count, nj)``."""
    if not 1 <= job <= nj:
        raise ValueError(f"job {job} is outside 1-{nj} (JOB=1:{nj})")
    return contiguous_blocks(count, nj)[job - 1]
