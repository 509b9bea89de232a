"""Scoring on hand-made hypotheses whose CER and LID are worked out by hand below."""
from __future__ import annotations

import json

import pytest

from lamer.eval import EvalInputError
from lamer.eval.kaldi_text import split_tag
from lamer.eval.scoring import score_texts, write_score_dir


def write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


# eng: e1 exact (5 chars "ab cd"); e2 "hello" vs "helo" = 1 deletion, tagged [fra] (LID wrong)
#      -> CER 1 / 10 = 10 %, LID 1 / 2 = 50 %.
# fra: f1 "oui non" (7 chars) vs "oui nom" = 1 substitution, no tag;
#      f2 "merci" (5) exact, tagged [xyz] (not a reference language)
#      -> CER 1 / 12 = 8.333 %, LID 0 / 2.
# all: 2 edits / 22 chars, LID 1 / 4.
REF = ["e1 [eng] ab cd", "e2 [eng] hello", "f1 [fra] oui non", "f2 [fra] merci"]
HYP = ["e1 [eng] ab cd", "e2 [fra] helo", "f1 oui nom", "f2 [xyz] merci"]


@pytest.fixture
def multi(tmp_path):
    return write(tmp_path / "ref", REF), write(tmp_path / "hyp", HYP)


def test_multi_language_cer_and_lid(multi):
    score = score_texts(*multi)
    assert score.per_language() == {
        "eng": {"cer": pytest.approx(10.0), "lid_acc": pytest.approx(50.0), "n": 2},
        "fra": {"cer": pytest.approx(100 / 12), "lid_acc": pytest.approx(0.0), "n": 2},
    }
    summary = score.summary()
    assert summary["cer"] == pytest.approx(100 * 2 / 22)
    assert summary["macro_cer"] == pytest.approx((10.0 + 100 / 12) / 2)
    assert summary["lid_acc"] == pytest.approx(25.0)
    assert (summary["no_tag"], summary["unknown_tag"], summary["unknown_tags"]) == (1, 1, {"xyz": 1})
    assert summary["per_language"]["fra"] == {
        "n": 2, "edits": 1, "ref_chars": 12, "lid_correct": 0, "no_tag": 1, "unknown_tag": 1,
    }
    assert score.confusion() == {
        "rows": ["eng", "fra"],
        "columns": ["eng", "fra", "unknown_tag", "no_tag"],
        "counts": [[1, 1, 0, 0], [0, 0, 1, 1]],
    }


def test_the_classifier_lid_is_scored_beside_the_tag_lid(multi, tmp_path):
    # the classifier gets e1, e2, f1 right and calls f2 English: eng 100 %, fra 50 %, all 75 %
    lid = write(tmp_path / "lid", ["e1 [eng]", "e2 [eng]", "f1 [fra]", "f2 [eng]"])
    score = score_texts(*multi, lid_path=lid)
    per_language = score.per_language()
    assert per_language["eng"]["lid_acc_classifier"] == pytest.approx(100.0)
    assert per_language["fra"]["lid_acc_classifier"] == pytest.approx(50.0)
    assert per_language["eng"]["lid_acc"] == pytest.approx(50.0)  # the tag LID is unchanged
    summary = score.summary()
    assert summary["lid_acc_classifier"] == pytest.approx(75.0)
    assert summary["macro_lid_acc_classifier"] == pytest.approx(75.0)
    assert score.confusion(classifier=True)["counts"] == [[2, 0, 0, 0], [1, 1, 0, 0]]
    out = tmp_path / "out"
    write_score_dir(score, out, {})
    assert (out / "per_utt.tsv").read_text().splitlines()[4] == "f2\tfra\txyz\t0\t5\t0.0000\teng"
    assert (out / "lid_confusion_classifier.png").read_bytes().startswith(b"\x89PNG")
    write_score_dir(score_texts(*multi), out, {})  # scored again without: the classifier's files go
    assert not (out / "lid_confusion_classifier.json").exists()
    assert "lid_acc_classifier" not in json.loads((out / "score.json").read_text())["eng"]
    assert json.loads((out / "summary.json").read_text())["lid_acc_classifier"] is None


@pytest.mark.parametrize("lines, message", [
    (["e1 [eng]", "e2 [eng]", "f1 [fra]"], r"lid lacks 1 utterance.*'f2'"),
    (["e1 [eng]", "e2 [eng]", "f1 [fra]", "f2 fra"], r"lid:4: expected '<utt> \[iso\]'"),
    (["e1 [eng]", "e1 [eng]"], r"lid:2: duplicate utterance id 'e1'"),
])
def test_a_bad_classifier_file_names_file_and_line(multi, tmp_path, lines, message):
    with pytest.raises(EvalInputError, match=message):
        score_texts(*multi, lid_path=write(tmp_path / "lid", lines))


def test_space_counts_as_one_character_and_whitespace_collapses(tmp_path):
    # "ab cd" is 5 characters; the hypothesis drops the space: 1 edit -> 20 %. Repeated and
    # trailing whitespace in the reference collapses; a tag glued to the text still counts.
    ref = write(tmp_path / "ref", ["u1 [eng]   ab    cd  "])
    hyp = write(tmp_path / "hyp", ["u1 [eng]abcd"])
    (u,) = score_texts(ref, hyp).utterances
    assert (u.edits, u.ref_len, u.hyp_lang) == (1, 5, "eng")
    assert u.cer == pytest.approx(20.0)


def test_reference_language_from_utt2lang(tmp_path):
    # Same test set without tags in the reference: the language comes from utt2lang.
    ref = write(tmp_path / "ref", [line.replace("[eng] ", "").replace("[fra] ", "") for line in REF])
    hyp = write(tmp_path / "hyp", HYP)
    utt2lang = write(tmp_path / "utt2lang", ["e1 eng", "e2 eng", "f1 fra", "f2 fra"])
    tagged = score_texts(write(tmp_path / "tagged", REF), hyp).per_language()
    assert score_texts(ref, hyp, utt2lang).per_language() == tagged


def test_only_the_first_hypothesis_tag_is_removed():
    assert split_tag("x[eng]ab", anywhere=True) == ("eng", "xab")
    assert split_tag("ab [eng] cd [fra] e", anywhere=True) == ("eng", "ab cd [fra] e")
    assert split_tag("ab [eng] cd", anywhere=False) == (None, "ab [eng] cd")


def test_empty_hypothesis_is_all_deletions_without_tag(tmp_path):
    ref = write(tmp_path / "ref", ["u1 [eng] abc"])
    hyp = write(tmp_path / "hyp", ["u1"])
    (u,) = score_texts(ref, hyp).utterances
    assert (u.edits, u.ref_len, u.hyp_lang) == (3, 3, None)


def test_score_dir_files(multi, tmp_path):
    out = tmp_path / "out"
    write_score_dir(score_texts(*multi), out, {"ref": "r", "hyp": "h", "utt2lang": None})
    assert set(json.loads((out / "score.json").read_text())) == {"eng", "fra"}
    assert json.loads((out / "summary.json").read_text())["inputs"] == {"ref": "r", "hyp": "h", "utt2lang": None}
    rows = (out / "per_utt.tsv").read_text().splitlines()
    assert rows[0] == "utt\tlang\thyp_lang\tedits\tref_len\tcer"
    assert rows[2] == "e2\teng\tfra\t1\t5\t20.0000"
    assert rows[3] == "f1\tfra\t-\t1\t7\t14.2857"
    assert (out / "lid_confusion.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left


@pytest.mark.parametrize(
    "ref, hyp, utt2lang, message",
    [
        (["a [eng] x", "b [eng] y"], ["a [eng] x"], None, r"hyp lacks 1 utterance.*'b'.*ref:2"),
        (["a [eng] x"], ["a [eng] x", "z [eng] y"], None, r"hyp:2: utterance 'z' is not in"),
        (["a [eng] x", "b [eng]  "], ["a x", "b y"], None, r"ref:2: utterance 'b' has an empty reference"),
        (["a [eng] x", "a [eng] y"], ["a x"], None, r"ref:2: duplicate utterance id 'a' \(first on line 1\)"),
        (["a [eng] x", "", "b [eng] y"], ["a x", "b y"], None, r"ref:2: blank line"),
        (["a x"], ["a x"], None, r"ref:1: utterance 'a' has no \[iso\] tag.*no --utt2lang"),
        (["a x"], ["a x"], ["b eng"], r"ref:1: utterance 'a' has no \[iso\] tag.*not in .*utt2lang"),
        (["a [fra] x"], ["a x"], ["a eng"], r"ref:1: utterance 'a' is tagged \[fra\] but .*utt2lang says 'eng'"),
        (["a x"], ["a x"], ["a eng extra"], r"utt2lang:1: expected '<utt> <iso>'"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path, ref, hyp, utt2lang, message):
    paths = [write(tmp_path / "ref", ref), write(tmp_path / "hyp", hyp)]
    if utt2lang is not None:
        paths.append(write(tmp_path / "utt2lang", utt2lang))
    with pytest.raises(EvalInputError, match=message):
        score_texts(*paths)


def test_an_unk_token_in_the_hypothesis_is_one_character(tmp_path):
    """A character outside the token list decodes as <unk>: one substitution, not five edits."""
    ref = write(tmp_path / "ref", ["u1 [fra] cœur"])
    hyp = write(tmp_path / "hyp", ["u1 [fra]c<unk>ur"])
    score = score_texts(ref, hyp)
    assert score.utterances[0].edits == 1
    assert score.utterances[0].ref_len == 4


# PER: phones by espeak-ng, read with the reference language's voice (lamer.data.g2p).
# eng: "the cat sat" [ð ə k æ t s æ t] vs "the cat sad": 1 phone substituted of 8, 1 character of 11;
# spa: "vaca" vs "baca" sound alike [b a k a] (CER 1/4, PER 0), and the hypothesis tagged [eng]
#      is still read as Spanish (English would read "baca" otherwise);
# cmn: 你好 [n i2 χ ɑu2] vs 你号 [n i2 χ ɑu5]: the tone alone, 1 phone of 4, 1 character of 2.
PER_REF = ["e1 [eng] the cat sat", "s1 [spa] vaca", "c1 [cmn] 你好"]
PER_HYP = ["e1 [eng] the cat sad", "s1 [eng] baca", "c1 [cmn] 你号"]


@pytest.fixture
def phones(tmp_path):
    return write(tmp_path / "ref", PER_REF), write(tmp_path / "hyp", PER_HYP)


def test_per_beside_cer_with_the_reference_languages_voice(phones):
    score = score_texts(*phones, per=True)
    assert {u.utt: (u.phone_edits, u.ref_phones, u.edits, u.ref_len) for u in score.utterances} == {
        "e1": (1, 8, 1, 11), "s1": (0, 4, 1, 4), "c1": (1, 4, 1, 2)}
    assert score.per_language() == {
        "cmn": {"cer": 50.0, "per": 25.0, "lid_acc": 100.0, "n": 1},
        "eng": {"cer": pytest.approx(100 / 11), "per": 12.5, "lid_acc": 100.0, "n": 1},
        "spa": {"cer": 25.0, "per": 0.0, "lid_acc": 0.0, "n": 1},
    }
    summary = score.summary()
    assert summary["per"] == pytest.approx(100 * 2 / 16) and summary["macro_per"] == pytest.approx(37.5 / 3)
    assert summary["per_language"]["cmn"]["phone_edits"] == 1 and summary["per_language"]["cmn"]["ref_phones"] == 4
    assert summary["g2p"].startswith("espeak-ng ") and summary["g2p"].endswith("; a word read in another language "
                                                                                 "is one phone")
    assert summary["g2p_voices"] == {"cmn": "cmn", "eng": "en-us", "spa": "es-419"}


def test_identical_texts_have_per_zero(tmp_path):
    ref = write(tmp_path / "ref", PER_REF)
    score = score_texts(ref, ref, per=True)
    assert [u.phone_edits for u in score.utterances] == [0, 0, 0] and score.summary()["per"] == 0.0


def test_an_unk_token_in_the_hypothesis_is_one_phone(tmp_path):
    # [ð ə k æ t s æ t] vs "the cat" + <unk> + "at" = [ð ə k æ t] <unk> [æ t]: <unk> for s
    ref = write(tmp_path / "ref", ["u1 [eng] the cat sat"])
    hyp = write(tmp_path / "hyp", ["u1 [eng] the cat <unk>at"])
    (u,) = score_texts(ref, hyp, per=True).utterances
    assert (u.phone_edits, u.ref_phones) == (1, 8)


def test_score_dir_with_per(phones, tmp_path):
    out = tmp_path / "out"
    write_score_dir(score_texts(*phones, per=True), out, {})
    rows = (out / "per_utt.tsv").read_text().splitlines()
    assert rows[0] == "utt\tlang\thyp_lang\tedits\tref_len\tcer\tphone_edits\tref_phones\tper"
    assert rows[1] == "e1\teng\teng\t1\t11\t9.0909\t1\t8\t12.5000"
    assert json.loads((out / "score.json").read_text())["spa"]["per"] == 0.0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["g2p"].startswith("espeak-ng ") and summary["g2p_voices"]["spa"] == "es-419"
    write_score_dir(score_texts(*phones), out, {})  # without PER: the files of before
    assert "per" not in json.loads((out / "score.json").read_text())["spa"]
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["per"], summary["macro_per"], summary["g2p"], summary["g2p_voices"]) == (None, None, None, None)
    assert (out / "per_utt.tsv").read_text().splitlines()[0] == "utt\tlang\thyp_lang\tedits\tref_len\tcer"


@pytest.mark.parametrize("ref, message", [
    (["u1 [eng] cat", "u2 [xyz] abc"], r"ref:2: utterance 'u2': no espeak-ng voice for language 'xyz'.*--per false"),
    (["u1 [eng] cat", "u2 [eng] ?!"], r"ref:2: utterance 'u2': espeak-ng voice 'en-us' gives no phones for its "
                                       r"reference text '\?!' \(PER undefined\)"),
])
def test_a_reference_without_phones_names_the_utterance(tmp_path, ref, message):
    paths = write(tmp_path / "ref", ref), write(tmp_path / "hyp", ["u1 cat", "u2 x"])
    with pytest.raises(EvalInputError, match=message):
        score_texts(*paths, per=True)
    assert score_texts(*paths).utterances[1].ref_len in (2, 3)  # CER alone scores them
