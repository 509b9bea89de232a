"""SHA-256 of files: computed, checked against an expected value, and recorded beside a file.

One spelling everywhere: 64 lowercase hex digits, as ``sha256sum`` prints them and as a plan's
``base_model.sha256`` takes them. Files are hashed in blocks (``hashlib.file_digest``), so a
multi-GB checkpoint is never read into memory whole. A sidecar ``<file>.sha256`` is written in
``sha256sum``'s format (``HEX  NAME``), so ``sha256sum -c upstream.pt.sha256`` checks it too.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from lamer.atomic import write_text_atomic

SIDECAR_SUFFIX = ".sha256"
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


class ChecksumMismatch(ValueError):
    """A file whose SHA-256 is not the one it was expected to have."""


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, as 64 lowercase hex digits (read in blocks, not whole)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def sha256_problem(value: object) -> str | None:
    """Why ``value`` is not a SHA-256 as the plan takes it (64 hex digits, a string), or None if it is."""
    if not isinstance(value, str):
        return f"expected 64 hex digits as a string (quote it in YAML), got {value!r}"
    if not _HEX64.fullmatch(value):
        return f"expected 64 hex digits, got {value!r} ({len(value)} characters)"
    return None


def check_sha256(path: str | Path, expected: str, fix: str) -> None:
    """Raise :class:`ChecksumMismatch` unless the SHA-256 of the file ``path`` is ``expected``.

    Nothing but the file's bytes is read, so a caller that checks before loading never unpickles
    a file it did not mean to trust. ``expected`` may be in either case; ``fix`` ends the message
    (what to do about it). FileNotFoundError / IsADirectoryError name a missing path or a folder.
    """
    path = Path(path)
    problem = sha256_problem(expected)
    if problem:
        raise ValueError(f"SHA-256 to check {path} against: {problem}")
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a directory; a SHA-256 is checked on one checkpoint file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (its SHA-256 was to be checked)")
    actual = file_sha256(path)
    if actual != expected.lower():
        raise ChecksumMismatch(f"{path}: SHA-256 mismatch: expected {expected.lower()}, actual {actual}. {fix}")


def write_sidecar(path: str | Path) -> tuple[str, Path]:
    """Hash the file ``path`` and write ``<path>.sha256`` (``sha256sum`` format, atomically);
    returns the hex digest and the sidecar's path."""
    path = Path(path)
    digest = file_sha256(path)
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    write_text_atomic(sidecar, f"{digest}  {path.name}\n")
    return digest, sidecar
