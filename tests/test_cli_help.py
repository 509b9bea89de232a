"""Every command's --help: it renders (argparse formats help strings with %, so a stray '%' only
fails when someone asks for help), it starts with the usage line ``usage: python -m lamer.bin.<tool>``
before anything an import prints, and every option says what it does and its default."""
import argparse
import importlib
import os
import pkgutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import lamer.bin
from lamer.bin import launch

ROOT = Path(__file__).resolve().parents[1]
MODULES = [m.name for m in pkgutil.iter_modules(lamer.bin.__path__)]
TOOLS = [name for name in MODULES if name != "options"]
ESPNET_TASKS = {"asr_train": "espnet2.tasks.asr:ASRTask", "ssl_train": "lamer.ssl.task:SSLTask"}


def _parsers(parser: argparse.ArgumentParser, label: str):
    yield label, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{label} {name}")


def _tool_parsers():
    for name in MODULES:
        module = importlib.import_module(f"lamer.bin.{name}")
        if hasattr(module, "build_parser"):
            yield from _parsers(module.build_parser(), name)


@pytest.mark.parametrize("name", MODULES)
def test_help_renders(name):
    module = importlib.import_module(f"lamer.bin.{name}")
    if not hasattr(module, "build_parser"):
        pytest.skip(f"lamer.bin.{name} has no build_parser()")
    for _, parser in _parsers(module.build_parser(), name):
        assert parser.format_help()


@pytest.mark.parametrize("name", TOOLS)
def test_help_starts_with_the_usage_line(name):
    """The first line the process writes, on stdout or stderr: for the tools that import ESPnet (which
    prints notes about optional packages and takes seconds), printed before that import."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen([sys.executable, "-m", f"lamer.bin.{name}", "--help"], cwd=ROOT, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True) as proc:
        try:
            first = proc.stdout.readline()
        finally:
            os.killpg(proc.pid, signal.SIGKILL)  # the rest is ESPnet's help, checked below
    assert first.startswith(f"usage: python -m lamer.bin.{name} "), first


@pytest.mark.parametrize("name", sorted(ESPNET_TASKS) + ["asr_inference"])
def test_espnet_tools_help_names_the_module_and_leaves_import_notes_out(name, capsys):
    main = importlib.import_module(f"lamer.bin.{name}").main
    try:
        code = main(["--help"])
    except SystemExit as exit_:  # ESPnet's parser
        code = exit_.code
    out = capsys.readouterr().out
    assert code == 0 and out.startswith(f"usage: python -m lamer.bin.{name} ")
    assert f"\nusage: python -m lamer.bin.{name} [-h]" in out  # ESPnet's own options follow, under our name
    assert "Flash Attention" not in out and "nltk_data" not in out


def _check_documented(label: str, parser: argparse.ArgumentParser, actions) -> list[str]:
    """The problems of ``actions``: an option without a help text, or whose help does not show the
    default it has."""
    problems = []
    formatter = parser._get_formatter()
    for action in actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        name = "/".join(action.option_strings) or action.dest
        if not action.help or action.help == argparse.SUPPRESS:
            problems.append(f"{label} {name}: no help")
            continue
        has_default = (action.default not in (None, argparse.SUPPRESS) and action.nargs != 0
                       and (action.option_strings or action.nargs in ("?", "*")))
        if has_default and "default" not in formatter._expand_help(action):
            problems.append(f"{label} {name}: the help does not show the default {action.default!r}")
    return problems


def test_every_option_says_what_it_does_and_its_default():
    problems = []
    for label, parser in _tool_parsers():
        problems += _check_documented(label, parser, parser._actions)
        if not any("--log_level" in action.option_strings for action in parser._actions):
            problems.append(f"{label}: no --log_level")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", [*sorted(ESPNET_TASKS), "asr_inference"])
def test_espnet_options_all_say_what_they_do(name):
    """ESPnet's parser as the tool shows it: ESPnet's options (ESPnet's formatter shows their defaults)
    and ours, each with a help text."""
    from lamer.probe.data_options import task_parser

    if name == "asr_inference":
        from lamer.bin.asr_inference import inference_parser

        parser = inference_parser()
    else:
        module, task = ESPNET_TASKS[name].split(":")
        parser = task_parser(name, getattr(importlib.import_module(module), task))
    assert parser.prog == f"python -m lamer.bin.{name}"
    problems = [p for p in _check_documented(name, parser, parser._actions) if p.endswith("no help")]
    assert not problems, "\n".join(problems)


LAUNCH_OPTIONS = ("backend", "config", "max-jobs", "max-wait", "nproc-per-node", "nodes", "log-level",
                  "mem", "gpu", "num-threads", "time", "partition", "constraint")


def test_launch_help_describes_every_option_with_its_default(capsys):
    assert launch.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m lamer.bin.launch ")
    rows = out.split("\n  --")[1:]
    described = {row.split()[0]: " ".join(row.split()) for row in rows}
    for name in LAUNCH_OPTIONS:
        assert name in described, f"--{name} is not described"
        assert "(default: " in described[name], f"--{name}: no default in {described[name]!r}"
