"""Turn a clean synthesised utterance into a recording-like clip, and resample it.

Each utterance gets silence before and after (as a volunteer's recording has), a random level
and white noise at a random signal-to-noise ratio, all drawn from the utterance's own random
generator so the clip does not depend on what else is generated.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.signal import resample_poly

PAD_SECONDS = (0.1, 0.5)
PEAK_DB = (-16.0, -3.0)
SNR_DB = (20.0, 45.0)


def recording_like(speech: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Pad, scale and add noise to int16 ``speech``; return float32 samples in [-1, 1]."""
    clean = speech.astype(np.float32) / 32768.0
    peak = float(np.max(np.abs(clean)))
    if peak == 0.0:
        raise ValueError("synthesised speech is silent")
    gain = 10.0 ** (rng.uniform(*PEAK_DB) / 20.0) / peak
    speech_rms = float(np.sqrt(np.mean(np.square(clean * gain))))
    lead, tail = (int(rng.uniform(*PAD_SECONDS) * sample_rate) for _ in range(2))
    clip = np.concatenate([np.zeros(lead, np.float32), clean * gain, np.zeros(tail, np.float32)])
    noise_rms = speech_rms / 10.0 ** (rng.uniform(*SNR_DB) / 20.0)
    clip += rng.standard_normal(clip.size).astype(np.float32) * noise_rms
    return np.clip(clip, -1.0, 1.0)


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited polyphase resampling of float32 mono audio."""
    common = math.gcd(from_rate, to_rate)
    out = resample_poly(audio, to_rate // common, from_rate // common).astype(np.float32)
    return np.clip(out, -1.0, 1.0)
