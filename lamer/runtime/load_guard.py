"""ESPnet's checkpoints, model files and ``--init_param`` files, read without running code from them.

ESPnet (202511) reads these with ``torch.load(weights_only=False)``, which runs whatever a
pickle asks for: ``Trainer.resume`` (``<output_dir>/checkpoint.pth`` under ``--resume true``),
``load_pretrained_model`` (``--init_param``), ``AbsTask.build_model_from_file`` (decoding,
greedy and beam) and ``average_nbest_models`` (the ``<N>epoch.pth`` files at the end of
training); s3prl reads the frontend's ``path_or_url`` with torch's default. ESPnet is not
patched on disk: while :func:`espnet_safe_loading` is active (our entry points and
``SSLTask.main_worker`` enter it),

- ``torch.load`` is :func:`restricted_torch_load`: always weights-only, with torch's own
  allow-list plus :func:`espnet_checkpoint_globals`; a refused or truncated file is a
  :class:`~lamer.upstream.safe_checkpoint.CheckpointError` naming the file;
- ``torch.save`` to a path writes a temporary file beside it and renames it into place, so a
  run killed while ESPnet saves ``checkpoint.pth`` leaves the previous one;
- ``Trainer.resume`` explains what to do about a truncated ``checkpoint.pth``;
- ``AbsTask.build_model_from_file`` loads the model file strictly and
  ``load_pretrained_model`` (``--init_param``) first checks the file holds the weights of its
  target (see :func:`check_weights`): a file that does not hold the model's weights is an
  error listing the missing and unexpected keys, never a model left with random weights;
- ESPnet's YAML (``--*_conf KEY=VALUE`` values, ``--config`` files, model configs) is read by
  lamer's strict loader (:mod:`lamer.runtime.yaml_guard`): no tags, no key given twice, bounded.

:func:`run_safely` runs an entry point that way and turns these errors into one line on
stderr and exit status 1, as it does a refused YAML.
"""
from __future__ import annotations

import contextlib
import datetime
import glob
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lamer.atomic import atomic_path
from lamer.layout import ProbeDir
from lamer.runtime.yaml_guard import yaml_patches
from lamer.upstream.safe_checkpoint import CheckpointError, RefusedCheckpoint, UnreadableCheckpoint, read_restricted
from lamer.yaml_io import YamlError

ESPNET_CONTENTS = ("ESPnet checkpoint contents (tensors, plain containers, numpy scalars and dtypes, "
                   "datetime.timedelta)")
NUMPY_NUMBERS = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "float16", "float32", "float64")
LISTED_KEYS = 10  # keys named per kind in a mismatch message; the rest are counted


class WeightsMismatch(ValueError):
    """A model file (or ``--init_param`` file) that does not hold the weights of its target."""


def espnet_checkpoint_globals() -> list:
    """The classes an ESPnet training checkpoint pickles beyond tensors and plain containers.

    Measured on ``checkpoint.pth`` files of ``ssl_train`` and ``asr_train`` runs (with and
    without a scheduler): the reporter keeps its statistics as numpy float64 scalars and its
    timings as ``datetime.timedelta``; optimizer, scheduler and scaler states are plain dicts,
    lists, numbers and tensors. A numpy scalar is rebuilt from a dtype (``numpy.dtype`` and
    its class, e.g. ``Float64DType``; the number dtypes only, not the object dtype) and raw
    bytes, a timedelta from numbers: none of them runs code. numpy 1 wrote the scalar under
    ``numpy.core``, numpy 2 under ``numpy._core``; both names are accepted.
    """
    import numpy as np

    core = getattr(np, "_core", None) or np.core
    scalar = core.multiarray.scalar
    dtype_classes = [type(np.dtype(name)) for name in NUMPY_NUMBERS]
    return [scalar, (scalar, "numpy.core.multiarray.scalar"), (scalar, "numpy._core.multiarray.scalar"),
            np.dtype, *dtype_classes, datetime.timedelta]


def restricted_torch_load(f: Any, map_location: Any = None, pickle_module: Any = None, *,
                          weights_only: bool | None = None, **load_args: Any) -> Any:
    """A stand-in for ``torch.load`` that always loads weights-only, whatever the caller asks.

    ``weights_only=False`` (ESPnet's choice) is overridden; a ``pickle_module`` cannot be
    honoured safely and is refused. Raises a CheckpointError naming the file for a pickle that
    asks for anything outside torch's and :func:`espnet_checkpoint_globals`'s allow-lists, or
    for bytes that are not a complete torch file.
    """
    if pickle_module is not None:
        raise CheckpointError(f"{getattr(f, 'name', f)}: refused to load with a custom pickle_module "
                              f"({pickle_module!r}): only weights-only loads are allowed")
    try:
        return read_restricted(f, espnet_checkpoint_globals(), ESPNET_CONTENTS, map_location=map_location,
                               **load_args)
    except RefusedCheckpoint as err:
        raise RefusedCheckpoint(f"{err}. If you trust the file, convert it to plain tensors first "
                                "(docs/SECURITY.md)") from None


def atomic_torch_save(obj: Any, f: Any, *args: Any, save: Callable[..., Any], **kwargs: Any) -> None:
    """``torch.save`` (the function ``save``) that writes a path through a temporary file and a rename.

    The temporary files of this target that a killed earlier save left behind are removed
    first (one trainer writes an output directory). A file object is written as given (its
    owner decides where the bytes go).
    """
    if not isinstance(f, (str, os.PathLike)):
        save(obj, f, *args, **kwargs)
        return
    target = Path(f)
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        stale.unlink(missing_ok=True)
    with atomic_path(f) as tmp:
        save(obj, tmp, *args, **kwargs)


def _listed(keys: list[str]) -> str:
    shown = ", ".join(keys[:LISTED_KEYS])
    return shown + (f", ... ({len(keys) - LISTED_KEYS} more)" if len(keys) > LISTED_KEYS else "")


def check_weights(module: nn.Module, keys: Iterable[str], source: str, hint: str = "",
                  require_all: bool = True) -> None:
    """Raise WeightsMismatch, listing the keys, unless ``keys`` are exactly the weights of ``module``.

    Missing: an entry of ``module.state_dict()`` that ``keys`` lack. That state dict is what a
    checkpoint of the module holds, so the ``lamer`` frontend's frozen upstream, which its
    state-dict hook leaves out (lamer/probe/frontend.py), is not required. Unexpected: a key
    that names no parameter or buffer of ``module`` (the upstream's own entries, which a probe
    saved with a plain S3prlFrontend holds, are known names and ignored on loading).
    ``require_all=False`` checks only for unexpected keys (a file meant to fill part of the
    module). ``source`` names the file in the message; ``hint`` is appended to it.
    """
    keys = set(keys)
    expected = set(module.state_dict())
    known = expected | {name for name, _ in module.named_parameters()} | {name for name, _ in module.named_buffers()}
    missing, unexpected = sorted(expected - keys) if require_all else [], sorted(keys - known)
    if not missing and not unexpected:
        return
    parts = [f"{len(missing)} missing: {_listed(missing)}" if missing else "",
             f"{len(unexpected)} unexpected: {_listed(unexpected)}" if unexpected else ""]
    raise WeightsMismatch(f"{source} does not hold the weights of the model it is loaded into "
                          f"({'; '.join(p for p in parts if p)}){hint}")


def _read_state(path: Any) -> dict:
    """The state dict of a model file, read weights-only (a DeepSpeed file keeps it under ``module``)."""
    loaded = restricted_torch_load(path, map_location="cpu")
    if not isinstance(loaded, dict):
        raise WeightsMismatch(f"{path}: a model file holds a state dict, this one holds {type(loaded).__name__}")
    return loaded["module"] if isinstance(loaded.get("module"), dict) else loaded


def _strict_build_model_from_file(build: Callable[..., Any]) -> Callable[..., Any]:
    """``AbsTask.build_model_from_file`` that loads the model file with every key checked.

    ESPnet's loads it with ``strict=False``; here the model is built from the config by ESPnet
    (``model_file=None``) and the file is checked with :func:`check_weights` before loading.
    """
    def build_model_from_file(cls, config_file=None, model_file=None, device: str = "cpu"):
        if model_file is None:
            return build(cls, config_file, model_file, device)
        config_file = Path(model_file).parent / ProbeDir.CONFIG if config_file is None else config_file
        model, args = build(cls, config_file, None, device)
        state = _read_state(model_file)
        check_weights(model, state, str(model_file), hint=f" (the model is built from {config_file})")
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as err:  # shapes that differ: torch names the parameters
            raise WeightsMismatch(f"{model_file}: does not fit the model built from {config_file}: "
                                  f"{' '.join(str(err).split())}") from None
        return model, args

    return build_model_from_file


def _split_init_param(init_param: str) -> tuple[str, str | None, str | None, str | None]:
    """ESPnet's ``<file>:<src_key>:<dst_key>:<exclude_keys>``, empty keys as None (excludes kept as given)."""
    parts = init_param.split(":", 4) + [None] * 3
    path, src_key, dst_key, excludes = parts[:4]
    return path, src_key or None, dst_key or None, excludes


def _checked_load_pretrained_model(load: Callable[..., Any]) -> Callable[..., Any]:
    """ESPnet's ``load_pretrained_model`` (``--init_param``), after checking what the file holds.

    ESPnet fills every entry the file lacks from the model's current (random) weights, and
    drops every entry when the exclusion field is given but empty (``FILE:SRC:DST:``). The
    keys are selected as ESPnet selects them (exclusions, then ``src_key``); unless the option
    names excluded prefixes, they must be every weight of the target ``dst_key``, and in any
    case nothing that is not one. The file is read twice (here, then by ESPnet): a few
    seconds for a 95M-parameter model, once per training.
    """
    def load_pretrained_model(init_param: str, model: nn.Module, ignore_init_mismatch: bool,
                              map_location: str = "cpu") -> None:
        path, src_key, dst_key, excludes = _split_init_param(init_param)
        target = model
        for name in (dst_key or "").split("."):
            target = getattr(target, name) if name else target
        keys = list(_read_state(path))
        if excludes is not None:
            prefixes = excludes.split(",")
            keys = [k for k in keys if not any(k.startswith(prefix) for prefix in prefixes)]
        if src_key:
            keys = [k[len(src_key) + 1:] for k in keys if k.startswith(src_key)]
        check_weights(target, keys, f"--init_param {init_param}: {path}", require_all=not excludes,
                      hint="; if only part of it is meant to be loaded, name the prefixes to leave out "
                           "(FILE:SRC_KEY:DST_KEY:PREFIX,PREFIX)")
        load(init_param=init_param, model=model, ignore_init_mismatch=ignore_init_mismatch,
             map_location=map_location)

    return load_pretrained_model


def _explained_resume(resume: Callable[..., Any]) -> Callable[..., Any]:
    """``Trainer.resume`` that says what to do about a truncated ``checkpoint.pth``."""
    def resume_training(*args: Any, **kwargs: Any) -> None:
        checkpoint = Path(kwargs["checkpoint"] if "checkpoint" in kwargs else args[0])
        try:
            resume(*args, **kwargs)
        except UnreadableCheckpoint as err:
            raise UnreadableCheckpoint(
                f"{err}; it is the resume checkpoint of {checkpoint.parent}, probably cut short by a run killed while "
                f"saving it (lamer writes it atomically, older runs did not). Move it away and re-run to train from "
                f"the start, or start from the last epoch's weights with --init_param {checkpoint.parent}/latest.pth "
                "and --resume false") from None

    return resume_training


def _patches() -> list[tuple[Any, str, Any]]:
    """(owner, attribute, replacement) of every hook; the loaders' homes are imported here."""
    from espnet2.tasks import abs_task
    from espnet2.tasks.abs_task import AbsTask
    from espnet2.train.trainer import Trainer

    save = torch.save
    return [
        (torch, "load", restricted_torch_load),
        (torch, "save", lambda obj, f, *args, **kwargs: atomic_torch_save(obj, f, *args, save=save, **kwargs)),
        (Trainer, "resume", staticmethod(_explained_resume(Trainer.resume))),
        (AbsTask, "build_model_from_file",
         classmethod(_strict_build_model_from_file(AbsTask.__dict__["build_model_from_file"].__func__))),
        (abs_task, "load_pretrained_model", _checked_load_pretrained_model(abs_task.load_pretrained_model)),
        *yaml_patches(),
    ]


_active = {"depth": 0, "saved": []}


@contextlib.contextmanager
def espnet_safe_loading() -> Iterator[None]:
    """Within this block ESPnet loads only plain data, strictly, and saves atomically (see module doc).

    Re-entrant; the originals are restored when the outermost block ends.
    """
    if _active["depth"] == 0:
        patches = _patches()
        _active["saved"] = [(owner, name, owner.__dict__[name]) for owner, name, _ in patches]
        for owner, name, replacement in patches:
            setattr(owner, name, replacement)
    _active["depth"] += 1
    try:
        yield
    finally:
        _active["depth"] -= 1
        if _active["depth"] == 0:
            for owner, name, original in _active["saved"]:
                setattr(owner, name, original)
            _active["saved"] = []


def run_safely(prog: str, entry: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """Run ``entry(*args, **kwargs)`` under :func:`espnet_safe_loading`; returns an exit status.

    A refused, unreadable or mismatched file, or a refused YAML, prints one line, ``PROG: error: ...`` naming the
    file, on stderr and returns 1; otherwise ``entry``'s int result, or 0.
    """
    try:
        with espnet_safe_loading():
            result = entry(*args, **kwargs)
    except (CheckpointError, WeightsMismatch, YamlError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0
