"""The bash script that runs the jobs of one launch, shared by every backend.

`bash SCRIPT ID` (or a Slurm array task, which sets SLURM_ARRAY_TASK_ID) runs job ID: it writes
the job's log like Kaldi's run.pl (a `# command` header, the output, then
`# Accounting: time=S threads=N` and `# Ended (code RC) at DATE, elapsed time S seconds`) and exits
with the job's status.

Commands are data. Each job's argv is written as a bash array of `shlex.quote`d words and run as
`"${cmd[@]}"`: bash executes the program with exactly those bytes as arguments and never parses
them as shell code; the log path and the working directory are quoted the same way. RC is the
program's own exit status (128+N when signal N killed it, 127 when it could not be found). A
SIGTERM, SIGINT or SIGHUP to the job script waits for the program (which gets the signal too, from
its process group or from Slurm) so that the footer still records how it ended.
"""
from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lamer.atomic import write_atomic
from lamer.launch.errors import LaunchError
from lamer.launch.request import LaunchRequest, names_array

_ENDED = re.compile(r"^# Ended \(code (-?\d+)\)")

# `trap :` (a handler, not SIG_IGN, so the program keeps the default actions) keeps bash alive until
# the program has ended, whatever signal it got: a launcher's grace period applies to the program.
_BODY = r"""
cd -- {cwd} || exit 2
mkdir -p -- "${{logdir}}" || exit 2
{{
    printf '# %s\n' "${{shown}}"
    printf '# Started at %s on %s\n#\n' "$(date)" "$(hostname)"
}} >"${{log}}" || exit 2
trap : TERM INT HUP
start=$(date +%s)
"${{cmd[@]}}" >>"${{log}}" 2>&1 </dev/null
rc=$?
elapsed=$(( $(date +%s) - start ))
{{
    printf '# Accounting: time=%d threads=%s\n' "${{elapsed}}" {threads}
    printf '# Ended (code %d) at %s, elapsed time %d seconds\n' "${{rc}}" "$(date)" "${{elapsed}}"
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
    while request.array and names_array(request.array.name, str(folder)):
        folder = folder.parent
    stem = log.name[: -len(".log")] if log.name.endswith(".log") else log.name
    return folder / "q" / f"{stem}.sh"


def _quoted(text: str, what: str) -> str:
    """`text` as one bash word; LaunchError for a NUL byte, which no argument or path can hold."""
    if "\0" in text:
        raise LaunchError(f"{what} {text!r} holds a NUL byte, which no command argument or path can hold")
    return shlex.quote(text)


def _ansi_c_byte(byte: int) -> str:
    """One byte inside bash's `$'...'` quotes."""
    if byte < 0x20 or byte >= 0x7F:
        return f"\\x{byte:02x}"
    return "\\" + chr(byte) if chr(byte) in "\\'" else chr(byte)


def _shown_word(token: str) -> str:
    """`token` as a bash word on one printable line: shlex.quote, or `$'...'` with escapes when it
    holds control characters or bytes that are not UTF-8 (Python's surrogate escapes)."""
    if not any(ord(c) < 0x20 or ord(c) == 0x7F or 0xDC80 <= ord(c) <= 0xDCFF for c in token):
        return shlex.quote(token)
    return "$'" + "".join(_ansi_c_byte(b) for b in token.encode("utf-8", errors="surrogateescape")) + "'"


def display_command(argv: list[str]) -> str:
    """The command line a job's log shows in its `# ` header: one line that, pasted into bash,
    runs the same argv."""
    return " ".join(_shown_word(token) for token in argv)


def _case(job_id: int, log: Path, argv: list[str]) -> str:
    """The `case` branch of one job: its log, the log's folder, the command as shown and as run."""
    words = " ".join(_quoted(token, f"job {job_id}: argument") for token in argv)
    log_word, dir_word = _quoted(str(log), f"job {job_id}: log"), shlex.quote(str(log.parent))
    shown = shlex.quote(display_command(argv))
    return f"    {job_id}) log={log_word}; logdir={dir_word}; shown={shown}; cmd=({words}) ;;"


def write_job_script(request: LaunchRequest, command_for: Callable[[int], list[str]] | None = None) -> Path:
    """Write the job script of `request` atomically and return its path.

    `command_for(job_id) -> argv` gives each job's command (default: the request's own); a backend
    passes another one to wrap the command, e.g. in a torch.distributed launcher. Arguments that
    are not valid UTF-8 (undecodable bytes as Python's surrogate escapes) reach the job unchanged.
    """
    command_for = command_for or request.command_for
    cases = "\n".join(_case(i, request.log_for(i), command_for(i)) for i in request.job_ids)
    text = (
        "#!/usr/bin/env bash\n"
        "# The jobs of one lamer.launch call. Run: bash $0 ID (or as a Slurm array task).\n"
        'task=${1:-${SLURM_ARRAY_TASK_ID:-}}\n'
        'case "${task}" in\n'
        f"{cases}\n"
        '    *) echo "$0: no job \'${task}\' here" >&2; exit 2 ;;\n'
        "esac"
        + _BODY.format(cwd=_quoted(os.getcwd(), "working directory"),
                       threads=shlex.quote(request.resources.get("num_threads", "1")))
    )
    path = script_path(request)
    write_atomic(path, lambda handle: handle.write(text.encode("utf-8", errors="surrogateescape")))
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
