"""fairseq pretraining checkpoints (HuBERT, wav2vec2) read without fairseq.

fairseq saves ``{"cfg": DictConfig(model=..., task=..., ...), "model": state_dict,
"task_state": {"dictionaries": [Dictionary, ...]}, ...}``; checkpoints from before its
hydra configs have ``{"args": argparse.Namespace(...)}`` instead of ``cfg`` (one flat
namespace for model and task). s3prl's model classes use fairseq's parameter names, so the
state dict loads into them unchanged.
"""
from __future__ import annotations

from lamer.upstream.safe_checkpoint import FairseqDictionary, plain


def is_fairseq_checkpoint(state: dict) -> bool:
    """A fairseq trainer checkpoint: a state dict under ``model`` and a config under ``cfg`` or ``args``."""
    config = state.get("cfg") if state.get("cfg") is not None else state.get("args")
    if config is None or not isinstance(state.get("model"), dict):
        return False
    config = plain(config)
    return isinstance(config, dict) and ("model" in config or "arch" in config or "_name" in config)


def _architecture(model_cfg: dict, weights: dict, source: str) -> str:
    if any(k.startswith("w2v_encoder.") for k in weights):
        raise ValueError(f"{source}: a fine-tuned (CTC) fairseq checkpoint; give the pretrained checkpoint "
                         "it was fine-tuned from (lamer adapts pretrained SSL encoders)")
    name = str(model_cfg.get("_name") or model_cfg.get("arch") or "")
    if "label_embs_concat" in weights or name.startswith("hubert"):
        return "hubert"
    if "wav2vec" in name or "quantizer.vars" in weights or "project_q.weight" in weights:
        return "wav2vec2"
    raise ValueError(f"{source}: fairseq checkpoint of model {name or '(unnamed)'!r}: only HuBERT and "
                     "wav2vec2 pretraining checkpoints are supported")


def _symbols(task_state: dict | None, source: str) -> list[list[str]] | None:
    dictionaries = (task_state or {}).get("dictionaries")
    if dictionaries is None:
        return None
    symbols = []
    for index, dictionary in enumerate(dictionaries):
        if isinstance(dictionary, FairseqDictionary):
            symbols.append(list(dictionary.symbols))
        else:
            raise ValueError(f"{source}: task_state.dictionaries[{index}] is a {type(dictionary).__name__}, "
                             "not a fairseq Dictionary")
    return symbols


def read_fairseq_checkpoint(state: dict, source: str) -> tuple[str, dict, dict, dict, list[list[str]] | None]:
    """(arch, task_cfg, model_cfg, weights, label symbols) of a loaded fairseq checkpoint."""
    if state.get("cfg") is not None:
        cfg = plain(state["cfg"])
        model_cfg, task_cfg = dict(cfg.get("model") or {}), dict(cfg.get("task") or {})
        if not model_cfg:
            raise ValueError(f"{source}: fairseq checkpoint whose cfg has no 'model' section")
    else:  # pre-hydra: one namespace holds every option
        model_cfg = plain(state["args"])
        task_cfg = dict(model_cfg)
    weights = state["model"]
    arch = _architecture(model_cfg, weights, source)
    symbols = _symbols(state.get("task_state"), source)
    if arch == "hubert" and symbols is None:
        raise ValueError(f"{source}: HuBERT checkpoint without task_state.dictionaries (its label "
                         "dictionaries size the prediction head)")
    return arch, task_cfg, model_cfg, weights, symbols
