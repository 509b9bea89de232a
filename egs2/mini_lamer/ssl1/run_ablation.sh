#!/usr/bin/env bash
# The ablation of the mini benchmark: every system of conf/ablation.yaml (frozen, sequential
# full fine-tuning with and without replay, LoRA, uniform MoLE, Lamer with and without replay,
# joint training, and the same-steps control on the old languages) x every seed, each one run
# through the demo's stage script on the config's plan, scored under both protocols. Then each
# run's small outputs are exported into ablation/runs/ (results per protocol, expert usage, the
# probes' validation CER per epoch, trainable counts: committed with the recipe) and summarised
# from there alone: ablation/summary.json and the other JSON, the PNGs beside them and the
# ablation section of RESULTS.md. From a clone, without exp/, the same JSON, byte for byte:
#   python -m lamer.bin.ablation summary --config conf/ablation.yaml --runs ablation/runs \
#       --out ablation --results_md RESULTS.md
#
# Shared by all runs: the corpus and data dirs (stages 1-2), the base model (stage 3, the plan's
# shipped checkpoint imported into exp/ablation/base) and, per seed, the base model's probe and
# scores (made by the `frozen` system, which every other system of that seed links to). With
# probe_seeds in the config every seed runs once per probe seed (exp/ablation/seed<k>_probe<p>/):
# the probes take the probe seed, and a system's SSL training, done for the seed's first probe
# seed, is linked by the others (ssl.sh --ssl_exp). Every run is restartable: re-running
# this script does only what is missing. Runs go `--jobs` at a time, one thread each.
#
# ./run_ablation.sh --help lists the options with their defaults.
set -euo pipefail
cd "$(dirname "$0")"

help_message="Usage: ./run_ablation.sh [options]
  e.g. ./run_ablation.sh --jobs 2 --seeds \"0 1 2\" --systems \"ft lamer_replay\""

ablation_config=conf/ablation.yaml  # the systems, seeds and expectations of the ablation
seeds=                # seeds to run, space separated; default: the config's
systems=              # systems to run, space separated; default: all of the config
                      # (frozen always runs: it scores the base)
jobs=2                # runs at once
ssl_steps=60          # continual SSL training per stage: steps of 16 utterances, as one epoch
                      # (its validation is monitoring only, the stage exports its last model: once is enough)
probe_epochs=8        # probe training epochs (the demo probe's, conf/probe/probe_cpu_demo.yaml)
probe_opts=           # extra ESPnet options of the probes
ssl_opts=             # extra options of ssl.sh for every run (after the demo's)
summary_out=ablation  # published results: summary.json and PNGs here, the runs' small outputs in
                      # ${summary_out}/runs, a section in ${results_md}
results_md=RESULTS.md # the results file whose ablation section the summary writes (created if missing;
                      # another ablation config publishes into its own, e.g. conf/ablation_factorial.yaml's)

. ./path.sh
. "${LAMER_ROOT}/tools/parse_options.sh"
if [[ $# -ne 0 ]]; then
    echo "$0: unexpected argument(s): $* (options are --name value; $0 --help lists them)" >&2
    exit 2
fi

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (run_ablation.sh) $*"; }
exp=exp/ablation
mkdir -p "${exp}/logs" "${exp}/status"
[[ -n ${seeds} ]] || seeds=$(python -m lamer.bin.ablation seeds --config "${ablation_config}")
# the units (seed, probe seed) of the seeds to run, as "key seed probe_seed"; per seed its first unit's key
units=()
declare -A first_unit=()
while IFS=$'\t' read -r key seed probe; do
    [[ " ${seeds} " == *" ${seed} "* ]] || continue
    units+=("${key} ${seed} ${probe}")
    [[ -n ${first_unit[${seed}]:-} ]] || first_unit[${seed}]=${key}
done < <(python -m lamer.bin.ablation units --config "${ablation_config}")
for seed in ${seeds}; do
    if [[ -z ${first_unit[${seed}]:-} ]]; then
        echo "$0: --seeds: ${seed} is not a seed of ${ablation_config}" >&2
        exit 2
    fi
done
listing=$(python -m lamer.bin.ablation list --config "${ablation_config}")   # name, method, plan, train_on, replay_share, base_init
main_plan=$(awk -F'\t' '$1 == "frozen" {print $3}' <<<"${listing}")
main_stages=$(python -m lamer.bin.plan get --plan "${main_plan}" stages | wc -w)

# the near plan's corpus (the demo's before issue 26) and base model (its shipped checkpoint, imported once)
common=(--synth true --synth_utts 150 --nj 2 --base_dir "${exp}/base"
        --probe_train_opts "--max_epoch ${probe_epochs} ${probe_opts}" ${ssl_opts})

log "Shared: data, probe data, base model (${exp}/base)"
# one job alone: it gets the cores of all --jobs (the corpus synthesis is most of it)
OMP_NUM_THREADS=${jobs} ./ssl.sh "${common[@]}" --plan "${main_plan}" --tag ablation/shared --stop_stage 3
python -m lamer.bin.ablation trainable --config "${ablation_config}" --upstream "${exp}/base/upstream.pt" \
    --out "${exp}/trainable.json"

# run NAME KEY SEED PROBE_SEED: one system with one unit through stages 4-8; its exit code in status/
run() {
    local name=$1 key=$2 seed=$3 probe=$4 method plan train_on replay_share base_init steps base_exp=() share_opt=()
    IFS=$'\t' read -r _ method plan train_on replay_share base_init < <(awk -F'\t' -v n="${name}" '$1 == n' <<<"${listing}")
    [[ ${replay_share} == - ]] || share_opt=(--replay_share "${replay_share}")   # else the plan's replay.share
    # same steps per stage; a plan with fewer stages (joint) gets their total
    steps=$(( ssl_steps * main_stages / $(python -m lamer.bin.plan get --plan "${plan}" stages | wc -w) ))
    # every system shares frozen's probe of the base model, but the random-init reference, which probes its own
    [[ ${name} == frozen || ${base_init} == random ]] || base_exp=(--base_exp "${exp}/seed${key}/frozen")
    local method_opt=(); [[ ${method} == - ]] || method_opt=(--method "${method}")
    local probe_opt=(); [[ ${key} == "${seed}" ]] || probe_opt=(--probe_seed "${probe}")   # probe_seeds given
    local ssl_exp=() first=${first_unit[${seed}]}   # a later probe seed: the SSL training of the seed's first unit
    [[ ${train_on} == none || ${key} == "${first}" ]] || ssl_exp=(--ssl_exp "${exp}/seed${first}/${name}")
    # the random-init reference draws its weights in its own stage 3, from its own copy of the base model
    local from=4 own_base=()
    [[ ${base_init} == pretrained ]] || { from=3; own_base=(--base_dir "${exp}/seed${key}/${name}/base"); }
    rm -f "${exp}/status/seed${key}_${name}"
    local rc=0
    ./ssl.sh "${common[@]}" "${own_base[@]}" --stage "${from}" --plan "${plan}" --tag "ablation/seed${key}/${name}" --seed "${seed}" \
        "${probe_opt[@]}" "${ssl_exp[@]}" "${method_opt[@]}" "${share_opt[@]}" --train_on "${train_on}" \
        --base_init "${base_init}" "${base_exp[@]}" --ssl_train_opts "--max_epoch 1 --num_iters_per_epoch ${steps}" \
        >"${exp}/logs/seed${key}_${name}.log" 2>&1 || rc=$?
    echo "${rc}" >"${exp}/status/seed${key}_${name}"
    log "  seed ${key} ${name}: $([[ ${rc} == 0 ]] && echo done || echo "FAILED (rc ${rc}, ${exp}/logs/seed${key}_${name}.log)")"
}

# wait_run KEY NAME: block until that run has finished; fail if it failed (a run waits for its
# unit's frozen run, whose base probe it links, and for the SSL training it links)
wait_run() {
    local status=${exp}/status/seed$1_$2
    while [[ ! -f ${status} ]]; do sleep 5; done
    [[ $(cat "${status}") == 0 ]]
}

[[ -n ${systems} ]] || systems=$(cut -f1 <<<"${listing}")
queue=()
for unit in "${units[@]}"; do
    queue+=("frozen ${unit}"); rm -f "${exp}/status/seed${unit%% *}_frozen"
done
for unit in "${units[@]}"; do   # a seed's first unit before its others: every run waits on earlier ones only
    for name in ${systems}; do
        [[ ${name} == frozen ]] && continue
        queue+=("${name} ${unit}"); rm -f "${exp}/status/seed${unit%% *}_${name}"
    done
done
log "${#queue[@]} runs, ${jobs} at a time: logs in ${exp}/logs"
for item in "${queue[@]}"; do
    read -r name key seed probe <<<"${item}"
    while (( $(jobs -rp | wc -l) >= jobs )); do wait -n || true; done
    if [[ ${name} == frozen ]]; then
        run "${name}" "${key}" "${seed}" "${probe}" &
    else
        ( wait_run "${key}" frozen || { log "  seed ${key} ${name}: skipped, the unit's frozen run failed"
                                       echo skipped >"${exp}/status/seed${key}_${name}"; exit 1; }
          first=${first_unit[${seed}]}
          [[ ${key} == "${first}" ]] || wait_run "${first}" "${name}" || {
              log "  seed ${key} ${name}: skipped, its SSL training (seed ${first} ${name}) failed"
              echo skipped >"${exp}/status/seed${key}_${name}"; exit 1; }
          run "${name}" "${key}" "${seed}" "${probe}" ) &
    fi
done
wait || true

failed=$(grep -Lx 0 "${exp}"/status/* || true)
python -m lamer.bin.ablation export --config "${ablation_config}" --exp "${exp}" --trainable "${exp}/trainable.json" \
    --out "${summary_out}/runs"
python -m lamer.bin.ablation summary --config "${ablation_config}" --runs "${summary_out}/runs" \
    --out "${summary_out}" --results_md "${results_md}" --seeds ${seeds}
log "Summary: ${summary_out}/summary.json, ${results_md} (ablation section), ${summary_out}/*.png;" \
    "runs' outputs to commit: ${summary_out}/runs"
log "Wall time of this invocation: $(( SECONDS / 60 )) min $(( SECONDS % 60 )) s"
if [[ -n ${failed} ]]; then
    log "failed runs (re-run this script to continue them): $(echo ${failed} | xargs -n1 basename | tr '\n' ' ')"
    exit 1
fi
