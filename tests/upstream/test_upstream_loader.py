"""Every on-disk format loads through lamer.upstream and gives its source model's hidden states."""
import sys

import pytest
import torch
from safetensors.torch import load_file

from lamer.adapters import LamerConfig, apply_lamer
from lamer.upstream import build_upstream, load_upstream, open_upstream
from lamer.upstream.presets import build_preset, get_shape, s3prl_configs, save_s3prl_checkpoint
from tests.upstream.checkpoints import (
    HUBERT_SYMBOLS,
    max_diff,
    outputs,
    waves,
    write_fairseq_hubert,
    write_fairseq_wav2vec2,
    write_hf_directory,
)


def test_fairseq_hubert_checkpoint_loads_without_fairseq_with_its_head(tmp_path, monkeypatch):
    source = write_fairseq_hubert(tmp_path / "checkpoint_best.pt", monkeypatch)
    monkeypatch.undo()  # the fake fairseq modules used to write the file are gone
    assert "fairseq.data.dictionary" not in sys.modules
    loaded = load_upstream(tmp_path / "checkpoint_best.pt")
    assert (loaded.family, loaded.format, loaded.arch) == ("s3prl_hubert", "fairseq", "hubert")
    wavs = waves()
    assert max_diff(outputs(source, wavs), outputs(loaded.model, wavs)) <= 1e-5
    # padded batches go through the same fairseq code on both sides
    lengths = torch.tensor([6400, 4800])
    assert max_diff(outputs(source, wavs, lengths), outputs(loaded.model, wavs, lengths)) <= 1e-5

    head = loaded.head
    assert head.symbols == [HUBERT_SYMBOLS] and head.num_classes == [24]
    torch.testing.assert_close(head.label_embeddings, source.label_embs_concat, rtol=0, atol=0)
    torch.testing.assert_close(head.final_proj_weight, source.final_proj.weight, rtol=0, atol=0)
    assert loaded.task_config["labels"] == ["km"] and loaded.model_config["_name"] == "hubert"


def test_head_logits_are_hubert_cosine_logits(tmp_path, monkeypatch):
    source = write_fairseq_hubert(tmp_path / "hubert.pt", monkeypatch)
    head = load_upstream(tmp_path / "hubert.pt").head
    frames = torch.randn(5, 32, generator=torch.Generator().manual_seed(3))
    (logits,) = head.logits(frames)
    assert logits.shape == (5, 24)
    # s3prl's own scoring: positive = class 0, negatives = the other classes
    with torch.no_grad():
        proj = source.final_proj(frames)
        embs = source.label_embs_concat
        expected = source.compute_nce(proj, embs[0].expand(5, -1), embs[1:, None, :].expand(-1, 5, -1))
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("legacy_args", [True, False])
def test_fairseq_wav2vec2_checkpoint_loads_with_no_head(tmp_path, legacy_args):
    source = write_fairseq_wav2vec2(tmp_path / "wav2vec_small.pt", legacy_args=legacy_args)
    loaded = load_upstream(tmp_path / "wav2vec_small.pt")
    assert (loaded.family, loaded.format, loaded.head) == ("s3prl_wav2vec2", "fairseq", None)
    assert max_diff(outputs(source, waves()), outputs(loaded.model, waves())) <= 1e-5


@pytest.mark.parametrize("family", ["hf_hubert", "hf_wav2vec2", "hf_wavlm"])
def test_transformers_directory_loads_as_its_model_class(tmp_path, family):
    source = write_hf_directory(tmp_path / "hf", family)
    loaded = load_upstream(tmp_path / "hf")
    assert type(loaded.model) is type(source) and loaded.family == family and loaded.head is None
    assert loaded.format == "transformers" and loaded.normalize is False
    assert max_diff(outputs(source, waves()), outputs(loaded.model, waves())) <= 1e-5


def test_transformers_pytorch_model_bin_loads_too(tmp_path):
    source = write_hf_directory(tmp_path / "hf", "hf_hubert")
    state = load_file(str(tmp_path / "hf" / "model.safetensors"))
    (tmp_path / "hf" / "model.safetensors").unlink()
    torch.save(state, tmp_path / "hf" / "pytorch_model.bin")
    assert max_diff(outputs(source, waves()), outputs(load_upstream(tmp_path / "hf").model, waves())) <= 1e-5


def test_s3prl_converted_checkpoints_load(tmp_path):
    hubert = build_preset("tiny", "s3prl_hubert", seed=3)
    save_s3prl_checkpoint(hubert, *s3prl_configs(get_shape("tiny")), tmp_path / "hubert.pt")
    loaded = load_upstream(tmp_path / "hubert.pt")
    assert (loaded.family, loaded.format, loaded.head.num_classes) == ("s3prl_hubert", "s3prl", [100])
    assert max_diff(outputs(hubert, waves()), outputs(loaded.model, waves())) <= 1e-5

    wavlm = build_preset("tiny", "s3prl_wavlm", seed=4)
    _, model_cfg = s3prl_configs(get_shape("tiny"), "s3prl_wavlm")
    torch.save({"cfg": model_cfg, "model": wavlm.state_dict()}, tmp_path / "WavLM-Tiny.pt")  # Microsoft's layout
    loaded = load_upstream(tmp_path / "WavLM-Tiny.pt")
    assert (loaded.family, loaded.format) == ("s3prl_wavlm", "s3prl")
    assert max_diff(outputs(wavlm, waves()), outputs(loaded.model, waves())) <= 1e-5


def test_build_upstream_takes_paths_and_converts_on_request(tmp_path):
    source = write_hf_directory(tmp_path / "hf", "hf_hubert")
    assert type(build_upstream(tmp_path / "hf")) is type(source)
    s3prl_model = build_upstream(str(tmp_path / "hf"), family="s3prl_hubert")
    assert type(s3prl_model).__module__.startswith("s3prl")
    assert max_diff(outputs(source, waves()), outputs(s3prl_model, waves())) <= 1e-5
    assert open_upstream("tiny").family == "s3prl_hubert"  # presets unchanged
    with pytest.raises(ValueError, match="cannot convert a hf_hubert model into s3prl_wav2vec2"):
        build_upstream(tmp_path / "hf", family="s3prl_wav2vec2")


def test_loaded_models_take_adapters(tmp_path, monkeypatch):
    write_fairseq_hubert(tmp_path / "hubert.pt", monkeypatch)
    write_hf_directory(tmp_path / "hf", "hf_wav2vec2")
    for path in (tmp_path / "hubert.pt", tmp_path / "hf"):
        model = load_upstream(path).model
        base = outputs(model, waves())
        apply_lamer(model, LamerConfig(allocation="uniform:2", targets=["ffn", "attn_qv"]))
        assert max_diff(base, outputs(model, waves())) <= 1e-5  # fresh adapters change nothing
        assert any(p.requires_grad for p in model.parameters())
