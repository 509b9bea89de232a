"""An s3prl upstream entry for local checkpoints whose model s3prl's own loaders cannot build.

s3prl's ``hubert_local`` rebuilds the model from the checkpoint's config with the wav2vec2 CNN
and loads the weights strictly, so a checkpoint with a log-mel front end
(:mod:`lamer.upstream.log_mel`) is refused there. ``lamer_local`` builds the same s3prl model
classes through :func:`lamer.upstream.load_upstream` (weights-only loading, front end
installed) and exposes every layer as s3prl's HuBERT expert does: the input of each
transformer layer, then the encoder's output. :func:`register` adds it to ``s3prl.hub``, so
that ``S3PRLUpstream("lamer_local", path)`` and ESPnet's S3prlFrontend find it; lamer's entry
points call it, and so does a plain ESPnet with lamer's plugin installed (:mod:`lamer.probe.espnet_plugin`).
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from s3prl.upstream.interfaces import UpstreamBase
from torch.nn.utils.rnn import pad_sequence

from lamer.upstream.log_mel import EXTRACTOR_KEY
from lamer.upstream.s3prl_format import LAMER_UPSTREAM
from lamer.upstream.safe_checkpoint import UnreadableCheckpoint, load_checkpoint_file

DOWNSAMPLE_RATE = 320  # 20 ms frames, as every s3prl HuBERT-style upstream


def needs_lamer_expert(path: str | Path) -> bool:
    """Whether the s3prl checkpoint at ``path`` declares a front end only lamer builds.

    Only the configs are looked at: the tensors are memory-mapped, not read (the loader that
    follows reads them once), except in a pre-zip torch file, which cannot be mapped.
    """
    try:
        state = load_checkpoint_file(path, mmap=True)
    except UnreadableCheckpoint:
        state = load_checkpoint_file(path)
    config = state.get("model_cfg", state.get("cfg"))
    return isinstance(config, dict) and EXTRACTOR_KEY in config


class LamerUpstreamExpert(UpstreamBase):
    """s3prl's upstream interface over a model loaded by lamer (fairseq-style s3prl classes)."""

    def __init__(self, ckpt: str, **kwargs) -> None:
        from lamer.upstream.loader import load_upstream

        super().__init__(**kwargs)
        loaded = load_upstream(ckpt)
        if not loaded.family.startswith("s3prl_"):
            raise ValueError(f"{ckpt}: {LAMER_UPSTREAM} serves s3prl-format checkpoints, this one is {loaded.format}; "
                             "convert it with python -m lamer.bin.export_model --format s3prl")
        self.model = loaded.model
        self.normalize_waveform = loaded.normalize
        self.model.feature_grad_mult = 0.0
        if len(self.hooks) == 0:
            for index in range(len(self.model.encoder.layers)):
                self.add_hook(f"self.model.encoder.layers[{index}]", lambda input, output: input[0].transpose(0, 1))
            self.add_hook("self.model.encoder", lambda input, output: output[0])
            self.hook_postprocess = _trim_to_shortest

    def get_downsample_rates(self, key: str) -> int:
        return DOWNSAMPLE_RATE

    def forward(self, wavs: list[torch.Tensor]) -> None:
        """Runs the model; the hooks collect the hidden states (s3prl's UpstreamBase returns them)."""
        if self.normalize_waveform:
            wavs = [F.layer_norm(wav, wav.shape) for wav in wavs]
        lengths = torch.tensor([len(wav) for wav in wavs], device=wavs[0].device)
        padded = pad_sequence(wavs, batch_first=True)
        padding_mask = torch.arange(padded.shape[1], device=padded.device)[None, :] >= lengths[:, None]
        self.model.extract_features(padded, padding_mask=padding_mask, mask=None)


def _trim_to_shortest(hidden: list) -> list:
    """fairseq pads the time axis inside the layers: cut every layer to the encoder's frames."""
    names, states = zip(*hidden)
    frames = min(state.size(1) for state in states)
    return [(name, state[:, :frames]) for name, state in zip(names, states)]


def lamer_local(ckpt: str, refresh: bool = False, **kwargs) -> LamerUpstreamExpert:
    """The ``s3prl.hub`` entry: a local checkpoint loaded by lamer."""
    return LamerUpstreamExpert(ckpt, **kwargs)


def register() -> None:
    """Make ``lamer_local`` an upstream name of s3prl's hub (idempotent)."""
    from s3prl import hub

    setattr(hub, LAMER_UPSTREAM, lamer_local)


def resolve_upstream(upstream: str, path: str | Path | None) -> str:
    """The s3prl hub name that builds ``path``: ``upstream`` itself, or (registered) ``lamer_local``
    for a local checkpoint with a front end s3prl's own ``*_local`` loaders do not build."""
    if upstream.endswith("_local") and path is not None and needs_lamer_expert(path):
        upstream = LAMER_UPSTREAM
    if upstream == LAMER_UPSTREAM:
        register()
    return upstream
