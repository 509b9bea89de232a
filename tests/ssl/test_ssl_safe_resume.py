"""ssl_train's resume and --init_param read files weights-only: own checkpoints resume, hostile or
truncated ones stop with one line naming the file (lamer/runtime/load_guard.py)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.probe.hostile import write_hostile_checkpoint
from tests.ssl.conftest import NUM_CLASSES
from tests.ssl.helpers import training_args

REPO = Path(__file__).resolve().parents[2]


def args(dump: Path, out: Path, *extra: str) -> list[str]:
    return training_args(dump, out, "--num_classes", str(NUM_CLASSES), "--batch_size", "8", "--ssl_adapter", "lamer",
                         "--ssl_adapter_preset", "conf/lamer/lamer_base.yaml", "--optim", "adam",
                         "--head_conf", "final_dim=16", "--keep_nbest_models", "1", *extra)


def error_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("ssl_train: error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def one_epoch(dump, tmp_path_factory) -> Path:
    """The output directory of a one-epoch ssl_train run (checkpoint.pth, 1epoch.pth, adapters)."""
    from lamer.bin import ssl_train

    out = tmp_path_factory.mktemp("ssl_safe") / "exp"
    assert ssl_train.main(args(dump, out, "--max_epoch", "1")) == 0
    return out


def copy_run(run: Path, to: Path) -> Path:
    shutil.copytree(run, to, symlinks=True)
    return to


def test_own_checkpoint_resumes(one_epoch, dump, tmp_path, caplog):
    from lamer.bin import ssl_train

    out = copy_run(one_epoch, tmp_path / "exp")
    with caplog.at_level("INFO"):
        assert ssl_train.main(args(dump, out, "--max_epoch", "2", "--resume", "true")) == 0
    assert any("The training was resumed using" in r.getMessage() for r in caplog.records)
    assert (out / "2epoch.pth").is_file()


def test_pickled_checkpoint_is_refused_by_the_command(one_epoch, dump, tmp_path):
    """python -m lamer.bin.ssl_train --resume true on an output dir holding a hostile checkpoint.pth."""
    out = copy_run(one_epoch, tmp_path / "exp")
    marker = tmp_path / "marker"
    write_hostile_checkpoint(out / "checkpoint.pth", marker)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "lamer.bin.ssl_train",
                           *args(dump, out, "--max_epoch", "2", "--resume", "true")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert not marker.exists()
    line = error_line(proc.stderr)
    assert f"{out / 'checkpoint.pth'}: refused to load: it holds a pickled 'posix.system'" in line


def test_pickled_init_param_is_refused(dump, tmp_path, capsys):
    from lamer.bin import ssl_train

    marker = tmp_path / "marker"
    evil = write_hostile_checkpoint(tmp_path / "stage1" / "latest.pth", marker)
    assert ssl_train.main(args(dump, tmp_path / "exp", "--max_epoch", "1", "--init_param", f"{evil}:head:head")) == 1
    assert not marker.exists()
    assert f"{evil}: refused to load" in error_line(capsys.readouterr().err)


def test_kill_while_saving_the_checkpoint_leaves_the_previous_one(dump, tmp_path, caplog):
    """A run killed while it writes epoch 2's checkpoint.pth (the third file it saves) resumes from epoch 1."""
    from lamer.bin import ssl_train

    out = tmp_path / "exp"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "tests.ssl.harness", "--kill_in_save", "3", "--",
                           *args(dump, out, "--max_epoch", "2")], cwd=REPO, env=env, capture_output=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "2epoch.pth").exists()
    with caplog.at_level("INFO"):
        assert ssl_train.main(args(dump, out, "--max_epoch", "2", "--resume", "true")) == 0
    assert any("The training was resumed using" in r.getMessage() for r in caplog.records)
    assert any("2epoch results" in r.getMessage() for r in caplog.records)
    assert not list(out.glob(".*.tmp")), "the killed save's temporary file was not removed"


def test_truncated_checkpoint_is_named_with_what_to_do(one_epoch, dump, tmp_path, capsys):
    """A checkpoint.pth cut short (a kill while an older run saved it): the advice given works."""
    from lamer.bin import ssl_train

    out = copy_run(one_epoch, tmp_path / "exp")
    checkpoint = out / "checkpoint.pth"
    checkpoint.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    assert ssl_train.main(args(dump, out, "--max_epoch", "2", "--resume", "true")) == 1
    line = error_line(capsys.readouterr().err)
    assert f"{checkpoint}: not a readable torch checkpoint" in line
    advice = f"--init_param {out}/latest.pth and --resume false"
    assert "Move it away" in line and advice in line
    checkpoint.rename(out / "checkpoint.pth.truncated")
    assert ssl_train.main(args(dump, out, "--max_epoch", "1", "--resume", "false",
                               "--init_param", f"{out}/latest.pth")) == 0
