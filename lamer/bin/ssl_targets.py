"""Frame labels for SSL training: features, k-means codebook, labels and ESPnet lists.

    # iteration 1 (model trained from scratch): MFCC k-means
    python -m lamer.bin.ssl_targets --data_dir data/eng/train --data_dir data/fra/train \\
        --upstream small --feature mfcc --num_clusters 100 --out_dir dump/ssl/base_it1
    # iteration 2 / continual stage: layer 3 of the current model, new data plus replay
    python -m lamer.bin.ssl_targets --data_dir data/spa/train --replay_data_dir data/replay/train \\
        --upstream exp/base/upstream.pt --feature layer --layer 3 --num_clusters 100 --out_dir dump/ssl/stage1
    # reuse an existing codebook instead of re-clustering
    ... --codebook dump/ssl/base_it2

Writes ``wav.scp labels speech_shape utt2lang replay_utt2lang [lang] codebook.npy codebook.json``.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from lamer.adapters import load_adapters
from lamer.bin.options import ToolParser, tool_parser
from lamer.ssl.features import checked, layer_extractor, mfcc_extractor, receptive_field
from lamer.ssl.methods import build_ssl_upstream
from lamer.ssl.targets import collect_items, prepare_targets


def build_parser() -> ToolParser:
    p = tool_parser("ssl_targets", __doc__)
    p.add_argument("--data_dir", action="append", required=True, type=Path, help="new-data Kaldi dir (repeatable)")
    p.add_argument("--replay_data_dir", action="append", default=[], type=Path, help="replay Kaldi dir (repeatable)")
    p.add_argument("--out_dir", required=True, type=Path)
    p.add_argument("--upstream", default="tiny", help="preset name or checkpoint path (sets the frame rate)")
    p.add_argument("--family", default=None, help="model class to build a preset in / convert a checkpoint to")
    p.add_argument("--adapters", type=Path, default=None, help="adapters to load into the upstream (layer features)")
    p.add_argument("--feature", choices=("mfcc", "layer"), default="mfcc")
    p.add_argument("--layer", type=int, default=None, help="transformer layer (1-based) for --feature layer")
    p.add_argument("--num_clusters", type=int, default=100)
    p.add_argument("--codebook", type=Path, default=None, help="reuse the codebook of this directory")
    p.add_argument("--max_fit_frames", type=int, default=200_000, help="frames sampled to fit k-means")
    p.add_argument("--languages", default="", help="comma-separated language list: also write 'lang' indices")
    p.add_argument("--seed", type=int, default=0)
    return p


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = build_parser()
    args = p.parse_args(argv)
    if args.feature == "layer" and args.layer is None:
        p.error("--feature layer needs --layer N")
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    loaded = build_ssl_upstream(args.upstream, args.family)
    upstream = loaded.model
    if args.adapters:
        load_adapters(upstream, args.adapters)
    if args.feature == "mfcc":
        extract, meta = mfcc_extractor(*receptive_field(upstream)), {"feature": "mfcc"}
    else:
        extract = layer_extractor(upstream, args.layer, loaded.normalize)
        meta = {"feature": "layer", "layer": args.layer}
    items = collect_items(args.data_dir, args.replay_data_dir)
    summary = prepare_targets(items, checked(extract, upstream), args.out_dir, meta, args.num_clusters,
                              args.codebook, args.max_fit_frames, args.seed,
                              [code for code in args.languages.split(",") if code])
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
