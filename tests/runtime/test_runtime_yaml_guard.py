"""ESPnet's YAML under lamer.runtime.yaml_guard: ``--*_conf KEY=VALUE`` values and config files go
through lamer's strict loader, so no value runs code, no key counts twice, and the recipe's paths
reach the frontend unchanged. ESPnet's own parsers and our entry points throughout."""
from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import yaml

from lamer.runtime.load_guard import espnet_safe_loading
from lamer.yaml_io import YamlError
from tests.probe.fixtures import PROBE_CONFIG
from tests.runtime.test_runtime_load_guard import error_line

REPO = Path(__file__).resolve().parents[2]
# what `./ssl.sh --base_dir` of issue 25 passed on as `--frontend_conf path_or_url=<base_dir>/upstream.pt`
PWNED_DIR = '!!python/object/apply:os.system ["touch {marker}"] #'


@pytest.fixture(scope="module")
def asr_parser():
    """ESPnet's ASR task parser, ``frontend: lamer`` registered, as ``asr_train`` builds it."""
    from espnet2.tasks.asr import ASRTask

    from lamer.probe.asr_task import register_lamer_choices

    register_lamer_choices()
    return ASRTask.get_parser()


def parse(parser, *options: str):
    """``options`` parsed by ``parser`` under the guard, with the options ASR training requires."""
    with espnet_safe_loading():
        return parser.parse_args(["--output_dir", "out", "--token_list", "tokens.txt", *options])


def test_espnet_yaml_parsing_keeps_the_shape_we_wrap(asr_parser):
    """Fails when an ESPnet upgrade parses options or config files elsewhere than what we replace."""
    from espnet2.tasks import abs_task
    from espnet2.tasks.abs_task import AbsTask
    from espnet2.utils import config_argparse
    from espnet2.utils.nested_dict_action import NestedDictAction

    from lamer.ssl.task import SSLTask

    assert list(inspect.signature(NestedDictAction.__call__).parameters) == [
        "self", "parser", "namespace", "values", "option_strings"]
    assert "yaml.load(" in inspect.getsource(NestedDictAction.__call__)
    for parser, option in ((asr_parser, "--frontend_conf"), (SSLTask.get_parser(), "--ssl_adapter_conf")):
        assert isinstance(parser, config_argparse.ArgumentParser)
        action = next(a for a in parser._actions if option in a.option_strings)
        assert type(action).__call__ is NestedDictAction.__call__, option
    assert config_argparse.yaml is yaml and abs_task.yaml is yaml
    assert "yaml.safe_load(" in inspect.getsource(config_argparse.ArgumentParser.parse_known_args)
    assert "yaml.safe_load(" in inspect.getsource(AbsTask.build_model_from_file)


def test_the_guard_restores_espnet_and_yaml():
    from espnet2.utils.nested_dict_action import NestedDictAction

    before = (yaml.safe_load, NestedDictAction.__dict__["__call__"])
    with espnet_safe_loading():
        assert (yaml.safe_load, NestedDictAction.__dict__["__call__"]) != before
    assert (yaml.safe_load, NestedDictAction.__dict__["__call__"]) == before


@pytest.mark.parametrize("value", [
    "path_or_url=" + PWNED_DIR + "/upstream.pt",
    "adapters.x=!!python/object/apply:os.system [\"touch {marker}\"]",
    "!!python/object/apply:os.system [\"touch {marker}\"]",
])
def test_a_tagged_conf_value_is_refused_and_runs_nothing(asr_parser, tmp_path, value):
    marker = tmp_path / "PWNED"
    with pytest.raises(YamlError, match=r"^--frontend_conf.*:1: tag '!!python/object/apply:os.system' is refused"):
        parse(asr_parser, "--frontend_conf", value.format(marker=marker))
    assert not marker.exists()


def test_a_conf_value_is_never_evaluated(asr_parser, tmp_path):
    marker = tmp_path / "PWNED"
    python = f"{{'a': __import__('os').system('touch {marker}')}}"  # ESPnet eval()s a value without '='
    args = parse(asr_parser, "--frontend_conf", python)
    assert args.frontend_conf == {"a": f"__import__('os').system('touch {marker}')"} and not marker.exists()


def test_conf_values_keep_espnet_forms(asr_parser):
    args = parse(asr_parser, "--frontend_conf", "a=3", "--frontend_conf", "c.d=4", "--frontend_conf", "{e: [1, x]}",
                 "--frontend_conf", "b=", "--frontend_conf", 'p="exp/run #2/a: b/{c} [d]"')
    assert args.frontend_conf == {"a": 3, "c": {"d": 4}, "e": [1, "x"], "b": "", "p": "exp/run #2/a: b/{c} [d]"}
    args = parse(asr_parser, "--frontend_conf", "c=2", "--frontend_conf", "c.d=4")
    assert args.frontend_conf == {"c": {"d": 4}}
    with pytest.raises(SystemExit):
        parse(asr_parser, "--frontend_conf", "[1, 2]")  # neither KEY=VALUE nor a mapping: argparse's error


def test_recipe_paths_reach_the_frontend_unchanged(asr_parser, tmp_path):
    """The probe jobs the recipe lists, parsed as asr_train parses them: every path byte for byte."""
    from lamer.recipe.jobs import RecipeOptions, recipe_jobs
    from lamer.recipe.plan import load_plan
    from tests.recipe.recipes import TINY_PLAN

    (tmp_path / "conf").mkdir()
    for name in ("ssl", "probe"):
        (tmp_path / "conf" / name).symlink_to(REPO / "conf" / name)
    (tmp_path / "base.pt").write_bytes(b"")
    (tmp_path / "conf" / "plan.yaml").write_text(TINY_PLAN.format(checkpoint='"base.pt"'))
    marker = tmp_path / "PWNED"
    tag, base_dir = "run #2: {a} [b]", PWNED_DIR.format(marker=marker)
    jobs = {job.name: job for job in recipe_jobs(load_plan(tmp_path / "conf" / "plan.yaml", tmp_path),
                                                 RecipeOptions(stage=6, stop_stage=6, tag=tag, base_dir=base_dir))}
    for stage, adapters in (("base", None), ("s1", f"exp/{tag}/ssl/s1/adapters")):
        argv = jobs[f"probe_{stage}"].argv
        args = parse(asr_parser, *argv[argv.index("lamer.bin.asr_train") + 1:])
        assert args.frontend_conf["path_or_url"] == f"{base_dir}/upstream.pt"
        assert args.frontend_conf.get("adapters") == adapters
    assert not marker.exists()


def duplicated(source: Path, key: str, value: str, out: Path) -> Path:
    """``source`` with ``key`` given a second time at the end (YAML alone would keep ``value``)."""
    out.write_text(source.read_text(encoding="utf-8") + f"{key}: {value}\n", encoding="utf-8")
    return out


def test_asr_train_refuses_a_probe_config_that_gives_a_key_twice(tmp_path, capsys):
    from lamer.bin import asr_train

    config = duplicated(PROBE_CONFIG, "max_epoch", "100", tmp_path / "probe.yaml")
    assert asr_train.main(["--config", str(config), "--output_dir", str(tmp_path / "exp"), "--token_list", "t"]) == 1
    line = error_line(capsys.readouterr().err, "asr_train")
    assert line.startswith(f"asr_train: error: {config}:") and "key 'max_epoch' is given twice" in line
    assert not (tmp_path / "exp").exists()


def test_ssl_train_refuses_a_method_config_that_gives_a_key_twice(tmp_path, capsys):
    from lamer.bin import ssl_train

    method = duplicated(REPO / "conf" / "ssl" / "demo.yaml", "ssl_adapter", "none", tmp_path / "method.yaml")
    assert ssl_train.main(["--config", str(method), "--output_dir", str(tmp_path / "exp")]) == 1
    line = error_line(capsys.readouterr().err, "ssl_train")
    lines = method.read_text().splitlines()
    first = lines.index("ssl_adapter: lamer") + 1
    assert line == (f"ssl_train: error: {method}:{len(lines)}: key 'ssl_adapter' is given twice in one mapping "
                    f"(first at line {first}); keep one")


def test_a_config_file_with_a_tag_is_one_line_and_runs_nothing(tmp_path, capsys):
    from lamer.bin import asr_train

    marker = tmp_path / "PWNED"
    config = tmp_path / "probe.yaml"
    config.write_text(PROBE_CONFIG.read_text() + f'init: !!python/object/apply:os.system ["touch {marker}"]\n')
    assert asr_train.main(["--config", str(config), "--output_dir", str(tmp_path / "exp"), "--token_list", "t"]) == 1
    assert "tag '!!python/object/apply:os.system' is refused" in error_line(capsys.readouterr().err, "asr_train")
    assert not marker.exists()


def test_a_model_config_is_read_strictly_when_decoding(tmp_path):
    """The probe's config.yaml that decoding builds the model from (AbsTask.build_model_from_file)."""
    from espnet2.tasks.asr import ASRTask

    config = duplicated(PROBE_CONFIG, "frontend", "default", tmp_path / "config.yaml")
    with espnet_safe_loading(), pytest.raises(YamlError, match=f"^{config}:.* key 'frontend' is given twice"):
        ASRTask.build_model_from_file(config_file=config, model_file=None)
