"""The Kaldi calling convention of a job launcher, parsed into a LaunchRequest.

    [options] [JOB=1:N] LOG prog args...

Options come first, each with one value (`--mem 4G` or `--mem=4G`). Launcher options are
--backend, --config, --max-jobs, --max-wait, --nproc-per-node, --nodes and --log-level; every other option
(`--mem`, `--gpu`, `--num-threads`, `--time`, `--partition`, `--constraint`, or any name the Slurm
config defines) is a resource request, kept under its name with dashes as underscores
(`--num-threads 4` -> `num_threads: "4"`). `NAME=A:B` (or `NAME=A`) makes an array of jobs A..B;
NAME, any identifier, is replaced by the job's index in LOG and in every argument, as in Kaldi,
where it stands as a word: not next to a letter or digit (`x.JOB.log`, `split/JOB`, `test_JOB`,
`--job=JOB`), so a path such as `exp/myJOBrun` or an argument `JOBS` is left as it is. (Kaldi's
run.pl replaces every occurrence, inside other words too.)

Commands are data: `prog args...` is the job's argv, byte for byte. No shell ever reads it, so
`;`, `&`, `|`, `>`, `$VAR`, `$(...)`, backticks and globs are plain characters of an argument.
Unlike Kaldi's run.pl there is no shell syntax in the command: `prog a \\| sort` passes `|` and
`sort` to prog; for a pipe or a redirection run a script (or `bash -c '...'`) as the command.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from lamer.launch.errors import LaunchError

BACKENDS = ("local", "slurm")
_JOB_SPEC = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(\d+)(?::(\d+))?$")
_LOOKS_LIKE_JOB_SPEC = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_RESOURCE_FORMATS = (
    ("num_threads", re.compile(r"^[1-9][0-9]*$"), "a positive integer"),
    ("gpu", re.compile(r"^[0-9]+$"), "a number of GPUs (0, 1, 2, ...)"),
    ("mem", re.compile(r"^[1-9][0-9]*[KMGT]?$"), "an amount like 500M or 4G"),
)
_OPTION_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


def _as_word(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])")


def names_array(name: str, text: str) -> bool:
    """Whether the launcher would replace the array name `name` (as in `name=1:N`) in `text`: where
    it stands as a word, not next to a letter or digit."""
    return bool(_as_word(name).search(text))


@dataclass(frozen=True)
class JobArray:
    """Jobs `start..end` (inclusive); `name`, where it stands as a word in the log path and the
    arguments, becomes the index."""

    name: str
    start: int
    end: int

    @property
    def ids(self) -> list[int]:
        return list(range(self.start, self.end + 1))

    def substitute(self, text: str, job_id: int) -> str:
        """`text` with the array name, where it stands as a word, replaced by `job_id`."""
        return _as_word(self.name).sub(str(job_id), text)


@dataclass(frozen=True)
class LaunchRequest:
    """One launcher call: where and how to run `argv`, once or as an array of jobs."""

    log: str
    argv: tuple[str, ...]
    backend: str = "local"
    config: Path | None = None
    max_jobs: int | None = None
    max_wait: float | None = None
    nproc_per_node: int = 1
    nodes: int = 1
    resources: dict[str, str] = field(default_factory=dict)
    array: JobArray | None = None
    log_level: str = "INFO"  # of the launcher's own log lines

    @property
    def job_ids(self) -> list[int]:
        """Indices of the jobs; a call without `NAME=A:B` is the single job 1."""
        return self.array.ids if self.array else [1]

    @property
    def distributed(self) -> bool:
        """Whether each job is a torch.distributed run of several processes."""
        return self.nproc_per_node * self.nodes > 1

    def _substitute(self, text: str, job_id: int) -> str:
        return self.array.substitute(text, job_id) if self.array else text

    def log_for(self, job_id: int) -> Path:
        """The log file of job `job_id`."""
        return Path(self._substitute(self.log, job_id))

    def command_for(self, job_id: int) -> list[str]:
        """The argv of job `job_id`: the request's argv with the array name (as a word) replaced by `job_id`."""
        return [self._substitute(token, job_id) for token in self.argv]


def _positive_int(option: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise LaunchError(f"--{option} needs a positive integer, got {value!r}")
    return number


def _seconds(option: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number <= 0:
        raise LaunchError(f"--{option} needs a positive number of seconds, got {value!r}")
    return number


def parse_launch_args(args: list[str]) -> LaunchRequest:
    """Parse `[options] [NAME=A:B] LOG prog args...` (see the module doc); LaunchError if malformed."""
    options: dict[str, str] = {}
    i = 0
    while i < len(args) and args[i].startswith("--"):
        name, eq, value = args[i][2:].partition("=")
        if not _OPTION_NAME.match(name):
            raise LaunchError(f"bad option {args[i]!r}: options look like --name VALUE or --name=VALUE")
        if not eq:
            if i + 1 >= len(args):
                raise LaunchError(f"option --{name} needs a value")
            i += 1
            value = args[i]
        options[name.replace("_", "-")] = value  # --max_jobs = --max-jobs, as every lamer tool
        i += 1
    rest = args[i:]

    array = None
    if rest and (match := _JOB_SPEC.match(rest[0])):
        start, end = int(match.group(2)), int(match.group(3) or match.group(2))
        if start < 1 or end < start:
            raise LaunchError(f"bad job range {rest[0]!r}: need {match.group(1)}=A:B with 1 <= A <= B")
        array = JobArray(match.group(1), start, end)
        rest = rest[1:]
    elif rest and _LOOKS_LIKE_JOB_SPEC.match(rest[0]):
        raise LaunchError(f"bad job range {rest[0]!r}: expected NAME=A:B, e.g. JOB=1:4")
    if len(rest) < 2:
        raise LaunchError("expected [options] [JOB=1:N] LOG prog [args...]")
    log, argv = rest[0], tuple(rest[1:])
    if array and array.end > array.start and not names_array(array.name, log):
        raise LaunchError(f"{len(array.ids)} jobs would write one log {log!r}: put {array.name} in the log path")

    backend = options.pop("backend", "local")
    if backend not in BACKENDS:
        raise LaunchError(f"unknown --backend {backend!r}; choose from {', '.join(BACKENDS)}")
    config = options.pop("config", None)
    max_jobs = options.pop("max-jobs", None)
    max_wait = options.pop("max-wait", None)
    log_level = options.pop("log-level", "INFO")
    request = LaunchRequest(
        log=log, argv=argv, backend=backend,
        config=Path(config) if config else None,
        max_jobs=_positive_int("max-jobs", max_jobs) if max_jobs else None,
        max_wait=_seconds("max-wait", max_wait) if max_wait else None,
        nproc_per_node=_positive_int("nproc-per-node", options.pop("nproc-per-node", "1")),
        nodes=_positive_int("nodes", options.pop("nodes", "1")),
        resources={name.replace("-", "_"): value for name, value in options.items()},
        array=array,
        log_level=log_level,
    )
    for name, pattern, meaning in _RESOURCE_FORMATS:
        value = request.resources.get(name)
        if value is not None and not pattern.match(value):
            raise LaunchError(f"--{name.replace('_', '-')} {value!r}: expected {meaning}")
    if request.backend == "local" and request.nodes > 1:
        raise LaunchError(f"--nodes {request.nodes} needs --backend slurm; the local backend runs on one machine")
    return request
