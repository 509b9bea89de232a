"""One writer per output: the lock beside an output, its holder's PID, waiting and giving up."""
import os
import threading
import time

import pytest

from lamer.data.errors import DataError
from lamer.data.lock import OutputLocked, lock_file, output_lock


def test_holder_pid_named_when_giving_up(tmp_path):
    target = tmp_path / "data" / "eng" / "train"
    with output_lock(target):
        assert lock_file(target) == tmp_path / "data" / "eng" / ".train.lock"
        with pytest.raises(OutputLocked, match=rf"{target}: being written by PID {os.getpid()} on .*gave up after 0 s"):
            with output_lock(target, timeout=0):
                pass
    with output_lock(target, timeout=0):  # released at the end of the block
        pass


def test_waiter_gets_the_lock_when_the_holder_releases_it(tmp_path, caplog):
    target = tmp_path / "out"
    order = []

    def wait_then_write():
        with output_lock(target):
            order.append("waiter")

    with output_lock(target):
        waiter = threading.Thread(target=wait_then_write)
        waiter.start()
        time.sleep(0.6)
        assert waiter.is_alive()  # still waiting
        order.append("holder done")
    waiter.join(10)
    assert order == ["holder done", "waiter"]
    assert f"being written by PID {os.getpid()}" in caplog.text and "waiting for it to finish" in caplog.text


def test_stale_temporaries_of_the_output_removed_once_locked(tmp_path):
    target = tmp_path / "train"
    stale = [tmp_path / ".train.a1b2c3d4", tmp_path / ".train.old4242", tmp_path / ".train.zz_9yy8x.tmp"]
    stale[0].mkdir()
    (stale[0] / "wav.scp").write_text("half written\n")
    for path in stale[1:]:
        path.write_text("x")
    others = [tmp_path / ".dev.a1b2c3d4", tmp_path / ".train.lock", tmp_path / "train.a1b2c3d4", tmp_path / "notes.tmp"]
    for path in others:
        path.write_text("x")
    with output_lock(target):
        assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in others)  # another output's temporaries, or not temporaries at all


def test_lock_that_cannot_be_created_is_named(tmp_path):
    (tmp_path / "data").write_text("a file where the data root should be")
    with pytest.raises(DataError, match=rf"{tmp_path / 'data' / '.train.lock'}: cannot open the lock of .*writable"):
        with output_lock(tmp_path / "data" / "train"):
            pass


@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_a_planted_lock_link_is_refused_and_its_target_kept(tmp_path, link):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n" * 100)
    target = tmp_path / "data" / "sub"
    target.parent.mkdir()
    (lock_file(target).symlink_to if link == "symbolic" else lock_file(target).hardlink_to)(victim)
    with pytest.raises(DataError, match=rf"{lock_file(target)}: the lock of {target} is a (symbolic|hard) link"):
        with output_lock(target):
            pass
    assert victim.read_text() == "precious\n" * 100
    assert not target.exists()

