"""A tiny tone corpus that a probe can learn in seconds: every character is a tone.

Two languages share the letters ``a b c`` and differ in the pitch range they are spoken in,
so both the transcript and the language can be read from the audio.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from lamer.data.datadir_io import Utterance, write_data_dir

RATE = 16000
CHAR_SECONDS = 0.12
LETTERS = "abc"
PITCH = {"eng": {"a": 300.0, "b": 500.0, "c": 700.0, " ": 0.0},
         "fra": {"a": 1100.0, "b": 1400.0, "c": 1700.0, " ": 0.0}}


def render(text: str, lang: str, rng: np.random.Generator) -> np.ndarray:
    """One tone per character (silence for a space), with a little noise."""
    t = np.arange(int(CHAR_SECONDS * RATE)) / RATE
    parts = [0.4 * np.sin(2 * np.pi * PITCH[lang][ch] * t) for ch in text]
    audio = np.concatenate(parts) + 0.01 * rng.standard_normal(len(parts) * len(t))
    return audio.astype(np.float32)


def write_tone_corpus(root: Path, split: str, per_lang: int, seed: int) -> dict[str, Path]:
    """Write ``root/<lang>/<split>`` Kaldi data dirs; returns {lang: dir}."""
    rng = np.random.default_rng(seed)
    dirs = {}
    for lang in PITCH:
        wav_dir = root / "wav" / lang / split
        wav_dir.mkdir(parents=True, exist_ok=True)
        utts = []
        for i in range(per_lang):
            words = [''.join(rng.choice(list(LETTERS), size=rng.integers(2, 4))) for _ in range(rng.integers(2, 4))]
            text = " ".join(words)
            audio = render(text, lang, rng)
            speaker = f"{lang}{split}spk{i % 2}"
            utt_id = f"{speaker}-{i:03d}"
            wav = wav_dir / f"{utt_id}.wav"
            sf.write(wav, audio, RATE, subtype="PCM_16")
            utts.append(Utterance(utt_id, speaker, lang, text, str(wav), len(audio) / RATE))
        dirs[lang] = write_data_dir(utts, root / lang / split)
    return dirs
