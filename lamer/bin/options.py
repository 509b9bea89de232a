"""The command-line convention of every ``python -m lamer.bin.<tool>``.

Options are spelt with underscores, as ESPnet's (``--skip_bad``, ``--out_dir``); the dashed
spelling (``--skip-bad``) is accepted too, as an alias listed beside it in ``--help``, so scripts
written for either form keep working. Unknown options and abbreviations of known ones are errors
(``allow_abbrev=False``): a misspelt option never silently does nothing or something else.
Subcommand parsers (``add_subparsers``) follow the same convention.

``--help`` starts with the usage line ``usage: python -m lamer.bin.<tool>``, and every option's
help ends with its default. Every tool takes ``--log_level`` (default INFO, as ESPnet's tools) and
logs in ESPnet's format (:data:`LOG_FORMAT`): parsing a tool's command line sets its logging up
(:func:`setup_logging`), so no tool has a format of its own. Tools whose parser is ESPnet's
(``asr_train``, ``ssl_train``, ``asr_inference``) print their usage line before importing ESPnet
(:func:`help_before_imports`).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import logging
from collections.abc import Iterator, Sequence

LOG_FORMAT = "%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s"  # ESPnet's
LOG_LEVELS = ("ERROR", "WARNING", "INFO", "DEBUG", "NOTSET")  # ESPnet's --log_level choices
DEFAULT_LOG_LEVEL = "INFO"


def setup_logging(level: str = DEFAULT_LOG_LEVEL) -> None:
    """Log to stderr in ESPnet's format at ``level`` (one of :data:`LOG_LEVELS`). Where logging is
    set up already (a tool calling another in one process, a test harness), only the level is set."""
    logging.basicConfig(level=level, format=LOG_FORMAT)
    logging.getLogger().setLevel(level)


def log_level(text: str) -> str:
    """``type=`` of ``--log_level``: a level name in any case, as ESPnet takes it."""
    level = text.upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(LOG_LEVELS)}, got {text!r}")
    return level


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description as written; each option's help followed by its default where it has one
    and the help does not already say it (an empty default shows as ``empty``)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (default is None or default is argparse.SUPPRESS or action.nargs == 0 or "default" in text.lower()
                or (not action.option_strings and action.nargs not in ("?", "*"))):
            return text
        shown = "empty" if default in ("", [], ()) else "%(default)s"
        return f"{text} (default: {shown})"


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

    sets_up_logging = False  # the tool's own parser (tool_parser), not a subcommand's

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        # on every parser, subcommands' included, so that it may stand before or after the subcommand
        self.add_argument("--log_level", type=log_level, choices=LOG_LEVELS, default=argparse.SUPPRESS, metavar="LEVEL",
                          help=f"logging level: {', '.join(LOG_LEVELS)} (default: {DEFAULT_LOG_LEVEL})")

    def parse_known_args(self, args=None, namespace=None):
        """argparse's, then (the tool's own parser) logging set up at ``--log_level``."""
        parsed, rest = super().parse_known_args(args, namespace)
        if self.sets_up_logging:
            parsed.log_level = getattr(parsed, "log_level", DEFAULT_LOG_LEVEL)
            setup_logging(parsed.log_level)
        return parsed, rest

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
    (the module docstring) shown as written. Parsing with it sets the tool's logging up."""
    parser = ToolParser(prog=f"python -m lamer.bin.{tool}", description=description, **kwargs)
    parser.sets_up_logging = True
    return parser


def help_asked(argv: Sequence[str]) -> bool:
    """Whether ``argv`` asks for ``--help`` (``-h``)."""
    return "-h" in argv or "--help" in argv


def usage_line(tool: str, synopsis: str) -> str:
    """The first line of ``python -m lamer.bin.<tool> --help``."""
    return f"usage: python -m lamer.bin.{tool} {synopsis}"


@contextlib.contextmanager
def help_before_imports(head: str, argv: Sequence[str]) -> Iterator[None]:
    """Around the imports of a tool whose parser comes from them (ESPnet's, which take seconds and
    print notes about optional packages): when ``argv`` asks for help, ``head`` (starting with the
    tool's :func:`usage_line`) is printed first and what the imports print is kept out of the help.
    Otherwise nothing changes."""
    if not help_asked(argv):
        yield
        return
    print(head, flush=True)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


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
