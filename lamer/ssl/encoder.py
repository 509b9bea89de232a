"""Run an SSL upstream with masked input frames: one small code path per model family.

The mask is applied where HuBERT applies it: to the frame features after the CNN and the
input projection, just before the transformer. A forward hook on that module replaces
masked frames with a mask embedding, so the upstream's own forward runs unchanged:

- s3prl (fairseq-style) models: the hook sits on ``dropout_input`` (its output is the
  projected features), the embedding is the model's ``mask_emb``;
- transformers models: the hook sits on ``feature_projection``; the embedding is
  ``masked_spec_embed`` when the model has one, else a learned one owned by this wrapper.
  The model's own SpecAugment-style masking is switched off (``config.apply_spec_augment``).

Layer drop is switched off in both families: every layer (and its adapters) runs on every step.
"""
from __future__ import annotations

import torch
from torch import nn

from lamer.upstream.forward import hidden_states


def conv_frames(model: nn.Module, samples: torch.Tensor) -> torch.Tensor:
    """Frames the upstream's CNN makes of ``samples`` (any int tensor), per its Conv1d layers."""
    frames = samples.clone()
    for conv in conv_layers(model):
        frames = torch.div(frames - conv.kernel_size[0], conv.stride[0], rounding_mode="floor") + 1
    return frames.clamp(min=0)


def conv_layers(model: nn.Module) -> list[nn.Conv1d]:
    """The Conv1d layers of the waveform feature extractor, in order."""
    extractor = getattr(model, "feature_extractor", None)
    convs = [m for m in extractor.modules() if isinstance(m, nn.Conv1d)] if extractor is not None else []
    if not convs:
        raise ValueError(f"{type(model).__name__}: no 'feature_extractor' with Conv1d layers: "
                         "not a wav2vec2/HuBERT-style upstream")
    return convs


class MaskedUpstream(nn.Module):
    """An upstream whose forward can mask given frames of the encoder input.

    ``forward(wavs, lengths, mask)`` returns every transformer layer's output, each
    (B, T, D) with T the CNN's frames of the longest utterance; ``mask`` is (B, T) bool or None.
    """

    def __init__(self, upstream: nn.Module, normalize_waveform: bool = False) -> None:
        super().__init__()
        self.upstream = upstream
        self.normalize_waveform = normalize_waveform
        if hasattr(upstream, "dropout_input") and hasattr(upstream, "mask_emb"):
            self._mask_point, self._own_embedding = upstream.dropout_input, None
        elif hasattr(upstream, "feature_projection") and hasattr(upstream, "config"):
            upstream.config.apply_spec_augment = False
            self._mask_point = upstream.feature_projection
            own = getattr(upstream, "masked_spec_embed", None) is None
            self._own_embedding = nn.Parameter(torch.empty(upstream.config.hidden_size).uniform_()) if own else None
        else:
            raise TypeError(f"cannot mask the input of {type(upstream).__module__}.{type(upstream).__name__}: "
                            "supported are s3prl (fairseq-style) and transformers wav2vec2/HuBERT/WavLM models")
        if hasattr(getattr(upstream, "encoder", None), "layerdrop"):
            upstream.encoder.layerdrop = 0.0
        if hasattr(getattr(upstream, "config", None), "layerdrop"):
            upstream.config.layerdrop = 0.0
        self._mask: torch.Tensor | None = None
        self._mask_point.register_forward_hook(self._apply_mask)

    @property
    def mask_embedding(self) -> torch.Tensor:
        if self._own_embedding is not None:
            return self._own_embedding
        return self.upstream.mask_emb if hasattr(self.upstream, "mask_emb") else self.upstream.masked_spec_embed

    def frame_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Frames per utterance for ``lengths`` in samples."""
        return conv_frames(self.upstream, lengths)

    def _apply_mask(self, _module, _inputs, output):
        if self._mask is None:
            return output
        features = output[0] if isinstance(output, tuple) else output
        if features.shape[:2] != self._mask.shape:
            raise RuntimeError(f"mask of shape {tuple(self._mask.shape)} does not fit encoder input "
                               f"{tuple(features.shape[:2])}")
        emb = self.mask_embedding.to(features.dtype)
        masked = torch.where(self._mask.to(features.device)[..., None], emb, features)
        return (masked, *output[1:]) if isinstance(output, tuple) else masked

    def forward(self, wavs: torch.Tensor, lengths: torch.Tensor,
                mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        if self.normalize_waveform:
            valid = torch.arange(wavs.shape[1], device=wavs.device)[None, :] < lengths[:, None]
            wavs = torch.stack([torch.where(v, (w - w[v].mean()) / (w[v].std() + 1e-5), torch.zeros_like(w))
                                for w, v in zip(wavs, valid)])
        self._mask = mask
        try:
            layers = hidden_states(self.upstream, wavs, lengths)
        finally:
            self._mask = None
        # fairseq encoders pad the sequence to a multiple of ``required_seq_len_multiple``
        # inside the layers: keep the CNN's frames only
        frames = int(self.frame_lengths(lengths).max())
        return [h[:, :frames] for h in layers]
