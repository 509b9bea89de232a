"""A probe packed by ESPnet (``espnet2.bin.pack asr``) with the upstream and adapters its frontend reads.

A probe checkpoint holds no upstream (frontend.py): its ``config.yaml`` names the base
checkpoint (``frontend_conf.path_or_url``) and the adapters by the paths it was trained with.
:func:`pack_probe` copies probe, upstream and adapters into one folder, under the names
:data:`PACKED_NAMES` relative to it, rewrites the config to name them so, and runs ESPnet's own
``python -m espnet2.bin.pack asr`` there. The adapters are named by their ``manifest.json``:
ESPnet's ``unpack`` (what ``espnet_model_zoo`` and ``Speech2Text.from_pretrained`` use) points a
config's paths at the unpacked files where they name a file of the archive, and a directory is
none. So ``Speech2Text(**unpack(zip, dir))`` decodes from the zip alone wherever lamer's names
are registered in ESPnet (lamer/probe/espnet_plugin.py).

ESPnet's ``Speech2Text`` reads the probe's model file with ``torch.load(weights_only=False)``.
:func:`unpack_probe` is lamer's reading of such a zip: every member must be a plain file whose
name stays inside the output folder, and the frontend's paths must name members of the zip;
``python -m lamer.bin.asr_inference`` then decodes the unpacked probe with every file read
weights-only (lamer/runtime/load_guard.py).
"""
from __future__ import annotations

import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from lamer.adapters.checkpoint import MANIFEST, WEIGHTS, read_manifest
from lamer.atomic import atomic_dir
from lamer.probe.frontend import adapter_directory

# where pack_probe puts each file, below exp/<probe name>/ in the archive
PACKED_NAMES = {"upstream": "upstream", "adapters": "adapters", "bpemodel": "bpe.model",
                "stats_file": "feats_stats.npz"}
FRONTENDS = ("lamer", "s3prl")
CONFIG_KEY, MODEL_KEY = "asr_train_config", "asr_model_file"


class PackError(ValueError):
    """A probe that cannot be packed, or an archive that is not a packed probe; the message names the file."""


def _mapping(text: str | bytes, source: str) -> dict:
    """The top-level mapping of YAML ``text`` (read safely); PackError naming ``source`` otherwise."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise PackError(f"{source}: not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(data, dict):
        raise PackError(f"{source}: expected a mapping at the top level")
    return data


def _upstream_conf(config: dict) -> dict:
    """The mapping that names the upstream (``upstream``, ``path_or_url``): ``frontend_conf`` of
    ``frontend: lamer``, ``frontend_conf.frontend_conf`` of ESPnet's ``frontend: s3prl``."""
    conf = config.get("frontend_conf")
    conf = conf if isinstance(conf, dict) else {}
    if config.get("frontend") == "s3prl":
        conf = conf.get("frontend_conf")
    return conf if isinstance(conf, dict) else {}


def _reads_local_upstream(config: dict) -> bool:
    """Whether the frontend reads its upstream from ``path_or_url`` (rather than by an s3prl hub name or URL)."""
    return config.get("frontend") == "lamer" or str(_upstream_conf(config).get("upstream")).endswith("_local")


def _copy(source: Any, label: str, config_path: Path, target: Path) -> None:
    if not isinstance(source, str) or not Path(source).is_file():
        raise PackError(f"{config_path}: {label} {source!r} is not a file here; pack from where the probe was "
                        "trained, or fix the path in the config")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def _stage(config_path: Path, config: dict, root: Path, stage: Path) -> list[Path]:
    """Copy what the config's frontend, tokenizer and normaliser read below ``stage / root`` and point
    the config at the copies (names relative to ``stage``); returns those names."""
    if config.get("frontend") not in FRONTENDS:
        raise PackError(f"{config_path}: frontend is {config.get('frontend')!r}; pack_probe packs probes with "
                        f"frontend {' or '.join(FRONTENDS)}")
    conf = config["frontend_conf"] = dict(config.get("frontend_conf") or {})
    if config["frontend"] == "s3prl":
        conf["frontend_conf"] = dict(conf.get("frontend_conf") or {})
    upstream_conf = _upstream_conf(config)
    normalize_conf = config["normalize_conf"] = dict(config.get("normalize_conf") or {})
    entries = []  # (mapping, key, label, name in the archive)
    if upstream_conf.get("path_or_url") is not None and _reads_local_upstream(config):
        label = f"frontend_conf.{'frontend_conf.' if config['frontend'] == 's3prl' else ''}path_or_url"
        entries.append((upstream_conf, "path_or_url", label,
                        root / PACKED_NAMES["upstream"] / Path(str(upstream_conf["path_or_url"])).name))
    if config.get("bpemodel"):
        entries.append((config, "bpemodel", "bpemodel", root / PACKED_NAMES["bpemodel"]))
    if normalize_conf.get("stats_file"):
        entries.append((normalize_conf, "stats_file", "normalize_conf.stats_file", root / PACKED_NAMES["stats_file"]))
    copied = []
    for mapping, key, label, name in entries:
        _copy(mapping[key], label, config_path, stage / name)
        mapping[key] = str(name)
        copied.append(name)
    if config["frontend"] == "lamer" and conf.get("adapters"):
        directory = adapter_directory(conf["adapters"])
        read_manifest(directory)  # fails naming the folder when it is no adapter checkpoint
        for file in (MANIFEST, WEIGHTS):
            name = root / PACKED_NAMES["adapters"] / file
            _copy(str(directory / file), "frontend_conf.adapters", config_path, stage / name)
            copied.append(name)
        conf["adapters"] = str(root / PACKED_NAMES["adapters"] / MANIFEST)
    return copied


def pack_probe(train_config: str | Path, model_file: str | Path, outpath: str | Path) -> Path:
    """Pack the probe of ``train_config`` + ``model_file`` with its upstream and adapters into the zip ``outpath``.

    Runs ``python -m espnet2.bin.pack asr`` on a copy whose config names every file by its
    place in the archive; the zip is written under a temporary name and renamed into place.
    Raises PackError (or FileNotFoundError / ValueError from the adapter checks) naming the file.
    """
    train_config, model_file, outpath = Path(train_config), Path(model_file), Path(outpath).resolve()
    if outpath.suffix != ".zip":
        raise PackError(f"{outpath}: the packed probe is a .zip file")
    if not model_file.is_file():
        raise PackError(f"{model_file}: no such model file")
    config = _mapping(train_config.read_text(encoding="utf-8"), str(train_config))
    root = Path("exp") / (train_config.parent.resolve().name or "probe")
    outpath.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{outpath.name}.", dir=outpath.parent) as tmp:
        stage = Path(tmp)
        options = _stage(train_config, config, root, stage)
        (stage / root).mkdir(parents=True, exist_ok=True)
        (stage / root / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
                                                  encoding="utf-8")
        shutil.copyfile(model_file, stage / root / model_file.name)
        argv = [sys.executable, "-m", "espnet2.bin.pack", "asr", "--asr_train_config", str(root / "config.yaml"),
                "--asr_model_file", str(root / model_file.name), "--outpath", "packed.zip"]
        for name in options:
            argv += ["--option", str(name)]
        done = subprocess.run(argv, cwd=stage, capture_output=True, text=True)
        if done.returncode != 0:
            raise PackError(f"{outpath}: espnet2.bin.pack failed (exit {done.returncode}): "
                            f"{(done.stderr.strip().splitlines() or ['no message'])[-1]}")
        (stage / "packed.zip").replace(outpath)
    return outpath


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member cannot be unpacked safely, or None."""
    name = PurePosixPath(info.filename)
    if not name.parts:
        return "has no name"
    if info.filename.startswith(("/", "\\")) or ":" in info.filename or "\\" in info.filename:
        return "is not a relative POSIX path"
    if ".." in name.parts:
        return "climbs out of the folder ('..')"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "is a symbolic link"
    return None


def _rewrite(value: Any, members: dict[str, Path]) -> Any:
    """``value`` with every string that names a member replaced by the member's unpacked path (as ESPnet's unpack)."""
    if isinstance(value, dict):
        return {key: _rewrite(item, members) for key, item in value.items()}
    if isinstance(value, list):
        return [_rewrite(item, members) for item in value]
    if isinstance(value, str) and value in members:
        return str(members[value])
    return value


def unpack_probe(archive: str | Path, out_dir: str | Path) -> dict[str, Path]:
    """Unpack a probe packed by :func:`pack_probe` into ``out_dir``; returns ``{asr_train_config, asr_model_file}``.

    Refused, with PackError naming the archive and member or key, before anything is written: a
    member that is absolute, climbs out with ``..`` or is a link; an archive without ESPnet's
    ``meta.yaml`` naming a config and a model file; a frontend path (``path_or_url``,
    ``adapters``) that does not name a file of the archive. ``out_dir`` is replaced atomically.
    """
    archive, out_dir = Path(archive), Path(out_dir).resolve()
    try:
        handle = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as err:
        raise PackError(f"{archive}: not a readable zip file ({err})") from None
    with handle:
        infos = [info for info in handle.infolist() if not info.is_dir()]
        for info in infos:
            problem = _member_problem(info)
            if problem:
                raise PackError(f"{archive}: member {info.filename!r} {problem}; refused")
        by_name = {str(PurePosixPath(info.filename)): info for info in infos}
        names = set(by_name)
        if "meta.yaml" not in names:
            raise PackError(f"{archive}: no meta.yaml; not an archive written by espnet2.bin.pack")
        meta = _mapping(handle.read(by_name["meta.yaml"]), f"{archive}: meta.yaml")
        packed = {key: str(value) for part in ("yaml_files", "files") if isinstance(meta.get(part), dict)
                  for key, value in meta[part].items()}
        for key in (CONFIG_KEY, MODEL_KEY):
            if packed.get(key) not in names:
                raise PackError(f"{archive}: meta.yaml names no {key} that the archive holds")
        config = _mapping(handle.read(by_name[packed[CONFIG_KEY]]), f"{archive}: {packed[CONFIG_KEY]}")
        paths = {"path_or_url": _upstream_conf(config).get("path_or_url") if _reads_local_upstream(config) else None,
                 "adapters": _upstream_conf(config).get("adapters") if config.get("frontend") == "lamer" else None}
        for key, value in paths.items():
            if value is not None and (not isinstance(value, str) or value not in names):
                raise PackError(f"{archive}: {packed[CONFIG_KEY]}: frontend {key} {value!r} is not a file of the "
                                "archive; refused (a packed probe reads its upstream and adapters from it)")
        members = {name: out_dir / name for name in names}
        with atomic_dir(out_dir) as tmp:
            for info in infos:
                target = tmp / PurePosixPath(info.filename)
                target.parent.mkdir(parents=True, exist_ok=True)
                with handle.open(info) as source, open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink)
            (tmp / packed[CONFIG_KEY]).write_text(yaml.safe_dump(_rewrite(config, members), allow_unicode=True,
                                                                 sort_keys=False), encoding="utf-8")
    return {CONFIG_KEY: out_dir / packed[CONFIG_KEY], MODEL_KEY: out_dir / packed[MODEL_KEY]}
