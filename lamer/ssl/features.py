"""Frame features to cluster: MFCC (a model trained from scratch) or a layer of the current model.

Both give exactly one vector per upstream frame (50 Hz, 25 ms windows for the wav2vec2 CNN):
MFCC frames use the same window and hop as the CNN's receptive field and stride, and every
extractor checks its frame count against ``frames_for`` so labels always line up.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from lamer.data.audio import TARGET_RATE as SAMPLE_RATE
from lamer.ssl.encoder import MaskedUpstream, conv_frames, conv_layers

FeatureFn = Callable[[np.ndarray], np.ndarray]


def receptive_field(model: nn.Module) -> tuple[int, int]:
    """(window, hop) in samples of one output frame of the upstream's CNN."""
    window, hop = 1, 1
    for conv in conv_layers(model):
        window += (conv.kernel_size[0] - 1) * hop
        hop *= conv.stride[0]
    return window, hop


def mfcc_extractor(window: int = 400, hop: int = 320) -> FeatureFn:
    """13 MFCCs with deltas and delta-deltas (39 dims), as HuBERT's first iteration, at ``hop``.

    Kaldi-compatible MFCC (torchaudio's compliance.kaldi, like fairseq's HuBERT recipe) with
    ``snip_edges``, so the frame count is ``(samples - window) // hop + 1``.
    """
    from torchaudio.compliance import kaldi
    from torchaudio.functional import compute_deltas

    def extract(wav: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(wav).float()[None] * 32768  # Kaldi expects 16-bit sample scale
        mfcc = kaldi.mfcc(x, sample_frequency=SAMPLE_RATE, frame_length=1000 * window / SAMPLE_RATE,
                          frame_shift=1000 * hop / SAMPLE_RATE, use_energy=False, dither=0.0)
        mfcc = mfcc.t()[None]  # (1, 13, T)
        delta = compute_deltas(mfcc)
        feats = torch.cat([mfcc, delta, compute_deltas(delta)], dim=1)[0].t()
        return feats.numpy()

    return extract


def layer_extractor(model: nn.Module, layer: int, normalize_waveform: bool = False,
                    device: str | torch.device = "cpu") -> FeatureFn:
    """Output of transformer layer ``layer`` (1-based, as HuBERT counts) of ``model``, unmasked, eval mode.

    ``normalize_waveform`` as the model was trained (``LoadedUpstream.normalize``). The model
    runs on ``device`` (moved there once); features come back as float32 arrays on the CPU.
    """
    encoder = MaskedUpstream(model, normalize_waveform).to(device).eval()

    def extract(wav: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            x = torch.from_numpy(wav)[None].to(device)
            layers = encoder(x, torch.tensor([x.shape[1]], device=device))
        if not 1 <= layer <= len(layers):
            raise ValueError(f"feature layer {layer} is outside 1-{len(layers)} of this upstream")
        return layers[layer - 1][0].float().cpu().numpy()

    return extract


def checked(extract: FeatureFn, model: nn.Module) -> Callable[[str, np.ndarray], np.ndarray]:
    """``extract`` that also checks its frame count against the upstream's for utterance ``utt``."""

    def run(utt: str, wav: np.ndarray) -> np.ndarray:
        feats = extract(wav)
        expected = int(conv_frames(model, torch.tensor([len(wav)]))[0])
        if feats.shape[0] != expected:
            raise ValueError(f"{utt}: feature extractor gave {feats.shape[0]} frames, the upstream makes {expected}")
        return feats

    return run
