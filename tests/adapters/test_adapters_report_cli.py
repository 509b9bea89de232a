import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _report(*args):
    return subprocess.run([sys.executable, "-m", "lamer.bin.adapter_report", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_report_prints_one_json_object_with_the_counts(tmp_path):
    config = tmp_path / "lamer.yaml"
    config.write_text("adapter: lamer\nadapter_conf:\n  allocation: linear:2-6\n  rank: 2\n")
    out = _report("--upstream", "tiny", "--family", "hf_hubert", "--config", str(config))
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["experts_per_layer"] == [2, 4, 6]
    assert report["targets"] == ["feed_forward.intermediate_dense", "feed_forward.output_dense"]
    assert 0 < report["trainable_params"] < report["total_params"]
    assert report["trainable_percent"] == round(100 * report["trainable_params"] / report["total_params"], 4)


def test_report_rejects_a_bad_config_clearly(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("adapter: lamer\nadapter_conf:\n  allocation: steps:1,2\n  ranks: 4\n")
    out = _report("--upstream", "tiny", "--config", str(config))
    assert out.returncode == 1
    assert "unknown Lamer option(s) ['ranks']" in out.stderr and str(config) in out.stderr
