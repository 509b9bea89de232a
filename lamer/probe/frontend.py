"""ESPnet's S3prlFrontend with a frozen SSL upstream patched by saved Lamer adapters.

The probe of every stage reads the same base checkpoint (``path_or_url``) and, optionally, the
adapters of that stage (``adapters``: a directory written by ``lamer.adapters.save_adapters``;
its manifest is checked against the base model). Without adapters it is the plain frozen
upstream, the ``base`` stage of the results matrix.

The upstream is frozen in every sense: no gradient, kept in eval mode (no dropout, so the
features of a stage are deterministic), and left out of the probe's checkpoint. A probe
checkpoint therefore holds only what was trained (the layer weights of the featurizer and the
downstream model); the upstream always comes from ``path_or_url`` + ``adapters``. That is what
lets the ``fixed`` protocol apply a probe trained on the base model to another stage's
adapters: build the frontend with other adapters, load the same probe weights.
"""
from __future__ import annotations

import copy
import hashlib
import logging
from pathlib import Path

import torch
from espnet2.asr.frontend.s3prl import S3prlFrontend
from s3prl.nn import Featurizer
from torch import nn

from lamer.adapters import load_adapters, patch_state
from lamer.adapters.checkpoint import MANIFEST
from lamer.probe.s3prl_expert import resolve_upstream

logger = logging.getLogger(__name__)

UPSTREAM_PREFIX = "upstream."
TRANSFORMER_LAYERS = "transformer"  # frontend_conf.layers: every hidden state after the front end's output


class LamerS3prlFrontend(S3prlFrontend):
    """S3prlFrontend whose upstream carries frozen Lamer adapters (or none).

    Args (the ``frontend_conf`` of an ESPnet config with ``frontend: lamer``):
        upstream: s3prl upstream name, e.g. ``hubert_local`` for a local converted checkpoint.
        path_or_url: the checkpoint of the base SSL model.
        adapters: a Lamer adapter directory (or its ``manifest.json``, as a packed probe names it,
            see :mod:`lamer.probe.pack`), or None for the plain base model.
        multilayer_feature: learned weighted sum of all layers (the ML-SUPERB probe) when True,
            else the last layer (or ``layer``).
        layer: one layer index to use instead of the weighted sum (-1: not used).
        layers: the hidden states that the weighted sum reads: a list of indices (0 is the front
            end's output, before any transformer layer), ``"transformer"`` for all but hidden
            state 0, or None for all of them. Every system shares the front end, so a
            probe that can read it measures what the transformer layers add less sharply.
        normalize: s3prl's per-layer normalisation of the hidden states.
        check_fingerprint: refuse adapters trained on other base weights (default True).
        feature_cache_mb: keep the upstream's outputs of up to this many MB of batches and
            reuse them when the same batch comes again (0: off). The upstream is frozen and
            deterministic, and ESPnet's sorted/folded samplers repeat the same batches every
            epoch, so from the second epoch on only the probe is computed: on a CPU, where
            the upstream's forward is most of a probe's cost, that is several times faster.
        frame_pooling: average every this many consecutive output frames (1: off), e.g. 2 turns
            an upstream's 50 Hz frames into 25 Hz ones. The probe's cost falls with the frame
            rate (its self-attention with the square of it); CTC needs at least one frame per
            label (two for a repeated one), which 25 Hz leaves for character targets of read
            speech. A last incomplete group is dropped.
        fs: sampling rate of the input; s3prl upstreams take 16 kHz.
    """

    def __init__(
        self,
        upstream: str = "hubert_local",
        path_or_url: str | None = None,
        adapters: str | None = None,
        multilayer_feature: bool = True,
        layer: int = -1,
        layers: list[int] | str | None = None,
        normalize: bool = False,
        check_fingerprint: bool = True,
        feature_cache_mb: int = 0,
        frame_pooling: int = 1,
        fs: int | str = 16000,
    ) -> None:
        if not isinstance(frame_pooling, int) or frame_pooling < 1:
            raise ValueError(f"frontend_conf.frame_pooling: a positive integer, got {frame_pooling!r}")
        if upstream.endswith("_local") and (path_or_url is None or not Path(path_or_url).is_file()):
            raise FileNotFoundError(f"frontend_conf.path_or_url: upstream {upstream!r} needs a local checkpoint "
                                    f"file, got {path_or_url!r}")
        super().__init__(fs=fs, frontend_conf={"upstream": resolve_upstream(upstream, path_or_url),
                                               "path_or_url": path_or_url,
                                               "normalize": normalize},
                         multilayer_feature=multilayer_feature, layer=layer)
        if layers is not None:
            self.featurizer = Featurizer(self.upstream,
                                         layer_selections=check_layers(layers, self.upstream.num_layers,
                                                                       multilayer_feature, layer))
        self.frame_pooling = frame_pooling
        self.adapters = str(adapters) if adapters else None
        self.manifest = None
        if self.adapters is not None:
            self.manifest = load_adapters(self.upstream, adapter_directory(self.adapters),
                                          check_fingerprint=check_fingerprint)
            state = patch_state(self.upstream)
            if state.config.router == "language":
                raise ValueError(f"frontend_conf.adapters: {self.adapters} routes by language; the ASR probe "
                                 "does not know the language of an utterance, use soft or top-k routing")
            logger.info("frontend: %s with Lamer adapters from %s (%d adapter parameters)", path_or_url,
                        self.adapters, self.manifest["adapter_params"])
        for param in self.upstream.parameters():
            param.requires_grad_(False)
        self.upstream.eval()
        if feature_cache_mb > 0:
            self.upstream = CachedUpstream(self.upstream, feature_cache_mb)
        # ESPnet's initialize() re-initialises every parameter, then calls
        # reload_pretrained_parameters(): the copy must hold the patched, loaded upstream.
        self.pretrained_params = copy.deepcopy(self.upstream.state_dict())
        self.register_state_dict_post_hook(_drop_upstream)
        self.register_load_state_dict_pre_hook(_keep_upstream)

    def forward(self, input: torch.Tensor, input_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) waveforms to (B, T', D) features, pooled over ``frame_pooling`` frames."""
        feats, lengths = super().forward(input, input_lengths)
        k = self.frame_pooling
        if k > 1:
            groups = feats.shape[1] // k
            feats = feats[:, : groups * k].reshape(feats.shape[0], groups, k, feats.shape[2]).mean(2)
            lengths = torch.div(lengths, k, rounding_mode="floor")
        return feats, lengths

    def train(self, mode: bool = True) -> LamerS3prlFrontend:
        """Train the featurizer; the upstream stays in eval mode (frozen, deterministic)."""
        super().train(mode)
        self.upstream.eval()
        return self


def check_layers(layers: object, num_layers: int, multilayer_feature: bool, layer: int) -> list[int]:
    """``frontend_conf.layers`` as a sorted list of distinct hidden-state indices, or a ValueError naming it."""
    key = "frontend_conf.layers"
    if not multilayer_feature or layer != -1:
        raise ValueError(f"{key}: a weighted sum over chosen layers needs multilayer_feature: true and no layer")
    if layers == TRANSFORMER_LAYERS:
        layers = list(range(1, num_layers))
    if (not isinstance(layers, (list, tuple)) or not layers
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in layers)):
        raise ValueError(f"{key}: {TRANSFORMER_LAYERS!r} or a non-empty list of hidden-state indices, "
                         f"got {layers!r}")
    bad = [i for i in layers if not 0 <= i < num_layers]
    if bad or len(set(layers)) != len(layers):
        raise ValueError(f"{key}: indices must be distinct and within 0..{num_layers - 1} (the upstream's "
                         f"hidden states), got {list(layers)}")
    return sorted(layers)


def adapter_directory(path: str | Path) -> Path:
    """The adapter checkpoint that ``path`` names: the directory itself, or the one of its ``manifest.json``.

    A packed probe's config names the manifest, because ESPnet's unpack points a config's paths
    at the unpacked files only where they name a file of the archive, and a directory is none.
    """
    path = Path(path)
    return path.parent if path.name == MANIFEST and path.is_file() else path


class CachedUpstream(nn.Module):
    """A frozen upstream that remembers its outputs per input batch, up to ``max_mb``.

    Batches are keyed by a digest of the padded waveforms and their lengths, so a hit is the
    very same input. Once the budget is full, new batches are computed but not kept.
    """

    def __init__(self, upstream: nn.Module, max_mb: int) -> None:
        super().__init__()
        self.upstream = upstream
        self.max_bytes = max_mb * 2**20
        self.cached_bytes = 0
        self.hits = self.misses = 0
        self._cache: dict[str, tuple] = {}

    @staticmethod
    def _key(wavs: torch.Tensor, lengths: torch.Tensor) -> str:
        digest = hashlib.blake2b(digest_size=16)
        digest.update(str(tuple(wavs.shape)).encode())
        digest.update(wavs.detach().cpu().contiguous().numpy().tobytes())
        digest.update(lengths.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()

    def forward(self, wavs: torch.Tensor, lengths: torch.Tensor):
        key = self._key(wavs, lengths)
        if key in self._cache:
            self.hits += 1
            return self._cache[key]
        self.misses += 1
        output = self.upstream(wavs, lengths)
        size = sum(t.numel() * t.element_size() for part in output for t in part)
        if self.cached_bytes + size <= self.max_bytes:
            self._cache[key] = output
            self.cached_bytes += size
        return output


def _drop_upstream(module: nn.Module, state_dict: dict, prefix: str, _metadata) -> None:
    """state_dict post-hook: the probe checkpoint leaves out the frozen upstream."""
    for key in [k for k in state_dict if k.startswith(prefix + UPSTREAM_PREFIX)]:
        del state_dict[key]


def _keep_upstream(module: nn.Module, state_dict: dict, prefix: str, _metadata, _strict,
                   _missing: list, _unexpected: list, _errors: list) -> None:
    """load_state_dict pre-hook: the upstream keeps its own weights (base + adapters).

    Upstream entries of the checkpoint (a probe saved by a plain S3prlFrontend) are replaced
    by the current ones, and absent ones are filled in, so loading neither fails on them
    nor changes the upstream.
    """
    own = prefix + UPSTREAM_PREFIX
    ignored = sum(1 for k in state_dict if k.startswith(own))
    if ignored:
        logger.info("frontend: %d upstream entries of the checkpoint ignored (the upstream comes from "
                    "path_or_url and adapters)", ignored)
    for key, value in module.upstream.state_dict(keep_vars=False).items():
        state_dict[own + key] = value
