"""Print the SHA-256 of files as a plan's ``base_model.sha256`` takes it (64 lowercase hex digits).

    python -m lamer.bin.checksum base_model/upstream.pt              # 9f86d081...  base_model/upstream.pt
    python -m lamer.bin.checksum --sidecar base_model/upstream.pt    # also writes base_model/upstream.pt.sha256
    python -m lamer.bin.checksum --check HEX base_model/upstream.pt  # exit 1 naming both hashes if it differs

Lines are ``sha256sum``'s (``HEX  FILE``). ``--sidecar`` writes ``FILE.sha256`` beside each file in
the same format, with the bare file name, so ``sha256sum -c FILE.sha256`` checks it in its folder.
Files are hashed in blocks, never read into memory whole.
"""
from __future__ import annotations

import sys
from pathlib import Path

from lamer.bin.options import ToolParser, tool_parser
from lamer.checksum import check_sha256, file_sha256, write_sidecar


def build_parser() -> ToolParser:
    parser = tool_parser("checksum", __doc__)
    parser.add_argument("files", nargs="+", type=Path, help="files to hash")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--sidecar", action="store_true", help="write <file>.sha256 beside each file")
    mode.add_argument("--check", metavar="HEX", help="the SHA-256 every file must have (64 hex digits)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        for path in args.files:
            if args.check is not None:
                check_sha256(path, args.check, "Copy or rebuild the file, or check against its recorded hash.")
                digest = args.check.lower()
            elif args.sidecar:
                digest, _ = write_sidecar(path)
            else:
                digest = file_sha256(path)
            print(f"{digest}  {path}")
    except (OSError, ValueError) as err:
        print(f"checksum: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
