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



def _checkpoint_params(directory: Path) -> dict[str, int]:
    from safetensors import safe_open

    with safe_open(str(directory / "model.safetensors"), "pt") as weights:
        return {key: weights.get_tensor(key).numel() for key in weights.keys()}


def test_counts_of_a_transformers_hubert_are_those_of_its_checkpoint(tmp_path, capsys):
    """A transformers HuBERT has no prediction head: none is counted, converted to s3prl or not
    (converted, the model has s3prl's mask embedding, which this checkpoint lacks)."""
    from lamer.bin import adapter_report
    from tests.upstream.checkpoints import write_hf_directory

    write_hf_directory(tmp_path / "hf", "hf_hubert")
    in_checkpoint = _checkpoint_params(tmp_path / "hf")
    mask_embedding = 0 if "masked_spec_embed" in in_checkpoint else json.loads(
        (tmp_path / "hf" / "config.json").read_text())["hidden_size"]
    config = tmp_path / "lamer.yaml"
    config.write_text("adapter: lamer\nadapter_conf:\n  allocation: uniform:2\n  rank: 2\n")
    for family, extra in (([], 0), (["--family", "s3prl_hubert"], mask_embedding)):
        assert adapter_report.main(["--upstream", str(tmp_path / "hf"), "--config", str(config), *family]) == 0
        report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert report["total_params"] - report["adapter_params"] == sum(in_checkpoint.values()) + extra, family
        assert report["trainable_percent"] == round(100 * report["adapter_params"] / report["total_params"], 4)
