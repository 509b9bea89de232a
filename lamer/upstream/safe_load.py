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
import pickle
import typing
from pathlib import Path

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


def _refusal_reason(message: str) -> str:
    """The line of torch's long refusal message that names the global it refused."""
    for line in message.splitlines():
        if "GLOBAL" in line:
            return line.split("WeightsUnpickler error:")[-1].split(". Please use")[0].strip()
    return message.splitlines()[0] if message else "unknown reason"


def load_checkpoint_file(path: str | Path) -> dict:
    """The top-level dict of a torch checkpoint file, read with the restricted unpickler.

    Raises FileNotFoundError for a missing file and ValueError, naming the file, for anything
    that is not a torch checkpoint of plain data (including pickles that ask for other code).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        with torch.serialization.safe_globals(checkpoint_globals()):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        reason = _refusal_reason(str(err))
        raise ValueError(f"{path}: refused to load: the file asks for code that is not allowed "
                         f"({reason}); only tensors, plain containers, omegaconf configs, "
                         "argparse namespaces and fairseq dictionaries are read") from None
    except Exception as err:  # noqa: BLE001 - torch's readers fail on foreign bytes in many ways
        raise ValueError(f"{path}: not a readable torch checkpoint ({type(err).__name__}: {err})") from None
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
