"""SHA-256 of files (lamer.checksum, python -m lamer.bin.checksum): the plan's spelling, sha256sum's
lines and sidecars, and a mismatch that names the file and both hashes."""
import hashlib
import shutil
import subprocess

import pytest

from lamer.bin import checksum as checksum_cli
from lamer.checksum import ChecksumMismatch, check_sha256, file_sha256, sha256_problem, write_sidecar


@pytest.fixture
def blob(tmp_path):
    """A file over several of hashlib's read blocks, with every byte value."""
    path = tmp_path / "model.pt"
    path.write_bytes(bytes(range(256)) * 4099)
    return path


def test_the_hash_is_sha256_of_the_bytes_as_the_plan_takes_it(blob):
    digest = file_sha256(blob)
    assert digest == hashlib.sha256(blob.read_bytes()).hexdigest()
    assert sha256_problem(digest) is None and sha256_problem(digest.upper()) is None


def test_a_mismatch_names_the_file_both_hashes_and_the_fix(blob):
    expected = file_sha256(blob)
    check_sha256(blob, expected.upper(), "unused")
    blob.write_bytes(blob.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ChecksumMismatch) as err:
        check_sha256(blob, expected, "Rebuild it.")
    assert str(err.value) == f"{blob}: SHA-256 mismatch: expected {expected}, actual {file_sha256(blob)}. Rebuild it."


def test_what_cannot_be_checked_is_named(tmp_path, blob):
    with pytest.raises(ValueError, match="expected 64 hex digits, got 'abc' "):
        check_sha256(blob, "abc", "")
    with pytest.raises(FileNotFoundError, match="no-such.pt: no such file"):
        check_sha256(tmp_path / "no-such.pt", "0" * 64, "")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        check_sha256(tmp_path, "0" * 64, "")
    assert "as a string" in sha256_problem(123)


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils' sha256sum is not installed")
def test_the_sidecar_is_what_sha256sum_checks(blob):
    digest, sidecar = write_sidecar(blob)
    assert sidecar.name == "model.pt.sha256" and sidecar.read_text() == f"{digest}  model.pt\n"
    subprocess.run(["sha256sum", "--check", "--status", sidecar.name], cwd=blob.parent, check=True)
    assert subprocess.run(["sha256sum", str(blob)], capture_output=True, text=True).stdout.split()[0] == digest


def test_cli_prints_checks_and_writes_sidecars(blob, capsys):
    digest = file_sha256(blob)
    assert checksum_cli.main([str(blob)]) == 0
    assert capsys.readouterr().out == f"{digest}  {blob}\n"
    assert checksum_cli.main(["--sidecar", str(blob)]) == 0
    assert (blob.parent / "model.pt.sha256").read_text() == f"{digest}  model.pt\n"
    assert checksum_cli.main(["--check", digest, str(blob)]) == 0
    capsys.readouterr()
    assert checksum_cli.main(["--check", "f" * 64, str(blob)]) == 1
    assert f"expected {'f' * 64}, actual {digest}" in capsys.readouterr().err
    assert checksum_cli.main([str(blob.parent / "missing.pt")]) == 1
    assert "missing.pt" in capsys.readouterr().err
