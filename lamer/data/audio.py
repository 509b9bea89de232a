"""Decode any clip libsndfile reads (MP3, Ogg/Opus, WAV, FLAC) to 16 kHz mono 16-bit files.

Resampling uses soxr (a polyphase resampler, about 3x faster than
``scipy.signal.resample_poly`` on 48 kHz speech at equal quality). Files are written to a
temporary name and renamed (:mod:`lamer.atomic`), so a dump file that exists is always complete.

A dump file records in its comment tag where it came from (:func:`source_stamp`: the source
file's size and modification time, or the SHA-256 of an archive member's bytes). A dump file
is reused only while its source is unchanged: a clip re-encoded after a fix is decoded again.
"""
from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from lamer.atomic import write_atomic
from lamer.data.errors import disk_full_stops

TARGET_RATE = 16000
AUDIO_FORMATS = {"wav": "WAV", "flac": "FLAC"}


def load_mono(source: Path | bytes, target_rate: int = TARGET_RATE) -> np.ndarray:
    """Samples of a clip (file path or encoded bytes) as float32 mono at ``target_rate`` Hz."""
    data, rate = sf.read(io.BytesIO(source) if isinstance(source, bytes) else source, dtype="float32", always_2d=True)
    return mono_at(data, rate, target_rate)


def mono_at(data: np.ndarray, rate: int, target_rate: int = TARGET_RATE) -> np.ndarray:
    """Samples x channels at ``rate`` Hz as float32 mono (the mean of the channels) at ``target_rate`` Hz."""
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
    return prepared_samples(data, rate, path)


def prepared_samples(data: np.ndarray, rate: int, source: str | Path) -> np.ndarray:
    """The one channel of ``data`` (samples, or samples x channels) read from ``source``, after
    checking it is what data preparation writes (see :func:`read_prepared`)."""
    channels = 1 if data.ndim == 1 else data.shape[1]
    if rate != TARGET_RATE or channels != 1:
        raise ValueError(f"{source}: expected {TARGET_RATE} Hz mono audio, got {rate} Hz with {channels} "
                         "channel(s); prepare it with python -m lamer.bin.prepare_data, or write it so with "
                         "python -m lamer.bin.datadir format")
    return data.reshape(-1)


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] as int16, clipped (a resampler may overshoot full scale)."""
    return np.clip(np.round(samples * 32768.0), -32768, 32767).astype(np.int16)


def write_pcm16(samples: np.ndarray, dst: Path, rate: int = TARGET_RATE, comment: str = "") -> None:
    """Write mono samples as a 16-bit file (format from the suffix: .wav or .flac), atomically,
    with ``comment`` in its comment tag when given. A full disk raises :class:`DiskFull`."""
    fmt = AUDIO_FORMATS[dst.suffix.lstrip(".")]
    # encoded in memory (a clip is a few MB at most) and written by Python: libsndfile reports a
    # failed write without its errno, and a full disk must not pass for a bad clip
    encoded = io.BytesIO()
    with sf.SoundFile(encoded, "w", rate, 1, "PCM_16", format=fmt) as out:
        if comment:
            out.comment = comment
        out.write(to_pcm16(samples))
    with disk_full_stops(dst):
        write_atomic(dst, lambda handle: handle.write(encoded.getvalue()))


def source_stamp(source: Path | bytes) -> str:
    """What identifies a version of a clip: size and modification time of a file (cheap on a
    large corpus), the SHA-256 of encoded bytes (an archive member, already in memory)."""
    if isinstance(source, bytes):
        return f"lamer-source sha256={hashlib.sha256(source).hexdigest()}"
    stat = os.stat(source)
    return f"lamer-source size={stat.st_size} mtime_ns={stat.st_mtime_ns}"


def _reusable_frames(dst: Path, stamp: str) -> int | None:
    """Samples of an existing dump file made from the same source version, else None."""
    try:
        with sf.SoundFile(dst) as existing:
            return existing.frames if existing.comment == stamp else None
    except (sf.LibsndfileError, OSError):
        return None


def convert_clip(source: Path | bytes, dst: Path, target_rate: int = TARGET_RATE) -> int:
    """Decode ``source``, resample to ``target_rate`` mono and write ``dst``; returns its samples.

    An existing ``dst`` made from the same version of ``source`` is kept (it is complete, see
    module doc) so an interrupted preparation resumes where it stopped; one made from another
    version, or without a record of its source, is replaced.
    """
    stamp = source_stamp(source)
    frames = _reusable_frames(dst, stamp)
    if frames is not None:
        return frames
    samples = load_mono(source, target_rate)
    if samples.size == 0:
        raise ValueError("no audio samples")
    write_pcm16(samples, dst, target_rate, stamp)
    return int(samples.size)
