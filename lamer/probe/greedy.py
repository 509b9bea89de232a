"""Greedy CTC decoding of a CTC-only probe: ESPnet's model and tokenizer, no beam search.

ESPnet's beam search runs a full CTC prefix scorer at every output step (1-2 s per utterance
on a CPU for the demo probe); for a CTC-only model, best-path decoding (argmax per frame,
repeats collapsed, blanks dropped) is the standard cheap alternative and runs in batches.
The output is ESPnet's layout, ``OUTPUT_DIR/1best_recog/text``, and, for a probe with a
language classifier (``model: lamer_lid``), ``OUTPUT_DIR/1best_recog/lid``
(:mod:`lamer.probe.lid_output`).
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from lamer.atomic import write_text_atomic
from lamer.data.wav_scp import audio_frames, read_audio, read_wav_scp
from lamer.layout import DecodeDir
from lamer.probe.decode_split import RESULT_DIR
from lamer.probe.lid_output import LidWriter

log = logging.getLogger(__name__)


def collapse(best_path: list[int], blank: int) -> list[int]:
    """CTC best path to label ids: merge repeats, then drop blanks."""
    out, previous = [], None
    for token in best_path:
        if token != previous and token != blank:
            out.append(token)
        previous = token
    return out


def load_probe(train_config: Path, model_file: Path, device: str):
    """ESPnet's model and training arguments of a probe, in eval mode, for decoding."""
    from espnet2.tasks.asr import ASRTask

    from lamer.probe.frontend import CachedUpstream

    model, args = ASRTask.build_model_from_file(train_config, model_file, device)
    model.eval()
    if isinstance(getattr(model.frontend, "upstream", None), CachedUpstream):
        # a training-time cache (feature_cache_mb): decoding sees each utterance once, so it
        # would only hold every utterance's features until its budget is full
        model.frontend.upstream = model.frontend.upstream.upstream
    return model, args


Batch = tuple[list[str], torch.Tensor, torch.Tensor]  # utterance ids, zero-padded waveforms, lengths


def audio_batches(wav_scp: Path, batch_size: int, allow_pipes: bool = False) -> tuple[list[str], Iterator[Batch]]:
    """The utterances of ``wav_scp`` in file order, and their audio in batches of ``batch_size``
    (utterance ids, zero-padded waveforms, lengths), utterances of similar length together.

    With ``batch_size`` 1 each output depends on its utterance alone; larger batches are faster,
    but a group-normalised CNN (HuBERT base) sees the padding of a batch. Audio is read a batch
    at a time (lengths come from the file headers), so memory does not grow with the list.
    Entries are read by :mod:`lamer.data.wav_scp`: one that runs a command is refused unless
    ``allow_pipes``, one that cannot be read is an error naming its line.
    """
    utterances = {entry.utt: entry for entry in read_wav_scp(wav_scp, allow_pipes)}
    order = list(utterances)
    if batch_size > 1:  # similar lengths share a batch: less padding (one alone needs no lengths)
        samples = {utt: audio_frames(entry, allow_pipes) for utt, entry in utterances.items()}
        order.sort(key=samples.__getitem__)

    def batches() -> Iterator[Batch]:
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            audio = [read_audio(utterances[utt], allow_pipes) for utt in batch]
            lengths = torch.tensor([len(wav) for wav in audio])
            speech = torch.zeros(len(batch), int(lengths.max()))
            for i, wav in enumerate(audio):
                speech[i, : len(wav)] = torch.from_numpy(np.asarray(wav))
            yield batch, speech, lengths
            log.info("decoded %d/%d utterances", min(start + batch_size, len(order)), len(order))

    return list(utterances), batches()


def greedy_decode(train_config: Path, model_file: Path, wav_scp: Path, output_dir: Path,
                  batch_size: int = 1, device: str = "cpu", allow_pipes: bool = False) -> Path:
    """Decode every utterance of ``wav_scp``; returns the path of the hypothesis text file, whose
    lines follow ``wav_scp``'s order (as ESPnet's inference writes them). A probe with a language
    classifier also gets its ``lid`` file beside it, in the same order. Entries that run a
    command are run only with ``allow_pipes``."""
    from espnet2.text.build_tokenizer import build_tokenizer
    from espnet2.text.token_id_converter import TokenIDConverter

    model, args = load_probe(train_config, model_file, device)
    converter = TokenIDConverter(token_list=model.token_list)
    tokenizer = build_tokenizer(token_type=args.token_type, bpemodel=getattr(args, "bpemodel", None))
    lid = LidWriter(model)
    utterances, batches = audio_batches(wav_scp, batch_size, allow_pipes)
    hyps: dict[str, str] = {}
    with torch.no_grad():
        for batch, speech, lengths in batches:
            enc, enc_lens = lid.encode(speech.to(device), lengths.to(device), batch)
            best, enc_lens = model.ctc.argmax(enc).cpu(), enc_lens.cpu()
            for i, utt in enumerate(batch):
                ids = collapse(best[i, : enc_lens[i]].tolist(), model.blank_id)
                hyps[utt] = tokenizer.tokens2text(converter.ids2tokens(ids))
    out = Path(output_dir) / RESULT_DIR / DecodeDir.TEXT
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, "".join(f"{utt} {hyps[utt]}\n" for utt in utterances))
    lid.write(out.parent, utterances)
    return out
