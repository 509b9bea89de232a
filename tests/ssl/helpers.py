"""Tiny synthetic speech-like data for SSL engine tests: tones and noise, per language."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from lamer.data.datadir_io import Utterance, write_data_dir

RATE = 16000


def make_data_dir(root: Path, lang: str, count: int, seed: int, min_s: float = 0.4, max_s: float = 1.0) -> Path:
    """A Kaldi data dir of ``count`` random tone sequences (one pitch range per language)."""
    rng = np.random.default_rng(seed)
    base = 150 + 120 * (sum(map(ord, lang)) % 7)
    wav_dir = root / "wav" / lang
    wav_dir.mkdir(parents=True, exist_ok=True)
    utts = []
    for i in range(count):
        samples = int(rng.uniform(min_s, max_s) * RATE)
        t = np.arange(samples) / RATE
        segments = np.repeat(rng.uniform(base, 2 * base, size=samples // 1600 + 1), 1600)[:samples]
        wav = 0.3 * np.sin(2 * np.pi * np.cumsum(segments) / RATE) + 0.02 * rng.standard_normal(samples)
        wav *= 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
        speaker = f"{lang}spk{i % 2}"
        utt = f"{speaker}-{lang}{i:03d}"
        path = wav_dir / f"{utt}.wav"
        sf.write(path, wav.astype(np.float32), RATE, subtype="PCM_16")
        utts.append(Utterance(utt, speaker, lang, "x", str(path), samples / RATE))
    return write_data_dir(utts, root / "data" / lang)


def training_args(dump: Path, out: Path, *extra: str) -> list[str]:
    """ssl_train options for a dump made by ssl_targets, training and validating on it, CPU."""
    return [
        "--train_data_path_and_name_and_type", f"{dump}/wav.scp,speech,sound",
        "--train_data_path_and_name_and_type", f"{dump}/labels,labels,text_int",
        "--train_shape_file", f"{dump}/speech_shape",
        "--valid_data_path_and_name_and_type", f"{dump}/wav.scp,speech,sound",
        "--valid_data_path_and_name_and_type", f"{dump}/labels,labels,text_int",
        "--valid_shape_file", f"{dump}/speech_shape",
        "--output_dir", str(out), "--ngpu", "0", "--num_workers", "0", "--use_tensorboard", "false",
        "--use_matplotlib", "false", "--num_att_plot", "0", "--batch_type", "sorted",
        "--log_interval", "1", "--valid_batch_size", "64", *extra,
    ]
