"""Synthesise planned utterances and write their audio files (runs in worker processes)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from lamer.data.synth.corpus_plan import PlannedUtterance
from lamer.data.synth.espeak import get_synthesizer
from lamer.data.synth.recording import recording_like, resample

CV_SAMPLE_RATE = 48000
FLEURS_SAMPLE_RATE = 16000
# Per-utterance variation of a speaker's rate (relative) and pitch (points on 0-100).
RATE_JITTER = 0.08
PITCH_JITTER = 5


@dataclass(frozen=True)
class RenderTask:
    """A shard of utterances and the folders their audio goes to."""

    utterances: tuple[PlannedUtterance, ...]
    cv_clip_dir: Path
    """Folder for the Common Voice MP3s (``<locale>/clips``)."""
    fleurs_wav_dir: Path
    """Folder holding one sub-folder per split for the FLEURS WAVs."""


@dataclass(frozen=True)
class RenderedUtterance:
    """Lengths of the files written for one utterance."""

    index: int
    cv_samples: int
    """Samples at 48 kHz in the MP3."""
    fleurs_samples: int
    """Samples at 16 kHz in the WAV."""


def _speak(utt: PlannedUtterance, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    synth = get_synthesizer()
    speaker = utt.speaker
    speech = synth.synthesize(
        utt.sentence.raw,
        f"{utt.lang.espeak_voice}+{speaker.variant}",
        rate=int(round(speaker.rate * (1.0 + rng.uniform(-RATE_JITTER, RATE_JITTER)))),
        pitch=int(np.clip(speaker.pitch + rng.integers(-PITCH_JITTER, PITCH_JITTER + 1), 0, 100)),
        pitch_range=speaker.pitch_range,
        word_gap=speaker.word_gap,
        seed=utt.seed,
    )
    return speech, synth.sample_rate


def render_shard(task: RenderTask) -> list[RenderedUtterance]:
    """Synthesise every utterance of ``task`` in order; write a 48 kHz mono MP3 and a 16 kHz
    16-bit WAV of the same recording for each."""
    rendered = []
    for utt in task.utterances:
        rng = np.random.default_rng(utt.seed)
        speech, rate = _speak(utt, rng)
        clip = recording_like(speech, rate, rng)
        cv_audio = resample(clip, rate, CV_SAMPLE_RATE)
        fleurs_audio = resample(clip, rate, FLEURS_SAMPLE_RATE)
        sf.write(task.cv_clip_dir / utt.cv_clip, cv_audio, CV_SAMPLE_RATE, format="MP3")
        sf.write(task.fleurs_wav_dir / utt.split / utt.fleurs_file, fleurs_audio, FLEURS_SAMPLE_RATE,
                 format="WAV", subtype="PCM_16")
        rendered.append(RenderedUtterance(utt.index, len(cv_audio), len(fleurs_audio)))
    return rendered
