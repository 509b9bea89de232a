"""lamer.progress: a tqdm bar on a terminal; in a log file (a job's stderr), one line per tenth."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lamer.progress import progress

ROOT = Path(__file__).resolve().parents[1]


def test_a_log_gets_a_line_per_tenth(caplog):
    caplog.set_level(logging.INFO, logger="lamer.progress")
    assert list(progress(range(50), desc="labels", unit="utt")) == list(range(50))
    assert [r.getMessage() for r in caplog.records] == [f"labels: {n}/50 utt ({2 * n}%)" for n in range(5, 55, 5)]


def test_updates_and_a_total_given_late_count_alike(caplog):
    caplog.set_level(logging.INFO, logger="lamer.progress")
    with progress(desc="k-means", unit="step") as bar:
        bar.update(3)  # no total yet: nothing to say
        bar.total = 7
        for _ in range(4):
            bar.update(1)
    # 3 of 7 is past 4 tenths: one line for them; then one per tenth passed
    assert [r.getMessage().split(" (")[1] for r in caplog.records] == ["57%)", "71%)", "85%)", "100%)"]


@pytest.mark.parametrize("terminal", [True, False])
def test_a_bar_only_on_a_terminal(terminal, tmp_path):
    """A real stderr, a terminal (a pty) or a file: carriage returns only in the first."""
    code = ("import logging, sys; from lamer.bin.options import setup_logging; from lamer.progress import progress; "
            "setup_logging(); [None for _ in progress(range(200), desc='synth', unit='utt')]")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if terminal:
        import fcntl
        import pty
        import struct
        import termios

        main, child = pty.openpty()
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # a new pty is 0 columns wide
        subprocess.run([sys.executable, "-c", code], stderr=child, env=env, check=True, timeout=60)
        os.close(child)
        text = b""
        while chunk := _read(main):
            text += chunk
        os.close(main)
        err = text.decode()
        assert "\r" in err and "200/200" in err and "INFO" not in err
    else:
        log = tmp_path / "job.log"
        with open(log, "w") as handle:
            subprocess.run([sys.executable, "-c", code], stderr=handle, env=env, check=True, timeout=60)
        lines = log.read_text().splitlines()
        assert "\r" not in log.read_text() and len(lines) == 10
        assert lines[-1].endswith(" INFO: synth: 200/200 utt (100%)")


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # the pty's other end is closed: everything has been read
        return b""
