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
    probe_minutes: 1.5             # optional: labelled minutes per language of the probes' training set
    quality_probe: conf/probe/probe_cpu_full.yaml  # optional, with probe_minutes: the base model read with every label
    protocols: [retrained, fixed]

``probe_minutes`` gives the probes a labelled budget per language, as ML-SUPERB's 10-minute and
1-hour settings do, while the SSL stages train on every unlabelled training utterance: the
utterances are chosen speaker-balanced from each language's training split, seeded by the plan's
seed, the same for every stage and protocol. Without it the probes train on all of the split.
A few labels show what pre-training and each stage learn about a language, but they read every
model far below what its features allow; ``quality_probe`` (a probe config; only with
``probe_minutes``) adds one probe trained on every labelled training utterance, on the base model
only, whose scores the reports print as the base model's quality.

Replay is configured here only (:class:`Replay`): ``minutes`` (per old language) or ``fraction`` (of
the duration of all the stage's new languages' training data, per old language) sizes the sample
drawn from every language learned before, ``strategy`` picks its utterances, and ``share`` is the
part of every training batch taken from it (a number in [0, 1), the contract of
:mod:`lamer.ssl.replay_share`, checked here; each SSL stage's spec hands it to ssl_train). The
k-means codebook of a stage is fit on the stage's training data with the replay sample, whatever
the share, so the systems of a comparison that differ only in the share (0: no replay in the
batches) see the same codebook data.

The method config is read here, once, with the adapter preset it names (:class:`~lamer.ssl.method_config.Method`:
the adapter kind, its other ssl_train options and the adapter config with the preset merged in,
checked): the recipe hands ssl_train that resolved config whole (the adapter and its config in each
SSL stage's spec, :mod:`lamer.ssl.train_spec`).

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
from lamer.ssl.method_config import Method, MethodError, read_method
from lamer.ssl.replay_share import share_problem
from lamer.yaml_io import YamlError, YamlMapping, brief, load_mapping

PROTOCOLS = ("retrained", "fixed")
REPLAY_STRATEGIES = ("random", "speaker_balanced")
REPLAY_AMOUNTS = ("minutes", "fraction")
_KEYS = {"corpus", "base", "stages", "method", "replay", "probe", "probe_minutes", "quality_probe", "protocols", "seed",
         "lang_map", "base_model", "allow_seen"}
_CHECKPOINT_KEYS = {"checkpoint", "sha256", "languages"}


class PlanError(ValueError):
    """A plan that cannot be run; the message lists every problem found."""


@dataclass
class Stage:
    name: str
    locales: list[str]
    languages: list[str]  # ISO 639-3


@dataclass(frozen=True)
class Replay:
    """The plan's replay: a sample of every language learned before a stage, ``value`` ``amount``
    (``minutes`` per old language, or a ``fraction`` of the duration of the stage's new languages'
    training data) drawn by ``strategy``; ``share`` is the part of every SSL batch taken from it."""

    amount: str
    value: int | float  # as written: it reaches prepare_data's --minutes / --fraction as given
    strategy: str
    share: float

    def as_dict(self) -> dict[str, Any]:
        """The plan's spelling: ``{minutes: 2, strategy: ..., share: ...}``."""
        return {self.amount: self.value, "strategy": self.strategy, "share": self.share}


@dataclass(frozen=True)
class BaseModel:
    """The plan's base model: a ``checkpoint`` to import (a file or a transformers directory, with
    its ``sha256`` and the ``languages`` it was pre-trained on, where the plan gives them), or a
    ``pretrain`` config that stage 3 pre-trains it with. Paths are resolved against the recipe."""

    checkpoint: str | None = None
    sha256: str | None = None
    languages: tuple[str, ...] = ()
    pretrain: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The plan's spelling, the keys it gives."""
        if self.pretrain is not None:
            return {"pretrain": self.pretrain}
        return {"checkpoint": self.checkpoint, **({"sha256": self.sha256} if self.sha256 else {}),
                **({"languages": list(self.languages)} if self.languages else {})}


@dataclass
class Plan:
    path: Path
    corpus: str
    base: Stage
    stages: list[Stage]
    method: Method
    probe: Path
    base_model: BaseModel
    replay: Replay | None = None  # None: no replay
    protocols: list[str] = field(default_factory=lambda: ["retrained"])
    seed: int = 0
    lang_map: dict[str, str] = field(default_factory=dict)
    probe_minutes: float | None = None  # labelled minutes per language of the probes' training set; None: all
    quality_probe: Path | None = None  # the base model's probe with every label (only with probe_minutes)

    @property
    def all_stages(self) -> list[Stage]:
        return [self.base, *self.stages]

    def introduced(self) -> dict[str, str]:
        """``{iso3: stage name}``: where each language enters the plan."""
        return {lang: stage.name for stage in self.all_stages for lang in stage.languages}

    def locale_of(self) -> dict[str, str]:
        return {lang: loc for stage in self.all_stages for loc, lang in zip(stage.locales, stage.languages)}

    def as_dict(self) -> dict[str, Any]:
        """The checked plan as plain data, in the plan's keys: languages resolved to ISO 639-3
        (``locales`` beside them), paths resolved against the recipe, the method by its path."""
        return {
            "corpus": self.corpus,
            "base": {"languages": self.base.languages, "locales": self.base.locales},
            "stages": [{"name": s.name, "languages": s.languages, "locales": s.locales} for s in self.stages],
            "lang_map": dict(self.lang_map),
            "base_model": self.base_model.as_dict(),
            "method": str(self.method.path),
            "replay": self.replay.as_dict() if self.replay else None,
            "probe": str(self.probe),
            "probe_minutes": self.probe_minutes,
            "quality_probe": str(self.quality_probe) if self.quality_probe else None,
            "protocols": list(self.protocols),
            "seed": self.seed,
        }


def _positive(value: Any) -> bool:
    """Whether a YAML value is a number above 0 (a boolean is not a number here)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value > 0


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


def _base_model(recipe_dir: Path, value: Any, problems: list[str]) -> BaseModel:
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
        return BaseModel()
    if "pretrain" in value:
        return BaseModel(pretrain=str(_file(recipe_dir, value["pretrain"], "base_model.pretrain", problems)))
    path = _file(recipe_dir, value["checkpoint"], "base_model.checkpoint", problems, folder_ok=True)
    sha256, languages = None, ()
    if "sha256" in value:
        if problem := sha256_problem(value["sha256"]):
            problems.append(f"base_model.sha256: {problem}; print a file's with python -m lamer.bin.checksum FILE")
        elif path.is_dir():
            problems.append(f"base_model.sha256: base_model.checkpoint {value['checkpoint']} is a directory; a "
                            "SHA-256 checks one checkpoint file (drop sha256, or point checkpoint at the file)")
        sha256 = str(value["sha256"]).lower()
    if "languages" in value:
        given = value["languages"]
        if not isinstance(given, list) or not given or not all(
                isinstance(lang, str) and re.fullmatch(r"[a-z]{3}", lang) for lang in given):
            problems.append("base_model.languages: the languages the checkpoint was pre-trained on, a non-empty "
                            f"list of ISO 639-3 codes (eng, cmn, ...), got {brief(given)}")
        else:
            languages = tuple(dict.fromkeys(given))
    return BaseModel(checkpoint=str(path), sha256=sha256, languages=languages)


def _seen_problems(base_model: BaseModel, base: Stage, stages: list[Stage], allow_seen: Any) -> list[str]:
    """Continual stages that add a language the base model was pre-trained on (its ``languages``, or
    the plan's base languages for a model pre-trained by the recipe), unless ``allow_seen``."""
    if not isinstance(allow_seen, bool):
        return [f"allow_seen: expected true or false, got {brief(allow_seen)}"]
    if allow_seen:
        return []
    seen = set(base.languages if base_model.pretrain is not None else base_model.languages)
    return [f"{stage.name}: {locale} ({lang}) is among base_model.languages, the languages the checkpoint was "
            "pre-trained on: adding it measures adaptation, not expansion; choose a language it never saw, or "
            "say allow_seen: true"
            for stage in stages for locale, lang in zip(stage.locales, stage.languages) if lang in seen]


def _replay(value: Any, problems: list[str]) -> Replay | None:
    """The checked ``replay`` (None: the plan has none): one of ``minutes`` or ``fraction``, a
    positive number; ``strategy`` (default random); ``share``, the one contract of a replay share."""
    if not value:
        return None
    if not isinstance(value, dict):
        problems.append(f"replay: expected a mapping, got {brief(value)}")
        return None
    count = len(problems)
    extra = sorted(set(value) - {*REPLAY_AMOUNTS, "strategy", "share"})
    if extra:
        problems.append(f"replay: unknown key(s) {extra}; known keys are minutes or fraction, strategy, share")
    amounts = [key for key in REPLAY_AMOUNTS if key in value]
    amount = amounts[0] if len(amounts) == 1 else ""
    if not amount:
        problems.append("replay: give exactly one of 'minutes' or 'fraction'")
    elif not _positive(value[amount]):
        problems.append(f"replay.{amount}: must be a positive number, got {brief(value[amount])}")
    strategy = value.get("strategy", "random")
    if strategy not in REPLAY_STRATEGIES:
        problems.append(f"replay.strategy: expected one of {REPLAY_STRATEGIES}, got {brief(strategy)}")
    if problem := share_problem(value.get("share")):
        problems.append(f"replay.share: {problem}")
    if len(problems) > count:
        return None
    return Replay(amount, value[amount], strategy, value["share"])


def _method(recipe_dir: Path, value: Any, problems: list[str]) -> Method | None:
    """The method config, read once and resolved with its preset (:func:`read_method`)."""
    path = _file(recipe_dir, value, "method", problems)
    if not path.is_file():
        return None
    try:
        return read_method(path)
    except MethodError as err:
        problems.append(f"method: {err}")
        return None


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

    replay = _replay(raw.get("replay"), problems)
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
    method = _method(recipe_dir, raw.get("method"), problems)
    probe = _file(recipe_dir, raw.get("probe"), "probe", problems)
    probe_minutes = raw.get("probe_minutes")
    if probe_minutes is not None and not _positive(probe_minutes):
        problems.append(f"probe_minutes: expected a positive number of labelled minutes per language, got "
                        f"{brief(probe_minutes)} (leave it out to train the probes on every training utterance)")
        probe_minutes = None
    quality_probe = None
    if raw.get("quality_probe") is not None:
        quality_probe = _file(recipe_dir, raw.get("quality_probe"), "quality_probe", problems)
        if "probe_minutes" not in raw:
            problems.append("quality_probe: the probes train on every label already (no probe_minutes); leave it "
                            "out, or give the probes a labelled budget with probe_minutes")
    base_model = _base_model(recipe_dir, raw.get("base_model"), problems)
    problems += _seen_problems(base_model, base, stages, raw.get("allow_seen", False))
    if problems:
        raise PlanError(f"{path}: the plan cannot run:\n  - " + "\n  - ".join(problems))
    return Plan(path=path, corpus=corpus, base=base, stages=stages, method=method, probe=probe,
                base_model=base_model, replay=replay, protocols=protocols, seed=seed, lang_map=lang_map,
                probe_minutes=None if probe_minutes is None else float(probe_minutes), quality_probe=quality_probe)


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
