"""HuBERT's masked-prediction head, carried over from a pretraining checkpoint.

A fairseq HuBERT checkpoint holds, beside the encoder, ``final_proj`` (hidden -> F) and
``label_embs_concat`` (one F-dim embedding per k-means class, all dictionaries stacked). The
SSL engine continues pretraining with this head when a checkpoint has one, so the targets
keep the meaning they had; other checkpoints (transformers, wav2vec2) give no head.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)

HEAD_KEYS = ("final_proj.weight", "final_proj.bias", "label_embs_concat")


@dataclass
class PretrainingHead:
    """Tensors and settings of a HuBERT prediction head.

    ``final_proj_weight`` is (F, D), or (F * n, D) with ``untie_final_proj`` (one projection
    per label dictionary); ``label_embeddings`` is (sum of classes, F); ``symbols`` holds
    the label dictionaries' symbols (class names in order).
    """

    final_proj_weight: torch.Tensor
    final_proj_bias: torch.Tensor
    label_embeddings: torch.Tensor
    symbols: list[list[str]]
    logit_temperature: float = 0.1
    untie_final_proj: bool = False

    @property
    def num_classes(self) -> list[int]:
        return [len(s) for s in self.symbols]

    def logits(self, features: torch.Tensor) -> list[torch.Tensor]:
        """Class logits (..., K_i) per dictionary for encoder outputs ``features`` (..., D).

        As in HuBERT: cosine similarity between the projected frame and every label
        embedding, divided by the temperature.
        """
        projected = F.linear(features, self.final_proj_weight.to(features.dtype),
                             self.final_proj_bias.to(features.dtype))
        n = len(self.symbols)
        parts = projected.chunk(n, dim=-1) if self.untie_final_proj else [projected] * n
        embeddings = self.label_embeddings.to(features.dtype).split(self.num_classes, dim=0)
        return [F.cosine_similarity(part.unsqueeze(-2), emb, dim=-1) / self.logit_temperature
                for part, emb in zip(parts, embeddings)]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The head under the parameter names of s3prl's / fairseq's HubertModel."""
        return dict(zip(HEAD_KEYS, (self.final_proj_weight, self.final_proj_bias, self.label_embeddings)))


def hubert_head(state: dict[str, torch.Tensor], model_cfg: dict, symbols: list[list[str]] | None,
                source: str) -> PretrainingHead | None:
    """The head in a HuBERT state dict, or None when the checkpoint has none (or an unusual one)."""
    if any(key not in state for key in HEAD_KEYS) or not symbols:
        return None
    if model_cfg.get("target_glu"):
        logger.warning("%s: HuBERT head with target_glu is not carried over; the SSL engine "
                       "will start a new head", source)
        return None
    head = PretrainingHead(*(state[key].detach().clone() for key in HEAD_KEYS), symbols=[list(s) for s in symbols],
                           logit_temperature=float(model_cfg.get("logit_temp", 0.1)),
                           untie_final_proj=bool(model_cfg.get("untie_final_proj", False)))
    if head.label_embeddings.shape[0] != sum(head.num_classes):
        raise ValueError(f"{source}: label_embs_concat has {head.label_embeddings.shape[0]} rows but the "
                         f"label dictionaries have {sum(head.num_classes)} symbols")
    return head


def drop_head(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` (an s3prl HuBERT) without its prediction head, for a checkpoint that has none
    (a transformers HuBERT, a lamer file with a placeholder head): s3prl's class always builds
    one, but feature extraction never uses it, and parameter counts must be of what the
    checkpoint holds."""
    model.final_proj = None
    model.label_embs_concat = None
    return model


def placeholder_head(model_cfg: dict, defaults: dict, symbols: list[list[str]]) -> dict[str, torch.Tensor]:
    """Zero tensors under ``HEAD_KEYS``, shaped as s3prl's HuBERT class builds its head from
    ``model_cfg`` (over s3prl's ``defaults``) and ``symbols``: s3prl's ``hubert_local`` loads a
    converted checkpoint strictly, so a file of a model without a head must still hold one."""
    cfg = {**defaults, **model_cfg}
    hidden = int(cfg["encoder_embed_dim"])
    final_dim = int(cfg.get("final_dim") or 0) or hidden
    rows = final_dim * len(symbols) if cfg.get("untie_final_proj") else final_dim
    return dict(zip(HEAD_KEYS, (torch.zeros(rows, hidden), torch.zeros(rows),
                                torch.zeros(sum(len(s) for s in symbols), final_dim))))


def label_symbols(model: torch.nn.Module, default: int = 100) -> list[list[str]]:
    """The label dictionary an s3prl HuBERT file of ``model`` names: one symbol per row of its
    ``label_embs_concat``, or ``default`` (the k-means classes of a new head) without a head."""
    labels = model.label_embs_concat
    return [[str(i) for i in range(default if labels is None else labels.shape[0])]]
