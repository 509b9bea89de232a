"""The scale benchmark: per-child peak memory, the fitted exponent, and its JSON on a tiny size."""
from __future__ import annotations

import json
import sys

import pytest

from lamer.bench import scale


def test_each_childs_peak_rss_is_its_own(tmp_path):
    """A small child started by a process holding 300 MiB, and after a large child, reports its
    own peak, not theirs."""
    held = b"x" * (300 * 2**20)
    _, (large,) = scale.run_children([[sys.executable, "-c", "b = b'x' * (300 * 2**20)"]], tmp_path, "large")
    _, (small,) = scale.run_children([[sys.executable, "-c", "pass"]], tmp_path, "small")
    assert large > 300 * 1024 > 100 * 1024 > small and len(held)


def test_failed_child_names_its_log(tmp_path):
    with pytest.raises(RuntimeError, match=r"failed \(3\); see .*broken.1.log"):
        scale.run_children([[sys.executable, "-c", "raise SystemExit(3)"]], tmp_path, "broken")


def test_time_exponent_is_the_log_log_slope():
    assert scale.fit_exponent([1, 2, 4], [3.0, 6.0, 12.0]) == pytest.approx(1.0)
    assert scale.fit_exponent([1, 2, 4], [1.0, 4.0, 16.0]) == pytest.approx(2.0)


def test_json_of_a_tiny_run(tmp_path, capsys):
    """Two clips of one second at 1x and 2x, data preparation and targets (decoding, the slow
    step to start, is covered by tests/probe/test_probe_decode_split.py)."""
    assert scale.main(["--json", "--clips", "2", "--clip-seconds", "1", "--sizes", "1,2", "--num-clusters", "4",
                       "--upstream", "tiny", "--steps", "prepare,targets", "--work", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["benchmark"] == "scale" and result["sizes"] == [1, 2]
    assert sorted(result["steps"]) == ["prepare", "targets"]
    for figures in result["steps"].values():
        assert len(figures["seconds"]) == len(figures["peak_rss_mib"]) == 2
        assert all(value > 0 for value in figures["seconds"] + figures["peak_rss_mib"])
        assert {"time_exponent", "rss_ratio", "meets_target"} <= set(figures)
    assert result["decode_speedup_nj2"] is None and result["targets"] == scale.TARGETS
    assert len((tmp_path / "targets2" / "labels").read_text().splitlines()) == 4
