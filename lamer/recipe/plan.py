"""The continual plan of a recipe: base languages, stages, method, replay, probe.

A plan is a YAML file in the recipe (``conf/plan.yaml``)::

    corpus: commonvoice            # commonvoice | fleurs: reader, and db.sh root to use
    base: [en, fr, de]             # the corpus' own locale codes
    stages:                        # continual stages, in order
      - {name: s1, languages: [es, it]}
      - {name: s2, languages: [nl, pt]}
    lang_map: {en: enx}            # optional: locale -> ISO 639-3 beyond lamer's tables (data/<iso3>)
    base_model: {checkpoint: base_model/upstream.pt, sha256: 9f86d0..., languages: [eng, fra, deu]}
                                   # or {pretrain: conf/ssl/base_pretrain.yaml}
    allow_seen: false              # true: a continual stage may add a language the checkpoint saw
    method: conf/ssl/lamer.yaml
    replay: {minutes: 2, strategy: speaker_balanced, share: 0.2}   # or {fraction: 0.1, share: ...}; omit for none
    probe: conf/probe/demo.yaml
    protocols: [retrained, fixed]

Replay is configured here only: ``minutes`` (per old language) or ``fraction`` (of the duration of
all the stage's new languages' training data, per old language) sizes the sample drawn from every
language learned before, ``strategy`` picks its utterances, and ``share`` is the part of every
training batch taken from it (``ssl_train --replay_share``). The k-means codebook of a stage is fit
on the stage's training data with the replay sample, whatever the share, so the systems of a
comparison that differ only in the share (0: no replay in the batches) see the same codebook data.

The base model is pre-trained by stage 3 (``{pretrain: CONFIG}``, the small demo HuBERT) or
imported (``{checkpoint: PATH}``: a checkpoint file or a transformers directory). A checkpoint file
may name its SHA-256 (``sha256:``, 64 hex digits; ``python -m lamer.bin.checksum FILE`` prints it):
stage 3 checks the file's bytes against it before anything loads them, so a shipped checkpoint
that was damaged, cut short or replaced stops the recipe instead of being trained on. Relative
paths (``method``, ``probe``, ``base_model``) are taken from the recipe directory.

An imported checkpoint names the languages it was pre-trained on (``languages``, ISO 639-3 codes:
``[eng]`` for HuBERT-base, ``[eng, spa, fra]`` for the mHuBERT base of those three, mHuBERT-147
and XLS-R their 147 and 128 languages). Extending a model with a language it has seen measures
domain adaptation, not expansion, so a continual stage that adds one of them is refused unless
the plan says ``allow_seen: true``; a pre-trained base model has seen the plan's base languages.

Every problem is found before any work starts and reported together, naming the key. A key
given twice in one mapping (YAML would silently keep the last) and a protocol listed twice are
refused, with the file and line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lamer.checksum import sha256_problem
from lamer.data.errors import DataError
from lamer.data.languages import CORPUS_TABLES, to_iso3
from lamer.yaml_io import YamlError, YamlMapping, brief, load_mapping

PROTOCOLS = ("retrained", "fixed")
REPLAY_STRATEGIES = ("random", "speaker_balanced")
_KEYS = {"corpus", "base", "stages", "method", "replay", "probe", "protocols", "seed", "lang_map",
         "base_model", "allow_seen"}
_CHECKPOINT_KEYS = {"checkpoint", "sha256", "languages"}


class PlanError(ValueError):
    """A plan that cannot be run; the message lists every problem found."""


@dataclass
class Stage:
    name: str
    locales: list[str]
    languages: list[str]  # ISO 639-3


@dataclass
class Plan:
    path: Path
    corpus: str
    base: Stage
    stages: list[Stage]
    method: Path
    probe: Path
    replay: dict[str, Any] = field(default_factory=dict)
    protocols: list[str] = field(default_factory=lambda: ["retrained"])
    seed: int = 0
    lang_map: dict[str, str] = field(default_factory=dict)
    base_model: dict[str, Any] = field(default_factory=dict)  # checkpoint, sha256, languages; or pretrain

    @property
    def all_stages(self) -> list[Stage]:
        return [self.base, *self.stages]

    def introduced(self) -> dict[str, str]:
        """``{iso3: stage name}``: where each language enters the plan."""
        return {lang: stage.name for stage in self.all_stages for lang in stage.languages}

    def locale_of(self) -> dict[str, str]:
        return {lang: loc for stage in self.all_stages for loc, lang in zip(stage.locales, stage.languages)}


def _as_list(value: Any, key: str, problems: list[str]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        problems.append(f"{key}: expected a list of locale codes, got {brief(value)}")
        return []
    if not value:
        problems.append(f"{key}: is empty; a stage needs at least one language")
    return value


def _resolve(locales: list[str], corpus: str, lang_map: dict[str, str], key: str, problems: list[str]) -> list[str]:
    out = []
    for locale in locales:
        try:
            out.append(to_iso3(locale, corpus, lang_map))
        except DataError as err:
            problems.append(f"{key}: {err}")
    return out


def _file(base_dir: Path, value: Any, key: str, problems: list[str], folder_ok: bool = False) -> Path:
    """``value``, a path relative to ``base_dir`` unless absolute, which must be a file (or, with
    ``folder_ok``, a directory)."""
    if not isinstance(value, str) or not value:
        problems.append(f"{key}: expected a path, got {brief(value)}")
        return Path()
    path = Path(value) if Path(value).is_absolute() else base_dir / value
    if not (path.is_file() or folder_ok and path.is_dir()):
        problems.append(f"{key}: {value} does not exist (looked at {path})")
    return path


def _base_model(recipe_dir: Path, value: Any, problems: list[str]) -> dict[str, Any]:
    """The checked ``base_model``: ``{checkpoint: PATH}`` with an optional ``sha256: HEX`` (the
    file's SHA-256, checked before stage 3 loads it) and ``languages: [iso3, ...]`` (what it was
    pre-trained on), or ``{pretrain: CONFIG}``; paths resolved against the recipe directory as the
    plan's other paths."""
    usage = ("base_model: expected {checkpoint: PATH} (a local SSL checkpoint: file or transformers directory; "
             "optional sha256: HEX, the file's SHA-256 checked before it is loaded, and languages: [ISO 639-3, ...], "
             "what it was pre-trained on) or {pretrain: CONFIG} (pre-train the small demo model)")
    keys = set(value) if isinstance(value, dict) else set()
    if not ({"checkpoint"} <= keys <= _CHECKPOINT_KEYS or keys == {"pretrain"}):
        problems.append(f"{usage}; got {brief(value)}")
        return {}
    if "pretrain" in value:
        return {"pretrain": str(_file(recipe_dir, value["pretrain"], "base_model.pretrain", problems))}
    path = _file(recipe_dir, value["checkpoint"], "base_model.checkpoint", problems, folder_ok=True)
    out: dict[str, Any] = {"checkpoint": str(path)}
    if "sha256" in value:
        if problem := sha256_problem(value["sha256"]):
            problems.append(f"base_model.sha256: {problem}; print a file's with python -m lamer.bin.checksum FILE")
        elif path.is_dir():
            problems.append(f"base_model.sha256: base_model.checkpoint {value['checkpoint']} is a directory; a "
                            "SHA-256 checks one checkpoint file (drop sha256, or point checkpoint at the file)")
        out["sha256"] = str(value["sha256"]).lower()
    if "languages" in value:
        languages = value["languages"]
        if not isinstance(languages, list) or not languages or not all(
                isinstance(lang, str) and re.fullmatch(r"[a-z]{3}", lang) for lang in languages):
            problems.append("base_model.languages: the languages the checkpoint was pre-trained on, a non-empty "
                            f"list of ISO 639-3 codes (eng, cmn, ...), got {brief(languages)}")
        else:
            out["languages"] = list(dict.fromkeys(languages))
    return out


def _seen_problems(base_model: dict[str, Any], base: Stage, stages: list[Stage], allow_seen: Any) -> list[str]:
    """Continual stages that add a language the base model was pre-trained on (its ``languages``, or
    the plan's base languages for a model pre-trained by the recipe), unless ``allow_seen``."""
    if not isinstance(allow_seen, bool):
        return [f"allow_seen: expected true or false, got {brief(allow_seen)}"]
    if allow_seen:
        return []
    seen = set(base_model.get("languages", base.languages if "pretrain" in base_model else ()))
    return [f"{stage.name}: {locale} ({lang}) is among base_model.languages, the languages the checkpoint was "
            "pre-trained on: adding it measures adaptation, not expansion; choose a language it never saw, or "
            "say allow_seen: true"
            for stage in stages for locale, lang in zip(stage.locales, stage.languages) if lang in seen]


def read_mapping(path: Path, what: str, error: type[PlanError]) -> YamlMapping:
    """The top-level mapping of the YAML file ``path`` (a ``what``), read by the strict loader
    (:mod:`lamer.yaml_io`); ``error`` names the file (and line) when it is missing, refused by the
    loader (a key given twice in one mapping, a tag, an alias bomb) or not a mapping."""
    if not path.is_file():
        raise error(f"{path}: {what} not found")
    try:
        return load_mapping(path)
    except YamlError as err:
        raise error(str(err)) from None


def load_plan(path: str | Path, recipe_dir: str | Path | None = None) -> Plan:
    """Read and check a plan; raise PlanError listing every problem.

    Relative config paths are taken from ``recipe_dir`` (default: the plan's parent's parent,
    i.e. the recipe directory holding ``conf/``).
    """
    path = Path(path)
    raw = read_mapping(path, "plan file", PlanError)
    recipe_dir = Path(recipe_dir) if recipe_dir else path.resolve().parent.parent
    problems: list[str] = []
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        problems.append(f"unknown key(s) {unknown}; known keys are {sorted(_KEYS)}")
    corpus = raw.get("corpus")
    if corpus not in CORPUS_TABLES:
        problems.append(f"corpus: expected one of {sorted(CORPUS_TABLES)}, got {brief(corpus)}")
        corpus = "commonvoice"
    lang_map = raw.get("lang_map") or {}
    if not isinstance(lang_map, dict) or not all(re.fullmatch(r"[a-z]{3}", str(v)) for v in lang_map.values()):
        problems.append(f"lang_map: expected {{locale: iso3}}, got {brief(lang_map)}")
        lang_map = {}

    base_locales = _as_list(raw.get("base"), "base", problems)
    base = Stage("base", base_locales, _resolve(base_locales, corpus, lang_map, "base", problems))
    stages: list[Stage] = []
    raw_stages = raw.get("stages")
    if not isinstance(raw_stages, list) or not raw_stages:
        problems.append("stages: expected a non-empty list of {name, languages}")
        raw_stages = []
    for i, item in enumerate(raw_stages):
        key = f"stages[{i}]"
        if not isinstance(item, dict) or set(item) != {"name", "languages"}:
            problems.append(f"{key}: expected {{name: ..., languages: [...]}}, got {brief(item)}")
            continue
        name = item["name"]
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_]+", name) or name == "base":
            problems.append(f"{key}.name: {brief(name)} must be letters, digits or _ and not 'base'")
        locales = _as_list(item["languages"], f"{key}.languages", problems)
        stages.append(Stage(str(name), locales, _resolve(locales, corpus, lang_map, f"{key}.languages", problems)))
    names = [s.name for s in stages]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"stages: name {brief(name)} is used twice")
    seen: dict[str, str] = {}
    for stage in [base, *stages]:
        for locale, lang in zip(stage.locales, stage.languages):
            if lang in seen:
                problems.append(f"language {locale} ({lang}) is in both {seen[lang]!r} and {stage.name!r}; "
                                "a language enters the plan once")
            seen.setdefault(lang, stage.name)

    replay = raw.get("replay") or {}
    if not isinstance(replay, dict):
        problems.append(f"replay: expected a mapping, got {brief(replay)}")
        replay = {}
    elif replay:
        amounts = [k for k in ("minutes", "fraction") if k in replay]
        if len(amounts) != 1:
            problems.append("replay: give exactly one of 'minutes' or 'fraction'")
        elif not isinstance(replay[amounts[0]], (int, float)) or replay[amounts[0]] <= 0:
            problems.append(f"replay.{amounts[0]}: must be a positive number")
        if replay.get("strategy", "random") not in REPLAY_STRATEGIES:
            problems.append(f"replay.strategy: expected one of {REPLAY_STRATEGIES}")
        share = replay.get("share")
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share < 1:
            problems.append(f"replay.share: the part of every training batch taken from the replay sample, "
                            f"a number in (0, 1), got {brief(share)}")
        extra = sorted(set(replay) - {"minutes", "fraction", "strategy", "share"})
        if extra:
            problems.append(f"replay: unknown key(s) {extra}")
    protocols = raw.get("protocols", ["retrained"])
    if not isinstance(protocols, list) or not protocols or any(p not in PROTOCOLS for p in protocols):
        problems.append(f"protocols: expected a non-empty list drawn from {PROTOCOLS}, got {brief(protocols)}")
        protocols = ["retrained"]
    elif repeated := sorted({p for p in protocols if protocols.count(p) > 1}):
        problems.append(f"protocols (line {raw.lines['protocols']}): {', '.join(map(repr, repeated))} listed more than "
                        "once; list each protocol once")
    seed = raw.get("seed", 0)
    if not isinstance(seed, int):
        problems.append(f"seed: expected an integer, got {brief(seed)}")
    method = _file(recipe_dir, raw.get("method"), "method", problems)
    probe = _file(recipe_dir, raw.get("probe"), "probe", problems)
    base_model = _base_model(recipe_dir, raw.get("base_model"), problems)
    problems += _seen_problems(base_model, base, stages, raw.get("allow_seen", False))
    if problems:
        raise PlanError(f"{path}: the plan cannot run:\n  - " + "\n  - ".join(problems))
    return Plan(path=path, corpus=corpus, base=base, stages=stages, method=method, probe=probe,
                replay=replay, protocols=protocols, seed=seed, lang_map=lang_map, base_model=base_model)


def check_data_root(plan: Plan, root: str | Path | None) -> None:
    """The corpus root must hold a folder for every locale of the plan."""
    if not root:
        raise PlanError(f"{plan.path}: no data root for corpus {plan.corpus!r}: set it in db.sh")
    root = Path(root)
    if not root.is_dir():
        raise PlanError(f"{plan.path}: data root {root} (corpus {plan.corpus}) does not exist; fix db.sh")
    missing = [loc for stage in plan.all_stages for loc in stage.locales if not (root / loc).is_dir()]
    if missing:
        raise PlanError(f"{plan.path}: data root {root} has no folder for {', '.join(missing)}")
