"""Job launchers with the Kaldi calling convention (`$cmd [opts] JOB=1:N log/x.JOB.log prog args`).

Backends: local (parallel, --max-jobs) and slurm (sbatch arrays, options from conf/slurm.conf);
torch.distributed runs through torchrun (local) or srun (slurm). CLI: `python -m lamer.bin.launch`.
"""
from lamer.launch.errors import LaunchError
from lamer.launch.jobscript import JobResult, failure_report, overall_exit_code
from lamer.launch.launcher import launch
from lamer.launch.request import LaunchRequest, join_command, parse_launch_args
from lamer.launch.slurm_conf import SlurmConfig, parse_slurm_config

__all__ = ["LaunchError", "JobResult", "LaunchRequest", "SlurmConfig", "failure_report", "join_command",
           "launch", "overall_exit_code", "parse_launch_args", "parse_slurm_config"]
