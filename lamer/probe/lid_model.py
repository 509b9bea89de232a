"""The probe with an utterance-level language classifier: ESPnet's ASR model plus a LID head.

``model: lamer_lid`` in a probe config (registered by :func:`lamer.probe.asr_task.register_lamer_choices`)
builds :class:`LidASRModel`: ESPnet's ``ESPnetASRModel`` (its ``model_conf`` options unchanged)
plus a :class:`~lamer.probe.lid_head.LanguageHead` that reads, per ``lid_input``, the probe
encoder's output (``encoder``, the default) or the frontend output (``frontend``: the learned
weighted sum of the SSL layers, before specaug and normalisation). Training minimises
``ASR loss + lid_weight * cross-entropy`` and reports ``loss_lid`` and ``acc_lid``.

Why the encoder by default: statistics of frame features say little about the language of an
unseen speaker. Measured on the demo corpus (7 languages, test speakers unseen), a linear
classifier on mean and std pooled features reached 19% test accuracy from the small base
model's layers and 59% from an 80-dim log-mel filterbank; the encoder, trained for CTC over
every language's characters, pools into what the utterance says.

The labels come from the transcripts: every probe transcript starts with its ``[iso]`` tag
token (:mod:`lamer.probe.inputs`), and the classes are the tag tokens of the token list,
in its order. Decoding writes the predicted tag of each utterance to ``1best_recog/lid``.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from espnet2.asr.espnet_model import ESPnetASRModel
from espnet2.torch_utils.device_funcs import force_gatherable

from lamer.data.languages import LANGUAGE_TAG
from lamer.probe.lid_head import LanguageHead

MODEL_NAME = "lamer_lid"
LID_INPUTS = ("encoder", "frontend")
WORD_BOUNDARY = "\u2581"  # sentencepiece puts a lone one before a user-defined symbol starting a line


def language_classes(token_list: Sequence[str]) -> list[str]:
    """The tag tokens (``[iso]``) of a token list, in its order: the classifier's classes."""
    return [token for token in token_list if LANGUAGE_TAG.fullmatch(token)]


class LidASRModel(ESPnetASRModel):
    """ESPnet's ASR model trained jointly with an utterance-level language classifier.

    ``lid_weight`` (> 0) weighs the classifier's cross-entropy against the ASR loss; ``lid_hidden``
    sizes the head's frame-level layer (0: none, see :class:`LanguageHead`); the other options
    are ``ESPnetASRModel``'s. The frontend must report its ``output_size()``.
    """

    def __init__(self, *args, lid_weight: float = 0.3, lid_input: str = "encoder", lid_hidden: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        if not lid_weight > 0:
            raise ValueError(f"model_conf lid_weight must be > 0 (the classifier's share of the loss), "
                             f"got {lid_weight}")
        if lid_input not in LID_INPUTS:
            raise ValueError(f"model_conf lid_input must be one of {LID_INPUTS}, got {lid_input!r}")
        if lid_input == "frontend" and self.frontend is None:
            raise ValueError(f"model: {MODEL_NAME} with lid_input frontend classifies the frontend's features; "
                             "the probe needs a frontend")
        self.lid_input = lid_input
        self.lid_weight = float(lid_weight)
        self.languages = language_classes(self.token_list)
        if not self.languages:
            raise ValueError(f"model: {MODEL_NAME}: the token list has no language tag token ([iso]); build it with "
                             "python -m lamer.bin.probe_data tokens")
        size = self.encoder.output_size() if lid_input == "encoder" else self.frontend.output_size()
        self.lid_head = LanguageHead(size, len(self.languages), lid_hidden)
        classes = torch.full((len(self.token_list),), -1, dtype=torch.long)
        for index, tag in enumerate(self.languages):
            classes[self.token_list.index(tag)] = index
        self.register_buffer("token_class", classes, persistent=False)
        self._lid_in: tuple[torch.Tensor, torch.Tensor] | None = None

    def _extract_feats(self, speech: torch.Tensor, speech_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ESPnet's feature extraction; keeps the frontend output for the classifier of this batch.

        A copy: ``encode`` goes on to normalise the features in place (ESPnet's utterance_mvn
        subtracts the mean from its input tensor), which would leave the classifier's mean at zero."""
        feats, feats_lengths = super()._extract_feats(speech, speech_lengths)
        if self.lid_input == "frontend":
            self._lid_in = (feats.clone(), feats_lengths)
        return feats, feats_lengths

    def encode(self, speech: torch.Tensor, speech_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ESPnet's encoder pass; keeps its output for the classifier of this batch (lid_input encoder)."""
        encoder_out, encoder_out_lens = super().encode(speech, speech_lengths)
        if self.lid_input == "encoder":
            self._lid_in = (encoder_out, encoder_out_lens)
        return encoder_out, encoder_out_lens

    def _take_language_logits(self) -> torch.Tensor:
        """The classifier's logits of the batch whose features were extracted last."""
        if self._lid_in is None:
            raise RuntimeError("no features to classify: call encode() first")
        feats, lengths = self._lid_in
        self._lid_in = None  # drop the reference (and its graph) once used
        return self.lid_head(feats, lengths)

    def encode_with_language(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``encode``'s output and the language logits ``(batch, len(languages))`` of one pass."""
        encoder_out, encoder_out_lens = self.encode(speech, speech_lengths)
        return encoder_out, encoder_out_lens, self._take_language_logits()

    def classify_languages(self, speech: torch.Tensor, speech_lengths: torch.Tensor) -> torch.Tensor:
        """The language logits ``(batch, len(languages))`` of a batch (the frontend, and the encoder
        when the classifier reads it)."""
        if self.lid_input == "encoder":
            self.encode(speech, speech_lengths)
        else:
            self._extract_feats(speech, speech_lengths)
        return self._take_language_logits()

    def language_targets(self, text: torch.Tensor, text_lengths: torch.Tensor,
                         utt_id: Sequence[str] | None = None) -> torch.Tensor:
        """The class of each transcript's leading tag token; a transcript that does not start with
        a tag is an error naming the utterance."""
        first = text[:, 0].clone()
        boundary = self.token_list.index(WORD_BOUNDARY) if WORD_BOUNDARY in self.token_list else None
        if boundary is not None:
            shifted = (first == boundary) & (text_lengths > 1)
            first[shifted] = text[shifted, 1]
        targets = self.token_class[first.clamp_min(0)]
        targets[first < 0] = -1
        bad = (targets < 0).nonzero().flatten().tolist()
        if bad:
            i = bad[0]
            name = utt_id[i] if utt_id is not None else f"number {i} of the batch"
            token = self.token_list[int(first[i])] if int(first[i]) >= 0 else "nothing"
            raise ValueError(f"utterance {name}: its transcript starts with {token!r}, not a language tag "
                             f"({', '.join(self.languages)}); the probe's text must be '[iso] transcript' "
                             "(python -m lamer.bin.probe_data)")
        return targets

    def forward(self, speech: torch.Tensor, speech_lengths: torch.Tensor, text: torch.Tensor,
                text_lengths: torch.Tensor, **kwargs):
        """ESPnet's ASR loss plus ``lid_weight`` times the classifier's cross-entropy."""
        targets = self.language_targets(text, text_lengths, kwargs.get("utt_id"))
        loss, stats, weight = super().forward(speech, speech_lengths, text, text_lengths, **kwargs)
        logits = self._take_language_logits()
        loss_lid = torch.nn.functional.cross_entropy(logits, targets)
        stats["loss_asr"] = stats["loss"]
        stats["loss_lid"] = loss_lid.detach()
        stats["acc_lid"] = (logits.argmax(-1) == targets).float().mean().detach()
        loss = loss + self.lid_weight * loss_lid
        stats["loss"] = loss.detach()
        return force_gatherable((loss, stats, weight), loss.device)

    def predict_languages(self, logits: torch.Tensor) -> list[str]:
        """The tag token (``[iso]``) of the most likely class of each row of ``logits``."""
        return [self.languages[i] for i in logits.argmax(-1).tolist()]
