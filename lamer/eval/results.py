"""The results matrix across continual stages (``results.json``) and the joint-training reference.

``results.json``::

    {"stages": ["base", "s1", ...],            # in training order; the first one is the base
     "introduced": {"<iso3>": "<stage>", ...}, # the stage that first trains on each language
     "cer": {"<stage>": {"<iso3>": float, ...}, ...},      # percent
     "per": {...},  # optional, same shape, percent: phone error rate
     "g2p": "espeak-ng 1.52.0 (espeakng-loader 0.2.4); ...",  # optional, with "per": the G2P of every stage's PER
     "g2p_voices": {"<iso3>": "<voice>", ...},  # optional, with "g2p": the espeak-ng voice of each language's PER
     "lid_acc": {"<stage>": {"<iso3>": float, ...}, ...},  # optional, percent: the first [iso] decoded
     "lid_acc_classifier": {...},  # optional, same shape, percent: the probe's utterance classifier
     "protocol": "retrained" | "fixed"}                    # optional, default "retrained"

A language is scored at its introducing stage and every later one; a row may also hold languages
introduced later (scored before they were learned), which the metrics use only through the base
row (forward transfer).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from lamer.eval import EvalInputError
from lamer.jsonfile import JSONFileError, read_json
from lamer.layout import SCORE_JSON, SCORE_SUMMARY_JSON

PROTOCOLS = ("retrained", "fixed")
_KEYS = {"stages", "introduced", "cer", "per", "g2p", "g2p_voices", "lid_acc", "lid_acc_classifier", "protocol"}

Matrix = dict[str, dict[str, float]]
# Scores that some score.json files hold and others not, and how to make every stage's agree.
_OPTIONAL_SCORES = {
    "per": "score every stage with the phone error rate (espeak-ng installed, no --per false)",
    "lid_acc_classifier": "decode and score every stage with a probe of the same kind (model: lamer_lid)",
}


@dataclass(frozen=True)
class Results:
    """A validated results matrix (see the module docstring)."""

    stages: list[str]
    introduced: dict[str, str]
    cer: Matrix
    lid_acc: Matrix | None = None
    protocol: str = "retrained"
    lid_acc_classifier: Matrix | None = None  # None: the probes have no language classifier
    per: Matrix | None = None  # None: scored without the phone error rate
    g2p: str | None = None  # the G2P (and version) that gave the PER's phones, where recorded
    g2p_voices: dict[str, str] | None = None  # the espeak-ng voice of each language's PER, where recorded

    @property
    def languages(self) -> list[str]:
        """Languages ordered by introducing stage, then by name: the column order of tables."""
        order = {stage: i for i, stage in enumerate(self.stages)}
        return sorted(self.introduced, key=lambda lang: (order[self.introduced[lang]], lang))

    def stage_index(self, lang: str) -> int:
        """Index in ``stages`` of the stage that introduced ``lang``."""
        return self.stages.index(self.introduced[lang])

    def to_dict(self) -> dict:
        """The JSON form, optional keys included only when set."""
        out = {"stages": self.stages, "introduced": self.introduced, "cer": self.cer}
        if self.per is not None:
            out["per"] = self.per
        if self.g2p is not None:
            out["g2p"] = self.g2p
        if self.g2p_voices is not None:
            out["g2p_voices"] = self.g2p_voices
        if self.lid_acc is not None:
            out["lid_acc"] = self.lid_acc
        if self.lid_acc_classifier is not None:
            out["lid_acc_classifier"] = self.lid_acc_classifier
        out["protocol"] = self.protocol
        return out


def _number(value: object, where: str, upper: float | None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise EvalInputError(f"{where}: expected a finite number, got {value!r}")
    if value < 0 or (upper is not None and value > upper):
        bound = f"in [0, {upper:g}]" if upper is not None else ">= 0"
        raise EvalInputError(f"{where}: {value!r} is not a percentage {bound}")
    return float(value)


def _matrix(obj: object, key: str, stages: list[str], introduced: dict[str, str], source: str,
            upper: float | None) -> Matrix:
    """Validate one stages x languages matrix: a row per stage, known languages, and every
    language present from its introducing stage on."""
    if not isinstance(obj, dict):
        raise EvalInputError(f"{source}: '{key}' must map stage -> {{iso: number}}")
    for stage in obj:
        if stage not in stages:
            raise EvalInputError(f"{source}: {key}[{stage!r}]: stage not in 'stages' {stages}")
    matrix: Matrix = {}
    for k, stage in enumerate(stages):
        row = obj.get(stage)
        if not isinstance(row, dict):
            raise EvalInputError(f"{source}: {key}[{stage!r}] is missing or not an object; every stage needs a row")
        for lang in row:
            if lang not in introduced:
                raise EvalInputError(f"{source}: {key}[{stage!r}][{lang!r}]: language not in 'introduced'")
        for lang, first in introduced.items():
            if stages.index(first) <= k and lang not in row:
                raise EvalInputError(
                    f"{source}: {key}[{stage!r}] lacks {lang!r}, introduced at {first!r}; "
                    "a language is scored at its stage and every later one"
                )
        matrix[stage] = {lang: _number(v, f"{source}: {key}[{stage!r}][{lang!r}]", upper) for lang, v in row.items()}
    return matrix


def results_from_dict(obj: object, source: str = "results") -> Results:
    """Validate the JSON form of a results matrix; errors name ``source`` and the key at fault."""
    if not isinstance(obj, dict):
        raise EvalInputError(f"{source}: expected a JSON object")
    unknown = set(obj) - _KEYS
    if unknown:
        raise EvalInputError(f"{source}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    for key in ("stages", "introduced", "cer"):
        if key not in obj:
            raise EvalInputError(f"{source}: missing key {key!r}")
    stages = obj["stages"]
    if (
        not isinstance(stages, list)
        or not stages
        or not all(isinstance(s, str) and s for s in stages)
        or len(set(stages)) != len(stages)
    ):
        raise EvalInputError(f"{source}: 'stages' must be a non-empty list of distinct stage names, got {stages!r}")
    introduced = obj["introduced"]
    if not isinstance(introduced, dict) or not introduced:
        raise EvalInputError(f"{source}: 'introduced' must be a non-empty object iso -> stage")
    for lang, stage in introduced.items():
        if stage not in stages:
            raise EvalInputError(f"{source}: introduced[{lang!r}] = {stage!r} is not in 'stages' {stages}")
    protocol = obj.get("protocol", "retrained")
    if protocol not in PROTOCOLS:
        raise EvalInputError(f"{source}: 'protocol' must be one of {PROTOCOLS}, got {protocol!r}")
    cer = _matrix(obj["cer"], "cer", stages, introduced, source, upper=None)  # CER may exceed 100
    per = _matrix(obj["per"], "per", stages, introduced, source, upper=None) if obj.get("per") is not None else None
    g2p = obj.get("g2p")
    if g2p is not None and (per is None or not isinstance(g2p, str) or not g2p):
        raise EvalInputError(f"{source}: 'g2p' must name the G2P of the 'per' matrix (a non-empty string, "
                             f"with 'per'), got {g2p!r}")
    g2p_voices = obj.get("g2p_voices")
    if g2p_voices is not None:
        scored = sorted({lang for row in per.values() for lang in row}) if g2p is not None else None
        if (scored is None or not isinstance(g2p_voices, dict) or sorted(g2p_voices) != scored
                or not all(isinstance(voice, str) and voice for voice in g2p_voices.values())):
            raise EvalInputError(f"{source}: 'g2p_voices' must name the espeak-ng voice of every language of the "
                                 f"'per' matrix ({scored}), with 'g2p', got {g2p_voices!r}")
    lid_acc, lid_acc_classifier = (
        _matrix(obj[key], key, stages, introduced, source, upper=100.0) if obj.get(key) is not None else None
        for key in ("lid_acc", "lid_acc_classifier"))
    return Results(stages=list(stages), introduced=dict(introduced), cer=cer, lid_acc=lid_acc, protocol=protocol,
                   lid_acc_classifier=lid_acc_classifier, per=per, g2p=g2p,
                   g2p_voices=dict(g2p_voices) if g2p_voices is not None else None)


def load_json(path: Path) -> object:
    """Parse a JSON file; a missing file, bytes that are not UTF-8, a syntax error or nesting too
    deep (:func:`lamer.jsonfile.read_json`) name the file (and line)."""
    try:
        return read_json(path)
    except FileNotFoundError as err:
        raise EvalInputError(f"{path}: file not found") from err
    except OSError as err:  # a directory, no permission
        raise EvalInputError(f"{path}: cannot read ({err.strerror})") from err
    except JSONFileError as err:
        raise EvalInputError(str(err)) from None


def load_results(path: Path) -> Results:
    """Read and validate ``results.json``."""
    return results_from_dict(load_json(Path(path)), str(path))


def load_joint(path: Path, results: Results) -> dict[str, float]:
    """Read the joint-training CER per language: either ``{iso: cer}`` or a ``score.json``
    (``{iso: {"cer": ...}}``). Every language of ``results`` must be present."""
    obj = load_json(Path(path))
    if not isinstance(obj, dict):
        raise EvalInputError(f"{path}: expected a JSON object iso -> CER")
    joint = {}
    for lang, value in obj.items():
        if isinstance(value, dict):
            if "cer" not in value:
                raise EvalInputError(f"{path}: [{lang!r}] has no 'cer'")
            value = value["cer"]
        joint[lang] = _number(value, f"{path}: [{lang!r}]", upper=None)
    missing = [lang for lang in results.languages if lang not in joint]
    if missing:
        raise EvalInputError(f"{path}: no joint-training CER for {missing}; intransigence needs every language")
    return joint


def load_joint_per(path: Path, results: Results) -> dict[str, float] | None:
    """The joint-training PER per language from a ``score.json`` whose every language has a
    ``per`` (``{iso: {"per": ...}}``); None for a file without PER (``{iso: cer}``, or scored with
    ``--per false``), for which PER's intransigence stays undefined. Read after :func:`load_joint`,
    which checks the file's languages."""
    obj = load_json(Path(path))
    if not isinstance(obj, dict) or not all(isinstance(value, dict) and "per" in value for value in obj.values()):
        return None
    return {lang: _number(value["per"], f"{path}: [{lang!r}]['per']", upper=None) for lang, value in obj.items()}


def _one_g2p(stage_dirs: dict[str, Path]) -> tuple[str, dict[str, str] | None]:
    """The G2P that every stage's ``summary.json`` names, and its voice per language (None where
    the stages recorded none); an error names a stage with another G2P or another voice."""
    found: dict[str, str] = {}
    voices: dict[str, tuple[str, str]] = {}  # language -> (voice, the first stage that used it)
    first_has_voices = None
    for stage, directory in stage_dirs.items():
        path = Path(directory) / SCORE_SUMMARY_JSON
        summary = load_json(path)
        g2p = summary.get("g2p") if isinstance(summary, dict) else None
        if not isinstance(g2p, str) or not g2p:
            raise EvalInputError(f"{path}: no 'g2p' beside the PER of its score.json; score the stage again")
        if found and g2p not in found.values():
            first = next(iter(found))
            raise EvalInputError(f"{path}: PER phones by {g2p!r}, stage {first!r}'s by {found[first]!r}: phones of "
                                 "two G2P versions do not compare; score every stage with one")
        stage_voices = summary.get("g2p_voices")
        if stage_voices is not None and not (
                isinstance(stage_voices, dict) and all(isinstance(v, str) and v for v in stage_voices.values())):
            raise EvalInputError(f"{path}: 'g2p_voices' must map each language to its espeak-ng voice, got "
                                 f"{stage_voices!r}; score the stage again")
        if first_has_voices is None:
            first_has_voices = stage_voices is not None
        elif first_has_voices != (stage_voices is not None):
            raise EvalInputError(f"{path}: 'g2p_voices' {'present' if stage_voices else 'absent'}, unlike in stage "
                                 f"{next(iter(found))!r}'s summary.json; score every stage again")
        found[stage] = g2p
        for lang, voice in (stage_voices or {}).items():
            if voices.setdefault(lang, (voice, stage))[0] != voice:
                raise EvalInputError(f"{path}: PER of {lang!r} read with espeak-ng voice {voice!r}, stage "
                                     f"{voices[lang][1]!r}'s with {voices[lang][0]!r}; score every stage with one")
    return next(iter(found.values())), ({lang: v for lang, (v, _) in sorted(voices.items())}
                                        if first_has_voices else None)


def collect_results(
    stage_dirs: dict[str, Path], introduced: dict[str, str], protocol: str = "retrained"
) -> dict:
    """Build the JSON form of ``results.json`` from one scoring directory per stage.

    ``stage_dirs`` maps stage name -> directory holding that stage's ``score.json`` (as written
    by ``python -m lamer.bin.score``), in training order. The result is validated. It holds
    ``per`` when every stage's scores have it (scored with the phone error rate), with ``g2p``
    and ``g2p_voices`` from their ``summary.json`` (one G2P for all stages, and one voice per
    language: phones of two G2P versions do not compare), and
    ``lid_acc_classifier`` when every stage's scores have it (probes with a language classifier);
    when only some stages have one of them, the first stage without is an error naming its file.
    """
    cer: Matrix = {}
    lid_acc: Matrix = {}
    optional: dict[str, Matrix] = {key: {} for key in _OPTIONAL_SCORES}  # key -> the rows of the stages with it
    for stage, directory in stage_dirs.items():
        path = Path(directory) / SCORE_JSON
        scores = load_json(path)
        if not isinstance(scores, dict):
            raise EvalInputError(f"{path}: expected a JSON object iso -> scores")
        for lang, entry in scores.items():
            if not isinstance(entry, dict) or "cer" not in entry or "lid_acc" not in entry:
                raise EvalInputError(f"{path}: [{lang!r}] must hold 'cer' and 'lid_acc'")
        cer[stage] = {lang: entry["cer"] for lang, entry in scores.items()}
        lid_acc[stage] = {lang: entry["lid_acc"] for lang, entry in scores.items()}
        for key, rows in optional.items():
            with_key = [lang for lang, entry in scores.items() if key in entry]
            if with_key:
                if len(with_key) != len(scores):
                    raise EvalInputError(f"{path}: only some languages hold {key!r}; score again")
                rows[stage] = {lang: entry[key] for lang, entry in scores.items()}
    for key, rows in optional.items():
        if rows and len(rows) != len(stage_dirs):
            lacking = next(stage for stage in stage_dirs if stage not in rows)
            raise EvalInputError(f"{Path(stage_dirs[lacking]) / 'score.json'}: no {key!r}, which stage(s) "
                                 f"{', '.join(rows)} have: {_OPTIONAL_SCORES[key]}")
    obj = {"stages": list(stage_dirs), "introduced": dict(introduced), "cer": cer, "lid_acc": lid_acc,
           "protocol": protocol, **{key: rows for key, rows in optional.items() if rows}}
    if optional["per"]:
        obj["g2p"], voices = _one_g2p(stage_dirs)
        if voices is not None:
            obj["g2p_voices"] = voices
    return results_from_dict(obj, "score.json files per stage").to_dict()
