"""The file of a trained probe that decoding reads: ESPnet's average of the probe's best epochs.

ESPnet's trainer ends by averaging, for each ``best_model_criterion`` entry (phase, name,
min|max), the ``keep_nbest_models`` best epochs into ``<phase>.<name>.ave_<n>best.pth`` and
links ``<phase>.<name>.ave.pth`` to it; with ``keep_nbest_models: 1`` that file holds the best
epoch itself. Decoding reads the average under the first criterion, as ESPnet's ``asr.sh``
decodes ``valid.acc.ave.pth``: the criterion that the probe's config (or a
``--best_model_criterion`` among the probe's training options, which ESPnet reads last) ranks
first.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lamer.yaml_io import brief, load_mapping

CRITERION_OPTION = "--best_model_criterion"
ESPNET_FIRST_CRITERION = ("train", "loss")  # the head of ESPnet's default --best_model_criterion


class ProbeConfigError(ValueError):
    """A probe config (or training option) whose best-model criterion names no model file."""


def _triple(value: Any, where: str) -> tuple[str, str]:
    """(phase, name) of one criterion, given as ``[phase, name, mode]`` or ``"phase,name,mode"``."""
    parts = value.split(",") if isinstance(value, str) else value
    if (not isinstance(parts, (list, tuple)) or len(parts) != 3 or not all(isinstance(p, str) and p for p in parts)
            or parts[0] not in ("train", "valid") or parts[2] not in ("min", "max")):
        raise ProbeConfigError(f"{where}: expected [train|valid, NAME, min|max] (e.g. [valid, loss, min]), got "
                               f"{brief(value)}")
    return parts[0], parts[1]


def _option_criterion(train_opts: Sequence[str]) -> str | None:
    """The first criterion of the last ``--best_model_criterion`` in ``train_opts`` (None: none)."""
    found = None
    for i, arg in enumerate(train_opts):
        if arg.startswith(CRITERION_OPTION + "="):
            found = arg.split("=", 1)[1]
        elif arg == CRITERION_OPTION:
            if i + 1 >= len(train_opts) or train_opts[i + 1].startswith("--"):
                raise ProbeConfigError(f"probe training options: {CRITERION_OPTION} without a value")
            found = train_opts[i + 1]
    return found


def decoded_model_name(config: Mapping[str, Any], source: str, train_opts: Sequence[str] = ()) -> str:
    """The file name (in the probe's output dir) of the model that decoding reads, for a probe
    trained with ``config`` (read from ``source``, named in errors) and ``train_opts``.

    Raises ProbeConfigError naming the config's key or the option when the criterion is malformed.
    """
    option = _option_criterion(train_opts)
    if option is not None:
        phase, name = _triple(option, f"probe training options: {CRITERION_OPTION}")
    elif "best_model_criterion" in config:
        criteria = config["best_model_criterion"]
        if not isinstance(criteria, list) or not criteria:
            raise ProbeConfigError(f"{source}: best_model_criterion: expected a non-empty list of [phase, name, mode], "
                                   f"got {brief(criteria)}")
        phase, name = _triple(criteria[0], f"{source}: best_model_criterion[0]")
    else:
        phase, name = ESPNET_FIRST_CRITERION
    return f"{phase}.{name}.ave.pth"


def probe_model_name(config: str | Path, train_opts: Sequence[str] = ()) -> str:
    """:func:`decoded_model_name` of the probe config file ``config`` (read by the strict loader,
    whose :class:`~lamer.yaml_io.YamlError` names the file)."""
    return decoded_model_name(load_mapping(config), str(config), train_opts)
