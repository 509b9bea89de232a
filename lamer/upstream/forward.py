"""Run any supported SSL model on a batch of waveforms and collect every layer's output."""
from __future__ import annotations

import torch
from torch import nn

from lamer.adapters.families import find_layers, layer_style


def padding_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B, max_len) bool mask, True on padded samples (the fairseq convention)."""
    return torch.arange(max_len, device=lengths.device)[None, :] >= lengths[:, None]


def hidden_states(model: nn.Module, wavs: torch.Tensor, lengths: torch.Tensor | None = None) -> list[torch.Tensor]:
    """Outputs of every transformer layer of ``model`` for 16 kHz ``wavs`` (B, S).

    Works for s3prl HuBERT / wav2vec2 models and transformers HuBERT / wav2vec2 models.
    ``lengths`` (B,) in samples, None for unpadded. Returns one (B, T, D) tensor per layer,
    taken with forward hooks so that it is the same tensor the next layer reads.
    """
    name, layers = find_layers(model)
    time_major = layer_style(layers[0]).batch_axis == 1
    outputs: list[torch.Tensor] = []
    final: list[torch.Tensor] = []

    def keep(_module, _inputs, output):
        hidden = output[0] if isinstance(output, tuple) else output
        outputs.append(hidden.transpose(0, 1) if time_major else hidden)

    handles = [layer.register_forward_hook(keep) for layer in layers]
    if time_major:
        # fairseq pads the time axis to an even length inside the layers and cuts it off after
        # them: the encoder's own output tells how many frames are real
        encoder = model.get_submodule(name[: -len(".layers")])
        handles.append(encoder.register_forward_hook(lambda _m, _i, out: final.append(out[0])))
    try:
        if hasattr(model, "extract_features"):  # s3prl fairseq-style models
            mask = None if lengths is None else padding_mask(lengths, wavs.shape[1])
            model.extract_features(wavs, padding_mask=mask)
        else:  # transformers models
            attention = None if lengths is None else (~padding_mask(lengths, wavs.shape[1])).long()
            model(wavs, attention_mask=attention)
    finally:
        for handle in handles:
            handle.remove()
    if final:
        outputs = [hidden[:, : final[-1].shape[1]] for hidden in outputs]
    return outputs
