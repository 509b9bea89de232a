"""One flag convention for every ``python -m lamer.bin.<tool>`` (lamer.bin.options): underscore
options with the dashed spelling as an alias, usage lines that name the module, unknown options
rejected. Every tool module is walked, so a new one joins the check or fails it."""
import argparse
import importlib
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import lamer.bin
from lamer.bin.options import spellings, tool_parser

MODULES = [m.name for m in pkgutil.iter_modules(lamer.bin.__path__)]
HELPERS = {"options"}
ESPNET_TASKS = {"asr_train", "ssl_train"}  # ESPnet's own parsers: its underscore options, strict
OWN_PARSING = {"launch"}  # Kaldi's `$cmd` convention, parsed by lamer.launch


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _value(action: argparse.Action) -> list[str]:
    if action.nargs == 0:
        return []
    return [str(action.choices[0]) if action.choices else "1"]


def _minimal_argv(parser: argparse.ArgumentParser) -> list[str]:
    """Arguments that satisfy ``parser``: its required options and positionals, and one option of
    each required mutually exclusive group."""
    argv: list[str] = []
    for action in parser._actions:
        if not action.option_strings and not isinstance(action, argparse._SubParsersAction):
            argv += _value(action)
        elif action.required and action.option_strings:
            argv += [action.option_strings[0], *_value(action)]
    for group in parser._mutually_exclusive_groups:
        if group.required:
            action = group._group_actions[0]
            argv += [action.option_strings[0], *_value(action)]
    return argv


def _tool_parsers(name: str):
    """(label, parser) of every parser of tool ``name``: its own, or each subcommand's."""
    parser = importlib.import_module(f"lamer.bin.{name}").build_parser()
    subs = _subparsers(parser)
    return [(f"{name} {sub}", p) for sub, p in subs.items()] if subs else [(name, parser)]


def test_every_tool_module_is_covered():
    classified = HELPERS | ESPNET_TASKS | OWN_PARSING
    unparsed = [name for name in MODULES if name not in classified
                and not hasattr(importlib.import_module(f"lamer.bin.{name}"), "build_parser")]
    assert not unparsed, f"tools without build_parser(): {unparsed}"


def test_spellings_put_the_underscore_form_first():
    assert spellings(("--skip-bad",)) == ("--skip_bad", "--skip-bad")
    assert spellings(("--out_dir",)) == ("--out_dir", "--out-dir")
    assert spellings(("--out", "-o", "dirs")) == ("--out", "-o", "dirs")


@pytest.mark.parametrize("name", [m for m in MODULES if m not in HELPERS | ESPNET_TASKS | OWN_PARSING])
def test_both_spellings_parse_alike_and_unknown_options_fail(name, capsys):
    for label, parser in _tool_parsers(name):
        assert parser.prog.startswith(f"python -m lamer.bin.{name}"), label
        base = _minimal_argv(parser)
        # an option of a required exclusive group whose member base already gives cannot join it
        taken = {id(a) for g in parser._mutually_exclusive_groups if g.required for a in g._group_actions[1:]}
        for action in parser._actions:
            if id(action) in taken:
                continue
            long = [o for o in action.option_strings if o.startswith("--") and "_" in o]
            if not long or isinstance(action, argparse._HelpAction):
                continue
            underscore = long[0]
            dashed = underscore.replace("_", "-")
            assert action.option_strings[:2] == [underscore, dashed], (label, action.option_strings)
            given = [] if underscore in base else [underscore, *_value(action)]
            with_underscore = parser.parse_args(base + given)
            with_dash = parser.parse_args([dashed if a == underscore else a for a in base + given])
            assert vars(with_underscore) == vars(with_dash), (label, underscore)
        if parser.add_help:  # asr_inference's own parser hands what it does not know to ESPnet
            with pytest.raises(SystemExit) as exit_:
                parser.parse_args(base + ["--no_such_option", "1"])
            assert exit_.value.code == 2
            assert "unrecognized arguments: --no_such_option" in capsys.readouterr().err


def test_abbreviations_are_not_taken_for_options(capsys):
    parser = tool_parser("example", None)
    parser.add_argument("--out_dir")
    with pytest.raises(SystemExit):
        parser.parse_args(["--out", "x"])
    assert "unrecognized arguments: --out" in capsys.readouterr().err


def test_groups_register_both_spellings():
    parser = tool_parser("example", None)
    parser.add_argument_group("g").add_argument("--num-jobs", type=int)
    parser.add_mutually_exclusive_group().add_argument("--max_wait", type=float)
    args = parser.parse_args(["--num_jobs", "2", "--max-wait", "3"])
    assert (args.num_jobs, args.max_wait) == (2, 3.0)


def test_usage_lines_name_the_module():
    from lamer.bin import plan

    assert plan.build_parser().format_usage().startswith("usage: python -m lamer.bin.plan ")


ESPNET_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \(\w+:\d+\) (DEBUG|INFO|WARNING|ERROR): ")


def test_tools_log_in_espnets_format_at_their_log_level(tmp_path):
    (tmp_path / "ref").write_text("u1 [eng] hello world\n")
    (tmp_path / "hyp").write_text("u1 [eng] hello word\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

    def score(*options: str) -> list[str]:
        argv = ["--ref", "ref", "--hyp", "hyp", "--per", "false", "--out", "out", *options]
        done = subprocess.run([sys.executable, "-m", "lamer.bin.score", *argv], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stderr.splitlines()

    lines = score()
    assert lines and all(ESPNET_LOG_LINE.match(line) for line in lines), lines
    assert any(" INFO: all: CER " in line for line in lines)
    assert score("--log_level", "warning") == []


def test_logging_is_set_up_in_one_place():
    """Only lamer.bin.options sets up logging (ESPnet's format); a tool of its own would bring its own format back."""
    tools = [path for path in Path(lamer.bin.__path__[0]).glob("*.py") if path.name != "options.py"]
    own = [path.name for path in tools if "basicConfig" in path.read_text()]
    assert own == []


def test_launch_log_level_is_the_launchers_not_a_resource():
    from lamer.launch import parse_launch_args

    request = parse_launch_args(["--log-level", "WARNING", "--mem", "1G", "log/x.log", "true"])
    assert request.log_level == "WARNING" and request.resources == {"mem": "1G"}


def test_launch_refuses_an_unknown_log_level(tmp_path, monkeypatch, capsys):
    from lamer.bin import launch

    monkeypatch.chdir(tmp_path)
    assert launch.main(["--log_level", "LOUD", "log/x.log", "true"]) == 1
    assert capsys.readouterr().err.startswith("launch: error: --log-level: expected one of ERROR, WARNING, INFO")
    assert not Path("log/x.log").exists()


def test_launch_takes_both_spellings():
    from lamer.launch import LaunchError, parse_launch_args

    dashed = parse_launch_args(["--max-jobs", "2", "--num-threads", "3", "log/x.log", "true"])
    underscored = parse_launch_args(["--max_jobs", "2", "--num_threads", "3", "log/x.log", "true"])
    assert dashed == underscored and dashed.max_jobs == 2 and dashed.resources == {"num_threads": "3"}
    with pytest.raises(LaunchError):
        parse_launch_args(["--max_jobs", "0", "log/x.log", "true"])


@pytest.mark.parametrize("name", sorted(ESPNET_TASKS))
def test_espnet_tasks_reject_unknown_options(name, capsys):
    if name == "ssl_train":
        from lamer.ssl.task import SSLTask as task
    else:
        from espnet2.tasks.asr import ASRTask as task
    with pytest.raises(SystemExit) as exit_:
        task.get_parser().parse_args(["--output_dir", "x", "--no_such_option", "1"])
    assert exit_.value.code == 2
    assert "--no_such_option" in capsys.readouterr().err


def test_greedy_decoding_rejects_an_unknown_option(tmp_path, capsys):
    from lamer.bin import asr_inference

    wav_scp = tmp_path / "wav.scp"
    wav_scp.write_text("")
    with pytest.raises(SystemExit) as exit_:
        asr_inference.main(["--decoding", "greedy", "--asr_train_config", "c.yaml", "--asr_model_file", "m.pth",
                            "--data_path_and_name_and_type", f"{wav_scp},speech,sound",
                            "--output_dir", str(tmp_path / "out"), "--beam-sise", "3"])
    assert exit_.value.code == 2
    assert "--beam-sise" in capsys.readouterr().err


DEMO_PLAN = str(Path(__file__).resolve().parents[1] / "egs2" / "mini_lamer" / "ssl1" / "conf" / "plan.yaml")
JOB_COUNTS = [  # (tool, argv with V for the value, the option the one-line error must name)
    ("launch", ["JOB=1:V", "log/x.JOB.log", "true"], "JOB=1:V"),
    ("plan", ["jobs", "--plan", DEMO_PLAN, "--root", "corpus", "--nj", "V"], "--nj V"),
    ("plan", ["jobs", "--plan", DEMO_PLAN, "--root", "corpus", "--inference_nj", "V"], "--inference_nj V"),
    ("prepare_data", ["commonvoice", "--root", "cv", "--langs", "en", "--out", "data", "--dump", "dump", "--nj", "V"],
     "--nj"),
    ("synth_corpus", ["--out", "corpus", "--langs", "en", "--utts_per_lang", "3", "--nj", "V"], "--nj"),
    ("ssl_targets", ["split", "--out_dir", "t", "--data_dir", "data", "--nj", "V"], "--nj"),
    ("ssl_targets", ["label", "--out_dir", "t", "--job", "V"], "--job"),
    ("asr_inference", ["--output_dir", "out", "--nj", "V", "--job", "1"], "--nj"),
    ("asr_inference", ["merge", "--output_dir", "out", "--nj", "V"], "--nj"),
]


@pytest.mark.parametrize("value", ["0", "-1"])
@pytest.mark.parametrize("tool, argv, named", JOB_COUNTS, ids=[f"{t} {a[0]} {n}" for t, a, n in JOB_COUNTS])
def test_job_counts_below_one_are_refused_naming_the_option(tool, argv, named, value, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    main = importlib.import_module(f"lamer.bin.{tool}").main
    try:
        code = main([arg.replace("V", value) if arg in ("V", "JOB=1:V") else arg for arg in argv])
    except SystemExit as exit_:  # argparse
        code = exit_.code
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err, err
    assert named.replace("V", value) in err.strip().splitlines()[-1] and value in err.strip().splitlines()[-1], err
    assert list(tmp_path.iterdir()) == []
