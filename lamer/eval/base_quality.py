"""The base model's quality as a probe trained on every label reads it (a plan's ``quality_probe``).

A probe given a few labelled minutes per language shows what pre-training and each continual stage
learn about a language, but it reads every model far below what its features allow. The quality
probe, trained on every labelled training utterance of the plan's languages on the base model
only, gives the report the figures a reader compares with other toolkits: CER, PER and LID per
language. Read from the quality probe's score directory (``lamer.bin.score``'s ``score.json`` and
``summary.json``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lamer.eval import EvalInputError
from lamer.eval.markdown import markdown_table
from lamer.eval.results import load_json
from lamer.eval.scoring import LID_ACC_CLASSIFIER
from lamer.layout import SCORE_JSON, SCORE_SUMMARY_JSON

# (score.json key, column title); a column is shown when every language has its key
COLUMNS = (("cer", "CER"), ("per", "PER"), ("lid_acc", "LID, first tag"), (LID_ACC_CLASSIFIER, "LID, classifier"))
TEXT = ("The base model read by a second probe (the plan's `quality_probe`) trained on every labelled training "
        "utterance of the plan's languages, where the probes above get a few labelled minutes per language: "
        "the few labels show what each stage learns about a language, every label what the base model's "
        "features allow. Percent; the last row pools every test utterance.")


@dataclass(frozen=True)
class BaseQuality:
    """Per-language scores (``score.json``) and their pooled figures (``summary.json``)."""

    source: str
    per_language: dict[str, dict[str, float]]
    overall: dict[str, float | None]


def load_base_quality(score_dir: Path) -> BaseQuality:
    """Read a score directory; an error names the file and the key that is missing or wrong."""
    score_dir = Path(score_dir)
    score_file, summary_file = score_dir / SCORE_JSON, score_dir / SCORE_SUMMARY_JSON
    per_language, summary = load_json(score_file), load_json(summary_file)
    if not isinstance(per_language, dict) or not per_language:
        raise EvalInputError(f"{score_file}: expected a JSON object iso -> scores")
    if not isinstance(summary, dict):
        raise EvalInputError(f"{summary_file}: expected a JSON object")
    for lang, scores in per_language.items():
        if not isinstance(scores, dict) or not isinstance(scores.get("cer"), (int, float)):
            raise EvalInputError(f"{score_file}: [{lang!r}] has no numeric 'cer'")
    return BaseQuality(str(score_dir), per_language, {key: summary.get(key) for key, _ in COLUMNS})


def base_quality_section(quality: BaseQuality, languages: list[str]) -> str:
    """The report's section: one row per language (``languages`` first, in their order), then the pooled row."""
    langs = [lang for lang in languages if lang in quality.per_language]
    langs += sorted(lang for lang in quality.per_language if lang not in langs)
    columns = [(key, title) for key, title in COLUMNS
               if all(isinstance(quality.per_language[lang].get(key), (int, float)) for lang in langs)]
    rows = [[lang, *(f"{quality.per_language[lang][key]:.2f}" for key, _ in columns)] for lang in langs]
    pooled = [quality.overall.get(key) for key, _ in columns]
    rows.append(["all", *("–" if value is None else f"{value:.2f}" for value in pooled)])
    table = markdown_table(["language", *(title for _, title in columns)], rows)
    return f"## The base model with every label\n\n{table}\n\n{TEXT} Scores: `{quality.source}`."
