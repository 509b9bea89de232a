"""The language classifier run alone over a test set, after ESPnet's beam search: its search loop
does not expose the frontend, so the probe's frontend and classifier read the audio once more
and :class:`~lamer.probe.lid_output.LidWriter` writes ``OUTPUT_DIR/1best_recog/lid``, as greedy
decoding does in its own pass (:mod:`lamer.probe.greedy`).
"""
from __future__ import annotations

from pathlib import Path

import torch

from lamer.probe.decode_split import RESULT_DIR
from lamer.probe.greedy import audio_batches, load_probe
from lamer.probe.lid_output import LidWriter


def classify_wav_scp(train_config: Path, model_file: Path, wav_scp: Path, output_dir: Path,
                     batch_size: int = 1, device: str = "cpu", allow_pipes: bool = False) -> Path | None:
    """Write ``output_dir/1best_recog/lid`` for the utterances of ``wav_scp`` when the probe has a
    classifier (returns its path); otherwise remove a stale one (returns None). Entries that run
    a command are run only with ``allow_pipes``."""
    model, _ = load_probe(train_config, model_file, device)
    writer = LidWriter(model)
    result_dir = Path(output_dir) / RESULT_DIR
    if writer.tags is None:
        return writer.write(result_dir, [])
    utterances, batches = audio_batches(wav_scp, batch_size, allow_pipes)
    with torch.no_grad():
        for batch, speech, lengths in batches:
            writer.classify(speech.to(device), lengths.to(device), batch)
    result_dir.mkdir(parents=True, exist_ok=True)
    return writer.write(result_dir, utterances)
