"""Benchmark of the Lamer adapters: cost of the patch, and batched vs looped experts.

    python -m lamer.bench adapters --json

``patched_over_base``: forward throughput of a HuBERT-base-shaped model patched with the
default preset (soft routing) over the same frozen model unpatched, batch 4 x 4 s, CPU.
``batched_over_loop``: speed of the batched expert bank over an expert-by-expert loop
(8 experts, rank 4, an fc1 + fc2 pair of HuBERT-base width). Both ratios come from
interleaved runs in one process; higher is better.
"""
from __future__ import annotations

import argparse
import json
import sys

import torch

from lamer.adapters import ExpertBank, LamerConfig, apply_lamer, parameter_report
from lamer.bench.timing import interleaved_medians
from lamer.upstream.forward import hidden_states
from lamer.upstream.presets import build_preset, get_shape


def _log(message: str) -> None:
    print(f"[bench adapters] {message}", file=sys.stderr, flush=True)


def measure_patch(preset: str, config_path: str, batch: int, seconds: float, repeats: int) -> dict:
    # two builds from one seed: the same weights (weight_norm modules cannot be deep-copied)
    base, patched = build_preset(preset, "s3prl_hubert"), build_preset(preset, "s3prl_hubert")
    for param in base.parameters():
        param.requires_grad_(False)
    apply_lamer(patched, LamerConfig.from_yaml(config_path))
    wavs = torch.randn(batch, int(seconds * 16000), generator=torch.Generator().manual_seed(0))

    def run(model):
        def call():
            with torch.no_grad():
                hidden_states(model, wavs)
        return call

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


def measure_bank(hidden: int, ffn: int, experts: int, rank: int, frames: int, repeats: int) -> dict:
    torch.manual_seed(0)
    banks = [ExpertBank(hidden, ffn, experts, rank), ExpertBank(ffn, hidden, experts, rank)]
    for bank in banks:
        torch.nn.init.normal_(bank.lora_B)
    x_in = torch.randn(frames, hidden)
    x_mid = torch.randn(frames, ffn)
    gates = torch.softmax(torch.randn(frames, experts), dim=-1)

    def batched():
        with torch.no_grad():
            banks[0](x_in, gates)
            banks[1](x_mid, gates)

    def looped():
        with torch.no_grad():
            banks[0].forward_loop(x_in, gates)
            banks[1].forward_loop(x_mid, gates)

    _log(f"expert bank {hidden}<->{ffn}, {experts} experts of rank {rank}, {frames} frames")
    medians = interleaved_medians({"batched": batched, "loop": looped}, repeats, warmup=3)
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
    args = parser.parse_args(argv)

    shape = get_shape(args.preset)
    result = {"device": "cpu", "threads": torch.get_num_threads(), "preset": args.preset,
              "batch": args.batch, "audio_seconds": args.seconds}
    result.update(measure_patch(args.preset, args.config, args.batch, args.seconds, args.repeats))
    frames = args.batch * int(args.seconds * 50)
    result.update(measure_bank(shape.hidden, shape.ffn, args.experts, 4, frames, repeats=max(20, 6 * args.repeats)))
    if not args.json:
        for key, value in result.items():
            print(f"{key:>28}: {value}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
