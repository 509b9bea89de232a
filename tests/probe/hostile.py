"""Hostile inputs for the safe-loading tests: pickles that would create a marker file when loaded."""
from __future__ import annotations

import os
import shlex
from pathlib import Path

import torch


class TouchesMarker:
    """Pickles as a call of ``os.system('touch MARKER')``: loading it with full pickle runs that."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {shlex.quote(str(self.marker))}",)


def write_hostile_checkpoint(path: Path, marker: Path) -> Path:
    """A torch file shaped like an ESPnet checkpoint whose model entry runs ``touch MARKER``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": TouchesMarker(marker), "reporter": {}, "optimizers": [], "schedulers": [],
                "scaler": None}, path)
    return path
