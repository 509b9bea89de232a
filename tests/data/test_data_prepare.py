"""Preparation as a shared step: concurrent runs on one output, killed runs, their leftovers."""
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lamer.data.lock import output_lock
from lamer.data.validate import validate_data_dir


def _command(root: Path, out: Path, *extra: str, dump: Path | None = None) -> list[str]:
    """prepare_data on the train split of Common Voice ``en`` into ``out/data`` and ``out/dump`` (or ``dump``)."""
    return [sys.executable, "-m", "lamer.bin.prepare_data", "commonvoice", "--root", str(root), "--langs", "en",
            "--out", str(out / "data"), "--dump", str(dump or out / "dump"), "--split-mode", "official",
            "--splits", "train", *extra]


@pytest.fixture
def short_and_long(tmp_path, write_cv_locale, cv_row):
    """Eight clips, every other one too short for the duration filter (its dump file is deleted)."""
    rows = [cv_row("en", n, f"Sentence number {n}.", client=f"{n % 3:064d}") for n in range(8)]
    write_cv_locale(tmp_path / "cv", "en", rows[0::2], seconds=0.3)
    write_cv_locale(tmp_path / "cv", "en", rows, seconds=0.8)
    return tmp_path / "cv"


def test_concurrent_runs_on_one_output_are_serialised(short_and_long, tmp_path):
    # Without the lock, 2 of 10 such pairs raced (a FileNotFoundError traceback, or a valid clip
    # blamed as corrupt and skipped into report.json).
    for attempt in range(3):
        out = tmp_path / f"out{attempt}"
        cmd = _command(short_and_long, out, "--min-duration", "0.5", "--skip-bad")
        runs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = [(run.wait(120), run.stderr.read()) for run in runs]
        for code, err in results:
            assert code == 0 and "Traceback" not in err and "skipping" not in err, err
        report = json.loads((out / "data" / "eng" / "train" / "report.json").read_text(encoding="utf-8"))
        assert (report["utterances"], report["skipped_bad"], report["filtered"]) == (4, {}, {"too_short": 4})
        assert len(list((out / "dump" / "eng" / "train").iterdir())) == 4
        assert validate_data_dir(out / "data" / "eng" / "train") == []
        assert any("already complete, skipped" in err for _, err in results)  # the second waited, then found it done


def test_data_and_dump_roots_must_differ(short_and_long, tmp_path):
    run = subprocess.run(_command(short_and_long, tmp_path, dump=tmp_path / "data" / "."), stderr=subprocess.PIPE,
                         text=True)
    assert run.returncode == 1 and "the data root and the dump root must be different folders" in run.stderr


def _read_lines(stream) -> queue.Queue:
    """The lines of ``stream`` as a reader thread gets them; None once it ends."""
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _wait_for_line(lines: queue.Queue, text: str, timeout: float = 120) -> list[str]:
    """The lines read up to the first one holding ``text``; fails if the stream ends or ``timeout``
    seconds pass first."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while not seen or text not in seen[-1]:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            pytest.fail(f"no line with {text!r} in {timeout:g} s; got {''.join(seen)}")
        if line is None:
            pytest.fail(f"the stream ended without a line holding {text!r}: {''.join(seen)}")
        seen.append(line)
    return seen


def test_second_run_stops_naming_the_holder_or_waits_for_it(short_and_long, tmp_path):
    cmd = _command(short_and_long, tmp_path)
    with output_lock(tmp_path / "data" / "eng" / "train"):
        stopped = subprocess.run([*cmd, "--lock_timeout", "0"], stderr=subprocess.PIPE, text=True)
        waiting = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        # the waiter says so once it found the lock held: however slow the machine, it waits on the lock
        told = _wait_for_line(_read_lines(waiting.stderr), "waiting for it to finish")
        assert waiting.poll() is None
    assert stopped.returncode == 1
    assert f"being written by PID {os.getpid()} on {socket.gethostname()}" in stopped.stderr.splitlines()[-1]
    assert "Traceback" not in stopped.stderr and not (tmp_path / "data" / "eng" / "train").exists()
    assert f"being written by PID {os.getpid()}" in told[-1]
    assert waiting.wait(120) == 0
    assert validate_data_dir(tmp_path / "data" / "eng" / "train") == []


def _children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers die with their parent on Linux")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_killed_run_leaves_no_worker_and_the_next_run_cleans_up(signum, tmp_path, write_cv_locale, cv_row):
    write_cv_locale(tmp_path / "cv", "en", [cv_row("en", 0, "Sentence zero.")], seconds=1.0)
    clips = tmp_path / "cv" / "en" / "clips"
    rows = (tmp_path / "cv" / "en" / "train.tsv").read_text(encoding="utf-8").splitlines()
    for n in range(1, 80):  # copies of one clip: slow enough to be killed halfway
        shutil.copy(clips / "common_voice_en_0.mp3", clips / f"common_voice_en_{n}.mp3")
        rows.append(rows[1].replace("common_voice_en_0.mp3", f"common_voice_en_{n}.mp3"))
    (tmp_path / "cv" / "en" / "train.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    dump = tmp_path / "dump" / "eng" / "train"
    run = subprocess.Popen(_command(tmp_path / "cv", tmp_path, "--nj", "2"), stderr=subprocess.DEVNULL)
    while len(list(dump.glob("*.wav"))) < 4 and run.poll() is None:
        time.sleep(0.05)
    workers = _children(run.pid)
    assert run.poll() is None and len(workers) == 2
    run.send_signal(signum)
    assert run.wait(10) == -signum
    deadline = time.monotonic() + 5
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(_alive, workers))
    written = sorted(os.listdir(dump))
    time.sleep(0.5)
    assert sorted(os.listdir(dump)) == written  # nothing writes any more
    assert len(written) < 80 and not (tmp_path / "data" / "eng" / "train").exists()
    # a killed run's leftovers of every kind: a dump temporary and a half-written data dir
    (dump / ".x.wav.k1ll3d00.tmp").write_bytes(b"RIFF")
    (tmp_path / "data" / "eng" / ".train.k1ll3d00").mkdir(parents=True)
    done = subprocess.run(_command(tmp_path / "cv", tmp_path, "--nj", "2"), stderr=subprocess.PIPE, text=True)
    assert done.returncode == 0, done.stderr
    assert "left by a killed run" in done.stderr
    assert len(list(dump.glob("*.wav"))) == 80 and [p.name for p in dump.iterdir() if p.name.startswith(".")] == []
    assert sorted(p.name for p in (tmp_path / "data" / "eng").iterdir()) == [".train.lock", "train"]
    assert validate_data_dir(tmp_path / "data" / "eng" / "train") == []


def test_live_writers_temporaries_are_never_removed(short_and_long, tmp_path):
    live = tmp_path / "data" / "eng" / ".train.l1ve0000"
    with output_lock(tmp_path / "data" / "eng" / "train"):
        live.mkdir(parents=True)
        stopped = subprocess.run([*_command(short_and_long, tmp_path), "--lock_timeout", "0.5"],
                                 stderr=subprocess.PIPE, text=True)
        assert stopped.returncode == 1 and "gave up after 0.5 s" in stopped.stderr
        assert live.is_dir()


def test_replay_subset_and_split_take_the_lock_of_their_output(short_and_long, tmp_path, capsys):
    from lamer.bin.prepare_data import main

    assert subprocess.run(_command(short_and_long, tmp_path)).returncode == 0
    src = str(tmp_path / "data" / "eng" / "train")
    commands = {"replay": ["--minutes", "0.05"], "subset": ["--hours", "0.001"],
                "split": ["--dev", "0.3", "--test", "0"]}
    for command, args in commands.items():
        out = tmp_path / command
        held = out / "train" if command == "split" else out
        with output_lock(held):
            assert main([command, "--src", src, *args, "--out", str(out), "--lock_timeout", "0"]) == 1
            assert f"{held}: being written by PID {os.getpid()}" in capsys.readouterr().err
        assert main([command, "--src", src, *args, "--out", str(out), "--lock_timeout", "0"]) == 0


def _file_size_limit(limit: int):
    """preexec_fn: files of the child may grow to ``limit`` bytes; a write past it fails with EFBIG,
    the errno a full disk gives as ENOSPC (SIGXFSZ, which would kill the child first, is ignored)."""
    def apply() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE and SIGXFSZ (POSIX)")
@pytest.mark.parametrize("nj", ["1", "2"])
def test_a_full_disk_stops_the_run_and_blames_no_clip(short_and_long, tmp_path, nj):
    """Dump files of the long clips (0.8 s: 25.6 kB) cannot be written: --skip_bad must not make
    that 'bad audio' and a zero exit; the run stops naming the file, and resumes once there is room."""
    command = _command(short_and_long, tmp_path, "--skip_bad", "--nj", nj)
    full = subprocess.run(command, stderr=subprocess.PIPE, text=True, preexec_fn=_file_size_limit(16000))
    last = full.stderr.strip().splitlines()[-1]
    assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr
    dump = tmp_path / "dump" / "eng" / "train"
    assert re.fullmatch(rf"error: disk full at {re.escape(str(dump))}/\S+\.wav \(File too large\); .*", last), last
    assert "bad_audio" not in full.stderr and "skipping" not in full.stderr
    assert not (tmp_path / "data" / "eng" / "train").exists()
    assert [p.name for p in dump.iterdir() if p.name.startswith(".")] == []  # no half-written file
    done = subprocess.run(command, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "data" / "eng" / "train" / "report.json").read_text(encoding="utf-8"))
    assert report["utterances"] == 4 and report["skipped_bad"] == {}
