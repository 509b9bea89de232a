"""Atomic outputs: write beside the target under a temporary name, then rename into place.

A reader (or a re-run after a crash) never sees a half-written file or directory: either the
old content or the complete new one. A run killed while writing leaves its temporary name
behind (``.<name>.XXXXXXXX.tmp`` files, ``.<name>.XXXXXXXX`` dirs, ``.<name>.old<pid>``); the next
run of the same step removes them with :func:`remove_stale_temps` once it holds the output's
lock (:mod:`lamer.data.lock`), so a live writer's temporary is never touched.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

# tempfile's names: the prefix, then 8 characters from this alphabet
_RANDOM = "[a-z0-9_]{8}"


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary file path beside ``path``; once the block succeeds it replaces ``path``.

    For writers that want a path (``torch.save``, safetensors); parents are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_atomic(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """Create ``path`` by calling ``write`` on a temporary binary file, then renaming it."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        write(handle)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically."""
    write_atomic(path, lambda handle: handle.write(text.encode("utf-8")))


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented, key-order-preserving UTF-8 JSON to ``path`` atomically."""
    write_text_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def atomic_dir(directory: str | Path) -> Iterator[Path]:
    """Yield an empty temporary directory beside ``directory``; once the block succeeds it
    takes the place of ``directory`` (an existing one is removed after the swap)."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o755)  # mkdtemp creates 0700
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old{os.getpid()}")
            os.replace(directory, old)
            os.replace(tmp, directory)
            shutil.rmtree(old)
        else:
            os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def remove_path(path: Path) -> None:
    """Remove ``path``: a directory with everything in it, or a file or link (a link itself, never
    what it points to)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def remove_stale_temps(directory: str | Path, name: str | None = None) -> list[Path]:
    """Remove the temporaries that atomic writes of ``name`` (of any name when None) left in
    ``directory``; returns what was removed.

    Only call it while holding the lock of the outputs concerned: a temporary being written
    right now looks the same as one left by a killed run.
    """
    stem = re.escape(name) if name is not None else r".+"
    pattern = re.compile(rf"\.{stem}\.(?:{_RANDOM}(?:\.tmp)?|old\d+)")
    directory = Path(directory)
    removed = []
    for entry in sorted(directory.iterdir()) if directory.is_dir() else []:
        if pattern.fullmatch(entry.name):
            remove_path(entry)
            removed.append(entry)
    return removed
