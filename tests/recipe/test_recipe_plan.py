import resource
import subprocess
import sys
from pathlib import Path

import pytest

from lamer.recipe.plan import PlanError, check_data_root, load_plan

GOOD = """
corpus: commonvoice
base: [en, fr, de]
stages:
  - {name: s1, languages: [es, it]}
  - {name: s2, languages: [nl, pt]}
method: conf/method.yaml
probe: conf/probe.yaml
replay: {minutes: 2, strategy: speaker_balanced, share: 0.2}
protocols: [retrained, fixed]
base_model: {pretrain: conf/method.yaml}
"""


@pytest.fixture
def recipe(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "method.yaml").write_text("{}\n")
    (tmp_path / "conf" / "probe.yaml").write_text("{}\n")
    return tmp_path


def _write(recipe, text):
    path = recipe / "conf" / "plan.yaml"
    path.write_text(text)
    return path


def test_a_good_plan_resolves_languages_and_stages(recipe):
    plan = load_plan(_write(recipe, GOOD))
    assert plan.base.languages == ["eng", "fra", "deu"]
    assert [(s.name, s.languages) for s in plan.stages] == [("s1", ["spa", "ita"]), ("s2", ["nld", "por"])]
    assert plan.introduced()["ita"] == "s1" and plan.introduced()["eng"] == "base"
    assert plan.locale_of()["por"] == "pt"
    assert plan.protocols == ["retrained", "fixed"]


@pytest.mark.parametrize("old, new, message", [
    ("[es, it]", "[es, xx]", "stages[0].languages: unknown commonvoice locale 'xx'"),
    ("[es, it]", "[]", "stages[0].languages: is empty"),
    ("[nl, pt]", "[nl, es]", "language es (spa) is in both 's1' and 's2'"),
    ("[nl, pt]", "[nl, en]", "language en (eng) is in both 'base' and 's2'"),
    ("name: s2", "name: s1", "name 's1' is used twice"),
    ("corpus: commonvoice", "corpus: librispeech", "corpus: expected one of"),
    ("method: conf/method.yaml", "method: conf/missing.yaml", "method: conf/missing.yaml does not exist"),
    ("{minutes: 2, strategy: speaker_balanced, share: 0.2}", "{minutes: 2, fraction: 0.1, share: 0.2}",
     "exactly one of 'minutes' or 'fraction'"),
    ("share: 0.2}", "share: 1.0}", "replay.share: the part of every training batch taken from the replay sample"),
    ("share: 0.2}", "}", "replay.share: the part of every training batch"),
    ("[retrained, fixed]", "[retrained, frozen]", "protocols: expected"),
    ("base_model: {pretrain: conf/method.yaml}", "base_model: {checkpoint: /no/such/model.pt}",
     "base_model.checkpoint: /no/such/model.pt does not exist"),
])
def test_bad_plans_stop_with_the_key_named(recipe, old, new, message):
    assert old in GOOD
    with pytest.raises(PlanError) as err:
        load_plan(_write(recipe, GOOD.replace(old, new)))
    assert message in str(err.value)


@pytest.mark.parametrize("old, new, message", [
    # GOOD's lines: 2 corpus, 3 base, 4 stages, 5-6 the stages, 7 method, 8 probe, 9 replay, 10 protocols
    ("probe: conf/probe.yaml\n", "probe: conf/probe.yaml\nmethod: conf/probe.yaml\n",
     ":9: key 'method' is given twice in one mapping (first at line 7)"),
    ("{name: s2, languages: [nl, pt]}", "{name: s2, languages: [nl, pt], name: s3}",
     ":6: key 'name' is given twice in one mapping (first at line 6)"),
    ("{minutes: 2, strategy: speaker_balanced, share: 0.2}", "\n  minutes: 2\n  strategy: random\n  minutes: 30",
     ":12: key 'minutes' is given twice in one mapping (first at line 10)"),
    ("[retrained, fixed]", "[retrained, fixed, retrained]",
     "protocols (line 10): 'retrained' listed more than once"),
])
def test_a_key_or_protocol_given_twice_is_refused_with_file_and_line(recipe, old, new, message):
    assert old in GOOD
    path = _write(recipe, GOOD.replace(old, new))
    with pytest.raises(PlanError) as err:
        load_plan(path)
    assert str(err.value).startswith(str(path)) and message in str(err.value)


def test_plan_check_on_an_alias_bomb_is_one_line_in_bounded_memory(recipe):
    """The billion laughs as a plan's base languages: before the loader's bound, the error message
    that printed the value expanded 9^9 strings."""
    levels = ['&l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"&l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    path = _write(recipe, GOOD.replace("base: [en, fr, de]", "base:\n" + "".join(f"  - {lv}\n" for lv in levels)))

    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    out = subprocess.run([sys.executable, "-m", "lamer.bin.plan", "check", "--plan", str(path)], capture_output=True,
                         text=True, timeout=60, preexec_fn=limit_memory)
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and len(out.stderr) < 300, out.stderr[-2000:]
    assert out.stderr.startswith(f"plan: error: {path}:") and "more than 1000000 values" in out.stderr


def test_every_problem_is_reported_at_once(recipe):
    text = GOOD.replace("[es, it]", "[es, xx]").replace("[nl, pt]", "[]")
    with pytest.raises(PlanError) as err:
        load_plan(_write(recipe, text))
    assert "unknown commonvoice locale 'xx'" in str(err.value) and "is empty" in str(err.value)


def test_data_root_must_hold_every_locale(recipe, tmp_path):
    plan = load_plan(_write(recipe, GOOD))
    with pytest.raises(PlanError, match="does not exist; fix db.sh"):
        check_data_root(plan, tmp_path / "nowhere")
    root = tmp_path / "cv"
    for loc in ["en", "fr", "de", "es", "it", "nl"]:
        (root / loc).mkdir(parents=True)
    with pytest.raises(PlanError, match="has no folder for pt"):
        check_data_root(plan, root)
    (root / "pt").mkdir()
    check_data_root(plan, root)


RECIPES = Path(__file__).resolve().parents[2] / "egs2"


def test_the_demo_plan_is_valid():
    plan = load_plan(RECIPES / "mini_lamer" / "ssl1" / "conf" / "plan.yaml")
    assert [s.languages for s in plan.stages] == [["spa", "ita"], ["nld", "por"]]


@pytest.mark.parametrize("corpus", ["commonvoice", "fleurs"])
def test_real_data_plans_only_lack_the_local_checkpoint(corpus):
    with pytest.raises(PlanError) as err:
        load_plan(RECIPES / corpus / "ssl1" / "conf" / "plan.yaml")
    problems = [line for line in str(err.value).splitlines() if line.strip().startswith("- ")]
    assert problems == ["  - base_model.checkpoint: /path/to/hubert-base-ls960 does not exist "
                        "(looked at /path/to/hubert-base-ls960)"]


HEX = "0123456789abcdef" * 4


def _with_base_model(recipe, base_model):
    return _write(recipe, GOOD.replace("base_model: {pretrain: conf/method.yaml}", f"base_model: {base_model}"))


def test_a_checkpoint_with_its_sha256_resolves_against_the_recipe_dir(recipe):
    (recipe / "model").mkdir()
    (recipe / "model" / "upstream.pt").write_bytes(b"weights")
    plan = load_plan(_with_base_model(recipe, f"{{checkpoint: model/upstream.pt, sha256: '{HEX.upper()}'}}"))
    assert plan.base_model == {"checkpoint": str(recipe / "model" / "upstream.pt"), "sha256": HEX}
    plan = load_plan(_with_base_model(recipe, "{checkpoint: model}"))  # a transformers directory: no hash
    assert plan.base_model == {"checkpoint": str(recipe / "model")}


@pytest.mark.parametrize("base_model, message", [
    (f"{{checkpoint: model.pt, sha256: {HEX[:-1]}}}",
     f"base_model.sha256: expected 64 hex digits, got '{HEX[:-1]}' (63 characters)"),
    (f"{{checkpoint: model.pt, sha256: {HEX[:-1]}g}}", f"base_model.sha256: expected 64 hex digits, got '{HEX[:-1]}g'"),
    ("{checkpoint: model.pt, sha256: 12345}", "base_model.sha256: expected 64 hex digits as a string (quote it in "
                                              "YAML), got 12345"),
    (f"{{checkpoint: conf, sha256: {HEX}}}", "base_model.sha256: base_model.checkpoint conf is a directory"),
    (f"{{pretrain: conf/method.yaml, sha256: {HEX}}}", "base_model: expected {checkpoint: PATH}"),
    (f"{{checkpoint: model.pt, sha: {HEX}}}", "base_model: expected {checkpoint: PATH}"),
])
def test_a_bad_sha256_is_refused_at_plan_check_naming_the_key(recipe, base_model, message):
    (recipe / "model.pt").write_bytes(b"weights")
    with pytest.raises(PlanError) as err:
        load_plan(_with_base_model(recipe, base_model))
    assert message in str(err.value)


def test_a_continual_language_the_checkpoint_saw_is_refused_naming_it(recipe):
    (recipe / "model.pt").write_bytes(b"weights")
    seen = _with_base_model(recipe, "{checkpoint: model.pt, languages: [eng, fra, deu, ita]}")
    with pytest.raises(PlanError) as err:
        load_plan(seen)
    problems = [line for line in str(err.value).splitlines() if line.strip().startswith("- ")]
    assert len(problems) == 1 and problems[0].startswith("  - s1: it (ita) is among base_model.languages")
    assert "allow_seen: true" in problems[0]
    seen.write_text(seen.read_text() + "allow_seen: true\n")
    assert load_plan(seen).base_model["languages"] == ["eng", "fra", "deu", "ita"]
    new = _with_base_model(recipe, "{checkpoint: model.pt, languages: [eng, fra, deu]}")
    assert load_plan(new).base_model == {"checkpoint": str(recipe / "model.pt"), "languages": ["eng", "fra", "deu"]}


@pytest.mark.parametrize("base_model, extra, message", [
    ("{checkpoint: model.pt, languages: []}", "", "base_model.languages: the languages the checkpoint was"),
    ("{checkpoint: model.pt, languages: [en]}", "", "a non-empty list of ISO 639-3 codes (eng, cmn, ...), got ['en']"),
    ("{checkpoint: model.pt, languages: eng}", "", "base_model.languages: the languages"),
    ("{checkpoint: model.pt}", "allow_seen: yes please\n", "allow_seen: expected true or false"),
    ("{pretrain: conf/method.yaml, languages: [eng]}", "", "base_model: expected {checkpoint: PATH}"),
])
def test_bad_base_model_languages_are_named(recipe, base_model, extra, message):
    (recipe / "model.pt").write_bytes(b"weights")
    path = _with_base_model(recipe, base_model)
    path.write_text(path.read_text() + extra)
    with pytest.raises(PlanError) as err:
        load_plan(path)
    assert message in str(err.value)


@pytest.mark.parametrize("corpus", ["commonvoice", "fleurs"])
def test_real_data_plans_add_languages_their_checkpoint_never_heard(corpus):
    from lamer.recipe.plan import read_mapping

    raw = read_mapping(RECIPES / corpus / "ssl1" / "conf" / "plan.yaml", "plan file", PlanError)
    assert raw["base_model"]["languages"] == ["eng"] and "allow_seen" not in raw
