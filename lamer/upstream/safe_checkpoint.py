"""Read checkpoint files without running code from them.

Every ``.pt`` file goes through ``torch.load(weights_only=True)``: its unpickler builds only
tensors, plain containers and the classes listed here, and refuses any other global (so a
crafted file cannot call ``os.system``). fairseq checkpoints need a few more classes than
plain tensors: their config is an omegaconf ``DictConfig`` (or, in older files, an
``argparse.Namespace``) and HuBERT's label dictionaries are fairseq ``Dictionary`` objects.
fairseq is not installed, so a ``Dictionary`` is rebuilt as :class:`FairseqDictionary`, a
plain attribute holder registered under fairseq's class path.
"""
from __future__ import annotations

import argparse
import collections
import os
import pickle
import re
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch


class FairseqDictionary:
    """The data of a pickled ``fairseq.data.dictionary.Dictionary`` (symbols, counts, indices).

    Built by the restricted unpickler through ``__new__`` and ``__dict__.update``; it has no
    behaviour, so unpickling one runs nothing.
    """

    symbols: list[str]


def _omegaconf_classes() -> list:
    from omegaconf import DictConfig, ListConfig
    from omegaconf.base import ContainerMetadata, Metadata
    from omegaconf.nodes import AnyNode, BooleanNode, FloatNode, IntegerNode, StringNode

    return [DictConfig, ListConfig, ContainerMetadata, Metadata,
            AnyNode, BooleanNode, FloatNode, IntegerNode, StringNode]


def checkpoint_globals() -> list:
    """Exactly the classes a fairseq checkpoint's pickle needs beyond tensors and containers.

    omegaconf's pickled state refers to ``dict``/``list``/``int`` (as types), ``typing.Any``
    and ``collections.defaultdict``; none of these can run code with the arguments a pickle
    can give them under the restricted unpickler.
    """
    return [*_omegaconf_classes(), typing.Any, collections.defaultdict, dict, list, int,
            argparse.Namespace, (FairseqDictionary, "fairseq.data.dictionary.Dictionary")]


class CheckpointError(ValueError):
    """A torch file that was not read; the message names the file and says why."""


class RefusedCheckpoint(CheckpointError):
    """The file's pickle asks for a global outside the allow-list (it could run code)."""


class UnreadableCheckpoint(CheckpointError):
    """The file is not a complete torch checkpoint (cut short, empty, or something else)."""


_REFUSED_CLASS = re.compile(r"GLOBAL ([\w.]+)|but got <class '([\w.]+)'>")
_UNPICKLER_ERROR = "WeightsUnpickler error:"


def _refusal_reason(message: str, contents: str) -> str:
    """Why torch refused the pickle, from its long message: the class it names, or its reason line."""
    match = _REFUSED_CLASS.search(message)
    if match:
        return f"it holds a pickled {match.group(1) or match.group(2)!r}, which is not on the allow-list of {contents}"
    after = message.split(_UNPICKLER_ERROR, 1)[-1]
    reason = next((line.strip() for line in after.splitlines() if line.strip()), "no reason given")
    return f"its pickle uses an operation a weights-only load does not allow ({reason}); only {contents} are read"


def _name(f: Any) -> str:
    return str(f) if isinstance(f, (str, os.PathLike)) else str(getattr(f, "name", f))


def read_restricted(f: Any, allowed: Sequence, contents: str, map_location: Any = "cpu", **load_args: Any) -> Any:
    """``torch.load(f, weights_only=True)`` with ``allowed`` globals added to torch's own.

    ``f`` is what ``torch.load`` takes (a path or a binary file); ``contents`` describes the
    allow-list in the refusal message. Raises :class:`RefusedCheckpoint` when the pickle asks
    for anything else and :class:`UnreadableCheckpoint` when the bytes are not a complete torch
    file, each naming the file. ``torch.serialization.load`` is called by that name so that a
    reader which replaces ``torch.load`` (``lamer.runtime.load_guard``) can call this one.
    """
    extra = [g for g in allowed if g not in torch.serialization.get_safe_globals()]
    try:
        with torch.serialization.safe_globals(extra):
            return torch.serialization.load(f, map_location=map_location, weights_only=True, **load_args)
    except pickle.UnpicklingError as err:
        message = str(err)
        if "GLOBAL" in message or _UNPICKLER_ERROR in message:
            raise RefusedCheckpoint(f"{_name(f)}: refused to load: {_refusal_reason(message, contents)}") from None
        raise UnreadableCheckpoint(f"{_name(f)}: not a readable torch checkpoint (UnpicklingError: "
                                   f"{message.splitlines()[0] if message else ''})") from None
    except FileNotFoundError:
        raise
    except Exception as err:  # noqa: BLE001 - torch's readers fail on foreign or cut bytes in many ways
        first = str(err).splitlines()[0] if str(err) else ""
        raise UnreadableCheckpoint(f"{_name(f)}: not a readable torch checkpoint ({type(err).__name__}: "
                                   f"{first.split('. This is an internal miniz error')[0]})") from None


def load_checkpoint_file(path: str | Path, mmap: bool = False) -> dict:
    """The top-level dict of a torch checkpoint file, read with the restricted unpickler.

    ``mmap``: map the tensors' storage instead of reading it (zip-format files), for a caller
    that only looks at the configs of a large checkpoint.

    Raises FileNotFoundError for a missing file and ValueError (a :class:`CheckpointError`
    for refused or unreadable bytes), naming the file, for anything that is not a torch
    checkpoint of plain data (including pickles that ask for other code).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    state = read_restricted(path, checkpoint_globals(), "tensors, plain containers, omegaconf configs, argparse "
                            "namespaces and fairseq dictionaries", **({"mmap": True} if mmap else {}))
    if not isinstance(state, dict):
        raise ValueError(f"{path}: a checkpoint holds a dict at top level, this file holds "
                         f"{type(state).__name__}")
    return state


def plain(value):
    """A checkpoint config (omegaconf DictConfig/ListConfig, Namespace, nested) as plain dicts/lists."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(value, (DictConfig, ListConfig)):
        try:  # fairseq's ${task.label_rate}-style links, where a file still has them
            return OmegaConf.to_container(value, resolve=True)
        except Exception:  # noqa: BLE001 - a dangling link: keep it as text, the model config rarely needs it
            return OmegaConf.to_container(value, resolve=False)
    if isinstance(value, argparse.Namespace):
        return {k: plain(v) for k, v in vars(value).items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
