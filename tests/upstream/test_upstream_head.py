"""A model converted from a checkpoint without a HuBERT prediction head gets none; its s3prl file
still loads in s3prl's own (strict) loader, and reads back without a head."""
import torch

from lamer.upstream import open_upstream
from lamer.upstream.export import export_upstream
from lamer.upstream.head import HEAD_KEYS
from lamer.upstream.loader import load_upstream
from tests.upstream.checkpoints import outputs, waves, write_hf_directory


def test_transformers_hubert_converted_to_s3prl_has_no_head(tmp_path):
    write_hf_directory(tmp_path / "hf", "hf_hubert")
    converted = open_upstream(tmp_path / "hf", "s3prl_hubert")
    assert converted.head is None
    assert not set(HEAD_KEYS) & set(converted.model.state_dict())

    export_upstream(converted, tmp_path / "export", fmt="s3prl")
    from s3prl.upstream.hubert.convert import load_converted_model

    s3prl_model, _ = load_converted_model(str(tmp_path / "export" / "upstream.pt"))  # strict: needs a head
    reread = load_upstream(tmp_path / "export" / "upstream.pt")
    assert reread.head is None and not set(HEAD_KEYS) & set(reread.model.state_dict())
    assert sum(p.numel() for p in reread.model.parameters()) == sum(p.numel() for p in converted.model.parameters())
    wavs = waves()
    for a, b in zip(outputs(converted.model, wavs), outputs(reread.model, wavs)):
        assert torch.allclose(a, b, atol=1e-5)
    s3prl_model.eval()
    with torch.no_grad():
        features, _ = s3prl_model.extract_features(wavs, padding_mask=None, mask=False)
    assert torch.allclose(features, outputs(converted.model, wavs)[-1], atol=1e-5)
