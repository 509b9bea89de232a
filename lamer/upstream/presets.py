"""Shape presets: SSL models with random weights, built offline from configs.

They serve tests, reports and benchmarks: nothing is downloaded. Each preset can be
built in six families, the model classes that real checkpoints load into:

- ``s3prl_hubert`` / ``s3prl_wav2vec2`` / ``s3prl_wavlm``: s3prl's fairseq-style models
  (what ESPnet's S3prlFrontend runs);
- ``hf_hubert`` / ``hf_wav2vec2`` / ``hf_wavlm``: transformers' models.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from lamer.upstream.log_mel import EXTRACTOR_KEY, conv_geometry, extractor_config, install_extractor

FAMILIES = ("s3prl_hubert", "s3prl_wav2vec2", "s3prl_wavlm", "hf_hubert", "hf_wav2vec2", "hf_wavlm")
HF_CLASSES = {"hf_hubert": ("HubertConfig", "HubertModel"), "hf_wav2vec2": ("Wav2Vec2Config", "Wav2Vec2Model"),
              "hf_wavlm": ("WavLMConfig", "WavLMModel")}


@dataclass(frozen=True)
class Shape:
    """Transformer and CNN sizes of an SSL model."""

    layers: int
    hidden: int
    ffn: int
    heads: int
    conv_channels: int
    layer_norm_first: bool = False
    extractor: str = "cnn"  # or "log_mel": lamer.upstream.log_mel's front end (s3prl families only)

    @property
    def conv_layers(self) -> list[tuple[int, int, int]]:
        """The wav2vec2 CNN feature extractor: 7 blocks, 320x downsampling (20 ms frames)."""
        c = self.conv_channels
        return [(c, 10, 5)] + [(c, 3, 2)] * 4 + [(c, 2, 2)] * 2


PRESETS: dict[str, Shape] = {
    "tiny": Shape(layers=3, hidden=32, ffn=64, heads=2, conv_channels=16),
    "small": Shape(layers=4, hidden=128, ffn=512, heads=4, conv_channels=64),
    "small_mel": Shape(layers=4, hidden=128, ffn=512, heads=4, conv_channels=128, extractor="log_mel"),
    "hubert_base": Shape(layers=12, hidden=768, ffn=3072, heads=12, conv_channels=512),
    "hubert_large": Shape(layers=24, hidden=1024, ffn=4096, heads=16, conv_channels=512,
                          layer_norm_first=True),
}


def get_shape(name: str) -> Shape:
    """Look up a preset by name, with an error that lists the choices."""
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown upstream preset {name!r}; choose one of {sorted(PRESETS)}") from None


def s3prl_configs(shape: Shape, family: str = "s3prl_hubert") -> tuple[dict, dict]:
    """The (task_cfg, model_cfg) pair, as plain dicts, of an s3prl model of this shape.

    Plain dicts (not dataclasses) so that a checkpoint holding them loads with
    ``torch.load(weights_only=True)``.
    """
    model_cfg = {
        "extractor_mode": "layer_norm" if shape.layer_norm_first else "default",
        "encoder_layers": shape.layers,
        "encoder_embed_dim": shape.hidden,
        "encoder_ffn_embed_dim": shape.ffn,
        "encoder_attention_heads": shape.heads,
        "layer_norm_first": shape.layer_norm_first,
        "conv_feature_layers": str(shape.conv_layers),
        "conv_pos": 128 if shape.hidden >= 256 else 16,
        "conv_pos_groups": 16 if shape.hidden >= 256 else 4,
        "final_dim": 256 if shape.hidden >= 256 else shape.hidden,
    }
    if shape.extractor == "log_mel":
        extractor = extractor_config(shape.conv_channels)
        model_cfg.update({"conv_feature_layers": str(conv_geometry(extractor)), EXTRACTOR_KEY: extractor})
    if family == "s3prl_hubert":
        model_cfg["label_rate"] = 50.0
        task_cfg = {"label_rate": 50.0, "sample_rate": 16000, "normalize": shape.layer_norm_first}
    elif family in ("s3prl_wav2vec2", "s3prl_wavlm"):
        task_cfg = {"sample_rate": 16000, "normalize": shape.layer_norm_first}
        if family == "s3prl_wavlm":
            model_cfg.update(relative_position_embedding=True, num_buckets=32, max_distance=128, gru_rel_pos=True)
    else:
        raise ValueError(f"s3prl_configs: family {family!r} is not an s3prl family")
    return task_cfg, model_cfg


def _build_s3prl(shape: Shape, family: str, num_labels: int) -> nn.Module:
    from s3prl.upstream.utils import merge_with_parent

    task_cfg, model_cfg = s3prl_configs(shape, family)
    if family == "s3prl_hubert":
        from s3prl.upstream.hubert.hubert_model import HubertConfig, HubertModel, HubertPretrainingConfig

        dictionaries = [[str(i) for i in range(num_labels)]]
        model = HubertModel(merge_with_parent(HubertConfig, model_cfg),
                            merge_with_parent(HubertPretrainingConfig, task_cfg), dictionaries)
    elif family == "s3prl_wavlm":
        from s3prl.upstream.wavlm.WavLM import WavLM, WavLMConfig

        model = WavLM(WavLMConfig(model_cfg))
    else:
        from s3prl.upstream.wav2vec2.wav2vec2_model import Wav2Vec2Config, Wav2Vec2Model

        model = Wav2Vec2Model(merge_with_parent(Wav2Vec2Config, model_cfg))
    return install_extractor(model, model_cfg)


def hf_config(shape: Shape, family: str = "hf_hubert"):
    """A transformers ``HubertConfig`` / ``Wav2Vec2Config`` / ``WavLMConfig`` of this shape."""
    import transformers

    cls = getattr(transformers, HF_CLASSES[family][0])
    if shape.extractor != "cnn":
        raise ValueError(f"{family}: transformers models have only the CNN front end, not {shape.extractor!r}; "
                         "build this preset in an s3prl family")
    conv = shape.conv_layers
    return cls(
        hidden_size=shape.hidden,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        intermediate_size=shape.ffn,
        conv_dim=[c for c, _, _ in conv],
        conv_kernel=[k for _, k, _ in conv],
        conv_stride=[s for _, _, s in conv],
        num_conv_pos_embeddings=128 if shape.hidden >= 256 else 16,
        num_conv_pos_embedding_groups=16 if shape.hidden >= 256 else 4,
        do_stable_layer_norm=shape.layer_norm_first,
        feat_extract_norm="layer" if shape.layer_norm_first else "group",
        # no stochastic layer skipping or SpecAugment inside the model: training a frozen
        # upstream's adapters wants every layer on every step, masking done by the caller
        layerdrop=0.0,
        mask_time_prob=0.0,
    )


def build_preset(name: str, family: str = "s3prl_hubert", seed: int = 0, num_labels: int = 100) -> nn.Module:
    """Build preset ``name`` in ``family`` with random weights drawn from ``seed``.

    ``num_labels`` sizes the HuBERT pretraining head (k-means classes) of s3prl HuBERT.
    The model is returned in eval mode.
    """
    shape = get_shape(name)
    if family not in FAMILIES:
        raise ValueError(f"unknown upstream family {family!r}; choose one of {FAMILIES}")
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        if family.startswith("s3prl_"):
            model = _build_s3prl(shape, family, num_labels)
        else:
            import transformers

            model = getattr(transformers, HF_CLASSES[family][1])(hf_config(shape, family))
    finally:
        torch.random.set_rng_state(gen_state)
    return model.eval()


def save_s3prl_checkpoint(model: nn.Module, task_cfg: dict, model_cfg: dict, path: str,
                          dictionaries_symbols: list[list[str]] | None = None) -> None:
    """Write an s3prl converted HuBERT checkpoint that ``S3PRLUpstream("hubert_local")`` loads.

    The file holds only plain types and tensors, so ``torch.load(weights_only=True)`` reads it.
    """
    from lamer.upstream.s3prl_format import write_s3prl_checkpoint

    write_s3prl_checkpoint(path, "hubert", task_cfg, model_cfg, model.state_dict(),
                           dictionaries_symbols or [[str(i) for i in range(100)]])


def config_as_dict(cfg) -> dict:
    """A dataclass config (s3prl) or a transformers config as a plain dict."""
    if dataclasses.is_dataclass(cfg):
        return dataclasses.asdict(cfg)
    return cfg.to_dict()
