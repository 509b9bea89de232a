"""Errors for bad corpus input, and the record of rows skipped with ``--skip-bad``."""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


class DataError(ValueError):
    """Bad corpus input or a broken data dir; the message names the file (and line) at fault."""


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
