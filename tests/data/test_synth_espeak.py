"""espeak-ng through the espeakng-loader wheel: every language voice and speaker variant speaks."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from lamer.data.synth import SynthConfig, generate_corpus
from lamer.data.synth.espeak import get_synthesizer
from lamer.data.synth.language_table import LANGUAGES
from lamer.data.synth.recording import recording_like, resample
from lamer.data.synth.speakers import FEMALE_VARIANTS, MALE_VARIANTS
from lamer.data.synth.vocabulary import word_list

SETTINGS = dict(rate=175, pitch=50, pitch_range=50, word_gap=0, seed=1)


@pytest.mark.parametrize("key", sorted(LANGUAGES))
def test_every_language_voice_speaks(key):
    synth = get_synthesizer()
    text = " ".join(word_list(key, 5))
    audio = synth.synthesize(text, f"{LANGUAGES[key].espeak_voice}+m1", **SETTINGS)
    assert synth.sample_rate == 22050
    assert audio.dtype == np.int16 and 0.3 < audio.size / 22050 < 5.0
    assert np.abs(audio).max() > 1000
    # Read in the language's own voice: no word switched to another language (espeak-ng's "(en)"),
    # which is how it reads a script its voice does not know.
    assert synth.spoken_phonemes and not any(p.startswith("(") for p in synth.spoken_phonemes), synth.spoken_phonemes


def _median_f0_hz(audio: np.ndarray, rate: int = 22050) -> float:
    """Median autocorrelation pitch of the loud 40 ms frames."""
    x = audio.astype(np.float64)
    frame, lags = int(0.04 * rate), np.arange(int(rate / 400), int(rate / 60))
    threshold = 0.3 * np.abs(x).max()
    f0 = []
    for start in range(0, x.size - frame - lags[-1], frame):
        chunk = x[start:start + frame]
        if np.abs(chunk).max() > threshold:
            corr = [np.dot(chunk, x[start + lag:start + lag + frame]) for lag in lags]
            f0.append(rate / lags[int(np.argmax(corr))])
    return float(np.median(f0))


def test_variants_give_different_voices():
    synth = get_synthesizer()
    audios = {variant: synth.synthesize("bonjour tout le monde", f"fr+{variant}", **SETTINGS)
              for variant in MALE_VARIANTS + FEMALE_VARIANTS}
    assert len({audio.tobytes() for audio in audios.values()}) == len(audios)
    male = np.mean([_median_f0_hz(audios[v]) for v in MALE_VARIANTS])
    female = np.mean([_median_f0_hz(audios[v]) for v in FEMALE_VARIANTS])
    assert female > 1.4 * male


def test_rate_and_pitch_change_the_audio():
    synth = get_synthesizer()
    text = "a long vowel aaaa and more"
    base = synth.synthesize(text, "en-us+m3", **SETTINGS)
    slow = synth.synthesize(text, "en-us+m3", **{**SETTINGS, "rate": 120})
    high = synth.synthesize(text, "en-us+m3", **{**SETTINGS, "pitch": 95})
    assert slow.size > base.size * 1.2
    assert _median_f0_hz(high) > _median_f0_hz(base) * 1.2


def test_unknown_voice_is_an_error():
    with pytest.raises(ValueError, match="no voice 'xx-nowhere'"):
        get_synthesizer().synthesize("hello", "xx-nowhere", **SETTINGS)


def test_recording_like_pads_scales_and_adds_noise():
    speech = (np.sin(np.arange(22050) / 5.0) * 20000).astype(np.int16)
    rng = np.random.default_rng(0)
    clip = recording_like(speech, 22050, rng)
    assert clip.dtype == np.float32 and clip.size >= speech.size + 2 * 2205
    assert 10 ** (-16.5 / 20) < np.abs(clip).max() < 10 ** (-2.5 / 20)
    assert np.abs(clip[:200]).max() > 0  # the padding carries noise, not digital silence
    assert resample(clip, 22050, 16000).size == pytest.approx(clip.size * 16000 / 22050, abs=1)
    assert resample(clip, 22050, 48000).size == pytest.approx(clip.size * 48000 / 22050, abs=1)


def test_missing_espeak_package_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "espeakng_loader", None)  # how Python marks a module unimportable
    with pytest.raises(ModuleNotFoundError, match="pip install espeakng-loader"):
        generate_corpus(tmp_path, ["en"], SynthConfig(utts_per_lang=3))
    assert list(tmp_path.iterdir()) == []
