"""ESPnet's YAML, read by lamer's strict loader while our entry points run ESPnet.

ESPnet (202511) parses the value of every ``--*_conf KEY=VALUE`` option (its
``NestedDictAction``, e.g. ``--frontend_conf path_or_url=...``) with PyYAML's unsafe loader, which
builds any Python object a ``!!python/object/apply:...`` tag asks for, and an option without ``=``
with ``eval`` first. Its ``--config`` files and a model's ``config.yaml`` are read with
``yaml.safe_load``: no code, but a key given twice silently keeps the last value and an alias bomb
is expanded. ESPnet is not patched on disk: :func:`yaml_patches` lists the replacements that
:func:`lamer.runtime.load_guard.espnet_safe_loading` applies for the duration of our call:

- ``NestedDictAction.__call__`` is :func:`strict_nested_dict_call`: the same ``KEY=VALUE``,
  ``KEY.SUB=VALUE`` and ``{KEY: VALUE}`` forms, each value read by
  :func:`lamer.yaml_io.parse_yaml` and nothing evaluated;
- ``yaml.safe_load`` is :func:`strict_safe_load`, :func:`~lamer.yaml_io.parse_yaml` for every
  caller in the process (ESPnet's config files, model configs).

A refused value raises :class:`~lamer.yaml_io.YamlError` naming the option and key, or the file
and line. The recipe passes paths as quoted YAML strings (:func:`lamer.yaml_io.quoted`), so they
arrive byte for byte whatever they hold.
"""
from __future__ import annotations

import argparse
import copy
from typing import IO, Any

from lamer.yaml_io import parse_yaml


def strict_nested_dict_call(self: argparse.Action, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                            values: str, option_strings: str | None = None) -> None:
    """``NestedDictAction.__call__`` with every value read by the strict loader, nothing evaluated.

    ``KEY=VALUE`` (``KEY`` may be dotted: ``a.b=3`` sets ``{a: {b: 3}}``, replacing a non-mapping
    ``a``) sets one entry, a blank ``VALUE`` as given; any other text must be a YAML mapping,
    merged into (a copy of) the option's dict. Raises :class:`~lamer.yaml_io.YamlError` naming the option and key.
    """
    option = option_strings or "/".join(self.option_strings)
    if "=" in values:
        key, text = values.split("=", maxsplit=1)
        value = parse_yaml(text, f"{option} {key}") if text.strip() else text
        conf = copy.deepcopy(getattr(namespace, self.dest, None))
        conf = conf if isinstance(conf, dict) else {}
        *parents, last = key.split(".")
        inner = conf
        for name in parents:
            if not isinstance(inner.get(name), dict):
                inner[name] = {}
            inner = inner[name]
        inner[last] = value
        setattr(namespace, self.dest, conf)
        return
    value = parse_yaml(values, option)
    if not isinstance(value, dict):
        raise argparse.ArgumentError(self, f"expected KEY=VALUE or a YAML mapping such as {{KEY: VALUE}}, "
                                           f"got a {type(value).__name__}")
    current = getattr(namespace, self.dest, None)
    # a new dict: ESPnet's update() in place changed the option's default, seen by the next parse
    setattr(namespace, self.dest, {**current, **value} if isinstance(current, dict) else value)


def strict_safe_load(stream: str | bytes | IO) -> Any:
    """``yaml.safe_load`` by the strict loader; errors name the stream's file when it has one."""
    return parse_yaml(stream, str(getattr(stream, "name", "<string>")))


def yaml_patches() -> list[tuple[Any, str, Any]]:
    """(owner, attribute, replacement) of ESPnet's YAML parsing, for ``espnet_safe_loading``."""
    import yaml
    from espnet2.utils.nested_dict_action import NestedDictAction

    return [(NestedDictAction, "__call__", strict_nested_dict_call), (yaml, "safe_load", strict_safe_load)]
