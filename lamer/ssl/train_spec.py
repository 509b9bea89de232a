"""The spec of one SSL training step, typed: the method's adapter and the replay, as ``ssl_train`` receives them.

What lamer's SSL task trains with beyond ESPnet's trainer is one :class:`SSLTrainSpec`: the adapter
kind (``none``: every parameter trains; ``lamer``: adapters), the adapter config whole (the preset
resolved, every option filled in: its ``allocation`` gives the experts per layer), and the replay
(:class:`ReplaySpec`: which training utterances are replay, ``utt2lang``, and the part of every
batch taken from them, ``share``). The model, the data, the seed and the training options stay
ESPnet's options, read by ESPnet's parser.

The recipe's planner builds the spec of each SSL stage from the plan as the plan check resolved it
(the method config and its preset read and checked once there, the replay share checked there) and
writes it, as JSON (:meth:`SSLTrainSpec.to_json`), to ``exp/<tag>/config/ssl_<stage>.json``;
``ssl_train --spec FILE`` reads it once (:func:`read_train_spec`), checking its structure and types
only: the values were checked where they entered, in the plan. ``ssl_train`` run by hand builds
the same spec from its options instead (:mod:`lamer.ssl.task`). This module imports neither torch
nor ESPnet: the planner writes specs with it.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lamer.adapters.config import LamerConfig
from lamer.jsonfile import read_json_object
from lamer.ssl.method_config import ADAPTERS
from lamer.yaml_io import brief

KEYS = ("adapter", "adapter_config", "replay")
REPLAY_KEYS = ("utt2lang", "share")


class SpecError(ValueError):
    """A spec file that is not one: the message names the file and the key."""


@dataclass(frozen=True)
class ReplaySpec:
    """The replay utterances inside the training data (``utt2lang``: their ``<utt> <iso>`` list) and
    ``share``, the part of every training batch taken from them (a number in [0, 1), checked where
    it was given: the plan's ``replay.share``, ``ssl.sh --replay_share``, ``ssl_train --replay_share``)."""

    utt2lang: str
    share: float


@dataclass(frozen=True)
class SSLTrainSpec:
    """What one SSL training step trains with: ``adapter`` (``none`` or ``lamer``), ``adapter_config``
    (the resolved adapter config; None: :class:`LamerConfig`'s defaults, and nothing to compare
    continued adapters with) and ``replay`` (None: no replay sampler, batches as ESPnet makes them)."""

    adapter: str
    adapter_config: LamerConfig | None = None
    replay: ReplaySpec | None = None

    def as_dict(self) -> dict[str, Any]:
        """The spec as plain data, the keys of its file (:data:`KEYS`)."""
        return {"adapter": self.adapter,
                "adapter_config": None if self.adapter_config is None else self.adapter_config.to_dict(),
                "replay": None if self.replay is None else {"utt2lang": self.replay.utt2lang,
                                                            "share": self.replay.share}}

    def to_json(self) -> str:
        """The spec file's text."""
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n"


def _keys(value: Any, keys: tuple[str, ...], where: str) -> dict:
    """``value`` when it is a mapping of exactly ``keys``; SpecError naming ``where`` otherwise."""
    if not isinstance(value, dict):
        raise SpecError(f"{where}: expected a mapping of {', '.join(keys)}, got {brief(value)}")
    unknown, missing = sorted(set(value) - set(keys)), [key for key in keys if key not in value]
    if unknown or missing:
        raise SpecError(f"{where}: " + "; ".join(
            ([f"unknown key(s) {unknown}"] if unknown else []) + ([f"missing key(s) {missing}"] if missing else []))
            + f" (a spec has {', '.join(keys)})")
    return value


def train_spec_from_dict(raw: Any, source: str) -> SSLTrainSpec:
    """The spec of the mapping ``raw`` (a spec file's content, or the ``spec`` that ESPnet's config.yaml
    recorded), its structure and types checked; :class:`SpecError` names ``source`` and the key."""
    raw = _keys(raw, KEYS, source)
    if raw["adapter"] not in ADAPTERS:
        raise SpecError(f"{source}: adapter: expected one of {', '.join(ADAPTERS)}, got {brief(raw['adapter'])}")
    config = None
    if raw["adapter_config"] is not None:
        if not isinstance(raw["adapter_config"], dict):
            raise SpecError(f"{source}: adapter_config: expected a mapping of Lamer options or null, "
                            f"got {brief(raw['adapter_config'])}")
        try:
            config = LamerConfig.from_dict(raw["adapter_config"], source=f"{source}: adapter_config")
        except ValueError as err:  # names the source
            raise SpecError(str(err)) from None
        except TypeError as err:  # a value of another type than its option's, met by a comparison
            raise SpecError(f"{source}: adapter_config: an option of the wrong type ({err})") from None
    replay = None
    if raw["replay"] is not None:
        given = _keys(raw["replay"], REPLAY_KEYS, f"{source}: replay")
        if not isinstance(given["utt2lang"], str) or not given["utt2lang"]:
            raise SpecError(f"{source}: replay.utt2lang: expected the path of the replay utterances' utt2lang, "
                            f"got {brief(given['utt2lang'])}")
        share = given["share"]
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not math.isfinite(share):
            raise SpecError(f"{source}: replay.share: expected a number, got {brief(share)}")
        replay = ReplaySpec(given["utt2lang"], float(share))
    return SSLTrainSpec(raw["adapter"], config, replay)


def read_train_spec(path: str | Path) -> SSLTrainSpec:
    """The spec file ``path`` (JSON, :meth:`SSLTrainSpec.to_json`), read once; :class:`SpecError`
    (or OSError for a file that cannot be opened) names the file and, for a malformed spec, the key."""
    try:
        raw = read_json_object(path)
    except ValueError as err:  # not UTF-8, not JSON, not an object
        raise SpecError(str(err)) from None
    return train_spec_from_dict(raw, str(path))
