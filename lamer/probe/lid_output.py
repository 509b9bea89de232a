"""The language classifier's decoding output: ``OUTPUT_DIR/1best_recog/lid``, ``<utt> [iso]`` lines.

Both decoders write it through :class:`LidWriter`: greedy decoding classifies in the same pass
as it encodes (:mod:`lamer.probe.greedy`); after ESPnet's beam search, whose search loop does
not expose the frontend, :func:`lamer.probe.lid_classify.classify_wav_scp` runs the probe's
frontend and classifier over the test set once more. For a probe without a classifier the writer
removes a ``lid`` file an earlier decoding left there, so a score never reads another model's
predictions.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from lamer.atomic import write_text_atomic
from lamer.layout import DecodeDir

LID_FILE = DecodeDir.LID


class LidWriter:
    """Collects the classifier's predicted tag per utterance while decoding with ``model``."""

    def __init__(self, model: torch.nn.Module):
        self.model = model
        self.tags: dict[str, str] | None = {} if callable(getattr(model, "encode_with_language", None)) else None

    def encode(self, speech: torch.Tensor, lengths: torch.Tensor,
               utterances: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's ``encode`` output; the classifier's predictions of ``utterances`` are kept."""
        if self.tags is None:
            return self.model.encode(speech, lengths)
        encoder_out, encoder_out_lens, logits = self.model.encode_with_language(speech, lengths)
        self.tags.update(zip(utterances, self.model.predict_languages(logits)))
        return encoder_out, encoder_out_lens

    def classify(self, speech: torch.Tensor, lengths: torch.Tensor, utterances: Sequence[str]) -> None:
        """Keep the classifier's predictions of ``utterances`` (frontend and classifier only)."""
        self.tags.update(zip(utterances, self.model.predict_languages(self.model.classify_languages(speech, lengths))))

    def write(self, result_dir: Path, utterances: Sequence[str]) -> Path | None:
        """Write ``result_dir/lid`` in the order of ``utterances`` (every one must have been
        classified); without a classifier remove a stale one and return None."""
        target = Path(result_dir) / LID_FILE
        if self.tags is None:
            target.unlink(missing_ok=True)
            return None
        missing = [utt for utt in utterances if utt not in self.tags]
        if missing:
            raise ValueError(f"{target}: {len(missing)} utterance(s) were not classified, e.g. {missing[0]}")
        write_text_atomic(target, "".join(f"{utt} {self.tags[utt]}\n" for utt in utterances))
        return target
