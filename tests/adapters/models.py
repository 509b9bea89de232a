"""Small SSL models of every supported family, built from configs with random weights."""
from __future__ import annotations

import torch

from lamer.upstream.forward import hidden_states
from lamer.upstream.presets import build_preset

FAMILIES = ["s3prl_hubert", "s3prl_wav2vec2", "s3prl_wavlm", "hf_hubert", "hf_wav2vec2", "hf_wavlm"]
# families whose attention really runs through its projection modules once switched
ATTENTION_OK = ["s3prl_hubert", "s3prl_wav2vec2", "hf_hubert", "hf_wav2vec2"]


def make_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Two utterances of 0.4 and 0.3 s, padded."""
    gen = torch.Generator().manual_seed(1234)
    wavs = torch.randn(2, 6400, generator=gen)
    return wavs, torch.tensor([6400, 4800])


def frozen_preset(name: str, family: str, seed: int = 0) -> torch.nn.Module:
    model = build_preset(name, family, seed=seed)
    for param in model.parameters():
        param.requires_grad_(False)
    return model


def outputs(model: torch.nn.Module, batch) -> list[torch.Tensor]:
    with torch.no_grad():
        return hidden_states(model, *batch)


def max_diff(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return max((x - y).abs().max().item() for x, y in zip(a, b))


def randomize_adapters(model: torch.nn.Module, seed: int = 0, scale: float = 0.5) -> None:
    """Give every adapter parameter non-zero values (a trained state)."""
    from lamer.adapters import adapter_parameters

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in adapter_parameters(model).values():
            param.copy_(torch.randn(param.shape, generator=gen) * scale)


def model_state(model: torch.nn.Module) -> tuple:
    """What patching changes: module types and plain attributes (attention switches), which
    parameters need a gradient, and every weight."""
    modules = [(name, type(module), {k: v for k, v in vars(module).items() if isinstance(v, (bool, int, float, str))})
               for name, module in model.named_modules()]
    grads = {name: param.requires_grad for name, param in model.named_parameters()}
    return modules, grads, {name: tensor.clone() for name, tensor in model.state_dict().items()}


def assert_unchanged(model: torch.nn.Module, before: tuple) -> None:
    """``model`` is as :func:`model_state` saw it."""
    modules, grads, weights = model_state(model)
    assert modules == before[0] and grads == before[1]
    assert weights.keys() == before[2].keys() and all(torch.equal(weights[k], before[2][k]) for k in weights)
