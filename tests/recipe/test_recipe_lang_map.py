"""The plan's lang_map reaches data preparation: what the recipe asks the plan for (python -m
lamer.bin.plan get) goes to prepare_data, and the data dirs land where the later stages look
(data/<iso3>/<split> for every language of `plan get all_languages`). Real Common Voice clips."""
from __future__ import annotations

from pathlib import Path

from lamer.bin import plan as plan_cli
from lamer.bin import prepare_data
from tests.data.conftest import REAL_SPEECH

PLAN = """corpus: commonvoice
base: [en]
stages:
  - {name: s1, languages: [es]}
lang_map: {en: enx}
method: conf/m.yaml
probe: conf/m.yaml
base_model: {pretrain: conf/m.yaml}
"""


def _get(capsys, plan: Path, key: str) -> str:
    assert plan_cli.main(["get", "--plan", str(plan), key]) == 0
    return capsys.readouterr().out.strip()


def test_lang_map_goes_from_the_plan_to_the_data_dirs_of_every_stage(tmp_path, capsys):
    root = REAL_SPEECH / "commonvoice"
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "m.yaml").write_text("{}\n")
    plan = tmp_path / "conf" / "plan.yaml"
    plan.write_text(PLAN)
    lang_map, locales = _get(capsys, plan, "lang_map"), _get(capsys, plan, "all_locales")
    assert (lang_map, locales) == ("en=enx", "en,es")
    # stage 1 of ssl.sh: prepare_data <corpus> --langs "$(plan_get all_locales)" --lang_map "$(plan_get lang_map)"
    assert prepare_data.main(["commonvoice", "--root", str(root), "--langs", locales, "--lang_map", lang_map,
                              "--out", str(tmp_path / "data"), "--dump", str(tmp_path / "dump"),
                              "--split_mode", "official", "--splits", "test"]) == 0
    # stage 2 (and every later one) reads data/<lang>/<split> for the plan's languages
    languages = _get(capsys, plan, "all_languages").split()
    assert languages == ["enx", "spa"]
    for lang in languages:
        assert (tmp_path / "data" / lang / "test" / "wav.scp").is_file(), lang
    assert not (tmp_path / "data" / "eng").exists()
    utt2lang = (tmp_path / "data" / "enx" / "test" / "utt2lang").read_text().split()
    assert set(utt2lang[1::2]) == {"enx"}
