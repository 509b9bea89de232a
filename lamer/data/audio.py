"""Decode any clip libsndfile reads (MP3, Ogg/Opus, WAV, FLAC) to 16 kHz mono 16-bit files.

Resampling uses soxr (a polyphase resampler, about 3x faster than
``scipy.signal.resample_poly`` on 48 kHz speech at equal quality). Files are written to a
temporary name and renamed, so a dump file that exists is always complete.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

TARGET_RATE = 16000
AUDIO_FORMATS = {"wav": "WAV", "flac": "FLAC"}


def load_mono(source: Path | bytes, target_rate: int = TARGET_RATE) -> np.ndarray:
    """Samples of a clip (file path or encoded bytes) as float32 mono at ``target_rate`` Hz."""
    data, rate = sf.read(io.BytesIO(source) if isinstance(source, bytes) else source, dtype="float32", always_2d=True)
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if rate != target_rate:
        mono = soxr.resample(mono, rate, target_rate, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def read_prepared(path: str | Path) -> np.ndarray:
    """A file of a prepared data dir (16 kHz mono) as float32 samples.

    Other rates or channel counts are an error naming the file: a model must never see audio
    that data preparation did not produce.
    """
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    if rate != TARGET_RATE or data.shape[1] != 1:
        raise ValueError(f"{path}: expected {TARGET_RATE} Hz mono audio, got {rate} Hz with {data.shape[1]} "
                         "channel(s); prepare it with python -m lamer.bin.prepare_data")
    return data[:, 0]


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] as int16, clipped (a resampler may overshoot full scale)."""
    return np.clip(np.round(samples * 32768.0), -32768, 32767).astype(np.int16)


def write_pcm16(samples: np.ndarray, dst: Path, rate: int = TARGET_RATE) -> None:
    """Write mono samples as a 16-bit file (format from the suffix: .wav or .flac), atomically."""
    fmt = AUDIO_FORMATS[dst.suffix.lstrip(".")]
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    sf.write(tmp, to_pcm16(samples), rate, format=fmt, subtype="PCM_16")
    os.replace(tmp, dst)


def convert_clip(source: Path | bytes, dst: Path, target_rate: int = TARGET_RATE) -> int:
    """Decode ``source``, resample to ``target_rate`` mono and write ``dst``; returns its samples.

    An existing ``dst`` is kept (it is complete, see module doc) so an interrupted preparation
    resumes where it stopped.
    """
    if dst.exists():
        return sf.info(dst).frames
    samples = load_mono(source, target_rate)
    if samples.size == 0:
        raise ValueError("no audio samples")
    write_pcm16(samples, dst, target_rate)
    return int(samples.size)
