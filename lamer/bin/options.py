"""The command-line convention of every ``python -m lamer.bin.<tool>``.

Options are spelt with underscores, as ESPnet's (``--skip_bad``, ``--out_dir``); the dashed
spelling (``--skip-bad``) is accepted too, as an alias listed beside it in ``--help``, so scripts
written for either form keep working. Unknown options and abbreviations of known ones are errors
(``allow_abbrev=False``): a misspelt option never silently does nothing or something else.
Subcommand parsers (``add_subparsers``) follow the same convention.
"""
from __future__ import annotations

import argparse


def spellings(names: tuple[str, ...]) -> tuple[str, ...]:
    """The option strings to register for ``names``: each long option in its underscore form
    first (which makes it the destination's name and the one usage shows), its dashed form
    after it. Short options and positional names are left as they are."""
    out: list[str] = []
    for name in names:
        if name.startswith("--") and ("_" in name[2:] or "-" in name[2:]):
            body = name[2:]
            for spelling in (f"--{body.replace('-', '_')}", f"--{body.replace('_', '-')}"):
                if spelling not in out:
                    out.append(spelling)
        else:
            out.append(name)
    return tuple(out)


class ToolParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with the convention above; its argument groups, mutually
    exclusive groups and subcommand parsers register options the same way."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def _get_optional_kwargs(self, *args, **kwargs):
        return super()._get_optional_kwargs(*spellings(args), **kwargs)

    def add_argument_group(self, *args, **kwargs):
        group = super().add_argument_group(*args, **kwargs)
        group._get_optional_kwargs = self._get_optional_kwargs  # groups keep no link to the parser's
        return group

    def add_mutually_exclusive_group(self, **kwargs):
        group = super().add_mutually_exclusive_group(**kwargs)
        group._get_optional_kwargs = self._get_optional_kwargs
        return group


def tool_parser(tool: str, description: str | None, **kwargs) -> ToolParser:
    """The parser of ``python -m lamer.bin.<tool>`` (its usage line names it so), with ``description``
    (the module docstring) shown as written."""
    return ToolParser(prog=f"python -m lamer.bin.{tool}", description=description, **kwargs)


def add_lock_timeout(parser: argparse.ArgumentParser) -> None:
    """``--lock_timeout SECONDS`` of a tool that writes an output under its lock (lamer.data.lock)."""
    parser.add_argument("--lock_timeout", type=float, default=None, metavar="SECONDS",
                        help="how long to wait for another run writing the same output (default: no limit; 0: stop "
                             "at once); then stop with an error naming its PID")


def positive_int(text: str) -> int:
    """``type=`` of an option that counts jobs or names one (``--nj``, ``--job``): an integer of at
    least 1, so ``--nj 0`` or ``--nj -1`` is refused naming the option instead of running nothing."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer (1, 2, ...), got {text!r}")
    return value
