"""fairseq (s3prl) <-> transformers: parameter names and configs of HuBERT, wav2vec2, WavLM.

Both implementations hold the same tensors under different names. One table of name pairs
serves both directions: each side is a template with placeholders ({i} layer index, {p}
weight/bias, {proj} attention projection), matched as a regular expression and filled in
on the other side. Some HF names have two fairseq readings (the CNN's norm is ``.2`` in
group-norm mode and ``.2.1`` in layer-norm mode); the caller picks the one its target model has.
"""
from __future__ import annotations

import ast
import re

from lamer.upstream.log_mel import EXTRACTOR_KEY

# (fairseq / s3prl name, transformers name)
NAME_PAIRS: list[tuple[str, str]] = [
    ("mask_emb", "masked_spec_embed"),
    ("feature_extractor.conv_layers.{i}.0.{p}", "feature_extractor.conv_layers.{i}.conv.{p}"),
    ("feature_extractor.conv_layers.0.2.{p}", "feature_extractor.conv_layers.0.layer_norm.{p}"),  # group norm
    ("feature_extractor.conv_layers.{i}.2.1.{p}", "feature_extractor.conv_layers.{i}.layer_norm.{p}"),  # layer norm
    ("layer_norm.{p}", "feature_projection.layer_norm.{p}"),
    ("post_extract_proj.{p}", "feature_projection.projection.{p}"),
    ("encoder.pos_conv.0.bias", "encoder.pos_conv_embed.conv.bias"),
    ("encoder.pos_conv.0.weight_g", "encoder.pos_conv_embed.conv.parametrizations.weight.original0"),
    ("encoder.pos_conv.0.weight_v", "encoder.pos_conv_embed.conv.parametrizations.weight.original1"),
    ("encoder.layer_norm.{p}", "encoder.layer_norm.{p}"),
    ("encoder.layers.{i}.self_attn.{proj}_proj.{p}", "encoder.layers.{i}.attention.{proj}_proj.{p}"),
    ("encoder.layers.{i}.self_attn.grep_a", "encoder.layers.{i}.attention.gru_rel_pos_const"),
    ("encoder.layers.{i}.self_attn.grep_linear.{p}", "encoder.layers.{i}.attention.gru_rel_pos_linear.{p}"),
    ("encoder.layers.{i}.self_attn.relative_attention_bias.weight",
     "encoder.layers.{i}.attention.rel_attn_embed.weight"),
    ("encoder.layers.{i}.self_attn_layer_norm.{p}", "encoder.layers.{i}.layer_norm.{p}"),
    ("encoder.layers.{i}.fc1.{p}", "encoder.layers.{i}.feed_forward.intermediate_dense.{p}"),
    ("encoder.layers.{i}.fc2.{p}", "encoder.layers.{i}.feed_forward.output_dense.{p}"),
    ("encoder.layers.{i}.final_layer_norm.{p}", "encoder.layers.{i}.final_layer_norm.{p}"),
]

# pretraining-only parameters: no counterpart on the other side, kept at their fresh values
PRETRAINING_ONLY = re.compile(r"(mask_emb|masked_spec_embed|label_embs_concat|final_proj\..*|project_q\..*"
                              r"|quantizer\..*|target_glu\..*|project_hid\..*)")

_PLACEHOLDERS = {"i": r"\d+", "p": r"weight|bias", "proj": r"q|k|v|out"}


def _compile(template: str) -> re.Pattern:
    pattern = re.escape(template)
    for name, alternatives in _PLACEHOLDERS.items():
        pattern = pattern.replace(re.escape("{" + name + "}"), f"(?P<{name}>{alternatives})")
    return re.compile(pattern)


_COMPILED = {"fairseq": [(_compile(f), h) for f, h in NAME_PAIRS],
             "hf": [(_compile(h), f) for f, h in NAME_PAIRS]}


def counterparts(name: str, side: str) -> list[str]:
    """Every name on the other side for parameter ``name`` of ``side`` ("fairseq" or "hf")."""
    return [other.format(**match.groupdict()) for pattern, other in _COMPILED[side]
            if (match := pattern.fullmatch(name))]


def parse_conv_layers(spec: str | list) -> list[tuple[int, int, int]]:
    """fairseq's ``conv_feature_layers`` ("[(512,10,5)] + [(512,3,2)] * 4 + ...") as a list.

    fairseq evaluates the string with ``eval``; here only list/tuple/int literals joined by
    ``+`` and ``*`` are accepted, so a config cannot run code.
    """
    if not isinstance(spec, str):
        return [tuple(int(v) for v in layer) for layer in spec]

    def value(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [value(e) for e in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            left, right = value(node.left), value(node.right)
            return left + right if isinstance(node.op, ast.Add) else left * right
        raise ValueError(f"conv_feature_layers {spec!r}: only lists of (dim, kernel, stride) with + and * "
                         "are understood")

    try:
        tree = ast.parse(spec, mode="eval")
    except SyntaxError:
        raise ValueError(f"conv_feature_layers {spec!r} is not a list expression") from None
    layers = value(tree.body)
    if not isinstance(layers, list) or not all(isinstance(t, tuple) and len(t) == 3 for t in layers):
        raise ValueError(f"conv_feature_layers {spec!r}: expected a list of (dim, kernel, stride)")
    return layers


# fairseq model config key -> transformers config attribute, same value on both sides
SAME_VALUE = {
    "encoder_layers": "num_hidden_layers",
    "encoder_embed_dim": "hidden_size",
    "encoder_ffn_embed_dim": "intermediate_size",
    "encoder_attention_heads": "num_attention_heads",
    "activation_fn": "hidden_act",
    "dropout": "hidden_dropout",
    "attention_dropout": "attention_dropout",
    "activation_dropout": "activation_dropout",
    "dropout_input": "feat_proj_dropout",
    "encoder_layerdrop": "layerdrop",
    "layer_norm_first": "do_stable_layer_norm",
    "conv_bias": "conv_bias",
    "conv_pos": "num_conv_pos_embeddings",
    "conv_pos_groups": "num_conv_pos_embedding_groups",
}
WAVLM_SAME_VALUE = {"num_buckets": "num_buckets", "max_distance": "max_bucket_distance"}
EXTRACTOR_MODES = {"default": "group", "layer_norm": "layer"}
HF_CONFIG_CLASSES = {"hubert": "HubertConfig", "wav2vec2": "Wav2Vec2Config", "wavlm": "WavLMConfig"}
HF_MODEL_CLASSES = {"hubert": "HubertModel", "wav2vec2": "Wav2Vec2Model", "wavlm": "WavLMModel"}


def hf_config_from_fairseq(arch: str, model_cfg: dict, defaults: dict):
    """The transformers config of a fairseq model config (``defaults``: the s3prl dataclass values).

    SpecAugment and layer drop inside the model are switched off in the result, as in the
    presets: a frozen upstream's adapters are trained with masking done by the caller.
    """
    import transformers

    cfg = {**defaults, **model_cfg}
    if arch == "wavlm" and not (cfg.get("relative_position_embedding") and cfg.get("gru_rel_pos")):
        raise ValueError("this WavLM has no gated relative position embedding; transformers' WavLM always has one")
    if cfg.get("pos_conv_depth", 1) != 1:
        raise ValueError(f"pos_conv_depth={cfg['pos_conv_depth']}: transformers models have one positional conv")
    if cfg.get(EXTRACTOR_KEY) is not None:
        raise ValueError(f"{EXTRACTOR_KEY}: a log-mel front end; transformers models have only the wav2vec2 CNN")
    conv = parse_conv_layers(cfg["conv_feature_layers"])
    kwargs = {hf: cfg[fs] for fs, hf in SAME_VALUE.items() if fs in cfg}
    if arch == "wavlm":
        kwargs.update({hf: cfg[fs] for fs, hf in WAVLM_SAME_VALUE.items() if fs in cfg})
    try:
        kwargs["feat_extract_norm"] = EXTRACTOR_MODES[cfg["extractor_mode"]]
    except KeyError:
        raise ValueError(f"extractor_mode {cfg.get('extractor_mode')!r}: "
                         f"expected one of {sorted(EXTRACTOR_MODES)}") from None
    kwargs.update(conv_dim=[c for c, _, _ in conv], conv_kernel=[k for _, k, _ in conv],
                  conv_stride=[s for _, _, s in conv], mask_time_prob=0.0, layerdrop=0.0)
    return getattr(transformers, HF_CONFIG_CLASSES[arch])(**kwargs)


def fairseq_cfg_from_hf(arch: str, config, normalize: bool, final_dim: int = 0) -> tuple[dict, dict]:
    """(task_cfg, model_cfg) of an s3prl model equal to transformers model config ``config``."""
    if getattr(config, "conv_pos_batch_norm", False):
        raise ValueError("conv_pos_batch_norm: s3prl models have a weight-normed positional conv only")
    if not getattr(config, "feat_proj_layer_norm", True):
        raise ValueError("feat_proj_layer_norm=False: s3prl models always normalise the CNN features")
    model_cfg = {fs: getattr(config, hf) for fs, hf in SAME_VALUE.items()}
    inverse_modes = {v: k for k, v in EXTRACTOR_MODES.items()}
    model_cfg["extractor_mode"] = inverse_modes[config.feat_extract_norm]
    model_cfg["conv_feature_layers"] = str(list(zip(config.conv_dim, config.conv_kernel, config.conv_stride)))
    task_cfg = {"sample_rate": 16000, "normalize": bool(normalize)}
    if arch == "hubert":
        model_cfg.update(label_rate=50.0, final_dim=final_dim)
        task_cfg["label_rate"] = 50.0
    elif arch == "wavlm":
        model_cfg.update({fs: getattr(config, hf) for fs, hf in WAVLM_SAME_VALUE.items()})
        model_cfg.update(relative_position_embedding=True, gru_rel_pos=True, normalize=bool(normalize))
    return task_cfg, model_cfg
