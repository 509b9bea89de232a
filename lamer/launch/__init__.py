"""Job launchers with the Kaldi calling convention (`$cmd [opts] JOB=1:N log/x.JOB.log prog args`).

Backends: local (parallel, --max-jobs) and slurm (sbatch arrays, options from conf/slurm.conf);
torch.distributed runs through torchrun (local) or srun (slurm). CLI: `python -m lamer.bin.launch`.
Commands are data: a job's argv reaches its program byte for byte, never read by a shell.
"""
from lamer.launch.errors import LaunchError
from lamer.launch.jobscript import JobResult, failure_report, overall_exit_code
from lamer.launch.launcher import launch
from lamer.launch.request import LaunchRequest, parse_launch_args
from lamer.launch.signals import Interrupted
from lamer.launch.slurm_conf import SlurmConfig, parse_slurm_config

__all__ = ["Interrupted", "LaunchError", "JobResult", "LaunchRequest", "SlurmConfig", "failure_report", "launch",
           "overall_exit_code", "parse_launch_args", "parse_slurm_config"]
