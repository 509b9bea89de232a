"""conf/slurm.conf: how launcher options become sbatch options (in the spirit of Kaldi's slurm.pl).

One rule a line, `#` starts a comment, words are split like a shell (quotes allowed, no expansion):

    command sbatch --export=ALL            # sbatch (from PATH) and the options for every job
    option mem=* --mem=$0                  # --mem VALUE: any value; $0 is replaced by VALUE
    option gpu=0                           # --gpu 0: exactly this value; adds nothing
    option gpu=* --gres=gpu:$0             # an exact rule wins over the `*` rule of the same option
    default partition=cpu                  # used when the call does not give --partition

An option given to the launcher that no rule covers is an error, so a typo never silently drops a
resource request. Every error names the file and line.

The first word after `command` is the program, as in Kaldi's slurm.pl, and it must be the word
`sbatch` itself: it is found on PATH when the jobs are submitted, and the launcher logs the file it
runs. A config cannot name another program or a path (`/tmp/x/sbatch`, `./sbatch`): a site whose
sbatch is elsewhere puts that folder first in PATH.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from lamer.launch.errors import LaunchError

SUBMIT_PROGRAM = "sbatch"  # the one program a config's `command` line may run, found on PATH
_NAME_VALUE = re.compile(r"^([a-z_][a-z0-9_]*)=(\S+)$")


@dataclass
class SlurmConfig:
    """Parsed rules: `rules[(name, value)]` are option lists, value '*' matching any value."""

    path: Path
    submit: list[str] = field(default_factory=list)
    rules: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)

    def options_for(self, resources: dict[str, str]) -> list[str]:
        """The sbatch options of `resources` (name -> value, defaults filled in), in name order."""
        requested = {**self.defaults, **resources}
        options: list[str] = []
        for name in sorted(requested):
            value = requested[name]
            if (name, value) in self.rules:
                options += self.rules[(name, value)]
            elif (name, "*") in self.rules:
                options += [word.replace("$0", value) for word in self.rules[(name, "*")]]
            else:
                flag = "--" + name.replace("_", "-")
                raise LaunchError(f"{self.path}: no rule for {flag} {value}: "
                                  f"add `option {name}=* <sbatch options with $0>`")
        return options


def _line_error(path: Path, number: int, message: str) -> LaunchError:
    return LaunchError(f"{path}:{number}: {message}")


def parse_slurm_config(path: Path) -> SlurmConfig:
    """Read a slurm.conf (format in the module doc); LaunchError naming the line if malformed."""
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise LaunchError(f"cannot read Slurm config {path}: {err.strerror}") from err
    config = SlurmConfig(Path(path))
    seen: dict[tuple[str, str], int] = {}
    defaults_at: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        try:
            words = shlex.split(line, comments=True)
        except ValueError as err:
            raise _line_error(path, number, f"cannot split {line.strip()!r}: {err}") from err
        if not words:
            continue
        keyword, args = words[0], words[1:]
        if keyword == "command":
            if config.submit:
                raise _line_error(path, number, "a second `command` line; keep one")
            if not args or args[0] != SUBMIT_PROGRAM:
                got = f" (got {args[0]!r})" if args else ""
                raise _line_error(path, number, f"`command` must name sbatch itself, found on PATH{got}, e.g. "
                                  "`command sbatch --export=ALL`; to run another sbatch, put its folder first in PATH")
            config.submit = args
        elif keyword in ("option", "default"):
            match = _NAME_VALUE.match(args[0]) if args else None
            if not match:
                raise _line_error(path, number,
                                  f"`{keyword}` needs NAME=VALUE (lower-case name), got {' '.join(args)!r}")
            name, value = match.groups()
            if keyword == "default":
                if len(args) > 1 or value == "*":
                    raise _line_error(path, number, "`default` takes one NAME=VALUE with a concrete value")
                defaults_at[name] = number
                config.defaults[name] = value
                continue
            if (name, value) in seen:
                raise _line_error(path, number,
                                  f"`option {name}={value}` already defined on line {seen[(name, value)]}")
            if value != "*" and any("$0" in word for word in args[1:]):
                raise _line_error(path, number, f"$0 only makes sense in a `{name}=*` rule")
            seen[(name, value)] = number
            config.rules[(name, value)] = args[1:]
        else:
            raise _line_error(path, number, f"unknown keyword {keyword!r}; expected command, option or default")
    if not config.submit:
        raise LaunchError(f"{path}: no `command sbatch ...` line")
    for name, number in defaults_at.items():
        if not any(rule_name == name for rule_name, _ in config.rules):
            raise _line_error(path, number, f"default for {name!r}, which has no `option {name}=...` rule")
    return config
