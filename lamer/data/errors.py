"""Errors for bad corpus input, the record of rows skipped with ``--skip-bad``, and a full disk
(which is never the input's fault)."""
from __future__ import annotations

import contextlib
import errno
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)


class DataError(ValueError):
    """Bad corpus input or a broken data dir; the message names the file (and line) at fault."""


class DiskFull(Exception):
    """A write failed for want of space (ENOSPC, EDQUOT, EFBIG): the run stops, and no clip or row
    is blamed for it. Deliberately not an OSError, so that no handler of unreadable input
    catches it by accident."""


# no space left, quota exceeded, file larger than the file system or RLIMIT_FSIZE allows
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


@contextlib.contextmanager
def disk_full_stops(path: str | Path) -> Iterator[None]:
    """Turn a disk-full OSError raised in the block into :class:`DiskFull` naming ``path`` (a
    failed ``write`` names no file itself); other errors pass unchanged."""
    try:
        yield
    except OSError as err:
        if err.errno not in DISK_FULL_ERRNOS:
            raise
        raise DiskFull(f"disk full at {err.filename or path} ({err.strerror}); free space or raise the "
                       "quota or file size limit, then run again: finished outputs are kept") from err


def decode_line(raw: bytes, origin: str) -> str:
    """One line of a text file as UTF-8; other bytes are an error naming ``origin`` (``file:line``)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{origin}: not UTF-8 text (byte {err.start + 1} of the line); "
                        "convert the file to UTF-8, e.g. with iconv") from err


@dataclass
class BadRows:
    """Decides what happens to a bad input row: raise, or skip it and count it.

    ``origin`` strings name the row (``path/to/train.tsv:12``) so that both the error and the
    report point at it.
    """

    skip_bad: bool = False
    skipped: list[dict[str, str]] = field(default_factory=list)

    def bad(self, origin: str, reason: str, kind: str) -> None:
        """Report a bad row: raises :class:`DataError` unless ``skip_bad``, then records it."""
        if not self.skip_bad:
            raise DataError(f"{origin}: {reason} (use --skip-bad to skip such rows)")
        logger.warning("skipping %s: %s", origin, reason)
        self.skipped.append({"origin": origin, "kind": kind, "reason": reason})

    def counts(self) -> dict[str, int]:
        """Number of skipped rows per kind (``missing_audio``, ``bad_audio``, ...)."""
        return dict(Counter(row["kind"] for row in self.skipped))
