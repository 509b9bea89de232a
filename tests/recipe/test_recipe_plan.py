import resource
import subprocess
import sys
from pathlib import Path

import pytest

from lamer.recipe.plan import BaseModel, PlanError, Replay, check_data_root, load_plan

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


def test_the_demo_plans_are_valid():
    conf = RECIPES / "mini_lamer" / "ssl1" / "conf"
    assert [s.languages for s in load_plan(conf / "plan.yaml").stages] == [["vie", "hin"]]
    assert [s.languages for s in load_plan(conf / "plan_near.yaml").stages] == [["spa", "ita"], ["nld", "por"]]
    assert [s.languages for s in load_plan(conf / "plan_far_tamil.yaml").stages] == [["hin", "tam"]]
    assert load_plan(conf / "plan.yaml").quality_probe == conf / "probe" / "probe_cpu_quality.yaml"


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
    assert plan.base_model == BaseModel(checkpoint=str(recipe / "model" / "upstream.pt"), sha256=HEX)
    plan = load_plan(_with_base_model(recipe, "{checkpoint: model}"))  # a transformers directory: no hash
    assert plan.base_model == BaseModel(checkpoint=str(recipe / "model"))


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
    assert load_plan(seen).base_model.languages == ("eng", "fra", "deu", "ita")
    new = _with_base_model(recipe, "{checkpoint: model.pt, languages: [eng, fra, deu]}")
    assert load_plan(new).base_model == BaseModel(checkpoint=str(recipe / "model.pt"), languages=("eng", "fra", "deu"))


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


def test_replay_base_model_and_method_are_typed(recipe, capsys):
    from lamer.bin.plan import main as plan_main
    from lamer.ssl.method_config import Method

    plan = load_plan(_write(recipe, GOOD))
    assert plan.replay == Replay("minutes", 2, "speaker_balanced", 0.2)
    assert plan.base_model == BaseModel(pretrain=str(recipe / "conf" / "method.yaml"))
    assert isinstance(plan.method, Method) and plan.method.path == recipe / "conf" / "method.yaml"
    assert plan.method.adapter == "lamer" and plan.method.preset is None
    path = _write(recipe, GOOD.replace("{minutes: 2, strategy: speaker_balanced, share: 0.2}",
                                       "{fraction: 0.1, share: 0}"))
    assert load_plan(path).replay == Replay("fraction", 0.1, "random", 0)  # share 0: drawn, in no batch
    answers = {}
    for key in ("replay_minutes", "replay_fraction", "replay_strategy", "replay_share", "base_model", "method"):
        assert plan_main(["get", "--plan", str(path), key]) == 0
        answers[key] = capsys.readouterr().out
    assert answers == {"replay_minutes": "\n", "replay_fraction": "0.1\n", "replay_strategy": "random\n",
                       "replay_share": "0\n", "base_model": f"pretrain {recipe / 'conf' / 'method.yaml'}\n",
                       "method": f"{recipe / 'conf' / 'method.yaml'}\n"}
    assert load_plan(_write(recipe, GOOD.replace("replay: {minutes: 2, strategy: speaker_balanced, share: 0.2}\n",
                                                 ""))).replay is None


@pytest.mark.parametrize("replay, message", [
    ("{minutes: 0, share: 0.2}", "replay.minutes: must be a positive number, got 0"),
    ("{minutes: true, share: 0.2}", "replay.minutes: must be a positive number, got True"),
    ("{fraction: '0.1', share: 0.2}", "replay.fraction: must be a positive number, got '0.1'"),
    ("{minutes: 2, share: -0.1}", "replay.share: the part of every training batch taken from the replay sample, a "
                                  "number in [0, 1) (0: none in the batches), got -0.1"),
    ("{minutes: 2, share: 0.2, strategy: best}", "replay.strategy: expected one of ('random', 'speaker_balanced'), "
                                                 "got 'best'"),
    ("{minutes: 2, share: 0.2, shares: 0.3}", "replay: unknown key(s) ['shares']; known keys are minutes or "
                                              "fraction, strategy, share"),
    ("[2, 0.2]", "replay: expected a mapping, got [2, 0.2]"),
])
def test_a_bad_replay_names_its_key(recipe, replay, message):
    with pytest.raises(PlanError) as err:
        load_plan(_write(recipe, GOOD.replace("{minutes: 2, strategy: speaker_balanced, share: 0.2}", replay)))
    problems = [line[4:] for line in str(err.value).splitlines()[1:]]
    assert problems == [message]


def test_a_bad_method_is_a_problem_of_the_plan_check(recipe):
    (recipe / "conf" / "method.yaml").write_text("ssl_adapter_preset: lamer.yaml\n")
    with pytest.raises(PlanError) as err:
        load_plan(_write(recipe, GOOD.replace("[nl, pt]", "[]")))
    problems = [line[4:] for line in str(err.value).splitlines()[1:]]
    assert problems == ["stages[1].languages: is empty; a stage needs at least one language",
                        f"method: {recipe / 'conf' / 'method.yaml'}: ssl_adapter_preset: lamer.yaml: no such file "
                        f"(looked at {recipe / 'conf' / 'lamer.yaml'}; a relative preset is taken from the folder of "
                        "the config that names it)"]


def _printed(plan, capsys) -> dict:
    import yaml

    from lamer.bin.plan import main as plan_main

    assert plan_main(["check", "--plan", str(plan), "--print"]) == 0
    return yaml.safe_load(capsys.readouterr().out)


def test_plan_check_print_shows_the_resolved_plan_method_and_experts_per_layer(capsys):
    from lamer.adapters import LamerConfig

    demo = RECIPES / "mini_lamer" / "ssl1"
    printed = _printed(demo / "conf" / "plan.yaml", capsys)
    assert list(printed) == ["plan", "method", "experts_per_layer"]
    assert printed["plan"]["replay"] == {"minutes": 2, "strategy": "speaker_balanced", "share": 0.2}
    assert printed["plan"]["base"] == {"languages": ["eng", "fra", "deu"], "locales": ["en", "fr", "de"]}
    assert printed["plan"]["base_model"]["languages"] == ["eng", "fra", "deu"]
    assert printed["method"]["config"] == str(demo / "conf" / "ssl" / "far.yaml")
    resolved = printed["method"]["ssl_train"]
    # the published method: the preset as it is (its load balancing), no language-supervised routing
    want = LamerConfig.from_yaml(RECIPES.parent / "conf" / "lamer" / "lamer_base.yaml")
    assert (want.specialise_weight, want.router_lr_scale) == (0.0, 1.0) and want.load_balance_weight > 0
    assert resolved["ssl_adapter_conf"] == want.to_dict() and "ssl_adapter_preset" not in resolved
    assert resolved["optim_conf"] == {"lr": 0.002, "weight_decay": 0.0}
    # the shipped base model has 4 layers: groups:2,4,8 gives the first group the extra layer
    assert printed["experts_per_layer"] == {"upstream": str(demo / "base_model" / "upstream.pt"), "depth": 4,
                                            "allocation": "groups:2,4,8", "counts": [2, 2, 4, 8]}


def test_plan_check_print_of_a_pretrained_base_and_of_full_fine_tuning(recipe, capsys):
    (recipe / "conf" / "pretrain.yaml").write_text("upstream: hubert_base\nssl_adapter: none\n")
    (recipe / "conf" / "lamer.yaml").write_text("adapter: lamer\nadapter_conf: {allocation: 'linear:1-4'}\n")
    (recipe / "conf" / "method.yaml").write_text("ssl_adapter_preset: lamer.yaml\n")
    plan = _write(recipe, GOOD.replace("base_model: {pretrain: conf/method.yaml}",
                                       "base_model: {pretrain: conf/pretrain.yaml}"))
    assert _printed(plan, capsys)["experts_per_layer"] == {"upstream": "hubert_base", "depth": 12,
                                                           "allocation": "linear:1-4",
                                                           "counts": [1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4]}
    (recipe / "conf" / "method.yaml").write_text("ssl_adapter: none\nssl_adapter_preset: lamer.yaml\noptim: adam\n")
    printed = _printed(plan, capsys)
    assert "experts_per_layer" not in printed and printed["method"]["ssl_train"] == {"ssl_adapter": "none",
                                                                                     "optim": "adam"}


def test_plan_check_print_names_an_allocation_that_does_not_fit_the_base_model(recipe, capsys):
    from lamer.bin.plan import main as plan_main

    (recipe / "conf" / "lamer.yaml").write_text("adapter: lamer\nadapter_conf: {allocation: 'steps:1,2'}\n")
    (recipe / "conf" / "method.yaml").write_text("ssl_adapter_preset: lamer.yaml\n")
    plan = _write(recipe, GOOD)  # pretrains with conf/method.yaml, which names no upstream: ssl_train's tiny
    assert plan_main(["check", "--plan", str(plan)]) == 0
    capsys.readouterr()
    assert plan_main(["check", "--plan", str(plan), "--print"]) == 1
    assert capsys.readouterr().err == (f"plan: error: {recipe / 'conf' / 'lamer.yaml'}: allocation: schedule "
                                       "'steps:1,2': 2 counts for a model of 3 layers; give one per layer, or use "
                                       "'groups:' to spread fewer counts over the depth\n")


def test_probe_minutes_is_the_probes_labelled_budget(recipe):
    assert load_plan(_write(recipe, GOOD)).probe_minutes is None  # default: every training utterance
    plan = load_plan(_write(recipe, GOOD + "probe_minutes: 1.5\n"))
    assert plan.probe_minutes == 1.5 and plan.as_dict()["probe_minutes"] == 1.5


@pytest.mark.parametrize("value", ["0", "-2", "true", "lots"])
def test_a_bad_probe_minutes_is_named(recipe, value):
    with pytest.raises(PlanError) as err:
        load_plan(_write(recipe, GOOD + f"probe_minutes: {value}\n"))
    assert "probe_minutes: expected a positive number of labelled minutes per language" in str(err.value)


def test_a_quality_probe_reads_the_base_model_with_every_label(recipe):
    assert load_plan(_write(recipe, GOOD + "probe_minutes: 1.5\n")).quality_probe is None
    plan = load_plan(_write(recipe, GOOD + "probe_minutes: 1.5\nquality_probe: conf/probe.yaml\n"))
    assert plan.quality_probe == recipe / "conf" / "probe.yaml"
    assert plan.as_dict()["quality_probe"] == str(recipe / "conf" / "probe.yaml")


@pytest.mark.parametrize("extra, message", [
    ("quality_probe: conf/probe.yaml\n", "quality_probe: the probes train on every label already (no probe_minutes)"),
    ("probe_minutes: 1.5\nquality_probe: conf/nowhere.yaml\n", "quality_probe: conf/nowhere.yaml does not exist"),
    ("probe_minutes: 1.5\nquality_probe: [a]\n", "quality_probe: expected a path"),
])
def test_a_bad_quality_probe_is_named(recipe, extra, message):
    with pytest.raises(PlanError) as err:
        load_plan(_write(recipe, GOOD + extra))
    assert message in str(err.value)
