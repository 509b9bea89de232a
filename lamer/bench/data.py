"""Benchmark: audio preparation throughput (48 kHz MP3 -> 16 kHz mono 16-bit WAV) per CPU core.

    python -m lamer.bench data --json

Builds its own MP3 clips (speech-like: harmonic tones with a syllable-rate envelope plus noise),
then in this one process times, per clip, the same ``convert_clip`` data preparation runs:
decode, resample, write. ``realtime_factor_per_core`` is audio seconds divided by the CPU
seconds this process spent (best of ``--repeats``), so other load on the machine does not
count against it. The same run times ``scipy.signal.resample_poly`` on the decoded audio next
to soxr, the resampler in use, to back that choice. The last line printed is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import resample_poly

from lamer.data.audio import TARGET_RATE, convert_clip

SOURCE_RATE = 48000
TARGET_FACTOR = 100.0


def make_clip(seconds: float, seed: int) -> np.ndarray:
    """A speech-like float32 signal at 48 kHz: voiced harmonics, 4 Hz envelope, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SOURCE_RATE)) / SOURCE_RATE
    f0 = rng.uniform(90, 220) * (1 + 0.1 * np.sin(2 * np.pi * 0.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SOURCE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 4 * t + rng.uniform(0, np.pi)))
    signal = 0.2 * envelope * voiced + 0.01 * rng.standard_normal(t.size)
    return signal.astype(np.float32)


def _cpu_timed(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def run(total_seconds: float, clip_seconds: float, repeats: int) -> dict[str, object]:
    """Build the clips, time conversion and both resamplers; returns the measurements."""
    n_clips = max(1, round(total_seconds / clip_seconds))
    with tempfile.TemporaryDirectory(prefix="lamer_bench_data_") as tmp:
        tmp_dir = Path(tmp)
        clips = []
        for i in range(n_clips):
            path = tmp_dir / f"clip{i:03d}.mp3"
            sf.write(path, make_clip(clip_seconds, i), SOURCE_RATE, format="MP3")
            clips.append(path)
        audio_seconds = sum(sf.info(p).frames / SOURCE_RATE for p in clips)

        def convert_all(round_: int) -> None:
            out = tmp_dir / f"out{round_}"
            out.mkdir()
            for path in clips:
                convert_clip(path, out / f"{path.stem}.wav")

        wall_start = time.perf_counter()
        convert_cpu = min(_cpu_timed(lambda r=r: convert_all(r)) for r in range(repeats))
        convert_wall = (time.perf_counter() - wall_start) / repeats
        decoded = [sf.read(p, dtype="float32")[0] for p in clips]
        soxr_cpu = min(_cpu_timed(lambda: [soxr.resample(x, SOURCE_RATE, TARGET_RATE, quality="HQ") for x in decoded])
                       for _ in range(repeats))
        poly_cpu = min(_cpu_timed(lambda: [resample_poly(x, 1, SOURCE_RATE // TARGET_RATE) for x in decoded])
                       for _ in range(repeats))
    return {
        "benchmark": "data",
        "input": f"{n_clips} x {clip_seconds:g} s MP3 {SOURCE_RATE} Hz mono -> WAV {TARGET_RATE} Hz PCM16",
        "audio_seconds": round(audio_seconds, 3),
        "cpu_seconds": round(convert_cpu, 4),
        "realtime_factor_per_core": round(audio_seconds / convert_cpu, 1),
        "wall_seconds_mean": round(convert_wall, 4),
        "target": TARGET_FACTOR,
        "meets_target": audio_seconds / convert_cpu >= TARGET_FACTOR,
        "resample_soxr_realtime_factor": round(audio_seconds / soxr_cpu, 1),
        "resample_poly_realtime_factor": round(audio_seconds / poly_cpu, 1),
        "soxr_speedup_over_resample_poly": round(poly_cpu / soxr_cpu, 2),
        "repeats": repeats,
    }


def main(argv: list[str]) -> int:
    """Run the benchmark; prints a summary, and one JSON object as the last line."""
    parser = argparse.ArgumentParser(prog="python -m lamer.bench data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument("--seconds", type=float, default=60.0, help="total audio to convert")
    parser.add_argument("--clip-seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds; the best counts")
    args = parser.parse_args(argv)
    result = run(args.seconds, args.clip_seconds, max(1, args.repeats))
    if not args.json:
        print(f"{result['input']}: {result['realtime_factor_per_core']}x real time per core "
              f"(target {TARGET_FACTOR:g}x); soxr {result['soxr_speedup_over_resample_poly']}x "
              "faster than resample_poly")
    print(json.dumps(result))
    return 0
