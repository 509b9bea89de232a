"""A method config of ``ssl_train``, read once into a typed :class:`Method`.

A method config is the ESPnet-style YAML of ``python -m lamer.bin.ssl_train --config``: its
``ssl_adapter`` (``none``: every parameter trains; ``lamer``, the default: adapters), the adapter
preset it names (``ssl_adapter_preset``, a ``conf/lamer/*.yaml`` file, relative to the config's
folder), options on top of the preset (``ssl_adapter_conf``) and ESPnet's training options.

:func:`read_method` reads the config and its preset once each and resolves them into one
:class:`~lamer.adapters.config.LamerConfig`, checked once. The recipe does so when it checks the
plan and hands ``ssl_train`` the result whole: the adapter and its config in each SSL step's spec
(:mod:`lamer.ssl.train_spec`), no preset left to find, and the other options as the ESPnet
config ``exp/<tag>/config/method.yaml`` (:meth:`Method.options_text`). ``ssl_train`` given a
preset directly resolves it once as it parses its options, with the same :func:`resolve_preset`
and :func:`adapter_options`. This module imports neither torch nor ESPnet: the plan check reads it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from lamer.adapters.config import LamerConfig, preset_options
from lamer.yaml_io import YamlError, brief, load_mapping

ADAPTERS = ("none", "lamer")
DEFAULT_ADAPTER = "lamer"  # ssl_train's --ssl_adapter
ADAPTER_KEYS = ("ssl_adapter", "ssl_adapter_preset", "ssl_adapter_conf")


class MethodError(ValueError):
    """A method config that cannot be used; the message names the file and the key."""


def resolve_preset(preset: str | Path, config: str | Path | None = None) -> Path:
    """The adapter preset file ``preset``: relative to the folder of the method config ``config``
    that names it (its key ``ssl_adapter_preset``), or to the current folder without one.
    FileNotFoundError names the config, the key and the path looked at."""
    path = Path(preset)
    if not path.is_absolute() and config is not None:
        path = Path(config).parent / path
    if not path.is_file():
        named = config is not None
        where = f"{config}: ssl_adapter_preset: " if named else "adapter preset "
        base = "the folder of the config that names it" if named else "the current folder"
        raise FileNotFoundError(f"{where}{preset}: no such file (looked at {path}; "
                                f"a relative preset is taken from {base})")
    return path


def adapter_options(preset: Path | None, overrides: dict | None) -> dict[str, Any]:
    """The Lamer options of the preset file ``preset`` (as :func:`resolve_preset` gives it; None: none)
    with ``overrides`` (``ssl_adapter_conf``) on top, not yet checked: :func:`adapter_config` checks them."""
    return {**(preset_options(preset) if preset else {}), **(overrides or {})}


def adapter_config(preset: Path | None, overrides: dict | None, source: str) -> LamerConfig:
    """The checked :class:`LamerConfig` of :func:`adapter_options`; ValueError names ``source``."""
    return LamerConfig.from_dict(adapter_options(preset, overrides), source=source)


@dataclass(frozen=True)
class Method:
    """A method config, resolved: ``adapter`` (``none`` or ``lamer``), ``options`` (its other
    ``ssl_train`` options, as written), ``preset`` (the adapter preset file it names, found from the
    config's folder; None without one) and ``lamer_config`` (that preset with the config's
    ``ssl_adapter_conf`` on top, every option filled in; what ``lamer`` patches)."""

    path: Path
    adapter: str
    options: dict[str, Any]
    preset: Path | None
    lamer_config: LamerConfig

    @property
    def keeps_adapters(self) -> bool:
        """Whether ssl_train leaves adapters (``<out>/adapters``) rather than a whole checkpoint."""
        return self.adapter != "none"

    @property
    def adapter_config(self) -> LamerConfig | None:
        """The adapters' config; None for a method without adapters."""
        return self.lamer_config if self.keeps_adapters else None

    @property
    def configs(self) -> tuple[str, ...]:
        """The files it was read from: the config, then its preset."""
        return (str(self.path), *((str(self.preset),) if self.preset else ()))

    def with_adapter(self, adapter: str) -> Method:
        """The same method with ``ssl_adapter`` replaced (``ssl_train --ssl_adapter``)."""
        if adapter not in ADAPTERS:
            raise MethodError(f"--ssl_adapter {adapter}: expected one of {', '.join(ADAPTERS)}")
        return replace(self, adapter=adapter)

    def with_adapter_config(self, options: dict[str, Any], source: str) -> Method:
        """The same method with the adapter config of the Lamer ``options`` (its own with options on
        top: ``ssl_train --ssl_adapter_conf``), checked; MethodError names ``source``."""
        try:
            config = LamerConfig.from_dict(options, source=source)
        except (TypeError, ValueError) as err:
            raise MethodError(str(err)) from None
        return replace(self, lamer_config=config)

    def ssl_train_config(self) -> dict[str, Any]:
        """The method as ``ssl_train`` runs it, resolved: ``ssl_adapter``, the adapter config whole as
        ``ssl_adapter_conf`` (no preset left to find; none without adapters), then the other options
        as written. The recipe hands it over in two parts: the adapter in each SSL step's spec, the
        rest as :meth:`options_text`."""
        adapter = {"ssl_adapter_conf": self.lamer_config.to_dict()} if self.keeps_adapters else {}
        return {"ssl_adapter": self.adapter, **adapter, **self.options}

    def options_text(self) -> str:
        """The method's options other than its adapter, as the ESPnet config (``ssl_train --config``)
        the recipe writes (the files it was resolved from are in the record of the job that writes
        it: :attr:`configs`)."""
        text = yaml.safe_dump(self.options, sort_keys=False, allow_unicode=True, default_flow_style=None)
        return ("# the training options of a method config, written by the recipe; its adapter and adapter config "
                "are in each SSL step's spec (lamer.ssl.train_spec)\n" + text)


def read_method(path: str | Path) -> Method:
    """The method config ``path`` and the preset it names, each read once (strict YAML), resolved
    into a :class:`Method`; :class:`MethodError` names the file (and line) and the key."""
    path = Path(path)
    try:
        raw = load_mapping(path)
    except YamlError as err:
        raise MethodError(f"method config {err}") from None
    adapter = raw.get("ssl_adapter", DEFAULT_ADAPTER)
    if adapter not in ADAPTERS:
        raise MethodError(f"{path}: ssl_adapter: expected one of {', '.join(ADAPTERS)}, got {brief(adapter)}")
    preset = raw.get("ssl_adapter_preset")
    if preset is not None and (not isinstance(preset, str) or not preset):
        raise MethodError(f"{path}: ssl_adapter_preset: expected the path of an adapter preset, got {brief(preset)}")
    overrides = raw.get("ssl_adapter_conf") or {}
    if not isinstance(overrides, dict):
        raise MethodError(f"{path}: ssl_adapter_conf: expected a mapping of Lamer options, got {brief(overrides)}")
    try:
        found = resolve_preset(preset, path) if preset else None
        source = f"{found} (ssl_adapter_preset of {path}, with its ssl_adapter_conf)" if found else \
            f"{path}: ssl_adapter_conf"
        config = adapter_config(found, overrides, source)
    except (OSError, ValueError) as err:  # the preset: missing, refused YAML, unknown or bad options
        raise MethodError(str(err)) from None
    options = {key: value for key, value in raw.items() if key not in ADAPTER_KEYS}
    return Method(path, adapter, options, found, config)
