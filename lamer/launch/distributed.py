"""torch.distributed launches: a job's argv run as several ranks with the torch env set.

Local (one machine): torchrun starts `nproc_per_node` copies and sets RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR and MASTER_PORT. Slurm (one or more nodes): inside an sbatch allocation
with --nodes and --ntasks-per-node, srun starts one task per rank and lamer.launch.slurm_rank
turns the Slurm task variables into the same torch variables. Either way the training command
reads them through `torch.distributed.init_process_group("env://")` (the default).
Both wrappers hand the job's argv on as argv (torchrun --no-python, srun, then exec): no shell.
"""
from __future__ import annotations

import sys


def torchrun_command(argv: list[str], nproc_per_node: int, python: str = sys.executable) -> list[str]:
    """`argv` run as `nproc_per_node` ranks on this machine by torchrun."""
    return [python, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
            f"--nproc-per-node={nproc_per_node}", "--no-python", *argv]


def srun_command(argv: list[str], python: str = sys.executable) -> list[str]:
    """`argv` run by srun as one rank per task of the enclosing Slurm allocation."""
    return ["srun", "--kill-on-bad-exit=1", python, "-m", "lamer.launch.slurm_rank", *argv]


def allocation_options(nodes: int, nproc_per_node: int) -> list[str]:
    """sbatch options that reserve `nodes` nodes with `nproc_per_node` tasks (ranks) on each."""
    return [f"--nodes={nodes}", f"--ntasks-per-node={nproc_per_node}"]
