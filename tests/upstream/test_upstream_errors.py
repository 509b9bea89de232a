"""Bad inputs give clear errors naming the file and key; pickles cannot run code."""
import json
import os
import re

import pytest
import torch

from lamer.upstream import build_upstream, load_upstream
from tests.upstream.checkpoints import write_fairseq_hubert, write_hf_directory


class MakesDirectory:
    """Pickles to a call of os.mkdir: what a crafted checkpoint would do on a plain torch.load."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return os.mkdir, (self.target,)


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "nope.pt"))):
        load_upstream(tmp_path / "nope.pt")
    with pytest.raises(FileNotFoundError, match="neither a preset .* nor an existing path"):
        build_upstream(str(tmp_path / "nope.pt"))


def test_unknown_formats(tmp_path):
    torch.save({"state_dict": {"w": torch.zeros(2)}, "epoch": 3}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"other\.pt: unknown checkpoint format \(top-level keys: epoch, state_dict\)"):
        load_upstream(tmp_path / "other.pt")
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(ValueError, match=r"notes\.txt: not a readable torch checkpoint"):
        load_upstream(tmp_path / "notes.txt")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ValueError, match="empty_dir: directory without config.json"):
        load_upstream(tmp_path / "empty_dir")
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match=r"config\.json: model_type 'bert' is not an SSL speech model"):
        load_upstream(tmp_path / "bert")


def test_transformers_directory_without_weights(tmp_path):
    write_hf_directory(tmp_path / "hf", "hf_hubert")
    (tmp_path / "hf" / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="hf: config.json but no weights"):
        load_upstream(tmp_path / "hf")
    with pytest.raises(ValueError, match="bare safetensors file has no model config"):
        (tmp_path / "w.safetensors").write_bytes(b"x")
        load_upstream(tmp_path / "w.safetensors")


def test_transformers_shape_mismatch_names_directory_and_key(tmp_path):
    write_hf_directory(tmp_path / "hf", "hf_hubert")
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    config["intermediate_size"] = 48
    (tmp_path / "hf" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"hf: encoder\.layers\.\d\.feed_forward\.\w+_dense\.\w+ has shape .* "
                                         r"in the weights but config\.json gives"):
        load_upstream(tmp_path / "hf")


def test_fairseq_shape_mismatch_names_file_and_key(tmp_path, monkeypatch):
    write_fairseq_hubert(tmp_path / "bad.pt", monkeypatch,
                         edit=lambda w: w.update({"encoder.layers.1.fc1.weight": torch.zeros(65, 32)}))
    with pytest.raises(ValueError, match=r"bad\.pt: encoder\.layers\.1\.fc1\.weight has shape \(65, 32\) but the "
                                         r"model built from the checkpoint's config expects \(64, 32\)"):
        load_upstream(tmp_path / "bad.pt")
    write_fairseq_hubert(tmp_path / "missing.pt", monkeypatch, edit=lambda w: w.pop("encoder.layers.1.fc1.weight"))
    with pytest.raises(ValueError,
                       match=r"missing\.pt: parameters do not match .* missing: encoder\.layers\.1\.fc1\.weight"):
        load_upstream(tmp_path / "missing.pt")


def test_fine_tuned_fairseq_checkpoint_is_refused_clearly(tmp_path):
    from omegaconf import OmegaConf

    torch.save({"cfg": OmegaConf.create({"model": {"_name": "hubert_ctc"}, "task": {}}),
                "model": {"w2v_encoder.w2v_model.mask_emb": torch.zeros(4)}}, tmp_path / "ctc.pt")
    with pytest.raises(ValueError, match=r"ctc\.pt: a fine-tuned \(CTC\) fairseq checkpoint"):
        load_upstream(tmp_path / "ctc.pt")


def test_pickle_exploit_is_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"cfg": {"model": {}}, "model": MakesDirectory(marker)}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match=r"evil\.pt: refused to load: .*(mkdir|posix)"):
        load_upstream(tmp_path / "evil.pt")
    assert not marker.exists()


@pytest.fixture
def export(tmp_path):
    """A lamer export of the tiny preset (s3prl format, no adapters)."""
    from lamer.upstream import open_upstream
    from lamer.upstream.export import export_upstream

    return export_upstream(open_upstream("tiny"), tmp_path / "export")


def _point(export, **entries):
    manifest = json.loads((export / "export.json").read_text())
    manifest.update(entries)
    (export / "export.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("entry", [".", "", "./", "sub/.."])
def test_an_export_that_points_at_itself_is_refused(export, entry):
    """Loading it would load itself again and again (RecursionError)."""
    _point(export, upstream=entry)
    with pytest.raises(ValueError, match=re.escape(f"{export / 'export.json'}: 'upstream' ")):
        load_upstream(export)


def test_an_export_that_points_outside_its_directory_is_refused(export, tmp_path):
    outside = tmp_path / "elsewhere.pt"
    outside.write_bytes((export / "upstream.pt").read_bytes())  # a valid checkpoint: only its place is wrong
    (export / "linked.pt").symlink_to(outside)
    for key, entry in [("upstream", "../elsewhere.pt"), ("upstream", str(outside)), ("upstream", "linked.pt"),
                       ("adapters", "../adapters")]:
        _point(export, **{key: entry})
        with pytest.raises(ValueError, match=re.escape(f"{export / 'export.json'}: {key!r} is {entry!r}, which is not "
                                                       f"inside {export}")):
            load_upstream(export)
        _point(export, upstream="upstream.pt", adapters=None)


def test_an_export_whose_upstream_is_another_export_is_refused(export):
    """A chain of exports, each inside the last, would recurse as deep as the directories go."""
    (export / "inner").mkdir()
    (export / "inner" / "export.json").write_text((export / "export.json").read_text())
    _point(export, upstream="inner")
    with pytest.raises(ValueError, match="'upstream' is 'inner', another lamer export"):
        load_upstream(export)


@pytest.mark.parametrize("content, message", [
    (b'{"format": "lamer-export/1",\n "source": "caf\xe9"}', r":2: not UTF-8 \(byte 0xe9"),
    (b"[" * 100_000 + b"]" * 100_000, ":1: JSON nested deeper than 64 levels"),
    (b'["lamer-export/1"]', ": expected a JSON object at the top level, found list"),
])
def test_an_export_manifest_that_is_not_utf8_json_is_named(export, content, message):
    (export / "export.json").write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(str(export / "export.json")) + message):
        load_upstream(export)
