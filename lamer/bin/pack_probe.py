"""Pack a trained probe with the upstream and adapters it reads, as ESPnet packs a model; or unpack one.

    python -m lamer.bin.pack_probe pack --asr_train_config exp/mini/probe/s1/config.yaml \\
        --asr_model_file exp/mini/probe/s1/valid.loss.ave.pth --outpath exp/mini/packed/probe_s1.zip
    python -m lamer.bin.pack_probe unpack --zip exp/mini/packed/probe_s1.zip --out_dir unpacked/probe_s1

``pack`` runs ESPnet's ``python -m espnet2.bin.pack asr`` on a copy of the probe whose config
names the upstream checkpoint, the adapters (by their manifest.json), and a bpe model or
normalisation statistics if any, by their relative places in the zip. ESPnet's unpack +
``Speech2Text`` decode it from the zip alone where lamer's ESPnet plugin is installed
(``python -m lamer.bin.espnet_plugin install``). ``unpack`` is lamer's careful reading of such a
zip (no member outside ``--out_dir``; the frontend's files must be in the zip) and prints the
config and model to decode with ``python -m lamer.bin.asr_inference``, which reads every file
weights-only.
"""
from __future__ import annotations

import sys

from lamer.bin.options import ToolParser, tool_parser


def build_parser() -> ToolParser:
    parser = tool_parser("pack_probe", __doc__)
    actions = parser.add_subparsers(dest="action", required=True)
    pack = actions.add_parser("pack", help="write the zip")
    pack.add_argument("--asr_train_config", required=True, help="the probe's config.yaml")
    pack.add_argument("--asr_model_file", required=True, help="the probe's model file, e.g. valid.loss.ave.pth")
    pack.add_argument("--outpath", required=True, help="the zip to write (replaced atomically)")
    unpack = actions.add_parser("unpack", help="unpack a zip written by pack")
    unpack.add_argument("--zip", required=True, help="a zip written by pack")
    unpack.add_argument("--out_dir", required=True, help="the folder to unpack into (replaced atomically)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from lamer.probe.pack import pack_probe, unpack_probe

    try:
        if args.action == "pack":
            print(f"wrote {pack_probe(args.asr_train_config, args.asr_model_file, args.outpath)}")
        else:
            for key, path in unpack_probe(args.zip, args.out_dir).items():
                print(f"--{key} {path}")
    except (OSError, ValueError) as err:
        print(f"pack_probe: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
