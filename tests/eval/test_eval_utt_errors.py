"""The per-utterance edits beside the results matrix: real scoring of a tiny test set at two
stages (``python -m lamer.bin.score``, PER included), collected by ``collect_results --utt_errors``."""
import json
from pathlib import Path

import pytest

from lamer.bin.collect_results import main as collect_main
from lamer.bin.score import main as score_main
from lamer.eval import EvalInputError
from lamer.eval.utt_errors import collect_utt_errors, read_utt_errors

PLAN = """corpus: commonvoice
base: [en]
stages:
  - {name: s1, languages: [es]}
base_model: {checkpoint: base.pt}
method: conf/m.yaml
probe: conf/p.yaml
protocols: [retrained]
seed: 0
"""
REF = ["e1 [eng] the cat", "e2 [eng] a dog", "s1 [spa] el gato", "s2 [spa] un perro"]
# per stage: the hypotheses; base misreads spa, s1 reads it and slips on e2
HYPS = {"base": ["e1 [eng] the cat", "e2 [eng] a dog", "s1 [eng] al gata", "s2 [eng] on pero"],
        "s1": ["e1 [eng] the cat", "e2 [eng] a dig", "s1 [spa] el gato", "s2 [spa] un perro"]}


def write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def scored(tmp_path):
    """A recipe-like folder: the plan, the test text, and the score directory of each stage."""
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "plan.yaml").write_text(PLAN)
    (tmp_path / "conf" / "m.yaml").write_text("ssl_adapter: none\n")
    (tmp_path / "conf" / "p.yaml").write_text("{}\n")
    (tmp_path / "base.pt").write_bytes(b"")
    ref = write(tmp_path / "test" / "text", REF)
    for stage, hyps in HYPS.items():
        hyp = write(tmp_path / "decode" / stage / "text", hyps)
        assert score_main(["--ref", str(ref), "--hyp", str(hyp), "--out", str(tmp_path / "score" / stage)]) == 0
    return tmp_path


def test_collect_results_writes_every_utterances_edits_per_stage(scored, monkeypatch):
    monkeypatch.chdir(scored)
    assert collect_main(["--plan", "conf/plan.yaml", "--scores", "score", "--out", "results_retrained.json",
                         "--utt_errors", "utt_errors_retrained.tsv"]) == 0
    lines = Path("utt_errors_retrained.tsv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    assert header == ["utt", "lang", "ref_chars", "char_edits:base", "char_edits:s1",
                      "ref_phones", "phone_edits:base", "phone_edits:s1"]
    # characters: "the cat" 7, "a dog" 5, "el gato" 7, "un perro" 8; base: al gata 2, on pero 2; s1: a dig 1
    assert [line.split("\t")[:5] for line in lines[1:]] == [
        ["e1", "eng", "7", "0", "0"], ["e2", "eng", "5", "0", "1"],
        ["s1", "spa", "7", "2", "0"], ["s2", "spa", "8", "2", "0"]]
    errors = read_utt_errors("utt_errors_retrained.tsv")
    assert errors.stages == ("base", "s1") and errors.rates == ("cer", "per")
    results = json.loads(Path("results_retrained.json").read_text())
    for rate in ("cer", "per"):
        for stage in ("base", "s1"):
            for lang in ("eng", "spa"):
                rows = errors.rows_of(lang)
                edits = sum(errors.edits[rate][stage][i] for i in rows)
                assert 100 * edits / sum(errors.ref[rate][i] for i in rows) == pytest.approx(
                    results[rate][stage][lang])
    # the phones agree with the scorer's own per-utterance table
    per_utt = (scored / "score" / "s1" / "per_utt.tsv").read_text().splitlines()[2].split("\t")
    assert (errors.ref["per"][1], errors.edits["per"]["s1"][1]) == (int(per_utt[7]), int(per_utt[6]))
    assert errors.edits["per"]["s1"][1] > 0 and errors.edits["per"]["base"][2] > 0


def test_without_phones_the_table_holds_characters_only(scored, tmp_path):
    for stage, hyps in HYPS.items():
        assert score_main(["--ref", str(scored / "test" / "text"), "--hyp", str(scored / "decode" / stage / "text"),
                           "--per", "false", "--out", str(tmp_path / "plain" / stage)]) == 0
    table = collect_utt_errors({stage: tmp_path / "plain" / stage for stage in HYPS})
    assert table.splitlines()[0] == "utt\tlang\tref_chars\tchar_edits:base\tchar_edits:s1"
    (tmp_path / "t.tsv").write_text(table)
    assert read_utt_errors(tmp_path / "t.tsv").rates == ("cer",)


def test_a_stage_scored_on_other_utterances_is_refused(scored):
    write(scored / "test2" / "text", REF[:3])
    write(scored / "decode2" / "text", HYPS["s1"][:3])
    assert score_main(["--ref", str(scored / "test2" / "text"), "--hyp", str(scored / "decode2" / "text"),
                       "--per", "false", "--out", str(scored / "other")]) == 0
    with pytest.raises(EvalInputError, match=r"other/per_utt.tsv: other utterances .* than .*score/base/per_utt.tsv"):
        collect_utt_errors({"base": scored / "score" / "base", "s1": scored / "other"})


@pytest.mark.parametrize("text, message", [
    ("utt\tlang\tref_chars\n", r"t.tsv:1: expected one char_edits:<stage> column per stage"),
    ("utt\tlang\tref_chars\tchar_edits:base\n", r"t.tsv: no utterances"),
    ("utt\tlang\tref_chars\tchar_edits:base\nu1\teng\t0\t1\n", r"t.tsv:2: ref_chars: expected a positive integer"),
    ("utt\tlang\tref_chars\tchar_edits:base\nu1\teng\t3\n", r"t.tsv:2: 3 fields, the header has 4"),
    ("utt\tlang\tref_chars\tchar_edits:base\tref_phones\n", r"t.tsv:1: unexpected column\(s\) \['ref_phones'\]"),
])
def test_a_broken_table_names_file_and_line(tmp_path, text, message):
    (tmp_path / "t.tsv").write_text(text)
    with pytest.raises(EvalInputError, match=message):
        read_utt_errors(tmp_path / "t.tsv")
