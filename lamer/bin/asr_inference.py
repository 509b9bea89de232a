"""Decode with ESPnet's own ASR inference, ``frontend: lamer`` registered.

    python -m lamer.bin.asr_inference --asr_train_config exp/probe/config.yaml \\
        --asr_model_file exp/probe/valid.loss.best.pth \\
        --data_path_and_name_and_type dump/test/wav.scp,speech,sound --output_dir exp/decode ...

Two options are added to ESPnet's, for the ``fixed`` protocol (a probe trained on the base
model applied to a later stage): ``--frontend_adapters DIR`` (or ``none``) decodes with the
upstream patched by other adapters than the probe was trained on, ``--frontend_path_or_url
CKPT`` with another upstream checkpoint (methods that fine-tune the whole model). The modified
config is written to OUTPUT_DIR/config_frontend_override.yaml. Hypotheses land in
OUTPUT_DIR/1best_recog/text, ready for ``python -m lamer.bin.score``.

``--decoding greedy`` replaces ESPnet's beam search by best-path CTC decoding for CTC-only
probes: same model and tokenizer, far faster on a CPU. It is not the same search: on a probe
whose posteriors are flat, prefix beam search emits more labels. ``--batch_size`` (default 1)
batches utterances; HuBERT's group-normalised CNN sees the padding, so batching moves the
features slightly. ``--decoding beam`` (default) is ESPnet's own inference.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

OVERRIDE_CONFIG = "config_frontend_override.yaml"


def split_arguments(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Our options, and the rest for ESPnet (with --asr_train_config and --output_dir kept)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--frontend_adapters", default=None)
    parser.add_argument("--frontend_path_or_url", default=None)
    parser.add_argument("--asr_train_config", default=None)
    parser.add_argument("--output_dir", default=None)
    parser.add_argument("--decoding", choices=("beam", "greedy"), default="beam")
    ours, rest = parser.parse_known_args(argv)
    for name in ("asr_train_config", "output_dir"):
        if getattr(ours, name) is not None:
            rest += [f"--{name}", getattr(ours, name)]
    return ours, rest


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        print(__doc__)  # our two options; ESPnet's own help follows
    ours, rest = split_arguments(argv)
    if ours.frontend_adapters is not None or ours.frontend_path_or_url is not None:
        from lamer.espnet.override import override_frontend

        if ours.asr_train_config is None or ours.output_dir is None:
            print("asr_inference: error: --frontend_adapters/--frontend_path_or_url need --asr_train_config "
                  "and --output_dir", file=sys.stderr)
            return 2
        try:
            config = override_frontend(Path(ours.asr_train_config), Path(ours.output_dir) / OVERRIDE_CONFIG,
                                       adapters=ours.frontend_adapters, path_or_url=ours.frontend_path_or_url)
        except (OSError, ValueError) as err:
            print(f"asr_inference: error: {err}", file=sys.stderr)
            return 1
        rest[rest.index("--asr_train_config") + 1] = str(config)
    from lamer.espnet.task import register_lamer_frontend

    register_lamer_frontend()
    if ours.decoding == "greedy":
        return _greedy(rest)
    from espnet2.bin import asr_inference

    asr_inference.main(rest)
    return 0


def _greedy(rest: list[str]) -> int:
    """Best-path CTC decoding with ESPnet's model, for the options it shares with ESPnet's."""
    parser = argparse.ArgumentParser(prog="asr_inference --decoding greedy")
    parser.add_argument("--asr_train_config", required=True)
    parser.add_argument("--asr_model_file", required=True)
    parser.add_argument("--data_path_and_name_and_type", required=True)
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--batch_size", type=int, default=1)
    parser.add_argument("--ngpu", type=int, default=0)
    args, ignored = parser.parse_known_args(rest)
    path, name, kind = args.data_path_and_name_and_type.split(",")
    if name != "speech" or kind != "sound":
        print(f"asr_inference: error: greedy decoding reads 'wav.scp,speech,sound', got "
              f"{args.data_path_and_name_and_type!r}", file=sys.stderr)
        return 2
    from lamer.espnet.greedy import greedy_decode

    try:
        greedy_decode(Path(args.asr_train_config), Path(args.asr_model_file), Path(path), Path(args.output_dir),
                      batch_size=args.batch_size, device="cuda" if args.ngpu > 0 else "cpu")
    except (OSError, ValueError) as err:
        print(f"asr_inference: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
