"""Apply a trained probe to another stage's upstream: the ``fixed`` evaluation protocol.

A probe checkpoint holds no upstream weights (see ``frontend.py``); its ``config.yaml`` names
the base checkpoint and the adapters the probe was trained on. Decoding the same probe on a
later stage is the same config with ``frontend_conf.adapters`` replaced.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from lamer.adapters import read_manifest
from lamer.espnet.task import FRONTEND_NAME
from lamer.eval.atomic_io import write_text_atomic

NO_ADAPTERS = "none"


def override_frontend_adapters(train_config: Path, adapters: str, out_path: Path) -> Path:
    """Write a copy of a probe's ``config.yaml`` whose frontend uses ``adapters``.

    ``adapters`` is an adapter directory, or ``none`` for the plain base upstream. Raises
    ValueError naming the file when the config does not use the Lamer frontend, and
    FileNotFoundError/ValueError when the adapter directory is not a checkpoint. Returns
    ``out_path``.
    """
    train_config = Path(train_config)
    with open(train_config, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    if not isinstance(config, dict) or config.get("frontend") != FRONTEND_NAME:
        found = config.get("frontend") if isinstance(config, dict) else None
        raise ValueError(f"{train_config}: frontend is {found!r}; overriding adapters needs "
                         f"'frontend: {FRONTEND_NAME}'")
    if adapters.lower() == NO_ADAPTERS:
        new = None
    else:
        read_manifest(adapters)  # fail here, naming the dir, rather than deep inside ESPnet
        new = str(Path(adapters).resolve())
    config["frontend_conf"] = {**(config.get("frontend_conf") or {}), "adapters": new}
    write_text_atomic(Path(out_path), yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    return Path(out_path)
