"""A job that keeps writing: `heartbeat_job.py PGID_FILE BEAT_FILE [--ignore-term]`.

Writes its process group id to PGID_FILE, starts a child that appends a line to BEAT_FILE every
20 ms, and waits for it, so both a program and a process it started must be stopped. With
--ignore-term both ignore SIGTERM and only SIGKILL ends them.
"""
import os
import signal
import subprocess
import sys
import time


def beat(beat_file: str) -> None:
    with open(beat_file, "a") as out:
        while True:
            out.write("beat\n")
            out.flush()
            time.sleep(0.02)


if __name__ == "__main__":
    if "--ignore-term" in sys.argv:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if sys.argv[1] == "--child":
        beat(sys.argv[2])
    child = subprocess.Popen([sys.executable, __file__, "--child", *sys.argv[2:]])
    with open(sys.argv[1] + ".tmp", "w") as out:
        out.write(str(os.getpgrp()))
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    sys.exit(child.wait())
