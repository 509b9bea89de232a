"""The bash script that runs the jobs of one launch, shared by every backend.

`bash SCRIPT ID` (or a Slurm array task, which sets SLURM_ARRAY_TASK_ID) runs job ID: it writes
the job's log like Kaldi's run.pl (a `# command` header, the output, then
`# Accounting: time=S threads=N` and `# Ended (code RC) at DATE`) and exits with the job's status.
Commands run under `bash -o pipefail -c`, so a failure inside a pipe fails the job.
"""
from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lamer.launch.request import LaunchRequest

_ENDED = re.compile(r"^# Ended \(code (-?\d+)\)")

_BODY = r"""
cd {cwd} || exit 2
mkdir -p -- "$(dirname -- "${{log}}")" || exit 2
{{
    printf '# %s\n' "${{cmd}}"
    printf '# Started at %s on %s\n#\n' "$(date)" "$(hostname)"
}} >"${{log}}" || exit 2
start=$(date +%s)
bash -o pipefail -c "${{cmd}}" >>"${{log}}" 2>&1 </dev/null
rc=$?
{{
    printf '# Accounting: time=%d threads={threads}\n' $(( $(date +%s) - start ))
    printf '# Ended (code %d) at %s\n' "${{rc}}" "$(date)"
}} >>"${{log}}"
exit "${{rc}}"
"""


@dataclass(frozen=True)
class JobResult:
    """How one job ended: `exit_code` None when it never reported one (killed, never started)."""

    job_id: int
    log: Path
    exit_code: int | None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def script_path(request: LaunchRequest) -> Path:
    """Where the job script goes: a `q/` folder beside the logs, as Kaldi's queue.pl does."""
    log = Path(request.log)
    folder = log.parent
    while request.array and request.array.name in str(folder):
        folder = folder.parent
    stem = log.name[: -len(".log")] if log.name.endswith(".log") else log.name
    return folder / "q" / f"{stem}.sh"


def write_job_script(request: LaunchRequest, command_for: Callable[[int], str] | None = None) -> Path:
    """Write the job script of `request` atomically and return its path.

    `command_for(job_id) -> str` gives each job's command line (default: the request's own);
    a backend passes another one to wrap the command, e.g. in a torch.distributed launcher.
    """
    command_for = command_for or request.command_for
    cases = "\n".join(
        f"    {i}) log={shlex.quote(str(request.log_for(i)))}; cmd={shlex.quote(command_for(i))} ;;"
        for i in request.job_ids
    )
    text = (
        "#!/usr/bin/env bash\n"
        f"# Jobs of one lamer.launch call, log {request.log}. Run: bash $0 ID (or as a Slurm array task).\n"
        'task=${1:-${SLURM_ARRAY_TASK_ID:-}}\n'
        'case "${task}" in\n'
        f"{cases}\n"
        '    *) echo "$0: no job \'${task}\' here" >&2; exit 2 ;;\n'
        "esac"
        + _BODY.format(cwd=shlex.quote(os.getcwd()), threads=request.resources.get("num_threads", "1"))
    )
    path = script_path(request)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def logged_exit_code(log: Path) -> int | None:
    """The `# Ended (code RC)` status a job wrote at the end of its log; None if absent."""
    try:
        with open(log, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            tail = f.read().decode("utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(tail):
        if match := _ENDED.match(line):
            return int(match.group(1))
    return None


def log_tail(log: Path, lines: int = 5) -> list[str]:
    """The last `lines` lines of a log before its accounting footer (empty if no log)."""
    try:
        text = log.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return []
    body = [line for line in text if not line.startswith(("# Accounting:", "# Ended "))]
    return body[-lines:]


def failure_report(results: list[JobResult]) -> str:
    """A message naming every failed job and its log, with the end of the first failed log."""
    failed = [r for r in results if not r.ok]
    lines = [f"{len(failed)} of {len(results)} jobs failed:"]
    for r in failed:
        status = f"exit {r.exit_code}" if r.exit_code is not None else "no exit status"
        lines.append(f"  job {r.job_id}: {status}{', ' + r.detail if r.detail else ''}; log {r.log}")
    tail = log_tail(failed[0].log)
    if tail:
        lines.append(f"end of {failed[0].log}:")
        lines.extend(f"  | {line}" for line in tail)
    return "\n".join(lines)


def overall_exit_code(results: list[JobResult]) -> int:
    """0 if every job succeeded, else the first failed job's code (1 when it has none)."""
    for r in results:
        if not r.ok:
            return r.exit_code if r.exit_code else 1
    return 0
