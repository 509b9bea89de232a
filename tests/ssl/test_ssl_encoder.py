"""Masking at the encoder input and frame counts, for s3prl and transformers upstreams."""
from __future__ import annotations

import pytest
import torch

from lamer.ssl.encoder import MaskedUpstream
from lamer.ssl.features import checked, layer_extractor, mfcc_extractor, receptive_field
from lamer.upstream import build_preset
from lamer.upstream.forward import hidden_states


@pytest.mark.parametrize("family", ["s3prl_hubert", "hf_hubert", "hf_wav2vec2"])
def test_mask_changes_masked_frames_and_frames_match_the_cnn(family):
    model = build_preset("tiny", family)
    encoder = MaskedUpstream(model).eval()
    lengths = torch.tensor([16000, 9999, 4321])
    wavs = torch.randn(3, 16000)
    frames = encoder.frame_lengths(lengths)
    assert frames.tolist() == [(n - 400) // 320 + 1 for n in lengths.tolist()]
    with torch.no_grad():
        plain = encoder(wavs, lengths)
        reference = hidden_states(model, wavs[:1, :16000], lengths[:1])
        mask = torch.zeros(3, int(frames.max()), dtype=torch.bool)
        mask[0, 10:20] = True
        masked = encoder(wavs, lengths, mask)
    assert plain[-1].shape[1] == frames.max()
    assert torch.allclose(plain[-1][0], reference[-1][0, :frames[0]], atol=1e-5)
    assert not torch.allclose(masked[0][0, 10:20], plain[0][0, 10:20])
    assert torch.allclose(masked[0][1], plain[0][1], atol=1e-5)  # other utterances untouched


def test_mfcc_and_layer_features_have_one_vector_per_frame():
    model = build_preset("tiny")
    wav = torch.randn(12345).numpy()
    mfcc = checked(mfcc_extractor(*receptive_field(model)), model)("u1", wav)
    layer = checked(layer_extractor(model, 2), model)("u1", wav)
    assert receptive_field(model) == (400, 320)
    assert mfcc.shape == ((12345 - 400) // 320 + 1, 39)
    assert layer.shape == (mfcc.shape[0], 32)
    with pytest.raises(ValueError, match="u2: feature extractor gave"):
        checked(lambda w: mfcc_extractor(400, 160)(w), model)("u2", wav)
