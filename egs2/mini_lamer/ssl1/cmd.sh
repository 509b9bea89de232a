# Job backends, Kaldi calling convention: $cmd [--mem 4G --gpu N --num-threads N] [JOB=1:N] LOG prog args
# ssl.sh adds --gpu N to every job (0: none), so no $cmd here fixes a number of GPUs.
# local: jobs on this machine (at most --max-jobs at once); slurm: sbatch through conf/slurm.conf.
cmd_backend=${LAMER_CMD_BACKEND:-local}
case ${cmd_backend} in
    local)
        export train_cmd="python -m lamer.bin.launch --backend local --max-jobs 2"
        export cuda_cmd="python -m lamer.bin.launch --backend local --max-jobs 1"
        export decode_cmd="python -m lamer.bin.launch --backend local --max-jobs 2"
        ;;
    slurm)
        export train_cmd="python -m lamer.bin.launch --backend slurm --config conf/slurm.conf"
        export cuda_cmd="python -m lamer.bin.launch --backend slurm --config conf/slurm.conf"
        export decode_cmd="python -m lamer.bin.launch --backend slurm --config conf/slurm.conf"
        ;;
    *) echo "cmd.sh: unknown backend ${cmd_backend} (local or slurm)" >&2; return 1 ;;
esac
