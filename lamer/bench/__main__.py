"""Dispatch ``python -m lamer.bench NAME args`` to ``lamer.bench.NAME.main(args)``."""
from __future__ import annotations

import importlib
import pkgutil
import sys

import lamer.bench


def available() -> list[str]:
    """Names of the benchmark modules in this package."""
    return sorted(m.name for m in pkgutil.iter_modules(lamer.bench.__path__) if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    names = available()
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: python -m lamer.bench {{{','.join(names)}}} [--json] [options]")
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in names:
        print(f"lamer.bench: unknown benchmark {name!r}; choose one of {', '.join(names)}", file=sys.stderr)
        return 2
    return int(importlib.import_module(f"lamer.bench.{name}").main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
