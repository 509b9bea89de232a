"""Every command's --help renders, subcommands included (argparse formats help strings with %,
so a stray '%' only fails when someone asks for help)."""
import argparse
import importlib
import pkgutil

import pytest

import lamer.bin

MODULES = [m.name for m in pkgutil.iter_modules(lamer.bin.__path__)]


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


@pytest.mark.parametrize("name", MODULES)
def test_help_renders(name):
    module = importlib.import_module(f"lamer.bin.{name}")
    if not hasattr(module, "build_parser"):
        pytest.skip(f"lamer.bin.{name} has no build_parser()")
    for parser in _parsers(module.build_parser()):
        assert parser.format_help()
