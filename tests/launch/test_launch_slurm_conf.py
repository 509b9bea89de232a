"""conf/slurm.conf parsing and the sbatch call built from it (no cluster needed)."""
from __future__ import annotations

from pathlib import Path

import pytest

from lamer.launch import LaunchError, parse_launch_args, parse_slurm_config
from lamer.launch.jobscript import script_path
from lamer.launch.slurm import TOOLKIT_CONFIG, sbatch_command, task_output
from lamer.launch.slurm_rank import torch_env_from_slurm


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "slurm.conf"
    path.write_text(text)
    return path


def test_toolkit_config_maps_every_documented_resource():
    config = parse_slurm_config(TOOLKIT_CONFIG)
    options = config.options_for({"mem": "4G", "gpu": "2", "num_threads": "8", "time": "1:00:00",
                                  "partition": "gpu", "constraint": "a100"})
    assert options == ["--constraint=a100", "--gres=gpu:2", "--mem=4G", "--cpus-per-task=8",
                       "--partition=gpu", "--time=1:00:00"]
    assert config.options_for({"gpu": "0"}) == []
    assert config.submit == ["sbatch", "--export=ALL"]


def test_exact_rule_wins_defaults_apply_and_quotes_split_like_a_shell(tmp_path):
    config = parse_slurm_config(_write(tmp_path, (
        "# site config\n"
        "command sbatch --export=ALL   # trailing comment\n"
        "option gpu=* --partition=gpu --gres=gpu:$0\n"
        "option gpu=0 --partition=cpu\n"
        "option account=* '--comment=a b'\n"
        "default gpu=0\n")))
    assert config.options_for({}) == ["--partition=cpu"]
    assert config.options_for({"gpu": "4"}) == ["--partition=gpu", "--gres=gpu:4"]
    assert config.options_for({"account": "x"}) == ["--comment=a b", "--partition=cpu"]


@pytest.mark.parametrize("text, message", [
    ("command sbatch\nqueue all.q\n", "slurm.conf:2: unknown keyword 'queue'"),
    ("command sbatch\noption mem --mem=$0\n", "slurm.conf:2: `option` needs NAME=VALUE"),
    ("command sbatch\noption Mem=* --mem=$0\n", "slurm.conf:2: `option` needs NAME=VALUE"),
    ("command sbatch\noption mem=* --mem=$0\noption mem=* --mem-per-cpu=$0\n",
     "slurm.conf:3: `option mem=*` already defined on line 2"),
    ("command sbatch\noption gpu=1 --gres=gpu:$0\n", "slurm.conf:2: $0 only makes sense in a `gpu=*` rule"),
    ("command sbatch\ndefault gpu=0\n", "slurm.conf:2: default for 'gpu', which has no `option gpu=...` rule"),
    ("command sbatch\noption gpu=0\ndefault gpu=*\n", "slurm.conf:3: `default` takes one NAME=VALUE"),
    ("command qsub -V\n", "slurm.conf:1: `command` must name sbatch itself, found on PATH (got 'qsub')"),
    ("command /tmp/x/sbatch\n", "slurm.conf:1: `command` must name sbatch itself, found on PATH (got '/tmp/x/sbatch')"),
    ("command ./sbatch --export=ALL\n", "(got './sbatch')"),
    ("command\n", "slurm.conf:1: `command` must name sbatch itself"),
    ("command sbatch\ncommand sbatch\n", "slurm.conf:2: a second `command` line"),
    ("command sbatch\noption mem=* '--mem=$0\n", "slurm.conf:2: cannot split"),
    ("option mem=* --mem=$0\n", "no `command sbatch ...` line"),
])
def test_config_errors_name_file_and_line(tmp_path, text, message):
    with pytest.raises(LaunchError) as err:
        parse_slurm_config(_write(tmp_path, text))
    assert message in str(err.value)
    assert str(tmp_path / "slurm.conf") in str(err.value)


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(LaunchError, match="cannot read Slurm config .*nope.conf"):
        parse_slurm_config(tmp_path / "nope.conf")


def test_option_without_a_rule_is_an_error_naming_the_config(tmp_path):
    config = parse_slurm_config(_write(tmp_path, "command sbatch\noption mem=* --mem=$0\n"))
    with pytest.raises(LaunchError, match=r"slurm.conf: no rule for --num-threads 4: add `option num_threads=\*"):
        config.options_for({"num_threads": "4"})


def test_sbatch_call_for_an_array_and_for_a_distributed_job():
    config = parse_slurm_config(TOOLKIT_CONFIG)
    request = parse_launch_args(["--backend", "slurm", "--max-jobs", "2", "--mem", "1G",
                                 "JOB=3:5", "exp/log/train.JOB.log", "prog"])
    script = script_path(request)
    assert script == Path("exp/log/q/train.JOB.sh")
    assert sbatch_command(request, config, script) == [
        "sbatch", "--export=ALL", "--parsable", "--job-name=train.JOB",
        f"--output={Path('exp/log/q').resolve()}/train.JOB.%a.out", "--array=3-5%2", "--mem=1G",
        "exp/log/q/train.JOB.sh"]
    ddp = parse_launch_args(["--backend", "slurm", "--nodes", "2", "--nproc-per-node", "4", "--gpu", "4",
                             "exp/log/train.log", "prog"])
    assert sbatch_command(ddp, config, script_path(ddp))[-4:] == [
        "--gres=gpu:4", "--nodes=2", "--ntasks-per-node=4", "exp/log/q/train.sh"]


def test_task_output_path_keeps_percent_literal_and_has_no_backslash():
    # Slurm expands %-patterns in --output, and expands none but drops every backslash once one appears.
    request = parse_launch_args(["--backend", "slurm", "JOB=1:2", "exp/R&D %j %a/a%b\\c.JOB.log", "prog"])
    script = script_path(request)
    queue_dir = Path("exp/R&D %j %a/q").resolve()
    command = sbatch_command(request, parse_slurm_config(TOOLKIT_CONFIG), script)
    assert f"--output={str(queue_dir).replace('%', '%%')}/a%%b_c.JOB.%a.out" in command
    assert task_output(script, 2) == queue_dir / "a%b_c.JOB.2.out"


def test_backslash_in_the_output_folder_is_refused():
    request = parse_launch_args(["--backend", "slurm", "exp/a\\b/x.log", "prog"])
    with pytest.raises(LaunchError, match=r"a\\b/q: Slurm drops backslashes"):
        sbatch_command(request, parse_slurm_config(TOOLKIT_CONFIG), script_path(request))


def test_slurm_task_variables_become_torch_distributed_variables():
    environ = {"SLURM_PROCID": "5", "SLURM_LOCALID": "1", "SLURM_NTASKS": "8", "SLURM_NNODES": "4",
               "SLURM_NODEID": "2", "SLURM_JOB_ID": "123"}
    env = torch_env_from_slurm(environ, "10.0.0.1")
    assert env == {"RANK": "5", "LOCAL_RANK": "1", "WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "2",
                   "NODE_RANK": "2", "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "20123"}
    assert torch_env_from_slurm({**environ, "MASTER_PORT": "29500"}, "h")["MASTER_PORT"] == "29500"
