"""Benchmark of the Lamer adapters: cost of the patch, and batched vs looped experts.

    python -m lamer.bench adapters --json

``patched_over_base``: forward throughput of a HuBERT-base-shaped model patched with the
default preset (soft routing) over the same frozen model unpatched, batch 4 x 4 s.
``batched_over_loop``: speed of the batched expert bank over an expert-by-expert loop
(8 experts, rank 4, an fc1 + fc2 pair of HuBERT-base width). Both ratios come from
interleaved runs in one process; higher is better.

``--device cuda`` runs both on the first GPU (every timed call ends with a synchronize, since
CUDA kernels run asynchronously) and adds the GPU's name and its peak allocated memory.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

import torch

from lamer.adapters import ExpertBank, LamerConfig, apply_lamer, parameter_report
from lamer.bench.timing import interleaved_medians
from lamer.upstream.forward import hidden_states
from lamer.upstream.presets import build_preset, get_shape


def _log(message: str) -> None:
    print(f"[bench adapters] {message}", file=sys.stderr, flush=True)


def resolve_device(name: str) -> torch.device:
    """``cpu`` or ``cuda`` (``cuda:N``) as a torch device; SystemExit naming the cause when this
    machine or this torch build cannot run on the GPU asked for."""
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is not None and device.type == "cpu":
        return device
    if device is None or device.type != "cuda":
        raise SystemExit(f"lamer.bench adapters: --device {name}: expected cpu or cuda[:N]")
    if torch.version.cuda is None:
        raise SystemExit(f"lamer.bench adapters: --device {name}: torch {torch.__version__} is a CPU build "
                         "(reinstall with TORCH_VARIANT=cuda bash tools/install.sh)")
    if not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count():
        raise SystemExit(f"lamer.bench adapters: --device {name}: no such GPU visible to torch "
                         f"(torch.cuda.device_count() = {torch.cuda.device_count()})")
    return device


def _synchronized(fn: Callable[[], object], device: torch.device) -> Callable[[], None]:
    """``fn`` followed by a wait for the device, so that a timer sees the kernels' whole time."""
    def call() -> None:
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    return call


def measure_patch(preset: str, config_path: str, batch: int, seconds: float, repeats: int,
                  device: torch.device) -> dict:
    # two builds from one seed: the same weights (weight_norm modules cannot be deep-copied)
    base, patched = build_preset(preset, "s3prl_hubert"), build_preset(preset, "s3prl_hubert")
    for param in base.parameters():
        param.requires_grad_(False)
    apply_lamer(patched, LamerConfig.from_yaml(config_path))
    base.to(device)
    patched.to(device)
    wavs = torch.randn(batch, int(seconds * 16000), generator=torch.Generator().manual_seed(0)).to(device)

    def run(model):
        def call():
            with torch.no_grad():
                hidden_states(model, wavs)
        return _synchronized(call, device)

    _log(f"forward of {preset} x{batch} utterances of {seconds:g} s, {repeats} interleaved repeats")
    medians = interleaved_medians({"base": run(base), "patched": run(patched)}, repeats)
    report = parameter_report(patched)
    return {
        "base_forward_s": round(medians["base"], 4),
        "patched_forward_s": round(medians["patched"], 4),
        "patched_over_base": round(medians["base"] / medians["patched"], 4),
        "audio_seconds_per_s_base": round(batch * seconds / medians["base"], 2),
        "audio_seconds_per_s_patched": round(batch * seconds / medians["patched"], 2),
        "trainable_percent": report["trainable_percent"],
        "experts_per_layer": report["experts_per_layer"],
    }


def measure_bank(hidden: int, ffn: int, experts: int, rank: int, frames: int, repeats: int,
                 device: torch.device) -> dict:
    torch.manual_seed(0)
    banks = [ExpertBank(hidden, ffn, experts, rank), ExpertBank(ffn, hidden, experts, rank)]
    for bank in banks:
        torch.nn.init.normal_(bank.lora_B)
        bank.to(device)
    x_in = torch.randn(frames, hidden).to(device)
    x_mid = torch.randn(frames, ffn).to(device)
    gates = torch.softmax(torch.randn(frames, experts), dim=-1).to(device)

    def batched():
        with torch.no_grad():
            banks[0](x_in, gates)
            banks[1](x_mid, gates)

    def looped():
        with torch.no_grad():
            banks[0].forward_loop(x_in, gates)
            banks[1].forward_loop(x_mid, gates)

    _log(f"expert bank {hidden}<->{ffn}, {experts} experts of rank {rank}, {frames} frames")
    medians = interleaved_medians({"batched": _synchronized(batched, device), "loop": _synchronized(looped, device)},
                                  repeats, warmup=3)
    return {
        "bank_batched_ms": round(1000 * medians["batched"], 3),
        "bank_loop_ms": round(1000 * medians["loop"], 3),
        "batched_over_loop": round(medians["loop"] / medians["batched"], 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lamer.bench adapters", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print only the JSON result on stdout")
    parser.add_argument("--preset", default="hubert_base")
    parser.add_argument("--config", default="conf/lamer/lamer_base.yaml")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--experts", type=int, default=8)
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    shape = get_shape(args.preset)
    result = {"device": str(device), "threads": torch.get_num_threads(), "preset": args.preset,
              "batch": args.batch, "audio_seconds": args.seconds}
    if device.type == "cuda":
        result["gpu"] = torch.cuda.get_device_name(device)
        torch.cuda.reset_peak_memory_stats(device)
    result.update(measure_patch(args.preset, args.config, args.batch, args.seconds, args.repeats, device))
    frames = args.batch * int(args.seconds * 50)
    result.update(measure_bank(shape.hidden, shape.ffn, args.experts, 4, frames,
                               repeats=max(20, 6 * args.repeats), device=device))
    if device.type == "cuda":
        result["cuda_max_memory_allocated_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    if not args.json:
        for key, value in result.items():
            print(f"{key:>28}: {value}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
