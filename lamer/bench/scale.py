"""Benchmark: how time and memory of the data-bound steps grow with the data, CPU.

    python -m lamer.bench scale --json [--clips 16] [--clip-seconds 4] [--upstream hubert_base] [--sizes 1,2,4]

Three steps of the recipe, each run as the recipe runs it (its command line, in a child
process with one thread, ``OMP_NUM_THREADS=1``) on 1x, 2x and 4x a base set of Common Voice
style clips (``--clips`` speech-like 48 kHz MP3 clips per 1x, each clip its own audio: the
probe's frontend would serve a replicated clip from its feature cache):

- ``prepare``: ``lamer.bin.prepare_data commonvoice`` (MP3 decoding, resampling, WAV, data dir);
- ``targets``: ``lamer.bin.ssl_targets run``, layer features of a random ``--upstream`` model
  and k-means labels (the fit sample bounded by ``--max_fit_frames``, half the 1x set's frames);
- ``decode``:  ``lamer.bin.asr_inference --decoding greedy`` of a probe on that upstream (trained
  for two steps beforehand, untimed: decoding time does not depend on its weights).

Per step: wall seconds per size, ``time_exponent`` (slope of log time against log size, least
squares) and ``rss_ratio`` (peak resident set of the 4x run over the 1x run). Each run's peak
RSS is the kernel's figure for that one child (``os.wait4``), so runs do not pollute each other.
``decode_speedup_nj2``: the 4x set decoded by one job over the same set decoded as two
concurrent jobs (``--nj 2 --job 1``, ``--job 2``, one thread each) plus ``asr_inference merge``.
Targets: exponent <= 1.15, ratio <= 1.5, speedup >= 1.5. The wall times include each child's
start (Python, torch, ESPnet imports: a constant), and on a loaded machine they are noisy.
The last line printed is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

import lamer
from lamer.bench.data import SOURCE_RATE, make_clip
from lamer.layout import DecodeDir, ModelDir, ProbeDataDir, ProbeDir, TokensDir
from lamer.probe.model_file import probe_model_name

CONF = Path(lamer.__file__).resolve().parents[1] / "conf"
PROBE_CONFIG = CONF / "probe" / "probe_cpu_demo.yaml"
TARGETS = {"time_exponent": 1.15, "rss_ratio": 1.5, "decode_speedup_nj2": 1.5}
LOCALE = "en"
WORDS = ("the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far", "away", "home")


def _log(message: str) -> None:
    print(f"[bench scale] {message}", file=sys.stderr, flush=True)


def _child_env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    root = str(Path(lamer.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return env


# Runs argv[2:] and writes its peak RSS (KiB) to argv[1]. The kernel counts in a child's peak
# the memory of the process it was forked from (the image it had until exec), so a step is
# started by this small interpreter, never by the benchmark with its models and buffers.
_MEASURE = ("import os, subprocess, sys\n"
            "child = subprocess.Popen(sys.argv[2:])\n"
            "_, status, usage = os.wait4(child.pid, 0)\n"
            "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
            "sys.exit(os.waitstatus_to_exitcode(status))\n")


def run_children(commands: list[list[str]], log_dir: Path, name: str) -> tuple[float, list[int]]:
    """Run ``commands`` concurrently; returns (wall seconds until all ended, peak RSS KiB of each).

    Each peak is that command's own (``os.wait4`` of it, in a small launcher), whatever ran
    before or beside it. A failure raises, naming the log with the child's output.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    running = []
    for number, command in enumerate(commands, 1):
        log, peak = log_dir / f"{name}.{number}.log", log_dir / f"{name}.{number}.peak_kib"
        with open(log, "wb") as handle:
            launcher = [sys.executable, "-S", "-c", _MEASURE, str(peak), *command]
            running.append((subprocess.Popen(launcher, stdout=handle, stderr=subprocess.STDOUT, env=_child_env()),
                            command, log, peak))
    peaks = []
    for process, command, log, peak in running:
        if process.wait() != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}); see {log}")
        peaks.append(int(peak.read_text()))
    return time.perf_counter() - start, peaks


def write_corpus(root: Path, base: list[Path], clips: int, parts: int, clip_seconds: float) -> Path:
    """A Common Voice locale folder of the first ``parts`` x ``clips`` of the distinct clips ``base``
    (hard links), eight speakers per part; returns the release root."""
    locale = root / LOCALE
    (locale / "clips").mkdir(parents=True, exist_ok=True)
    rows = ["client_id\tpath\tsentence"]
    rng = np.random.default_rng(0)
    for part in range(parts):
        for number, clip in enumerate(base[part * clips:(part + 1) * clips]):
            name = f"common_voice_{LOCALE}_{part:03d}{number:05d}.mp3"
            os.link(clip, locale / "clips" / name)
            words = rng.choice(WORDS, size=max(2, int(clip_seconds * 2)))
            rows.append(f"client{part:03d}{number % 8}\t{name}\t{' '.join(words)}")
    (locale / "validated.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def train_probe(work: Path, data_dir: Path, checkpoint: Path, hidden: int, python: str) -> Path:
    """A probe on ``checkpoint`` trained for two steps (untimed); returns its directory."""
    from lamer.data.datadir_io import read_data_dir, write_data_dir
    from lamer.probe.inputs import write_probe_dir, write_token_dir

    train, valid = work / "probe_data" / "train", work / "probe_data" / "valid"
    write_probe_dir([data_dir], train)
    write_probe_dir([write_data_dir(read_data_dir(data_dir)[:4], work / "valid_source")], valid)
    tokens = TokensDir(str(work / "tokens"))
    write_token_dir(Path(ProbeDataDir(str(train)).text), Path(tokens.path), "char")
    out = work / "probe"
    command = [python, "-m", "lamer.bin.asr_train", "--config", str(PROBE_CONFIG),
               "--ngpu", "0", "--seed", "0", "--output_dir", str(out), "--max_epoch", "1",
               "--num_iters_per_epoch", "2", "--batch_size", "4",
               "--frontend_conf", f"path_or_url={checkpoint}", "--preencoder_conf", f"input_size={hidden}",
               "--use_preprocessor", "true", "--token_type", "char",
               "--token_list", tokens.tokens, "--non_linguistic_symbols", tokens.nlsyms]
    for split, directory in (("train", ProbeDataDir(str(train))), ("valid", ProbeDataDir(str(valid)))):
        command += [f"--{split}_data_path_and_name_and_type", f"{directory.wav_scp},speech,sound",
                    f"--{split}_data_path_and_name_and_type", f"{directory.text},text,text",
                    f"--{split}_shape_file", directory.speech_shape]
    run_children([command], work / "logs", "probe_train")
    return out


def fit_exponent(sizes: list[int], seconds: list[float]) -> float:
    """Slope of log(seconds) against log(size), least squares."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


STEPS = ("prepare", "targets", "decode")


def run(clips: int, clip_seconds: float, upstream: str, sizes: list[int], work: Path, python: str,
        num_clusters: int = 50, steps: tuple[str, ...] = STEPS) -> dict:
    """Build the inputs, run ``steps`` (prepare is always run: the others read its output) at every
    size; returns the measurements."""
    from lamer.upstream.presets import build_preset, get_shape, s3prl_configs, save_s3prl_checkpoint

    logs = work / "logs"
    base = []
    for number in range(clips * sizes[-1]):
        path = work / "base" / f"{number:05d}.mp3"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, make_clip(clip_seconds, number), SOURCE_RATE, format="MP3")
        base.append(path)
    checkpoint = Path(ModelDir(str(work)).checkpoint)
    save_s3prl_checkpoint(build_preset(upstream), *s3prl_configs(get_shape(upstream)), str(checkpoint))
    frames_1x = clips * int(clip_seconds * 50)
    times: dict[str, list[float]] = {step: [] for step in STEPS if step in steps or step == "prepare"}
    peaks: dict[str, list[int]] = {step: [] for step in times}
    decode = [python, "-m", "lamer.bin.asr_inference", "--config", str(CONF / "probe" / "decode_ctc.yaml"),
              "--decoding", "greedy", "--ngpu", "0"]
    probe = None
    for size in sizes:
        root = write_corpus(work / f"cv{size}", base, clips, size, clip_seconds)
        data = work / f"data{size}"
        commands = {
            "prepare": [python, "-m", "lamer.bin.prepare_data", "commonvoice", "--root", str(root), "--langs", LOCALE,
                        "--out", str(data), "--dump", str(work / f"dump{size}"), "--splits", "train", "--nj", "1"],
            "targets": [python, "-m", "lamer.bin.ssl_targets", "run", "--data_dir", str(data / "eng" / "train"),
                        "--upstream", str(checkpoint), "--feature", "layer",
                        "--layer", str(get_shape(upstream).layers // 2),
                        "--num_clusters", str(num_clusters), "--max_fit_frames", str(frames_1x // 2), "--out_dir",
                        str(work / f"targets{size}"), "--device", "cpu"],
        }
        for step, command in commands.items():
            if step not in times:
                continue
            seconds, (peak,) = run_children([command], logs, f"{step}{size}")
            times[step].append(seconds)
            peaks[step].append(peak)
            _log(f"{step} {size}x: {seconds:.1f} s, peak RSS {peak / 1024:.0f} MiB")
        if "decode" not in times:
            continue
        if probe is None:
            probe = train_probe(work, data / "eng" / "train", checkpoint, get_shape(upstream).hidden, python)
        model = ["--asr_train_config", ProbeDir(str(probe)).config, "--asr_model_file", ProbeDir(str(probe)).model(
                     probe_model_name(PROBE_CONFIG)),
                 "--data_path_and_name_and_type", f"{data / 'eng' / 'train'}/wav.scp,speech,sound"]
        seconds, (peak,) = run_children([decode + model + ["--output_dir", str(work / f"decode{size}")]], logs,
                                        f"decode{size}")
        times["decode"].append(seconds)
        peaks["decode"].append(peak)
        _log(f"decode {size}x: {seconds:.1f} s, peak RSS {peak / 1024:.0f} MiB")
    speedup, split_seconds, same = None, None, None
    if "decode" in times:
        split_out = work / f"decode{sizes[-1]}_nj2"
        jobs = [decode + model + ["--output_dir", str(split_out), "--nj", "2", "--job", str(job)] for job in (1, 2)]
        seconds, _ = run_children(jobs, logs, "decode_nj2")
        merge, _ = run_children([[python, "-m", "lamer.bin.asr_inference", "merge", "--output_dir", str(split_out),
                                  "--nj", "2"]], logs, "decode_merge")
        same = Path(DecodeDir(str(split_out)).text).read_bytes() == \
            Path(DecodeDir(str(work / f"decode{sizes[-1]}")).text).read_bytes()
        split_seconds = round(seconds + merge, 2)
        speedup = round(times["decode"][-1] / (seconds + merge), 3)
        _log(f"decode {sizes[-1]}x over two jobs: {seconds:.1f} s + merge {merge:.1f} s: speedup {speedup:.2f}")
    result_steps = {}
    for step in times:
        exponent = fit_exponent(sizes, times[step])
        ratio = peaks[step][-1] / peaks[step][0]
        result_steps[step] = {"seconds": [round(t, 2) for t in times[step]],
                              "peak_rss_mib": [round(p / 1024, 1) for p in peaks[step]],
                              "time_exponent": round(exponent, 3), "rss_ratio": round(ratio, 3),
                              "meets_target": exponent <= TARGETS["time_exponent"] and ratio <= TARGETS["rss_ratio"]}
    meets = all(s["meets_target"] for s in result_steps.values()) and \
        (speedup is None or speedup >= TARGETS["decode_speedup_nj2"])
    return {
        "benchmark": "scale",
        "input": f"{clips} x {clip_seconds:g} s MP3 {SOURCE_RATE} Hz clips x {sizes}, upstream {upstream}",
        "sizes": sizes,
        "audio_seconds_1x": round(clips * clip_seconds, 1),
        "steps": result_steps,
        "decode_speedup_nj2": speedup,
        "decode_nj2_seconds": split_seconds,
        "decode_nj2_equals_one_job": same,
        "targets": TARGETS,
        "meets_targets": meets,
        "threads_per_job": 1,
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str]) -> int:
    """Run the benchmark; prints a summary, and one JSON object as the last line."""
    parser = argparse.ArgumentParser(prog="python -m lamer.bench scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument("--clips", type=int, default=16, help="clips of the 1x set")
    parser.add_argument("--clip-seconds", type=float, default=4.0)
    parser.add_argument("--upstream", default="hubert_base",
                        help="upstream preset (random weights) of the targets and the probe")
    parser.add_argument("--num-clusters", type=int, default=50, help="k-means clusters of the targets step")
    parser.add_argument("--sizes", default="1,2,4", help="multiples of the base set (the first is the reference)")
    parser.add_argument("--steps", default=",".join(STEPS), help="steps to measure (prepare always runs)")
    parser.add_argument("--work", type=Path, default=None, help="keep the inputs and logs here (default: a temp dir)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if len(sizes) < 2 or sizes != sorted(set(sizes)):
        parser.error("--sizes needs at least two increasing multiples, e.g. 1,2,4")
    steps = tuple(s for s in args.steps.split(",") if s)
    if set(steps) - set(STEPS):
        parser.error(f"--steps: choose from {','.join(STEPS)}")
    with tempfile.TemporaryDirectory(prefix="lamer_bench_scale_") as tmp:
        work = args.work or Path(tmp)
        result = run(args.clips, args.clip_seconds, args.upstream, sizes, work, sys.executable, args.num_clusters,
                     steps)
    if not args.json:
        for step, figures in result["steps"].items():
            print(f"{step}: seconds {figures['seconds']}, time exponent {figures['time_exponent']}, "
                  f"peak RSS ratio {figures['rss_ratio']}")
        if result["decode_speedup_nj2"] is not None:
            print(f"decode speedup with two jobs: {result['decode_speedup_nj2']}")
    print(json.dumps(result))
    return 0
