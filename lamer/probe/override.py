"""Apply a trained probe to another stage's upstream: the ``fixed`` evaluation protocol.

A probe checkpoint holds no upstream weights (see ``frontend.py``); its ``config.yaml`` names
the base checkpoint and the adapters the probe was trained on. Decoding the same probe on a
later stage is the same config with ``frontend_conf.adapters`` replaced (adapter methods), or
``frontend_conf.path_or_url`` (methods that fine-tune the whole model and export a checkpoint).
"""
from __future__ import annotations

from pathlib import Path

import yaml

from lamer.adapters import read_manifest
from lamer.atomic import write_text_atomic
from lamer.probe.asr_task import FRONTEND_NAME
from lamer.yaml_io import load_yaml

NO_ADAPTERS = "none"


def override_frontend(train_config: Path, out_path: Path, adapters: str | None = None,
                      path_or_url: str | None = None) -> Path:
    """Write a copy of a probe's ``config.yaml`` whose frontend reads other weights.

    ``adapters``: an adapter directory, or ``none`` for the plain upstream; ``path_or_url``:
    another upstream checkpoint. None leaves that entry as trained. Raises ValueError naming
    the file when the config does not use the Lamer frontend, and FileNotFoundError/ValueError
    when a path does not hold what it should. Returns ``out_path``.
    """
    train_config = Path(train_config)
    config = load_yaml(train_config)
    if not isinstance(config, dict) or config.get("frontend") != FRONTEND_NAME:
        found = config.get("frontend") if isinstance(config, dict) else None
        raise ValueError(f"{train_config}: frontend is {found!r}; overriding its weights needs "
                         f"'frontend: {FRONTEND_NAME}'")
    conf = dict(config.get("frontend_conf") or {})
    if adapters is not None:
        if adapters.lower() == NO_ADAPTERS:
            conf["adapters"] = None
        else:
            read_manifest(adapters)  # fail here, naming the dir, rather than deep inside ESPnet
            conf["adapters"] = str(Path(adapters).resolve())
    if path_or_url is not None:
        if not Path(path_or_url).is_file():
            raise FileNotFoundError(f"{path_or_url}: no upstream checkpoint there")
        conf["path_or_url"] = str(Path(path_or_url).resolve())
    config["frontend_conf"] = conf
    write_text_atomic(Path(out_path), yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    return Path(out_path)
