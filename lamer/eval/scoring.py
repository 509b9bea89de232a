"""Per-language CER, PER and LID accuracy of a decoded test set, ML-SUPERB style.

CER is corpus level per language: total character edits (Levenshtein over Unicode code points,
language tag excluded, a space counts as one character) over total reference characters, in
percent; an ``<unk>`` in a hypothesis (a character outside the probe's token list) counts as one
character, never as five. PER (phone error rate, when asked for) is corpus level the same way:
total phone edits over total reference phones, in percent, reference and hypothesis both turned
into phones by espeak-ng with the voice of the reference language (:mod:`lamer.data.g2p`; the
language a hypothesis is tagged with does not choose the voice; a word espeak-ng reads in another
language is one phone); an ``<unk>`` is one phone that matches none. ``summary.json`` records the
G2P (``g2p``: espeak-ng's version and lamer's rules) and the voice of each language
(``g2p_voices``). LID is read from the first ``[xxx]`` of each hypothesis (``lid_acc``) and, for
a probe with a language classifier, from its ``<utt> [iso]`` file (``lid_acc_classifier``, absent
without one).

Bad input, case by case:
- an utterance in the reference but not the hypothesis, or the other way round: error (a decode
  that lost utterances must not score as if they never existed);
- an empty reference transcript: error (its CER is undefined; drop it from the test set);
- a reference whose language is unknown (no tag and no utt2lang entry) or whose tag disagrees
  with utt2lang: error;
- a hypothesis without tag: counted as a LID error and reported as ``no_tag``;
- a hypothesis tag that is not one of the reference languages: counted as a LID error and
  reported as ``unknown_tag`` (the count) and ``unknown_tags`` (per tag), and as the
  ``unknown_tag`` column of the confusion matrix;
- a classifier file lacking a reference utterance, or holding another one: error, as for hypotheses;
- with PER, a reference language without an espeak-ng voice, or a reference text that gives no
  phones: error naming the utterance.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import editdistance

from lamer.atomic import write_json_atomic, write_text_atomic
from lamer.data.espeak_ng import require_espeak
from lamer.data.g2p import G2PError, espeak_voice, g2p_version, phonemize
from lamer.eval import EvalInputError
from lamer.eval.kaldi_text import TextEntry, read_lid, read_text, read_utt2lang
from lamer.layout import SCORE_JSON, SCORE_SUMMARY_JSON

UNKNOWN_TAG = "unknown_tag"
UNK = "<unk>"
LID_ACC_CLASSIFIER = "lid_acc_classifier"
CLASSIFIER_CORRECT = "lid_classifier_correct"


def hypothesis_symbols(text: str) -> list[str]:
    """The characters of a hypothesis, each ``<unk>`` token one symbol."""
    symbols: list[str] = []
    for i, part in enumerate(text.split(UNK)):
        if i:
            symbols.append(UNK)
        symbols.extend(part)
    return symbols
NO_TAG = "no_tag"


@dataclass(frozen=True)
class UtteranceScore:
    """Score of one utterance: reference language, predicted tag (None: no tag), character
    edits, reference length in characters, the classifier's language (None: no classifier), and
    phone edits and reference length in phones (None: PER not scored)."""

    utt: str
    lang: str
    hyp_lang: str | None
    edits: int
    ref_len: int
    classifier_lang: str | None = None
    phone_edits: int | None = None
    ref_phones: int | None = None

    @property
    def cer(self) -> float:
        """Utterance CER in percent."""
        return 100.0 * self.edits / self.ref_len

    @property
    def per(self) -> float:
        """Utterance PER in percent (PER scored)."""
        return 100.0 * self.phone_edits / self.ref_phones


def _percent(part: float, whole: float) -> float:
    return 100.0 * part / whole


@dataclass(frozen=True)
class CorpusScore:
    """All utterance scores of a test set and the aggregates written to the score directory."""

    utterances: tuple[UtteranceScore, ...]
    g2p: str | None = None
    """The G2P of the PER and its version (``lamer.data.g2p.g2p_version``); None: no PER."""
    g2p_voices: dict[str, str] | None = None
    """The espeak-ng voice that read each language's phones; None: no PER."""

    @property
    def has_per(self) -> bool:
        """Whether PER was scored."""
        return self.g2p is not None

    @property
    def has_classifier(self) -> bool:
        """Whether the probe's language classifier predicted every utterance (a ``lid`` file was scored)."""
        return all(u.classifier_lang is not None for u in self.utterances)

    @property
    def languages(self) -> list[str]:
        """Reference languages, sorted."""
        return sorted({u.lang for u in self.utterances})

    def _counts(self) -> dict[str, dict[str, int]]:
        counts = {lang: Counter() for lang in self.languages}
        known = set(counts)
        for u in self.utterances:
            c = counts[u.lang]
            c["n"] += 1
            c["edits"] += u.edits
            c["ref_chars"] += u.ref_len
            c["lid_correct"] += u.hyp_lang == u.lang
            c[NO_TAG] += u.hyp_lang is None
            c[UNKNOWN_TAG] += u.hyp_lang is not None and u.hyp_lang not in known
            c[CLASSIFIER_CORRECT] += u.classifier_lang == u.lang
            if self.has_per:
                c["phone_edits"] += u.phone_edits
                c["ref_phones"] += u.ref_phones
        keys = ("n", "edits", "ref_chars", "lid_correct", NO_TAG, UNKNOWN_TAG)
        keys += (CLASSIFIER_CORRECT,) if self.has_classifier else ()
        keys += ("phone_edits", "ref_phones") if self.has_per else ()
        return {lang: {k: c[k] for k in keys} for lang, c in counts.items()}

    def per_language(self) -> dict[str, dict[str, float | int]]:
        """The ``score.json`` content: ``{iso: {"cer": %, "lid_acc": %, "n": count}}``, plus
        ``"per": %`` when PER was scored and ``"lid_acc_classifier": %`` when the probe's
        classifier was."""
        out: dict[str, dict[str, float | int]] = {}
        for lang, c in self._counts().items():
            out[lang] = {"cer": _percent(c["edits"], c["ref_chars"]), "lid_acc": _percent(c["lid_correct"], c["n"]),
                         "n": c["n"]}
            if self.has_per:
                out[lang]["per"] = _percent(c["phone_edits"], c["ref_phones"])
            if self.has_classifier:
                out[lang][LID_ACC_CLASSIFIER] = _percent(c[CLASSIFIER_CORRECT], c["n"])
        return out

    def summary(self) -> dict:
        """Overall figures (micro and macro averages; PER's null when it was not scored, with the
        G2P that gave the phones and its voice per language), the counted bad-hypothesis cases,
        and the raw per-language counts behind ``score.json``."""
        counts = self._counts()
        per_lang = self.per_language()
        total = {k: sum(c[k] for c in counts.values()) for k in next(iter(counts.values()))}
        known = set(counts)
        unknown = Counter(u.hyp_lang for u in self.utterances if u.hyp_lang is not None and u.hyp_lang not in known)
        return {
            "n": total["n"],
            "cer": _percent(total["edits"], total["ref_chars"]),
            "macro_cer": sum(s["cer"] for s in per_lang.values()) / len(per_lang),
            # None: PER not scored (score --per false)
            "per": _percent(total["phone_edits"], total["ref_phones"]) if self.has_per else None,
            "macro_per": sum(s["per"] for s in per_lang.values()) / len(per_lang) if self.has_per else None,
            "g2p": self.g2p,
            "g2p_voices": dict(sorted(self.g2p_voices.items())) if self.g2p_voices is not None else None,
            "lid_acc": _percent(total["lid_correct"], total["n"]),
            "macro_lid_acc": sum(s["lid_acc"] for s in per_lang.values()) / len(per_lang),
            # None: the probe has no language classifier
            LID_ACC_CLASSIFIER: (_percent(total[CLASSIFIER_CORRECT], total["n"]) if self.has_classifier else None),
            "macro_" + LID_ACC_CLASSIFIER: (sum(s[LID_ACC_CLASSIFIER] for s in per_lang.values()) / len(per_lang)
                                            if self.has_classifier else None),
            NO_TAG: total[NO_TAG],
            UNKNOWN_TAG: total[UNKNOWN_TAG],
            "unknown_tags": dict(sorted(unknown.items())),
            "per_language": counts,
        }

    def confusion(self, classifier: bool = False) -> dict:
        """LID confusion counts of the hypothesis tags (or, with ``classifier``, of the language
        classifier): rows are reference languages, columns the reference languages followed by
        ``unknown_tag`` (a tag outside them) and ``no_tag``."""
        rows = self.languages
        columns = rows + [UNKNOWN_TAG, NO_TAG]
        index = {lang: i for i, lang in enumerate(rows)}
        matrix = [[0] * len(columns) for _ in rows]
        for u in self.utterances:
            predicted = u.classifier_lang if classifier else u.hyp_lang
            if predicted is None:
                col = len(rows) + 1
            else:
                col = index.get(predicted, len(rows))
            matrix[index[u.lang]][col] += 1
        return {"rows": rows, "columns": columns, "counts": matrix}


def reference_languages(
    refs: dict[str, TextEntry], utt2lang: dict[str, str] | None, ref_path: Path, utt2lang_path: Path | None
) -> dict[str, str]:
    """The language of every reference utterance: utt2lang where given, else the reference tag.
    Where both exist they must agree."""
    langs: dict[str, str] = {}
    for utt, entry in refs.items():
        listed = utt2lang.get(utt) if utt2lang is not None else None
        if listed is None and entry.tag is None:
            where = f"not in {utt2lang_path}" if utt2lang_path else "no --utt2lang given"
            raise EvalInputError(
                f"{ref_path}:{entry.line}: utterance {utt!r} has no [iso] tag and its language is unknown ({where})"
            )
        if listed is not None and entry.tag is not None and listed != entry.tag:
            raise EvalInputError(
                f"{ref_path}:{entry.line}: utterance {utt!r} is tagged [{entry.tag}] "
                f"but {utt2lang_path} says {listed!r}"
            )
        langs[utt] = listed if listed is not None else entry.tag
    return langs


def _check_same_ids(refs: dict[str, TextEntry], hyps: dict[str, TextEntry], ref_path: Path, hyp_path: Path) -> None:
    missing = [u for u in refs if u not in hyps]
    if missing:
        first = refs[missing[0]]
        raise EvalInputError(
            f"{hyp_path} lacks {len(missing)} utterance(s) of {ref_path}, first {first.utt!r} "
            f"({ref_path}:{first.line}); decode every test utterance or drop it from the reference"
        )
    extra = [u for u in hyps if u not in refs]
    if extra:
        first = hyps[extra[0]]
        raise EvalInputError(
            f"{hyp_path}:{first.line}: utterance {first.utt!r} is not in {ref_path} "
            f"({len(extra)} such utterance(s)); score against the reference it was decoded from"
        )


def _phone_edits(refs: dict[str, TextEntry], hyps: dict[str, TextEntry], langs: dict[str, str],
                 ref_path: Path) -> tuple[dict[str, tuple[int, int]], dict[str, str]]:
    """``{utt: (phone edits, reference phones)}``, both texts read with the reference language's
    voice, and ``{language: voice}``."""
    voices: dict[str, str] = {}
    out = {}
    for utt, ref in refs.items():
        lang = langs[utt]
        if lang not in voices:
            try:
                voices[lang] = espeak_voice(lang)
            except G2PError as err:
                raise EvalInputError(f"{ref_path}:{ref.line}: utterance {utt!r}: {err}; "
                                     "or score without the phone error rate (--per false)") from err
        ref_phones = phonemize(ref.transcript, voices[lang])
        if not ref_phones:
            raise EvalInputError(
                f"{ref_path}:{ref.line}: utterance {utt!r}: espeak-ng voice {voices[lang]!r} gives no phones for "
                f"its reference text {ref.transcript!r} (PER undefined); drop it from the test set or score "
                "with --per false")
        hyp_phones: list[str] = []
        for i, part in enumerate(hyps[utt].transcript.split(UNK)):
            hyp_phones += ([UNK] if i else []) + phonemize(part, voices[lang])
        out[utt] = (editdistance.eval(ref_phones, hyp_phones), len(ref_phones))
    return out, voices


def score_texts(ref_path: Path, hyp_path: Path, utt2lang_path: Path | None = None,
                lid_path: Path | None = None, per: bool = False) -> CorpusScore:
    """Score a hypothesis text file against a reference text file (Kaldi style, ``[iso]`` tag
    first), and the language classifier's ``<utt> [iso]`` file ``lid_path`` when given; with
    ``per``, also the phone error rate (``ModuleNotFoundError`` saying how to install espeak-ng
    when it is missing). See the module docstring for how bad input is handled."""
    ref_path, hyp_path = Path(ref_path), Path(hyp_path)
    refs = read_text(ref_path, tag_anywhere=False)
    hyps = read_text(hyp_path, tag_anywhere=True)
    utt2lang = read_utt2lang(Path(utt2lang_path)) if utt2lang_path is not None else None
    if not refs:
        raise EvalInputError(f"{ref_path}: no utterances to score")
    langs = reference_languages(refs, utt2lang, ref_path, utt2lang_path)
    _check_same_ids(refs, hyps, ref_path, hyp_path)
    classified = read_lid(Path(lid_path)) if lid_path is not None else None
    if classified is not None:
        _check_same_ids(refs, classified, ref_path, Path(lid_path))
    for utt, ref in refs.items():
        if not ref.transcript:
            raise EvalInputError(
                f"{ref_path}:{ref.line}: utterance {utt!r} has an empty reference transcript "
                "(CER undefined); drop it from the test set"
            )
    g2p = voices = None
    if per:
        require_espeak("the phone error rate (PER)")
        g2p = g2p_version()
        phones, voices = _phone_edits(refs, hyps, langs, ref_path)
    scores = []
    for utt, ref in refs.items():
        hyp = hyps[utt]
        scores.append(
            UtteranceScore(
                utt=utt,
                lang=langs[utt],
                hyp_lang=hyp.tag,
                edits=editdistance.eval(list(ref.transcript), hypothesis_symbols(hyp.transcript)),
                ref_len=len(ref.transcript),
                classifier_lang=classified[utt].tag if classified is not None else None,
                phone_edits=phones[utt][0] if per else None,
                ref_phones=phones[utt][1] if per else None,
            )
        )
    return CorpusScore(utterances=tuple(scores), g2p=g2p, g2p_voices=voices)


def per_utterance_tsv(score: CorpusScore) -> str:
    """Tab-separated per-utterance table with a header; ``-`` marks a hypothesis without tag. With
    PER, the columns ``phone_edits``, ``ref_phones`` and ``per`` follow ``cer``; with a language
    classifier, a last column ``classifier_lang`` holds its prediction."""
    extra = score.has_classifier
    lines = ["utt\tlang\thyp_lang\tedits\tref_len\tcer" + ("\tphone_edits\tref_phones\tper" if score.has_per else "")
             + ("\tclassifier_lang" if extra else "")]
    for u in score.utterances:
        lines.append(f"{u.utt}\t{u.lang}\t{u.hyp_lang or '-'}\t{u.edits}\t{u.ref_len}\t{u.cer:.4f}"
                     + (f"\t{u.phone_edits}\t{u.ref_phones}\t{u.per:.4f}" if score.has_per else "")
                     + (f"\t{u.classifier_lang}" if extra else ""))
    return "\n".join(lines) + "\n"


def write_score_dir(score: CorpusScore, out_dir: Path, inputs: dict[str, str | None]) -> None:
    """Write ``score.json`` (per language only), ``summary.json`` (overall figures and counted
    cases, plus the input paths given in ``inputs``), ``per_utt.tsv``, ``lid_confusion.json`` and
    ``lid_confusion.png`` into ``out_dir``, each atomically; with a language classifier also
    ``lid_confusion_classifier.json`` and ``.png`` (removed when an earlier score left them)."""
    from lamer.eval.plots import plot_lid_confusion  # matplotlib only when writing

    out_dir = Path(out_dir)
    confusion = score.confusion()
    write_json_atomic(out_dir / SCORE_JSON, score.per_language())
    write_json_atomic(out_dir / SCORE_SUMMARY_JSON, {**score.summary(), "inputs": inputs})
    write_text_atomic(out_dir / "per_utt.tsv", per_utterance_tsv(score))
    write_json_atomic(out_dir / "lid_confusion.json", confusion)
    plot_lid_confusion(confusion, out_dir / "lid_confusion.png")
    if score.has_classifier:
        classifier = score.confusion(classifier=True)
        write_json_atomic(out_dir / "lid_confusion_classifier.json", classifier)
        plot_lid_confusion(classifier, out_dir / "lid_confusion_classifier.png",
                           predicted="predicted language (the probe's utterance classifier)")
    else:
        for name in ("lid_confusion_classifier.json", "lid_confusion_classifier.png"):
            (out_dir / name).unlink(missing_ok=True)
