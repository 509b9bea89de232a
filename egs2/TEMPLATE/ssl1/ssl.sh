#!/usr/bin/env bash
# The stage script shared by every ssl1 recipe: continual multilingual expansion of an SSL
# model with Lamer adapters, evaluated after every stage. A recipe's run.sh sets its defaults
# and calls this script from the recipe directory (which holds path.sh, cmd.sh, db.sh, conf/).
# Every step is a `python -m lamer.bin.<tool>` job; the logic lives in the lamer package: the jobs
# are decided in Python from the plan and these options (lamer/recipe/jobs.py) and run by
# `python -m lamer.bin.plan run`, each through its queue's $train_cmd/$cuda_cmd/$decode_cmd (cmd.sh)
# with --gpu N, JOB=1:N for arrays and its log in exp/<tag>/logs. --max_jobs N runs up to N jobs at
# once, each as soon as the jobs whose outputs it reads are done (e.g. the base model's probe beside
# the continual SSL stages); the default 1 runs them one after another, in the listed order. --list true prints the jobs,
# one JSON object per line, instead of running them (`python -m lamer.bin.plan jobs --status true`):
# what each reads, writes and waits for, and its status: done, stale (with why) or "to run".
# One run per experiment: a second ssl.sh on the same exp/<tag> stops at once, naming the PID and
# host of the first. A stage's title is logged when its first job starts; every job line names its
# stage ("[stage 6] probe_base: started"). asr.sh's --dumpdir is taken for --dump; --expdir and
# --python are asr.sh's options; a word that is not an option is an error.
#
# Each finished job writes a record, exp/<tag>/.done/<job>: its command, queue, nj, GPUs and the
# SHA-256 of the configs it reads. A job that is done re-runs as a no-op; a failed or killed one
# runs again and continues where it stopped (data prep per language, training with --resume). A job
# whose options or configs changed since it ran is stale: it runs again from scratch (its earlier
# outputs removed first) and so does every job after it, the log saying why (e.g. "probe_base: runs
# again: options changed (argv)"). --force_stage N runs every job of stage N again, and the jobs
# after them. Empty markers of earlier versions count as done. Stages:
#   1  data preparation per language (synthesising the demo corpus first with --synth true)
#   2  probe data: merged train/dev/test dirs of all plan languages, char token list
#   3  base model: import a local checkpoint, or pre-train the small demo model
#   4  replay samples of the languages already learned, for every continual stage (seeded: per experiment)
#   5  continual SSL training, stage after stage: k-means targets (split over --nj shards), then ssl_train
#   6  probe training on every stage's model (the base one, and a plan's quality_probe on it, included)
#   7  decoding (split over --inference_nj jobs) and scoring, both protocols (retrained, fixed) as the plan asks
#   8  results matrix, forgetting metrics, RESULTS.md, plots, expert usage, routing against its ceiling
#
# Systems other than the plan's method (run_ablation.sh uses these): --method and --seed override
# the plan's; --train_on says what each continual stage trains on: the stage's languages (new,
# with the plan's replay), the base languages only (old: the same-steps control), the stage's and
# all earlier ones in full (all: joint training) or nothing (none: every stage keeps the base model).
# --base_init random replaces the base model by its architecture with random weights drawn from the
# seed (stage 3: <expdir>/<tag>/base_random): with --train_on none, the reference that shows what
# pre-training gives the probe.
# --base_dir shares one base model between experiments, --base_exp the base model's probe and
# scores of an experiment with the same data, base model, seed and probe. --probe_seed seeds the
# probes apart from the SSL training (default: --seed); --ssl_exp links the continual SSL stages
# of an experiment with the same plan, method and seed, to probe them with another probe seed.
#
# GPUs: --ngpu N asks the queue for N GPUs ($cuda_cmd --gpu N) for base pre-training, SSL and probe
# training (ESPnet's --ngpu N), and one GPU per target extraction shard; --gpu_inference true one
# GPU per decoding job. CPU (--ngpu 0) is the default.
set -euo pipefail

help_message="Usage: $0 [--stage N] [--stop_stage M] [--plan conf/plan.yaml] [--tag NAME] [--nj N] [--ngpu N] ..."

stage=1               # first stage to run (1-8)
stop_stage=100        # last stage to run
plan=conf/plan.yaml   # the continual plan: languages per stage, method, replay, probe, protocols
tag=                  # experiment name: <expdir>/<tag>, default: the plan file's stem
nj=2                  # parallel jobs of data preparation and target extraction shards
inference_nj=1        # decoding jobs per run (JOB=1:N over a split of the test set)
ngpu=0                # GPUs of each training job (0: CPU); target extraction shards get one each
gpu_inference=false   # true: one GPU per decoding job
synth=false           # write the synthetic demo corpus into the corpus root first
synth_utts=300        # utterances per language of the synthetic corpus
synth_opts=           # extra options of synth_corpus
prep_opts=            # extra options of prepare_data (e.g. --lang_dir local/lang)
token_opts=           # extra options of probe_data tokens (e.g. --lang_dir local/lang)
target_feature=layer  # the continual stages' k-means targets: layer (the previous model's --target_layer) | mfcc
target_layer=3        # transformer layer (1-based) clustered for the SSL targets
num_clusters=100      # k-means clusters of the SSL targets
pretrain_opts=        # extra options of pretrain_base (after its --, i.e. ESPnet options)
ssl_train_opts=       # extra ESPnet options of ssl_train
probe_train_opts=     # extra ESPnet options of asr_train (the probe)
decode_config=conf/probe/decode_ctc.yaml  # ESPnet decoding config of the probes
decoding=greedy       # greedy: best-path CTC (fast on CPU); beam: ESPnet's beam search
routing_ceiling=true  # stage 8: every continual stage's routers against their ceiling, per layer (false: skip)
routing_ceiling_utts=20  # utterances per language of the train and of the dev dirs it reads (20 frames each)
method=               # SSL method config; default: the plan's
seed=                 # default: the plan's
probe_seed=           # the probes' seed; default: --seed's
train_on=new          # new | old | all | none (see above)
base_init=pretrained  # pretrained | random: the base model's architecture with random weights (see above)
replay_share=         # part of every SSL training batch from the replay sample; default: the plan's replay.share
base_dir=             # base model directory; default: <expdir>/<tag>/base
base_exp=             # reuse probe/base and score/*/base of this experiment directory
ssl_exp=              # link the continual SSL stages (4-5) of this experiment directory instead of training them
data=data             # Kaldi data dirs: <data>/<iso3>/<split>
dump=dump             # converted audio, probe data and token lists
expdir=exp            # the directory of the experiments: <expdir>/<tag>
python=python         # the interpreter of this script's python calls and of every job
list=false            # true: print the jobs (one JSON object per line, with their status) instead of running them
max_jobs=1            # jobs run at once (each job's own $cmd arrays come on top: --nj, --inference_nj)
force_stage=          # run every job of this stage again (and the jobs after them), done or not
# asr.sh's names of the same options (docs/recipes.md, "Options and conventions")
declare -A option_aliases=([dumpdir]=dump)

. ./path.sh
. ./cmd.sh
. ./db.sh
. "${LAMER_ROOT}/tools/parse_options.sh"
if [[ $# -ne 0 ]]; then
    echo "$0: unexpected argument(s): $* (options are --name value; $0 --help lists them)" >&2
    exit 2
fi

corpus=$("${python}" -m lamer.bin.plan get --plan "${plan}" corpus)
case ${corpus} in
    commonvoice) root=${COMMONVOICE:-} ;;
    fleurs) root=${FLEURS:-} ;;
esac
# every option that changes the jobs, named by `python -m lamer.bin.plan options` (lamer.recipe.jobs'
# RecipeOptions: the list cannot drift from what `plan jobs` takes), as --name=VALUE so that a value
# starting with '-' stays a value (a --tag -x is then refused by name, before any stage)
job_opts=(--plan "${plan}")
for name in $("${python}" -m lamer.bin.plan options); do
    [[ -z ${!name} ]] || job_opts+=("--${name}=${!name}")
done
run_opts=()
[[ -z ${force_stage} ]] || run_opts=(--force_stage "${force_stage}")
if [[ ${list} == true ]]; then
    "${python}" -m lamer.bin.plan jobs "${job_opts[@]}" --status true "${run_opts[@]}"
    exit 0
fi
# the plan is checked before any work; its data root too unless this run synthesises it
if [[ ${synth} == true ]]; then
    "${python}" -m lamer.bin.plan check --plan "${plan}" >/dev/null
else
    "${python}" -m lamer.bin.plan check --plan "${plan}" --root "${root}" >/dev/null
fi
# exec: a signal sent to ssl.sh reaches the job runner, which stops the running jobs
exec "${python}" -m lamer.bin.plan run "${job_opts[@]}" --train_cmd "${train_cmd}" --cuda_cmd "${cuda_cmd}" \
    --decode_cmd "${decode_cmd}" --max_jobs "${max_jobs}" "${run_opts[@]}"
