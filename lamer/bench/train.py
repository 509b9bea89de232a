"""Benchmark of one SSL training step: Lamer vs single LoRA vs full fine-tuning, CPU.

    python -m lamer.bench train --json [--preset hubert_base] [--batch 2] [--seconds 3] [--repeats 3]

A step is what ``ssl_train`` runs per batch: masked forward of the upstream, HuBERT head and
loss, backward, Adam step. Lamer uses conf/lamer/lamer_base.yaml, LoRA conf/lamer/lora.yaml
(about the same trainable parameters), full fine-tuning trains every parameter. Step times
are medians of interleaved runs in this process. Peak memory is the resident set (RSS) the
steps add: each method runs in a fresh (spawned) process that resets the kernel's peak-RSS
counter after building the model (``/proc/self/clear_refs``) and reports VmHWM minus the RSS
before its steps, so gradients, optimizer state and activations are counted, the model not.
The last line is one JSON object with ``lamer_over_lora_step`` and ``lamer_over_full_step``.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from pathlib import Path

import torch

import lamer
from lamer.bench.timing import interleaved_medians

CONF = Path(lamer.__file__).resolve().parents[1] / "conf" / "lamer"
METHODS = {"lamer": CONF / "lamer_base.yaml", "lora": CONF / "lora.yaml", "full": None}


def _log(message: str) -> None:
    print(f"[bench train] {message}", file=sys.stderr, flush=True)


def build_step(method: str, preset: str, batch: int, seconds: float, num_classes: int = 100):
    """A closure running one training step of ``method`` on a fixed random batch."""
    from lamer.adapters import LamerConfig, apply_lamer
    from lamer.ssl.encoder import MaskedUpstream
    from lamer.ssl.hubert_head import HubertHead
    from lamer.ssl.model import MaskedPredictionModel
    from lamer.upstream import build_preset
    from lamer.upstream.presets import get_shape

    upstream = build_preset(preset, "s3prl_hubert")
    if METHODS[method] is not None:
        apply_lamer(upstream, LamerConfig.from_yaml(METHODS[method]))
    model = MaskedPredictionModel(MaskedUpstream(upstream), HubertHead(get_shape(preset).hidden, num_classes)).train()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    gen = torch.Generator().manual_seed(0)
    samples = int(seconds * 16000)
    speech = torch.randn(batch, samples, generator=gen)
    lengths = torch.full((batch,), samples)
    frames = model.encoder.frame_lengths(lengths)
    labels = torch.randint(0, num_classes, (batch, int(frames.max())), generator=gen)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss, _, _ = model(speech, lengths, labels, frames)
        loss.backward()
        optimizer.step()

    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return step, trainable


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _peak_memory_child(method: str, preset: str, batch: int, seconds: float, steps: int, threads: int,
                       queue) -> None:
    torch.set_num_threads(threads)
    step, _ = build_step(method, preset, batch, seconds)
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS (VmHWM) to the current RSS
    before = _status_kib("VmRSS")
    for _ in range(steps):
        step()
    queue.put((_status_kib("VmHWM") - before) / 1024)


def peak_step_memory_mb(method: str, preset: str, batch: int, seconds: float, steps: int = 2) -> float:
    """Peak RSS added by ``steps`` training steps of ``method``, MiB, in a fresh process."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_peak_memory_child,
                       args=(method, preset, batch, seconds, steps, torch.get_num_threads(), queue))
    proc.start()
    value = queue.get(timeout=1200)
    proc.join()
    return value


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m lamer.bench train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print the JSON summary line (always printed last)")
    p.add_argument("--preset", default="hubert_base")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1 by default: on a shared CPU, OpenMP threads that wait for a busy core "
                        "make multi-threaded timings swing tenfold)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    _log(f"{args.preset}, batch {args.batch} x {args.seconds:g} s, {torch.get_num_threads()} threads")
    steps, trainable = {}, {}
    for method in METHODS:
        steps[method], trainable[method] = build_step(method, args.preset, args.batch, args.seconds)
    _log(f"timing {args.repeats} interleaved steps per method")
    medians = interleaved_medians(steps, args.repeats)
    del steps
    memory = {}
    for method in METHODS:
        _log(f"peak memory of {method} (fresh process)")
        memory[method] = peak_step_memory_mb(method, args.preset, args.batch, args.seconds)
    result = {
        "preset": args.preset, "batch": args.batch, "seconds_per_utterance": args.seconds,
        "threads": torch.get_num_threads(),
        **{f"{m}_step_s": round(medians[m], 3) for m in METHODS},
        **{f"{m}_trainable_params": trainable[m] for m in METHODS},
        **{f"{m}_peak_step_rss_mb": round(memory[m], 1) for m in METHODS},
        "memory_measure": "peak RSS (VmHWM after clear_refs) minus RSS before the steps, spawned process per method",
        "lamer_over_lora_step": round(medians["lamer"] / medians["lora"], 3),
        "lamer_over_full_step": round(medians["lamer"] / medians["full"], 3),
        "lamer_below_full_memory": memory["lamer"] < memory["full"],
    }
    for key in ("lamer_over_lora_step", "lamer_over_full_step"):
        _log(f"{key} = {result[key]}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
