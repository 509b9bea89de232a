"""Per-utterance edit counts of an experiment under one protocol, every stage side by side:
``utt_errors_<protocol>.tsv`` beside ``results_<protocol>.json``, what a bootstrap over test
utterances resamples (:mod:`lamer.eval.bootstrap`)::

    utt  lang  ref_chars  char_edits:base  char_edits:s1 ...  [ref_phones  phone_edits:base ...]

One row per test utterance, in the order the first stage scored them: its reference length in
characters, its character edits after each stage, and, when every stage was scored with the
phone error rate, its reference length in phones and its phone edits after each stage, as
``python -m lamer.bin.score`` counted them (each stage's ``per_utt.tsv``). Summed over a
language's rows, edits over reference length are the results matrix's CER (PER) of that language
and stage. The reference lengths are the same at every stage (one test set, one G2P); a stage
that scored other utterances, or the same ones with other lengths, is refused.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from lamer.eval import EvalInputError

SCORE_TABLE = "per_utt.tsv"  # written by lamer.eval.scoring.write_score_dir
# per rate: the reference length's column and the edits' column prefix in this file, and the
# columns of the same two counts in a score directory's per_utt.tsv
RATES = {"cer": ("ref_chars", "char_edits", "ref_len", "edits"),
         "per": ("ref_phones", "phone_edits", "ref_phones", "phone_edits")}


@dataclass(frozen=True)
class UttErrors:
    """The per-utterance edit counts of one experiment and protocol (see the module docstring).

    ``ref[rate]`` and ``edits[rate][stage]`` hold one count per utterance, in ``utts`` order;
    ``rate`` is ``cer`` and, when PER was scored, ``per``."""

    stages: tuple[str, ...]
    utts: tuple[str, ...]
    langs: tuple[str, ...]
    ref: dict[str, tuple[int, ...]]
    edits: dict[str, dict[str, tuple[int, ...]]]

    @property
    def rates(self) -> tuple[str, ...]:
        """``("cer",)`` or ``("cer", "per")``."""
        return tuple(rate for rate in RATES if rate in self.ref)

    def rows_of(self, lang: str) -> list[int]:
        """Indices of the utterances of ``lang``, in file order."""
        return [i for i, utt_lang in enumerate(self.langs) if utt_lang == lang]


def _count(text: str, where: str, positive: bool = False) -> int:
    if not text.isdigit() or (positive and int(text) == 0):
        raise EvalInputError(f"{where}: expected a {'positive' if positive else 'non-negative'} integer, got {text!r}")
    return int(text)


def _read_tsv(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a tab-separated file; a row of another width names its line."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            lines = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    except FileNotFoundError as err:
        raise EvalInputError(f"{path}: file not found") from err
    except UnicodeDecodeError as err:
        raise EvalInputError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    if not lines:
        raise EvalInputError(f"{path}: empty; expected a header line")
    header = lines[0]
    for number, row in enumerate(lines[1:], start=2):
        if len(row) != len(header):
            raise EvalInputError(f"{path}:{number}: {len(row)} fields, the header has {len(header)}")
    return header, lines[1:]


def _stage_counts(path: Path) -> tuple[list[tuple[str, str]], dict[str, list[tuple[int, int]]]]:
    """``(utt, lang)`` per row of a score directory's ``per_utt.tsv``, and per rate it holds the
    ``(reference length, edits)`` of each row."""
    header, rows = _read_tsv(path)
    missing = [name for name in ("utt", "lang", "ref_len", "edits") if name not in header]
    if missing:
        raise EvalInputError(f"{path}:1: no column(s) {missing}; score the stage again (python -m lamer.bin.score)")
    column = {name: header.index(name) for name in header}
    ids = [(row[column["utt"]], row[column["lang"]]) for row in rows]
    counts = {}
    for rate, (_, _, ref, edits) in RATES.items():
        if ref in column and edits in column:
            counts[rate] = [(_count(row[column[ref]], f"{path}:{n}: {ref}", positive=True),
                             _count(row[column[edits]], f"{path}:{n}: {edits}"))
                            for n, row in enumerate(rows, start=2)]
    return ids, counts


def collect_utt_errors(stage_dirs: dict[str, Path]) -> str:
    """The ``utt_errors`` table (module docstring) of the score directories ``stage_dirs``
    (stage name -> directory with ``per_utt.tsv``, in training order). Phone columns are written
    when every stage holds phone counts. EvalInputError names a stage whose utterances or
    reference lengths differ from the first stage's."""
    stages = list(stage_dirs)
    first_path = Path(stage_dirs[stages[0]]) / SCORE_TABLE
    ids, first = _stage_counts(first_path)
    if not ids:
        raise EvalInputError(f"{first_path}: no utterances")
    if len({utt for utt, _ in ids}) != len(ids):
        raise EvalInputError(f"{first_path}: an utterance is listed twice; score the stage again")
    edits = {rate: {stages[0]: [e for _, e in counts]} for rate, counts in first.items()}
    for stage in stages[1:]:
        path = Path(stage_dirs[stage]) / SCORE_TABLE
        stage_ids, counts = _stage_counts(path)
        if stage_ids != ids:
            raise EvalInputError(f"{path}: other utterances (or another order) than {first_path}; every stage must be "
                                 "scored on the same test set")
        for rate in list(edits):
            if rate not in counts:  # a stage without PER: the table keeps CER only
                del edits[rate]
                continue
            if [r for r, _ in counts[rate]] != [r for r, _ in first[rate]]:
                raise EvalInputError(f"{path}: {RATES[rate][2]} differs from {first_path} for some utterance; every "
                                     "stage must be scored against the same references (and G2P)")
            edits[rate][stage] = [e for _, e in counts[rate]]
    header = ["utt", "lang"]
    columns: list[list[int]] = []
    for rate, per_stage in edits.items():
        ref_name, edits_name = RATES[rate][:2]
        header += [ref_name, *(f"{edits_name}:{stage}" for stage in stages)]
        columns += [[r for r, _ in first[rate]], *(per_stage[stage] for stage in stages)]
    lines = ["\t".join(header)]
    lines += ["\t".join([utt, lang, *(str(column[i]) for column in columns)]) for i, (utt, lang) in enumerate(ids)]
    return "\n".join(lines) + "\n"


def _layout(header: list[str], path: Path) -> tuple[list[str], dict[str, tuple[int, list[int]]]]:
    """The stages a table's header names and, per rate, the index of its reference column and
    of its edits columns (one per stage)."""
    if header[:3] != ["utt", "lang", RATES["cer"][0]]:
        raise EvalInputError(f"{path}:1: expected the columns utt, lang, {RATES['cer'][0]} first, got {header[:3]}")
    stages: list[str] = []
    for name in header[3:]:
        prefix, _, stage = name.partition(":")
        if prefix != RATES["cer"][1]:
            break
        stages.append(stage)
    if not stages or not all(stages) or len(set(stages)) != len(stages):
        raise EvalInputError(f"{path}:1: expected one {RATES['cer'][1]}:<stage> column per stage after "
                             f"{RATES['cer'][0]}, got {header[3:]}")
    layout: dict[str, tuple[int, list[int]]] = {}
    at = 2
    for rate, (ref_name, edits_name, _, _) in RATES.items():
        expected = [ref_name, *(f"{edits_name}:{stage}" for stage in stages)]
        if header[at:at + len(expected)] == expected:
            layout[rate] = (at, list(range(at + 1, at + len(expected))))
            at += len(expected)
        elif rate == "cer":
            raise EvalInputError(f"{path}:1: expected the columns {expected}")
    if at != len(header):
        raise EvalInputError(f"{path}:1: unexpected column(s) {header[at:]}; expected "
                             f"{RATES['per'][0]} and {RATES['per'][1]}:<stage> for the stages {stages}")
    return stages, layout


def read_utt_errors(path: str | Path) -> UttErrors:
    """Read and check a ``utt_errors`` table; EvalInputError names the file, line and column."""
    path = Path(path)
    header, rows = _read_tsv(path)
    stages, layout = _layout(header, path)
    if not rows:
        raise EvalInputError(f"{path}: no utterances")
    utts = tuple(row[0] for row in rows)
    if len(set(utts)) != len(utts):
        raise EvalInputError(f"{path}: an utterance is listed twice")
    ref: dict[str, tuple[int, ...]] = {}
    edits: dict[str, dict[str, tuple[int, ...]]] = {}
    for rate, (ref_at, edits_at) in layout.items():
        ref[rate] = tuple(_count(row[ref_at], f"{path}:{n}: {header[ref_at]}", positive=True)
                          for n, row in enumerate(rows, start=2))
        edits[rate] = {stage: tuple(_count(row[at], f"{path}:{n}: {header[at]}") for n, row in enumerate(rows, start=2))
                       for stage, at in zip(stages, edits_at)}
    return UttErrors(tuple(stages), utts, tuple(row[1] for row in rows), ref, edits)
