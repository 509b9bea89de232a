"""A model's depth from its configs alone, in every format lamer loads: what `plan check --print`
expands experts per layer for."""
from __future__ import annotations

import pytest
import torch

from lamer.adapters.families import find_layers
from lamer.upstream import load_upstream, open_upstream
from lamer.upstream.depth import upstream_depth
from lamer.upstream.presets import build_preset, get_shape, s3prl_configs, save_s3prl_checkpoint
from tests.upstream.checkpoints import write_fairseq_hubert, write_fairseq_wav2vec2, write_hf_directory


def layers(path) -> int:
    return len(find_layers(load_upstream(path).model)[1])


def test_presets():
    assert (upstream_depth("tiny"), upstream_depth("small_mel"), upstream_depth("hubert_large")) == (3, 4, 24)


def test_every_checkpoint_format(tmp_path, monkeypatch):
    from lamer.upstream.export import export_upstream

    paths = [tmp_path / "s3prl.pt", tmp_path / "fairseq_hubert.pt", tmp_path / "fairseq_w2v2.pt", tmp_path / "hf",
             tmp_path / "export"]
    save_s3prl_checkpoint(build_preset("small"), *s3prl_configs(get_shape("small")), str(paths[0]))
    write_fairseq_hubert(paths[1], monkeypatch)
    write_fairseq_wav2vec2(paths[2])
    write_hf_directory(paths[3], "hf_wavlm")
    export_upstream(open_upstream(paths[0]), paths[4])
    assert [upstream_depth(path) for path in paths] == [layers(path) for path in paths] == [4, 3, 3, 3, 4]


def test_the_weights_are_not_read(tmp_path):
    """A checkpoint whose weights do not fit its config cannot be loaded, but its depth is known."""
    model = build_preset("tiny")
    path = tmp_path / "cut.pt"
    save_s3prl_checkpoint(model, *s3prl_configs(get_shape("tiny")), str(path))
    state = torch.load(path, weights_only=True)
    state["model_weight"] = {key: value[:1] for key, value in state["model_weight"].items()}
    torch.save(state, path)
    with pytest.raises(ValueError):
        load_upstream(path)
    assert upstream_depth(path) == 3


def test_an_unknown_file_is_named(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match=f"{path}: unknown checkpoint format"):
        upstream_depth(path)
