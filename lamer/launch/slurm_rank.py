"""Run a command as one torch.distributed rank of a Slurm step: `python -m lamer.launch.slurm_rank PROG ARGS`.

srun starts this once per task; it maps the task's Slurm variables to the variables that
`torch.distributed.init_process_group("env://")` reads, then replaces itself with PROG.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping

_BASE_PORT = 20000
_PORT_RANGE = 20000


def _scontrol(*args: str) -> str:
    return subprocess.run(["scontrol", *args], check=True, capture_output=True, text=True, timeout=30).stdout


def master_address(nodelist: str) -> str:
    """The address of the first node of a Slurm node list (`node[1-4]`), as Slurm reaches it.

    Slurm's NodeAddr is used rather than the node name, which need not resolve in DNS.
    """
    first = _scontrol("show", "hostnames", nodelist).split()[0]
    match = re.search(r"\bNodeAddr=(\S+)", _scontrol("show", "node", "-o", first))
    return match.group(1) if match else first


def torch_env_from_slurm(environ: Mapping[str, str], master_addr: str) -> dict[str, str]:
    """torch.distributed variables of the Slurm task described by `environ` (ranks = tasks).

    MASTER_PORT, unless already set, is derived from the job id so that two jobs sharing a node
    do not collide. Raises KeyError naming a missing SLURM_* variable outside an srun step.
    """
    world_size = int(environ["SLURM_NTASKS"])
    nodes = int(environ.get("SLURM_STEP_NUM_NODES", environ.get("SLURM_NNODES", "1")))
    return {
        "RANK": environ["SLURM_PROCID"],
        "LOCAL_RANK": environ["SLURM_LOCALID"],
        "WORLD_SIZE": str(world_size),
        "LOCAL_WORLD_SIZE": str(world_size // nodes),
        "NODE_RANK": environ.get("SLURM_NODEID", "0"),
        "MASTER_ADDR": environ.get("MASTER_ADDR", master_addr),
        "MASTER_PORT": environ.get("MASTER_PORT", str(_BASE_PORT + int(environ["SLURM_JOB_ID"]) % _PORT_RANGE)),
    }


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m lamer.launch.slurm_rank PROG [ARGS...] (inside srun)", file=sys.stderr)
        return 2
    nodelist = os.environ.get("SLURM_STEP_NODELIST") or os.environ.get("SLURM_JOB_NODELIST")
    if not nodelist or "SLURM_PROCID" not in os.environ:
        print("slurm_rank: no SLURM_PROCID/SLURM_JOB_NODELIST: run me under srun", file=sys.stderr)
        return 2
    master = os.environ.get("MASTER_ADDR") or master_address(nodelist)
    env = {**os.environ, **torch_env_from_slurm(os.environ, master)}
    os.execvpe(argv[0], argv, env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
