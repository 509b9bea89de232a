"""torch.distributed launches: a job's command run as several ranks with the torch env set.

Local (one machine): torchrun starts `nproc_per_node` copies and sets RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR and MASTER_PORT. Slurm (one or more nodes): inside an sbatch allocation
with --nodes and --ntasks-per-node, srun starts one task per rank and lamer.launch.slurm_rank
turns the Slurm task variables into the same torch variables. Either way the training command
reads them through `torch.distributed.init_process_group("env://")` (the default).
"""
from __future__ import annotations

import sys

from lamer.launch.request import join_command


def torchrun_command(command: str, nproc_per_node: int, python: str = sys.executable) -> str:
    """`command` (a bash command line) run as `nproc_per_node` ranks on this machine by torchrun."""
    return join_command([python, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
                         f"--nproc-per-node={nproc_per_node}", "--no-python", "bash", "-c", command])


def srun_command(command: str, python: str = sys.executable) -> str:
    """`command` run by srun as one rank per task of the enclosing Slurm allocation."""
    return join_command(["srun", "--kill-on-bad-exit=1", python, "-m", "lamer.launch.slurm_rank",
                         "bash", "-c", command])


def allocation_options(nodes: int, nproc_per_node: int) -> list[str]:
    """sbatch options that reserve `nodes` nodes with `nproc_per_node` tasks (ranks) on each."""
    return [f"--nodes={nodes}", f"--ntasks-per-node={nproc_per_node}"]
