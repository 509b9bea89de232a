"""The one YAML reader of lamer: plain data only, every key once, bounded in size.

Every YAML that lamer reads goes through :func:`parse_yaml`: plans, ablation configs, method
configs, adapter presets, ``lang.yaml``, probe ``config.yaml`` files, and, while our entry points
run ESPnet (:mod:`lamer.runtime.yaml_guard`), ESPnet's ``--config`` files, model configs and
``--*_conf KEY=VALUE`` values. Beyond PyYAML's safe loader it refuses

- a key given twice in one mapping (YAML keeps the last one silently), naming both lines;
  keys that a ``<<: *anchor`` merge brings in may still be overridden;
- every tag but plain YAML's (strings, numbers, booleans, null, timestamps, lists, mappings,
  ``<<`` merges): ``!!python/...``, ``!!binary``, ``!!set``, application tags such as ``!foo``;
- more than :data:`MAX_ALIASES` aliases, a document that holds more than :data:`MAX_VALUES`
  values once every alias is counted as often as it is used (the "billion laughs" bomb is ten
  aliases per level: a few hundred bytes that expand to 10^9 values), and an alias inside the
  value it names (a recursive structure);
- more than :data:`MAX_BYTES` bytes, text that is not UTF-8, nesting too deep for the parser.

Each refusal is a :class:`YamlError`: one line, ``SOURCE:LINE: what is wrong; how to fix it``,
that names the place and the key but never prints a value, which an alias can make huge.
:func:`brief` is the bounded ``repr`` for the values that callers do name in their messages.
"""
from __future__ import annotations

import reprlib
from pathlib import Path
from typing import IO, Any

import yaml

MAX_BYTES = 4 << 20        # configs are a few kB; a probe's config.yaml with a large token list under 1 MB
MAX_ALIASES = 1000
MAX_VALUES = 1_000_000     # scalars, lists and mappings, every use of an alias counted
_CORE = "tag:yaml.org,2002:"
PLAIN_TAGS = frozenset(_CORE + name for name in ("str", "int", "float", "bool", "null", "timestamp", "seq", "map",
                                                  "merge"))
_MERGE = _CORE + "merge"

BRIEF_CHARS = 200
_BRIEF = reprlib.Repr()
_BRIEF.maxlevel, _BRIEF.maxstring, _BRIEF.maxother, _BRIEF.maxlong = 3, 80, 80, 40
_BRIEF.maxlist = _BRIEF.maxtuple = _BRIEF.maxdict = _BRIEF.maxset = 6


class YamlError(ValueError, yaml.YAMLError):
    """A YAML text lamer refuses; the message is one line naming the source (and line)."""


class YamlMapping(dict):
    """The top-level mapping of a YAML file, with the 1-based line of each of its keys."""

    def __init__(self, data: dict[str, Any], lines: dict[str, int]) -> None:
        super().__init__(data)
        self.lines = lines


def brief(value: Any) -> str:
    """``repr(value)`` cut short (long strings, long or deep lists and mappings) to at most
    :data:`BRIEF_CHARS` characters, for error messages."""
    shown = _BRIEF.repr(value)
    return shown if len(shown) <= BRIEF_CHARS else shown[:BRIEF_CHARS - 3] + "..."


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus the checks of the module doc, made on the composed nodes (where
    an alias is one shared node) before anything is constructed."""

    def __init__(self, text: str, source: str) -> None:
        super().__init__(text)
        self.source = source
        self.aliases = 0

    def refuse(self, mark: yaml.Mark, message: str) -> YamlError:
        return YamlError(f"{self.source}:{mark.line + 1}: {message}")

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise self.refuse(self.peek_event().start_mark,
                                  f"more than {MAX_ALIASES} aliases (*name); write the values out")
        return super().compose_node(parent, index)

    def check(self, root: yaml.Node) -> None:
        """Refuse a tag, a repeated key, a recursive alias or too many values anywhere under ``root``."""
        sizes: dict[int, int] = {}  # values under a node, by id: each shared node is counted once here
        open_nodes: set[int] = set()

        def size(node: yaml.Node) -> int:
            if id(node) in sizes:
                return sizes[id(node)]
            if id(node) in open_nodes:
                raise self.refuse(node.start_mark, "an alias inside the value it names (a recursive structure); "
                                                   "write the value out")
            if node.tag not in PLAIN_TAGS:
                raise self.refuse(node.start_mark, f"tag {brief(_tag_name(node.tag))} is refused: lamer reads plain "
                                                   "YAML only (strings, numbers, booleans, null, lists, mappings); "
                                                   "remove the tag, or quote the value to keep it as text")
            open_nodes.add(id(node))
            children = ([item for pair in node.value for item in pair] if isinstance(node, yaml.MappingNode)
                        else node.value if isinstance(node, yaml.SequenceNode) else [])
            total = 1
            for child in children:
                total += size(child)
                if total > MAX_VALUES:
                    raise self.refuse(node.start_mark, f"this value holds more than {MAX_VALUES} values, aliases "
                                                       "counted as often as they are used (an alias bomb?)")
            if isinstance(node, yaml.MappingNode):
                self.check_keys(node)
            open_nodes.discard(id(node))
            sizes[id(node)] = total
            return total

        size(root)

    def check_keys(self, node: yaml.MappingNode) -> None:
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE or not isinstance(key_node, yaml.ScalarNode):
                continue  # merged keys may be overridden; an unhashable key is the constructor's error
            key, line = self.construct_object(key_node), key_node.start_mark.line + 1
            if key in first:
                raise self.refuse(key_node.start_mark, f"key {brief(key)} is given twice in one mapping (first at "
                                                       f"line {first[key]}); keep one")
            first[key] = line


def _compose(text: str | bytes | IO, source: str) -> tuple[Any, yaml.Node | None]:
    """The data of the one YAML document in ``text`` (None when empty) and its root node."""
    if hasattr(text, "read"):
        text = text.read(MAX_BYTES + 1)
    if len(text) > MAX_BYTES:
        raise YamlError(f"{source}: more than {MAX_BYTES} bytes; a YAML config is at most that long")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise YamlError(f"{source}: not UTF-8 text (byte {err.start}); save it as UTF-8") from None
    loader = None
    try:
        loader = _StrictLoader(text, source)  # its reader refuses characters YAML does not allow
        node = loader.get_single_node()
        if node is None:
            return None, None
        loader.check(node)
        return loader.construct_document(node), node
    except YamlError:
        raise
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        what = "; ".join(" ".join(str(part).split()) for part in (err.context, err.problem) if part)
        raise YamlError(f"{where}: not valid YAML: {what}") from None
    except yaml.YAMLError as err:  # the reader's: a character YAML does not allow
        raise YamlError(f"{source}: not valid YAML: {' '.join(str(err).split())}") from None
    except RecursionError:
        raise YamlError(f"{source}: not valid YAML: lists or mappings nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def parse_yaml(text: str | bytes | IO, source: str = "<string>") -> Any:
    """The data of the YAML document ``text`` (a string, bytes or a readable file), None when it is
    empty; raises :class:`YamlError` naming ``source`` for anything the module doc refuses."""
    return _compose(text, source)[0]


def _read(path: str | Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except OSError as err:
        raise YamlError(f"{path}: cannot read: {err.strerror or err}") from None


def load_yaml(path: str | Path) -> Any:
    """The data of the YAML file ``path`` (None when it is empty), read by :func:`parse_yaml`; a
    file that cannot be read is a :class:`YamlError` naming it too."""
    return parse_yaml(_read(path), str(path))


def load_mapping(path: str | Path) -> YamlMapping:
    """The top-level mapping of the YAML file ``path`` (empty for an empty file), with the line of
    each top-level key; :class:`YamlError` when it is not a mapping or :func:`load_yaml` refuses it."""
    data, node = _compose(_read(path), str(path))
    if data is None:
        return YamlMapping({}, {})
    if not isinstance(data, dict):
        raise YamlError(f"{path}: expected a mapping at the top level")
    return YamlMapping(data, {key.value: key.start_mark.line + 1 for key, _ in node.value
                              if isinstance(key, yaml.ScalarNode)})


def quoted(value: str) -> str:
    """``value`` as a YAML double-quoted scalar on one line: every YAML loader reads it back as exactly
    ``value``, a string, whatever it holds (`` #``, ``: ``, ``{``, ``[``, ``!!tags``, quotes, newlines).
    For a value that a program parses as YAML, such as ESPnet's ``--frontend_conf KEY=VALUE``."""
    return yaml.safe_dump(value, default_style='"', width=float("inf"), allow_unicode=True).rstrip("\n")
