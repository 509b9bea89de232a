"""Small random checkpoints written the way each format's own tool writes them."""
from __future__ import annotations

import argparse
import sys
import types

import torch

from lamer.upstream.forward import hidden_states
from lamer.upstream.presets import build_preset, get_shape, s3prl_configs

# fairseq writes the CNN spec as a Python expression
TINY_CONV = "[(16, 10, 5)] + [(16, 3, 2)] * 4 + [(16, 2, 2)] * 2"
HUBERT_SYMBOLS = ["<s>", "<pad>", "</s>", "<unk>"] + [str(i) for i in range(20)]


def waves() -> torch.Tensor:
    """Two different 0.4 s waveforms, unpadded (fairseq and transformers pad differently)."""
    return torch.randn(2, 6400, generator=torch.Generator().manual_seed(7))


def outputs(model: torch.nn.Module, wavs: torch.Tensor, lengths: torch.Tensor | None = None) -> list[torch.Tensor]:
    with torch.no_grad():
        return hidden_states(model, wavs, lengths)


def max_diff(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    """Largest difference of two models' layer outputs.

    fairseq pads the time axis to an even length inside its layers (its encoder's
    ``required_seq_len_multiple``), so frames are compared up to the shorter length.
    """
    assert len(a) == len(b)
    worst = 0.0
    for x, y in zip(a, b):
        t = min(x.shape[1], y.shape[1])
        worst = max(worst, (x[:, :t] - y[:, :t]).abs().max().item())
    return worst


def perturb(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Move every weight off its initial value, so that a weight left unloaded shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=gen) * 0.05)
    return model.eval()


def install_fake_fairseq_dictionary(monkeypatch) -> type:
    """A class importable as ``fairseq.data.dictionary.Dictionary``, to pickle dictionaries as fairseq does.

    Only the writer needs it; the modules are gone again when the test ends.
    """
    module = types.ModuleType("fairseq.data.dictionary")

    class Dictionary:
        pass

    Dictionary.__module__, Dictionary.__qualname__ = "fairseq.data.dictionary", "Dictionary"
    module.Dictionary = Dictionary
    for name, mod in (("fairseq", types.ModuleType("fairseq")), ("fairseq.data", types.ModuleType("fairseq.data")),
                      ("fairseq.data.dictionary", module)):
        monkeypatch.setitem(sys.modules, name, mod)
    return Dictionary


def fairseq_dictionary(cls: type, symbols: list[str]):
    """An object with the attributes fairseq's Dictionary pickles."""
    d = cls.__new__(cls)
    d.__dict__.update(bos_word="<s>", unk_word="<unk>", pad_word="<pad>", eos_word="</s>", symbols=list(symbols),
                      count=[1] * len(symbols), indices={s: i for i, s in enumerate(symbols)}, bos_index=0,
                      pad_index=1, eos_index=2, unk_index=3, nspecial=4)
    return d


def s3prl_hubert(seed: int = 0):
    """A tiny s3prl HuBERT with a 24-symbol dictionary, and its (task_cfg, model_cfg)."""
    from s3prl.upstream.hubert.hubert_model import HubertConfig, HubertModel, HubertPretrainingConfig
    from s3prl.upstream.utils import merge_with_parent

    task_cfg, model_cfg = s3prl_configs(get_shape("tiny"), "s3prl_hubert")
    model_cfg = {**model_cfg, "conv_feature_layers": TINY_CONV, "final_dim": 24}
    model = HubertModel(merge_with_parent(HubertConfig, model_cfg),
                        merge_with_parent(HubertPretrainingConfig, task_cfg), [HUBERT_SYMBOLS])
    return perturb(model, seed), task_cfg, model_cfg


def write_fairseq_hubert(path, monkeypatch, seed: int = 0, edit=None) -> torch.nn.Module:
    """A HuBERT pretraining checkpoint as fairseq's trainer saves it (hydra cfg as DictConfig).

    ``edit(weights)`` may change the state dict before it is written (to make bad files).
    """
    from omegaconf import OmegaConf

    model, task_cfg, model_cfg = s3prl_hubert(seed)
    cfg = OmegaConf.create({
        "common": {"seed": 1337, "fp16": True, "log_interval": 200},
        "model": {"_name": "hubert", **model_cfg},
        "task": {"_name": "hubert_pretraining", "data": "/data/tsv", "labels": ["km"], "label_dir": None, **task_cfg},
        "criterion": {"_name": "hubert", "pred_masked_weight": 1.0, "loss_weights": [10.0]},
        "optimization": {"max_update": 400000, "lr": [0.0005]},
    })
    OmegaConf.set_struct(cfg, True)
    dictionary = fairseq_dictionary(install_fake_fairseq_dictionary(monkeypatch), HUBERT_SYMBOLS)
    weights = model.state_dict()
    if edit is not None:
        edit(weights)
    torch.save({
        "args": None, "cfg": cfg, "model": weights, "criterion": None,
        "optimizer_history": [{"criterion_name": "HubertCriterion", "optimizer_name": "FairseqAdam",
                               "lr_scheduler_state": {"best": 3.1}, "num_updates": 400000}],
        "task_state": {"dictionaries": [dictionary]},
        "extra_state": {"metrics": {}, "previous_training_time": 12345.6}, "last_optimizer_state": None,
    }, path)
    return model


def write_fairseq_wav2vec2(path, seed: int = 0, legacy_args: bool = True) -> torch.nn.Module:
    """A wav2vec2 pretraining checkpoint: pre-hydra (argparse Namespace) or hydra (DictConfig)."""
    from omegaconf import OmegaConf
    from s3prl.upstream.utils import merge_with_parent
    from s3prl.upstream.wav2vec2.wav2vec2_model import Wav2Vec2Config, Wav2Vec2Model

    task_cfg, model_cfg = s3prl_configs(get_shape("tiny"), "s3prl_wav2vec2")
    model_cfg = {**model_cfg, "conv_feature_layers": TINY_CONV}
    model = perturb(Wav2Vec2Model(merge_with_parent(Wav2Vec2Config, model_cfg)), seed)
    if legacy_args:
        config = {"args": argparse.Namespace(arch="wav2vec2", task="audio_pretraining", criterion="wav2vec",
                                             data="/data/manifest", max_update=400000, **task_cfg, **model_cfg)}
    else:
        config = {"args": None, "cfg": OmegaConf.create({
            "model": {"_name": "wav2vec2", **model_cfg},
            "task": {"_name": "audio_pretraining", "data": "/data/manifest", **task_cfg}})}
    torch.save({**config, "model": model.state_dict(), "optimizer_history": [], "extra_state": {}}, path)
    return model


def write_hf_directory(directory, family: str, seed: int = 0) -> torch.nn.Module:
    """A transformers model saved with ``save_pretrained``."""
    model = perturb(build_preset("tiny", family, seed=seed), seed)
    model.save_pretrained(str(directory))
    return model
