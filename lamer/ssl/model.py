"""The ESPnet model of continual SSL training: masked upstream + HuBERT head + loss."""
from __future__ import annotations

import torch
from espnet2.torch_utils.device_funcs import force_gatherable
from espnet2.train.abs_espnet_model import AbsESPnetModel

from lamer.adapters import patch_state, routing_languages, routing_losses
from lamer.ssl.encoder import MaskedUpstream
from lamer.ssl.hubert_head import HubertHead, masked_prediction_loss
from lamer.ssl.masking import span_mask


class MaskedPredictionModel(AbsESPnetModel):
    """HuBERT masked prediction of k-means labels from a (possibly Lamer-patched) upstream.

    ``forward(speech, speech_lengths, labels, labels_lengths[, lang])`` returns
    ESPnet's ``(loss, stats, weight)``. ``labels`` must hold exactly one label per upstream
    frame. ``lang`` (indices into the adapter config's ``languages``) feeds language routing.
    ``predict_layer`` picks the layer whose output is scored (-1: the last).
    """

    def __init__(self, encoder: MaskedUpstream, head: HubertHead, mask_prob: float = 0.8, mask_length: int = 10,
                 unmasked_weight: float = 0.0, predict_layer: int = -1) -> None:
        super().__init__()
        self.encoder, self.head = encoder, head
        self.mask_prob, self.mask_length = mask_prob, mask_length
        self.unmasked_weight, self.predict_layer = unmasked_weight, predict_layer

    def forward(self, speech: torch.Tensor, speech_lengths: torch.Tensor, labels: torch.Tensor,
                labels_lengths: torch.Tensor, lang: torch.Tensor | None = None, utt_id: list[str] | None = None):
        frames = self.encoder.frame_lengths(speech_lengths)
        if not torch.equal(frames.cpu(), labels_lengths.cpu()):
            bad = (frames.cpu() != labels_lengths.cpu()).nonzero()[0, 0].item()
            name = utt_id[bad] if utt_id else f"an utterance of {int(speech_lengths[bad])} samples"
            raise ValueError(f"{name} has {int(labels_lengths[bad])} "
                             f"labels but the upstream makes {int(frames[bad])} frames of its "
                             f"{int(speech_lengths[bad])} samples: make the labels "
                             "with python -m lamer.bin.ssl_targets for this upstream's frame rate")
        max_frames = int(frames.max())
        mask = span_mask(frames.cpu(), max_frames, self.mask_prob,
                         self.mask_length).to(speech.device)
        state = patch_state(self.encoder.upstream)
        languages = lang.reshape(-1) if lang is not None and state is not None else None
        if languages is None and state is not None and self.training and (
                state.config.specialise_weight > 0 or state.config.router == "oracle"):
            # without it the oracle would train its uniform fallback, silently
            need = "router oracle" if state.config.router == "oracle" else "specialise_weight > 0"
            raise ValueError(f"{need} needs the language of every training utterance: give ssl_train "
                             "--train_data_path_and_name_and_type <targets>/lang,lang,text_int (python -m "
                             "lamer.bin.ssl_targets --languages writes it) and the adapter config's languages")
        if languages is not None:
            with routing_languages(self.encoder.upstream, languages):
                layers = self.encoder(speech, speech_lengths, mask)
        else:
            layers = self.encoder(speech, speech_lengths, mask)
        hidden = layers[self.predict_layer]
        logits = self.head(hidden)
        valid = torch.arange(max_frames, device=speech.device)[None, :] < frames.to(speech.device)[:, None]
        result = masked_prediction_loss(logits, labels[:, :max_frames], mask, valid, self.unmasked_weight)
        routing = {name: term.to(result.loss.device) for name, term in routing_losses(self.encoder.upstream).items()}
        loss = result.loss + sum(routing.values()) if routing else result.loss
        stats = {"loss": loss.detach(), "loss_masked": result.masked, "loss_unmasked": result.unmasked,
                 "acc_masked": result.acc_masked.detach(), "acc_unmasked": result.acc_unmasked.detach()}
        stats.update({f"loss_{name}": term.detach() for name, term in routing.items()})
        # force_gatherable: 1-d tensors, as DataParallel / torch.distributed averaging expects
        return force_gatherable((loss, stats, speech.shape[0]), loss.device)

    def collect_feats(self, speech: torch.Tensor, speech_lengths: torch.Tensor, **_batch) -> dict[str, torch.Tensor]:
        return {"feats": speech, "feats_lengths": speech_lengths}
