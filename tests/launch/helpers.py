"""Shared bits of the launcher tests: run the CLI in-process, read what the jobs left, hostile inputs."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from lamer.bin.launch import main as launch_main

HERE = Path(__file__).resolve().parent
ALLREDUCE_JOB = HERE / "allreduce_job.py"
ARGV_JOB = HERE / "argv_job.py"
HEARTBEAT_JOB = HERE / "heartbeat_job.py"

# A file of this name appears if any hostile input below is ever run as shell code.
MARKER = "PWNED"
# Arguments a shell would change or run: each must reach the program as exactly these bytes.
HOSTILE_ARGS = [
    "a;touch${IFS}PWNED",
    "d;touch${IFS}PWNED;#",
    "$(touch PWNED)",
    "`touch PWNED`",
    "x & touch PWNED &",
    "( touch PWNED )",
    "'; touch PWNED; '",
    '"; touch PWNED; "',
    "$HOME ${IFS} $0 \\ \\n",
    "two  spaces\ttab\nnewline",
    "|", ">", "2>&1", "*", "~", "-n", "",
    "données/日本語 ø",
    os.fsdecode(b"not-utf8-\xe9\xff"),
    "JOB;touch${IFS}PWNED",  # JOB is replaced by the job index, the rest stays
]
# A directory name with the same hazards, for the working directory and the log path.
HOSTILE_NAME = "R&D (x); $(touch PWNED) `touch PWNED` ${IFS}'q'\"dq\" é"


def run_launch(args: list[str], capsys) -> tuple[int, str]:
    """Run `python -m lamer.bin.launch ARGS` in this process; (exit code, stderr)."""
    code = launch_main(args)
    return code, capsys.readouterr().err


def log_body(log: Path) -> list[str]:
    """The job's own output lines: the log minus the `#` header and footer lines."""
    return [line for line in log.read_text().splitlines() if not line.startswith("#")]


def ended_code(log: Path) -> str:
    """The last line of a job log, which should be its `# Ended (code RC) at DATE` footer."""
    return log.read_text(errors="replace").splitlines()[-1]


def received(log: Path) -> dict[str, object]:
    """What argv_job.py printed into `log`: {"argv": [bytes, ...], "cwd": bytes}."""
    line = next(line for line in log.read_text(errors="replace").splitlines() if line.startswith("{"))
    record = json.loads(line)
    return {"argv": [bytes.fromhex(arg) for arg in record["argv"]], "cwd": bytes.fromhex(record["cwd"])}


def expected_argv(job_id: int) -> list[bytes]:
    """HOSTILE_ARGS as job `job_id` of a JOB=A:B array must receive them."""
    return [os.fsencode(arg.replace("JOB", str(job_id))) for arg in HOSTILE_ARGS]


def markers(root: Path) -> list[Path]:
    """Every MARKER file under `root` (or in the current directory): proof that a shell ran input."""
    return sorted({*root.rglob(MARKER), *Path.cwd().glob(MARKER)})


def allreduce_args(out_dir: Path) -> list[str]:
    """The command of a 2-rank gloo all_reduce job writing OUT_DIR/rank<R>.json."""
    return [sys.executable, str(ALLREDUCE_JOB), str(out_dir)]


def read_ranks(out_dir: Path) -> list[dict]:
    """The records the ranks of an all_reduce job wrote, by rank."""
    return [json.loads(p.read_text()) for p in sorted(out_dir.glob("rank*.json"))]


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group `pgid`, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def wait_for_file(path: Path, timeout_s: float = 30.0) -> str:
    """The content of `path` once it exists and is not empty; AssertionError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and (text := path.read_text().strip()):
            return text
        time.sleep(0.02)
    raise AssertionError(f"{path} did not appear within {timeout_s} s")
