"""Shared bits of the launcher tests: run the CLI in-process and read what the jobs left."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from lamer.bin.launch import main as launch_main

ALLREDUCE_JOB = Path(__file__).resolve().parent / "allreduce_job.py"


def run_launch(args: list[str], capsys) -> tuple[int, str]:
    """Run `python -m lamer.bin.launch ARGS` in this process; (exit code, stderr)."""
    code = launch_main(args)
    return code, capsys.readouterr().err


def log_body(log: Path) -> list[str]:
    """The job's own output lines: the log minus the `#` header and footer lines."""
    return [line for line in log.read_text().splitlines() if not line.startswith("#")]


def allreduce_args(out_dir: Path) -> list[str]:
    """The command of a 2-rank gloo all_reduce job writing OUT_DIR/rank<R>.json."""
    return [sys.executable, str(ALLREDUCE_JOB), str(out_dir)]


def read_ranks(out_dir: Path) -> list[dict]:
    """The records the ranks of an all_reduce job wrote, by rank."""
    return [json.loads(p.read_text()) for p in sorted(out_dir.glob("rank*.json"))]
