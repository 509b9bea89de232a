"""Make lamer's names known to a plain ESPnet in this Python environment, or stop doing so.

    python -m lamer.bin.espnet_plugin install    # writes lamer-espnet.pth into site-packages
    python -m lamer.bin.espnet_plugin remove

Once installed, every Python of this environment registers ``frontend: lamer``,
``model: lamer_lid`` and s3prl's ``upstream: lamer_local`` when it imports ESPnet's ASR task
or s3prl's hub (lamer/probe/espnet_plugin.py), so ESPnet's own ``python -m espnet2.bin.asr_train``,
``asr_inference`` and ``Speech2Text`` build lamer's exports and probes. ``tools/install.sh``
installs it. ``--site_dir``: another site directory than this environment's site-packages.
"""
from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

from lamer.atomic import write_text_atomic
from lamer.bin.options import ToolParser, tool_parser
from lamer.probe.espnet_plugin import PTH_LINE, PTH_NAME


def build_parser() -> ToolParser:
    parser = tool_parser("espnet_plugin", __doc__)
    parser.add_argument("action", choices=("install", "remove"),
                        help="install: write the .pth file that makes lamer's names known to ESPnet; remove: delete it")
    parser.add_argument("--site_dir", type=Path, default=Path(sysconfig.get_paths()["purelib"]),
                        help="site directory whose .pth files Python reads at start-up (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    path = args.site_dir / PTH_NAME
    try:
        if args.action == "install":
            if not args.site_dir.is_dir():
                raise FileNotFoundError(f"{args.site_dir}: no such site directory")
            write_text_atomic(path, PTH_LINE)
            print(f"wrote {path}")
        elif path.exists():
            path.unlink()
            print(f"removed {path}")
        else:
            print(f"{path}: not installed, nothing to remove")
    except OSError as err:
        print(f"espnet_plugin: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
