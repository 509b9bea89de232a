"""tools/parse_options.sh follows Kaldi's utils/parse_options.sh: a small script is run through it
for each rule. The expected outputs are those of Kaldi's own script on the same script and
arguments (kaldi-asr/kaldi f4007661, egs/wsj/s5/utils/parse_options.sh); the messages add a hint.
--help lists every option of the real recipe scripts with its default."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.recipe.recipes import DEMO, ROOT

PARSE_OPTIONS = ROOT / "tools" / "parse_options.sh"

SCRIPT = f"""#!/usr/bin/env bash
set -euo pipefail
help_message="Usage: demo.sh [options] <dir>"
nj=2          # parallel jobs
synth=false   # write the corpus first
stage=1
opts="--a 1"
opts+=" --b 2"
              # two parts
. {PARSE_OPTIONS}
echo "nj=${{nj}} synth=${{synth}} stage=${{stage}} opts=${{opts}} args=$*"
"""


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    (tmp_path / "demo.sh").write_text(SCRIPT)
    (tmp_path / "cfg").write_text("nj=5\nstage=4\n")
    (tmp_path / "cfg2").write_text("nj=6\n")
    return tmp_path


def _run(directory: Path, *args: str, script: str = "demo.sh") -> subprocess.CompletedProcess:
    return subprocess.run(["bash", script, *args], cwd=directory, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args, expected", [
    ([], "nj=2 synth=false stage=1 opts=--a 1 --b 2 args="),
    (["--nj", "3", "--config", "cfg"], "nj=3 synth=false stage=4 opts=--a 1 --b 2 args="),  # command line wins
    (["--config", "cfg", "--nj", "3"], "nj=3 synth=false stage=4 opts=--a 1 --b 2 args="),  # in either order
    (["--config", "cfg"], "nj=5 synth=false stage=4 opts=--a 1 --b 2 args="),
    (["--synth", "true", "--opts", "--c 3", "x", "--nj", "7"],  # options end at the first positional
     "nj=2 synth=true stage=1 opts=--c 3 args=x --nj 7"),
    (["--config", "cfg", "--config", "cfg2"], "nj=6 synth=false stage=4 opts=--a 1 --b 2 args="),  # left to right
])
def test_options_set_variables(demo, args, expected):
    result = _run(demo, *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_dashes_and_underscores_name_the_same_variable(tmp_path):
    (tmp_path / "s.sh").write_text(f"stop_stage=100\n. {PARSE_OPTIONS}\necho $stop_stage\n")
    for spelling in ("--stop-stage", "--stop_stage"):
        assert _run(tmp_path, spelling, "3", script="s.sh").stdout.strip() == "3"


@pytest.mark.parametrize("args, message", [
    (["--synth", "yes"], 'demo.sh: expected "true" or "false": --synth yes'),
    (["--stage=3"], "demo.sh: options to scripts must be of the form --name value, got '--stage=3' (write: --stage 3)"),
    (["--bogus", "1"], "demo.sh: invalid option --bogus"),
    (["--nj-x", "1"], "demo.sh: invalid option --nj-x"),
    (["--config", "missing"], "demo.sh: missing config 'missing'"),
    (["--nj"], "demo.sh: option --nj needs a value"),
])
def test_bad_options_are_errors(demo, args, message):
    result = _run(demo, *args)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(message)


def test_a_config_is_bash_code_sourced_as_kaldi_does(demo):
    # kept on purpose and documented in docs/SECURITY.md: --config runs the file, as Kaldi's script does
    (demo / "cfg").write_text("nj=$(( 2 + 3 ))\necho sourced >&2\n")
    result = _run(demo, "--config", "cfg")
    assert result.stdout.strip().startswith("nj=5 ") and result.stderr == "sourced\n"


def test_a_config_may_set_a_boolean_the_command_line_then_checks(demo):
    (demo / "cfg").write_text("synth=true\n")
    assert "synth=false" in _run(demo, "--config", "cfg", "--synth", "false").stdout
    assert "expected" in _run(demo, "--config", "cfg", "--synth", "no").stderr


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_defaults_and_descriptions(demo, flag):
    result = _run(demo, "--nj", "3", flag)
    assert result.returncode == 0 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "Usage: demo.sh [options] <dir>"
    options = {line.split()[0]: line for line in lines if line.startswith("  --")}
    assert list(options) == ["--nj", "--synth", "--stage", "--opts"]
    assert options["--nj"].split(None, 1)[1] == "parallel jobs [2]"  # the default, not the command line's 3
    assert options["--synth"].endswith("write the corpus first [false]")
    assert options["--stage"].endswith("[1]")
    assert options["--opts"].endswith("two parts [--a 1 --b 2]")  # `+=` parts and continued descriptions


def _declared_options(script: Path) -> list[str]:
    """The option names of a recipe script: its column-0 assignments before parse_options.sh."""
    names = []
    for line in script.read_text().splitlines():
        if "parse_options.sh" in line:
            break
        match = re.match(r"([A-Za-z_]\w*)\+?=", line)
        if match and match.group(1) != "help_message" and match.group(1) not in names:
            names.append(match.group(1))
    return names


SCRIPTS = [DEMO / "ssl.sh", DEMO / "run_ablation.sh", ROOT / "local" / "data_commonvoice.sh",
           ROOT / "local" / "data_fleurs.sh"]


def _help_rows(script: Path) -> dict[str, str]:
    result = _run(script.parent, "--help", script=script.name)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("Usage:")
    return {line.split()[0]: line for line in result.stderr.splitlines() if line.startswith("  --")}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_recipe_help_lists_every_option(script):
    declared = _declared_options(script)
    assert len(declared) > 6 and [name[2:] for name in _help_rows(script)] == declared


@pytest.mark.parametrize("script", SCRIPTS[1:], ids=lambda path: path.name)
def test_help_describes_every_option_with_its_value(script):
    for name, row in _help_rows(script).items():
        assert re.search(r"\S \[.*\]$", row.split(None, 1)[1]), f"{name} has no description: {row}"


def test_run_ablation_help_shows_the_defaults():
    rows = _help_rows(DEMO / "run_ablation.sh")
    assert rows["--jobs"].endswith("runs at once [2]")
    assert rows["--probe_epochs"].endswith("[8]") and rows["--probe_opts"].endswith("[]")


def test_aliases_set_their_option_and_help_names_them(tmp_path):
    (tmp_path / "a.sh").write_text(f"dump=dump  # audio\nnj=1  # jobs\ndeclare -A option_aliases=([dumpdir]=dump)\n"
                                   f". {PARSE_OPTIONS}\necho \"dump=$dump nj=$nj\"\n")
    for spelling in ("--dumpdir", "--dump"):
        assert _run(tmp_path, spelling, "d2", "--nj", "3", script="a.sh").stdout == "dump=d2 nj=3\n", spelling
    rows = {line.split()[0]: line for line in _run(tmp_path, "--help", script="a.sh").stderr.splitlines()
            if line.startswith("  --")}
    assert list(rows) == ["--dump", "--nj"] and rows["--dump"].endswith("audio (alias: --dumpdir) [dump]")
    assert _run(tmp_path, "--dumpdirs", "x", script="a.sh").stderr.startswith("a.sh: invalid option --dumpdirs")


@pytest.mark.parametrize("script, options", [("ssl.sh", ["--list", "true"]), ("run_ablation.sh", ["--jobs", "1"]),
                                             ("local/rebuild_base_model.sh", ["--nj", "1"])])
def test_recipe_scripts_refuse_a_stray_argument(script, options):
    """As asr.sh: a word that is not an option is an error naming it, before any work (./ssl.sh --list
    true foo once listed the jobs and exited 0)."""
    result = _run(DEMO, *options, "foo", script=script)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (f"{script}: unexpected argument(s): foo (options are --name value; {script} --help "
                             "lists them)\n")


def test_values_with_blanks_and_an_empty_cmd(tmp_path):
    (tmp_path / "c.sh").write_text(f'cmd=run.pl\n. {PARSE_OPTIONS}\necho "cmd=$cmd"\n')
    assert _run(tmp_path, "--cmd", "queue.pl -q x", script="c.sh").stdout == "cmd=queue.pl -q x\n"
    result = _run(tmp_path, "--cmd", "", script="c.sh")
    assert result.returncode == 1 and result.stderr == "c.sh: empty argument to --cmd option\n"
