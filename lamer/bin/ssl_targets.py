"""Frame labels for SSL training: features, k-means codebook, labels and ESPnet lists.

In one process (``run``; the bare options, without a step name, mean ``run`` too):

    # iteration 1 (model trained from scratch): MFCC k-means
    python -m lamer.bin.ssl_targets run --data_dir data/eng/train --data_dir data/fra/train \\
        --upstream small --feature mfcc --num_clusters 100 --out_dir dump/ssl/base_it1
    # iteration 2 / continual stage: layer 3 of the current model, new data plus replay
    python -m lamer.bin.ssl_targets run --data_dir data/spa/train --replay_data_dir data/replay/train \\
        --upstream exp/base/upstream.pt --feature layer --layer 3 --num_clusters 100 --out_dir dump/ssl/stage1
    # reuse an existing codebook instead of re-clustering
    ... --codebook dump/ssl/base_it2

Sharded over N jobs (``JOB=1:N`` through ``$cmd``, one GPU per job with ``--device cuda``):

    python -m lamer.bin.ssl_targets split --out_dir T --nj N [the options of run]   # bookkeeping
    python -m lamer.bin.ssl_targets sample --out_dir T --job J [--device cuda]       # J = 1..N
    python -m lamer.bin.ssl_targets fit --out_dir T                                  # k-means
    python -m lamer.bin.ssl_targets label --out_dir T --job J [--device cuda]        # J = 1..N
    python -m lamer.bin.ssl_targets merge --out_dir T

With ``--codebook`` there is nothing to fit: ``sample`` and ``fit`` refuse, ``label`` uses that
codebook. Every N gives the same files, byte for byte. Both forms write
``wav.scp labels speech_shape utt2lang replay_utt2lang [lang] codebook.npy codebook.json`` into
OUT_DIR, and the jobs' files into OUT_DIR/split.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lamer.bin.options import ToolParser, positive_int, tool_parser
from lamer.ssl.target_steps import fit_targets, label_job, merge_targets, run_targets, sample_job, split_targets
from lamer.ssl.targets import TargetOptions

STEPS = ("run", "split", "sample", "fit", "label", "merge")


def _target_options(p: argparse.ArgumentParser) -> None:
    """The options that say what to label and how (``run`` and ``split``)."""
    p.add_argument("--data_dir", action="append", required=True, type=Path, help="new-data Kaldi dir (repeatable)")
    p.add_argument("--replay_data_dir", action="append", default=[], type=Path, help="replay Kaldi dir (repeatable)")
    p.add_argument("--upstream", default="tiny", help="preset name or checkpoint path (sets the frame rate)")
    p.add_argument("--family", default=None, help="model class to build a preset in / convert a checkpoint to")
    p.add_argument("--adapters", type=Path, default=None, help="adapters to load into the upstream (layer features)")
    p.add_argument("--feature", choices=("mfcc", "layer"), default="mfcc",
                   help="mfcc: MFCC frames (HuBERT's first iteration); layer: a transformer layer's outputs")
    p.add_argument("--layer", type=int, default=None, help="transformer layer (1-based) for --feature layer")
    p.add_argument("--num_clusters", type=int, default=100, help="k-means clusters: the targets' vocabulary")
    p.add_argument("--codebook", type=Path, default=None, help="reuse the codebook of this directory")
    p.add_argument("--max_fit_frames", type=int, default=200_000, help="frames sampled to fit k-means")
    p.add_argument("--languages", default="", help="comma-separated language list: also write 'lang' indices")
    p.add_argument("--seed", type=int, default=0, help="random seed of the k-means sample and fit")


def _device_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="where the upstream runs (cuda: the job's GPU; MFCC features stay on the CPU)")


def build_parser() -> ToolParser:
    p = tool_parser("ssl_targets", __doc__)
    steps = p.add_subparsers(dest="step", required=True, metavar="{" + ",".join(STEPS) + "}")
    helps = {"run": "every step in this process (one job)", "split": "record the options and the split over --nj jobs",
             "sample": "features of job J's share of the k-means sample", "fit": "fit the codebook on the sample",
             "label": "labels of job J's utterances", "merge": "write OUT_DIR's lists from the jobs' outputs"}
    for name in STEPS:
        step = steps.add_parser(name, help=helps[name], description=helps[name])
        step.add_argument("--out_dir", required=True, type=Path, help="the targets directory (all steps share it)")
        if name in ("run", "split"):
            _target_options(step)
        if name == "split":
            step.add_argument("--nj", type=positive_int, required=True, help="number of sample/label jobs (JOB=1:nj)")
        if name in ("sample", "label"):
            step.add_argument("--job", type=positive_int, required=True, help="this job's number, 1..nj")
        if name in ("run", "sample", "label"):
            _device_option(step)
    return p


def parse_args(argv: list[str]) -> argparse.Namespace:
    first = argv[2:3] if argv[:1] in (["--log_level"], ["--log-level"]) else argv[:1]  # the step follows
    if first and first[0].startswith("-") and first[0] not in ("-h", "--help"):
        argv = ["run", *argv]  # the one-shot form of earlier versions
    p = build_parser()
    args = p.parse_args(argv)
    if getattr(args, "feature", None) == "layer" and args.layer is None:
        p.error("--feature layer needs --layer N")
    return args


def _options(args: argparse.Namespace) -> TargetOptions:
    feature = {"feature": "mfcc"} if args.feature == "mfcc" else {"feature": "layer", "layer": args.layer}
    model = {"upstream": args.upstream, "family": args.family,
             "adapters": None if args.adapters is None else str(args.adapters)}
    return TargetOptions(feature, args.num_clusters, None if args.codebook is None else str(args.codebook),
                         args.max_fit_frames, args.seed, tuple(c for c in args.languages.split(",") if c), model)


def run_step(args: argparse.Namespace) -> None:
    """Run the step ``args.step`` with its options."""
    if args.step == "split":
        split_targets(args.out_dir, args.data_dir, args.replay_data_dir, _options(args), args.nj)
    elif args.step == "run":
        print(json.dumps(run_targets(args.out_dir, args.data_dir, args.replay_data_dir, _options(args), args.device)))
    elif args.step == "sample":
        sample_job(args.out_dir, args.job, args.device)
    elif args.step == "fit":
        fit_targets(args.out_dir)
    elif args.step == "label":
        label_job(args.out_dir, args.job, args.device)
    else:
        print(json.dumps(merge_targets(args.out_dir)))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        run_step(args)
    except (OSError, ValueError) as err:  # bad input: a refused checkpoint, a codebook, a data dir
        print(f"ssl_targets: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
