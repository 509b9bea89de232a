"""Pre-train the demo's base HuBERT from scratch (MFCC k-means, then a second iteration on its layer).

    python -m lamer.bin.pretrain_base --train_dir data/eng/train --train_dir data/fra/train \\
        --valid_dir data/eng/dev --config conf/ssl/base_pretrain.yaml --work_dir exp/base \\
        --layer 3 --num_clusters 100 -- --max_epoch 10

Options after ``--`` go to ``ssl_train`` (both iterations). Writes ``<work_dir>/upstream.pt``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from lamer.bin.options import ToolParser, tool_parser
from lamer.runtime.load_guard import run_safely
from lamer.ssl.pretrain import pretrain_base


def build_parser() -> ToolParser:
    """The options before ``--`` (those after it go to ``ssl_train``)."""
    p = tool_parser("pretrain_base", __doc__)
    p.add_argument("--train_dir", action="append", required=True, type=Path,
                   help="a training Kaldi data dir (repeat for every language)")
    p.add_argument("--valid_dir", action="append", required=True, type=Path,
                   help="a validation Kaldi data dir (repeat for every language)")
    p.add_argument("--config", type=Path, default=Path("conf/ssl/base_pretrain.yaml"),
                   help="the ssl_train config of both iterations (model preset, optimiser)")
    p.add_argument("--work_dir", type=Path, required=True,
                   help="both iterations' targets and trainings; the result is WORK_DIR/upstream.pt")
    p.add_argument("--layer", type=int, default=3, help="layer (1-based) clustered for iteration 2")
    p.add_argument("--num_clusters", type=int, default=100, help="k-means clusters of both iterations' targets")
    p.add_argument("--seed", type=int, default=0, help="random seed of the targets and the trainings")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    own, extra = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    args = build_parser().parse_args(own)
    return run_safely("pretrain_base", lambda: print(pretrain_base(
        args.train_dir, args.valid_dir, args.work_dir, args.config, args.layer, args.num_clusters, args.seed, extra)))


if __name__ == "__main__":
    sys.exit(main())
