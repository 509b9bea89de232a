"""A log-mel filterbank front end for s3prl's HuBERT / wav2vec2 models (MelHuBERT-style).

The wav2vec2 CNN learns its own filterbank from raw samples, which takes far more data and
compute than a small model gets on a CPU; a fixed log-mel filterbank followed by one learned
projection of stacked frames gives the transformer usable input from the first step.

The extractor keeps the CNN's interface: ``(B, samples) -> (B, channels, frames)`` at the
same 20 ms frame rate, and its frame geometry is two ``nn.Conv1d`` layers (the STFT as a
fixed convolution with a 25 ms window and 10 ms hop, then a learned projection of two stacked
frames), so the frame arithmetic of the rest of lamer (``conv_frames``, ``receptive_field``)
reads it like a CNN. A checkpoint declares it in its model config under
:data:`EXTRACTOR_KEY`; its weights then replace the CNN's (``feature_extractor.stack.*``), so
a loader that does not know it refuses the file (missing CNN weights) instead of running
the wrong front end.
"""
from __future__ import annotations

import math

import torch
from torch import nn

EXTRACTOR_KEY = "lamer_extractor"
SAMPLE_RATE = 16000
DEFAULTS = {"type": "log_mel", "n_mels": 80, "window": 400, "hop": 160, "stack": 2}


def extractor_config(channels: int, **overrides) -> dict:
    """The model-config entry of a log-mel extractor with ``channels`` output channels."""
    config = {**DEFAULTS, **overrides, "channels": channels}
    check_config(config, "extractor config")
    return config


def check_config(config: dict, source: str) -> None:
    """Raise ValueError naming ``source`` when ``config`` is not a valid log-mel extractor entry."""
    if not isinstance(config, dict) or config.get("type") != "log_mel":
        raise ValueError(f"{source}: {EXTRACTOR_KEY} must be a mapping with type: log_mel, got {config!r}")
    for key in ("n_mels", "window", "hop", "stack", "channels"):
        value = config.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{source}: {EXTRACTOR_KEY}.{key} must be a positive integer, got {value!r}")
    if config["hop"] > config["window"]:
        raise ValueError(f"{source}: {EXTRACTOR_KEY}: hop {config['hop']} is longer than the window {config['window']}")


def conv_geometry(config: dict) -> list[tuple[int, int, int]]:
    """``conv_feature_layers`` with the extractor's frame geometry and output channels.

    s3prl sizes the model's input layer norm and projection from the last entry's channels and
    its label rate from the product of the strides, so the model config states this list.
    """
    channels = config["channels"]
    return [(channels, config["window"], config["hop"]), (channels, config["stack"], config["stack"])]


def mel_filterbank(n_mels: int, n_fft: int, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """(n_fft // 2 + 1, n_mels) triangular filters, equally spaced on the HTK mel scale, 0 Hz to Nyquist."""
    def mel(hz: torch.Tensor) -> torch.Tensor:
        return 2595.0 * torch.log10(1.0 + hz / 700.0)

    bins = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    edges = torch.linspace(0, float(mel(torch.tensor(sample_rate / 2.0))), n_mels + 2, dtype=torch.float64)
    hz_edges = 700.0 * (10.0 ** (edges / 2595.0) - 1.0)
    lower, centre, upper = hz_edges[:-2], hz_edges[1:-1], hz_edges[2:]
    rising = (bins[:, None] - lower) / (centre - lower)
    falling = (upper - bins[:, None]) / (upper - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()


class FixedConv1d(nn.Conv1d):
    """A Conv1d whose kernel is a constant (a non-persistent buffer, rebuilt from the config)."""

    def __init__(self, kernel: torch.Tensor, stride: int) -> None:
        out_channels, in_channels, size = kernel.shape
        super().__init__(in_channels, out_channels, size, stride=stride, bias=False)
        del self.weight
        self.register_buffer("weight", kernel, persistent=False)


class LogMelExtractor(nn.Module):
    """Waveforms (B, samples) -> (B, channels, frames): log-mel at 10 ms, two frames stacked and projected.

    The STFT uses a Hann window of ``window`` samples zero-padded to the next power of two
    (as Kaldi does), without padding at the edges (Kaldi's ``snip_edges``), so frames =
    ``((samples - window) // hop + 1) // stack``.
    """

    def __init__(self, config: dict) -> None:
        super().__init__()
        check_config(config, "LogMelExtractor")
        self.config = dict(config)
        window = config["window"]
        n_fft = 1 << (window - 1).bit_length()
        freqs = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]
        times = torch.arange(window, dtype=torch.float64)[None, :]
        hann = torch.hann_window(window, periodic=True, dtype=torch.float64)
        angle = 2 * math.pi * freqs * times / n_fft
        basis = torch.cat([torch.cos(angle), -torch.sin(angle)]) * hann  # (2F, window): real and imaginary parts
        self.stft = FixedConv1d(basis[:, None, :].float(), config["hop"])
        self.register_buffer("filters", mel_filterbank(config["n_mels"], n_fft), persistent=False)
        self.stack = nn.Conv1d(config["n_mels"], config["channels"], config["stack"], stride=config["stack"])

    def log_mel(self, wavs: torch.Tensor) -> torch.Tensor:
        """(B, samples) -> (B, n_mels, 10 ms frames), natural log of mel power (floor 1e-6).

        Always in float32, also under autocast: a full-scale frame's power (up to 400^2) overflows
        float16, and the floor underflows it.
        """
        with torch.autocast(device_type=wavs.device.type, enabled=False):
            spectrum = self.stft(wavs[:, None, :].float())
            real, imag = spectrum.chunk(2, dim=1)
            power = real.square() + imag.square()
            return torch.log(torch.einsum("bft,fm->bmt", power, self.filters) + 1e-6)

    def forward(self, wavs: torch.Tensor) -> torch.Tensor:
        return self.stack(self.log_mel(wavs))


def install_extractor(model: nn.Module, model_cfg: dict, source: str = "model config") -> nn.Module:
    """Give ``model`` (s3prl HuBERT / wav2vec2 / WavLM) the extractor its config declares, if any.

    Without an :data:`EXTRACTOR_KEY` entry the model keeps its CNN. Returns ``model``.
    """
    config = model_cfg.get(EXTRACTOR_KEY)
    if config is None:
        return model
    check_config(config, source)
    if not hasattr(model, "feature_extractor"):
        raise ValueError(f"{source}: {EXTRACTOR_KEY} given for {type(model).__name__}, which has no feature_extractor")
    model.feature_extractor = LogMelExtractor(config)
    return model
