"""One writer per output: an exclusive lock beside an output, held while a step writes it.

Two runs writing the same data or dump dir (a re-run started while a queued one still runs)
would delete each other's files. Every step that writes a shared output first takes
``fcntl.flock`` on ``.<name>.lock`` beside it (beside, because atomic writes replace the output
itself). The operating system releases the lock when the holder exits or is killed, so a lock
is never stale. The holder writes its PID and host into the lock file; a second run logs them
and waits, or after ``timeout`` seconds stops with a :class:`OutputLocked` naming them.

Holding the lock also makes the temporary files beside the output safe to remove: they can
only be leftovers of a killed run (see :func:`lamer.atomic.remove_stale_temps`), which
:func:`output_lock` removes once it holds the lock.

``flock`` keeps apart the processes of one host on any file system, and those of several hosts
on NFSv4 and on Lustre mounted with ``-o flock``. On a file system that refuses locks (Lustre
with ``-o noflock``) the step runs unlocked after a warning that says so, rather than not at all.

A lock file is opened without following a symbolic link (``O_NOFOLLOW``) and must be a regular
file with one name: a link planted where the lock goes (``ln -s victim .out.lock``, or a hard
link) is refused, naming it, and its target is never written. The holder's record is written in
place over a fixed-size block and blanked on release; the file is never truncated.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from lamer.atomic import remove_stale_temps
from lamer.data.errors import DataError

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2
_RECORD_BYTES = 256  # the holder's "PID HOST" line, padded with blanks: always rewritten whole
_NO_LOCKS = (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP)


class OutputLocked(DataError):
    """Another process holds the output's lock and did not release it in time."""


def lock_file(target: str | Path) -> Path:
    """The lock file of an output file or dir: ``.<name>.lock`` beside it."""
    target = Path(target)
    return target.parent / f".{target.name}.lock"


def _holder(fd: int) -> str:
    """Who holds the lock, as its holder wrote it (empty while the holder has not written yet)."""
    holder = os.pread(fd, _RECORD_BYTES, 0).decode("utf-8", "replace").split()
    return f"PID {holder[0]} on {holder[1]}" if len(holder) == 2 else ""


def _try_lock(fd: int, target: Path) -> bool:
    """Take the lock if it is free; True also where the file system has no locks (with a warning)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as err:
        if err.errno not in _NO_LOCKS:
            raise
        logger.warning("%s: the file system refuses locks (%s); nothing stops a second run from writing it at "
                       "the same time", target, err.strerror)
    return True


def _acquire(fd: int, target: Path, timeout: float | None) -> None:
    """Take the lock on ``fd``, waiting at most ``timeout`` seconds (None: as long as it takes)."""
    if _try_lock(fd, target):
        return
    deadline = None if timeout is None else time.monotonic() + timeout
    holder = ""
    while True:
        holder = _holder(fd) or holder
        if not holder:  # the holder has just taken the lock: its PID follows in a moment
            time.sleep(POLL_SECONDS)
            holder = _holder(fd) or "another process"
        if deadline is not None and time.monotonic() >= deadline:
            raise OutputLocked(f"{target}: being written by {holder} (lock {lock_file(target)}); gave up after "
                               f"{timeout:g} s. Let that run finish (or stop it), then run this again.")
        logger.warning("%s: being written by %s (lock %s); waiting for it to finish%s", target, holder,
                       lock_file(target), "" if timeout is None else f" (at most {timeout:g} s)")
        while deadline is None or time.monotonic() < deadline:
            if _try_lock(fd, target):
                return
            time.sleep(POLL_SECONDS)


def _record(text: str) -> bytes:
    """``text`` padded with blanks to the fixed size of a holder record."""
    return text.encode("utf-8", "replace")[:_RECORD_BYTES - 1].ljust(_RECORD_BYTES - 1) + b"\n"


def _open_lock(target: Path) -> int:
    """Open (or create) the lock file of ``target``; DataError if it is a link or not a plain file."""
    path = lock_file(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise DataError(f"{path}: the lock of {target} is a symbolic link, which is never followed; remove "
                            "the link (its target is untouched) and run this again") from None
        raise DataError(f"{path}: cannot open the lock of {target} ({err.strerror}); its folder must be "
                        "writable") from None
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode) or status.st_nlink > 1:
        os.close(fd)
        what = "not a regular file" if not stat.S_ISREG(status.st_mode) else f"a hard link ({status.st_nlink} names)"
        raise DataError(f"{path}: the lock of {target} is {what}; lamer writes only a plain lock file of its own "
                        "there: remove it and run this again")
    return fd


@contextlib.contextmanager
def output_lock(target: str | Path, timeout: float | None = None) -> Iterator[Path]:
    """Hold the exclusive lock of the output ``target`` for the block; yields ``target``.

    Waits for another holder at most ``timeout`` seconds (None: without limit, 0: not at all),
    then raises :class:`OutputLocked` naming the holder's PID. Once held, temporary files that a
    killed run left beside ``target`` are removed. Parents of ``target`` are created. A lock file
    that is a symbolic link, a hard link or not a regular file is refused (DataError).
    """
    target = Path(target)
    fd = _open_lock(target)
    held = False
    try:
        _acquire(fd, target, timeout)
        held = True
        os.pwrite(fd, _record(f"{os.getpid()} {socket.gethostname()}"), 0)
        for stale in remove_stale_temps(target.parent, target.name):
            logger.info("removed %s, left by a killed run", stale)
        yield target
    finally:
        if held:
            os.pwrite(fd, _record(""), 0)  # a later waiter must not read this PID as its holder's
        os.close(fd)
