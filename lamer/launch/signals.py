"""Signals to a launcher stop its jobs: SIGTERM, SIGINT and SIGHUP are caught, never lost.

Inside `forwarded_signals()` (entered in the main thread) those signals are blocked and taken
synchronously where the launcher waits anyway (`SignalWatch.sleep`), which raises `Interrupted`.
The backend then stops what it started (local: TERM the jobs' process groups, KILL after a grace
period; slurm: scancel) and the CLI exits with 128+signal, as a shell does. Blocking instead of
a handler that raises means a signal never lands halfway through starting a job, where a child
already running but not yet recorded would be left behind. Jobs must start with an empty signal
mask (the local backend's spawn does so). A signal that was ignored when the launcher started
(`nohup`, a background job of a script) stays ignored, as it does for any shell command.
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Interrupted(Exception):
    """The launcher got `signum`; raised once the backend has stopped or cancelled its jobs."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def exit_code(self) -> int:
        """The shell's status for a process ended by this signal: 128 + its number."""
        return 128 + self.signum


class SignalWatch:
    """Waits that end early, with Interrupted, when one of the blocked signals arrives."""

    def __init__(self, signals: frozenset[int]) -> None:
        self.signals = signals

    def received(self, seconds: float) -> int | None:
        """Wait up to `seconds` for a signal; its number, or None if none came.

        A stop and continue of the launcher (Ctrl-Z then `fg`, a Slurm suspend and resume) ends
        the wait with no signal (signal number 0): the wait goes on until its time is up."""
        if not self.signals:
            time.sleep(seconds)
            return None
        deadline = time.monotonic() + max(seconds, 0.0)
        while (info := signal.sigtimedwait(self.signals, max(deadline - time.monotonic(), 0.0))) is not None:
            if info.si_signo in self.signals:
                return info.si_signo
            if time.monotonic() >= deadline:
                break
        return None

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`; raise Interrupted as soon as a signal arrives."""
        signum = self.received(seconds)
        if signum is not None:
            raise Interrupted(signum)


@contextlib.contextmanager
def forwarded_signals() -> Iterator[SignalWatch]:
    """Block SIGTERM, SIGINT and SIGHUP for the block; wait through the yielded SignalWatch.

    A signal still pending when the block ends normally raises Interrupted then; signals pending
    when it ends with an exception are dropped (that exception wins), so restoring the mask never
    kills the launcher before it reports. Outside the main thread signals go to the main thread
    anyway, so nothing is blocked and the watch only sleeps.
    """
    if threading.current_thread() is not threading.main_thread():
        yield SignalWatch(frozenset())
        return
    caught = frozenset(s for s in FORWARDED if signal.getsignal(s) is not signal.SIG_IGN)
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, caught)
    watch = SignalWatch(caught)
    try:
        yield watch
    finally:
        first = None
        while (signum := watch.received(0)) is not None:
            first = first or signum
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    if first is not None:
        raise Interrupted(first)
