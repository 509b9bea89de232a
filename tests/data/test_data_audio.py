"""Audio conversion: 48 kHz MP3 and stereo input to 16 kHz mono PCM16, pitch and length preserved."""
import io
import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from lamer.bench import data as bench_data
from lamer.data.audio import convert_clip, to_pcm16


def _peak_hz(samples, rate):
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return np.argmax(spectrum) * rate / len(samples)


def test_mp3_48k_to_16k_keeps_pitch_and_length(tmp_path):
    t = np.arange(48000 * 2) / 48000
    sf.write(tmp_path / "a.mp3", (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), 48000, format="MP3")
    frames = convert_clip(tmp_path / "a.mp3", tmp_path / "a.wav")
    out, rate = sf.read(tmp_path / "a.wav")
    info = sf.info(tmp_path / "a.wav")
    assert (rate, info.channels, info.subtype, frames) == (16000, 1, "PCM_16", len(out))
    assert abs(len(out) / 16000 - 2.0) < 0.02
    assert abs(_peak_hz(out, 16000) - 1000) < 5
    assert 0.3 < np.sqrt(np.mean(out[1600:-1600] ** 2)) < 0.4  # 0.5 amplitude sine: RMS 0.354


def test_stereo_bytes_source_and_resume(tmp_path):
    t = np.arange(44100) / 44100
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t)], axis=1) * 0.25
    buffer = io.BytesIO()
    sf.write(buffer, stereo, 44100, format="FLAC")
    dst = tmp_path / "b.flac"
    assert abs(convert_clip(buffer.getvalue(), dst) - 16000) <= 1
    mono, rate = sf.read(dst)
    assert rate == 16000 and mono.ndim == 1 and abs(_peak_hz(mono, 16000) - 440) < 5
    stamp = dst.stat().st_mtime_ns
    assert convert_clip(buffer.getvalue(), dst) == len(mono)  # made from the same bytes: kept
    assert dst.stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == ["b.flac"]  # no temp file left
    with pytest.raises(sf.LibsndfileError):
        convert_clip(b"not audio", dst)  # other bytes: decoded again, never the old dump


def test_clip_re_encoded_after_a_fix_is_decoded_again(real_speech, tmp_path):
    clip = tmp_path / "clip.mp3"
    shutil.copy(sorted((real_speech / "commonvoice" / "en" / "clips").glob("*.mp3"))[0], clip)
    full = sf.info(clip).frames
    clip.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])  # a truncated download
    dst = tmp_path / "clip.wav"
    truncated = convert_clip(clip, dst)
    assert truncated < 0.5 * full * 16000 / 48000
    assert convert_clip(clip, dst) == truncated  # unchanged source: the dump is reused
    shutil.copy(sorted((real_speech / "commonvoice" / "en" / "clips").glob("*.mp3"))[0], clip)  # the fix
    assert abs(convert_clip(clip, dst) - full * 16000 / 48000) < 16000 * 0.02
    assert abs(sf.info(dst).frames - full * 16000 / 48000) < 16000 * 0.02
    legacy = tmp_path / "legacy.wav"  # a dump written before sources were recorded
    sf.write(legacy, np.zeros(1600, dtype=np.int16), 16000, subtype="PCM_16")
    assert abs(convert_clip(clip, legacy) - full * 16000 / 48000) < 16000 * 0.02


def test_pcm16_clips_instead_of_wrapping():
    assert to_pcm16(np.array([1.2, -1.5, 0.5, -1.0])).tolist() == [32767, -32768, 16384, -32768]


def test_benchmark_reports_throughput_per_core(capsys):
    assert bench_data.main(["--json", "--seconds", "10", "--repeats", "2"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["audio_seconds"] == 10.0
    assert result["realtime_factor_per_core"] >= result["target"] == 100.0
    assert result["soxr_speedup_over_resample_poly"] > 1.0
