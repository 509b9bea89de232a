#!/usr/bin/env bash
# The stage script shared by every ssl1 recipe: continual multilingual expansion of an SSL
# model with Lamer adapters, evaluated after every stage. A recipe's run.sh sets its defaults
# and calls this script from the recipe directory (which holds path.sh, cmd.sh, db.sh, conf/).
# Every step is a `python -m lamer.bin.<tool>` call; the logic lives in the lamer package.
#
# Stages (each step writes a .done marker; a finished step re-runs as a no-op, a failed or
# killed one continues where it stopped: data prep per language, SSL training with --resume):
#   1  data preparation per language (synthesising the demo corpus first with --synth true)
#   2  probe data: merged train/dev/test dirs of all plan languages, char token list
#   3  base model: import a local checkpoint, or pre-train the small demo model
#   4  replay samples of the languages already learned, for every continual stage (seeded: per experiment)
#   5  continual SSL training, stage after stage: k-means targets, then ssl_train
#   6  probe training on every stage's model (the base one included)
#   7  decoding and scoring, both protocols (retrained, fixed) as the plan asks
#   8  results matrix, forgetting metrics, RESULTS.md, plots, expert usage
#
# Systems other than the plan's method (run_ablation.sh uses these): --method and --seed override
# the plan's; --train_on says what each continual stage trains on: the stage's languages (new,
# with the plan's replay), the base languages only (old: the same-steps control), the stage's and
# all earlier ones in full (all: joint training) or nothing (none: every stage keeps the base model).
# --base_dir shares one base model between experiments, --base_exp the base model's probe and
# scores of an experiment with the same data, base model, seed and probe.
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (ssl.sh) $*"; }
help_message="Usage: $0 [--stage N] [--stop_stage M] [--plan conf/plan.yaml] [--tag NAME] [--nj N] [--ngpu N] ..."

stage=1
stop_stage=100
plan=conf/plan.yaml
tag=                  # experiment name: exp/<tag>, default: the plan file's stem
nj=2                  # parallel jobs of data preparation
ngpu=0
synth=false           # write the synthetic demo corpus into the corpus root first
synth_utts=300        # utterances per language of the synthetic corpus
synth_opts=
prep_opts=            # extra options of prepare_data (e.g. --lang-dir local/lang)
token_opts=           # extra options of probe_data tokens (e.g. --lang-dir local/lang)
target_layer=3        # transformer layer (1-based) clustered for the SSL targets
num_clusters=100
pretrain_opts=        # extra options of pretrain_base (after its --, i.e. ESPnet options)
ssl_train_opts=       # extra ESPnet options of ssl_train
probe_train_opts=     # extra ESPnet options of asr_train (the probe)
decode_config=conf/probe/decode_ctc.yaml
decoding=greedy       # greedy: best-path CTC (fast on CPU); beam: ESPnet's beam search
method=               # SSL method config; default: the plan's
seed=                 # default: the plan's
train_on=new          # new | old | all | none (see above)
base_dir=             # base model directory; default: exp/<tag>/base
base_exp=             # reuse probe/base and score/*/base of this experiment directory
data=data
dump=dump

. ./path.sh
. ./cmd.sh
. ./db.sh
. "${LAMER_ROOT}/tools/parse_options.sh"

[[ -n ${tag} ]] || tag=$(basename "${plan}" .yaml)
exp=exp/${tag}

plan_get() { python -m lamer.bin.plan get --plan "${plan}" "$@"; }
corpus=$(plan_get corpus)
case ${corpus} in
    commonvoice) root=${COMMONVOICE:-} ;;
    fleurs) root=${FLEURS:-} ;;
esac
# the plan is checked before any work; its data root too unless this run synthesises it
if [[ ${synth} == true ]]; then
    python -m lamer.bin.plan check --plan "${plan}" >/dev/null
else
    python -m lamer.bin.plan check --plan "${plan}" --root "${root}" >/dev/null
fi
mkdir -p "${exp}/logs" "${exp}/.done"
stages=$(plan_get stages)
all_languages=$(plan_get all_languages)
[[ -n ${method} ]] || method=$(plan_get method)
[[ -n ${seed} ]] || seed=$(plan_get seed)
[[ -n ${base_dir} ]] || base_dir=${exp}/base
base_ckpt=${base_dir}/upstream.pt
case ${train_on} in
    new|old|all|none) ;;
    *) log "--train_on ${train_on}: expected new, old, all or none"; exit 1 ;;
esac

# share SRC DST: DST becomes a link to SRC (an output that is the same computation as SRC's)
share() {
    [[ -e $1 ]] || { log "  $1: not there yet (run the experiment that makes it first)"; return 1; }
    mkdir -p "$(dirname "$2")"; ln -sfn "$(readlink -f "$1")" "$2"
}

# run_step NAME CMD...: run CMD unless NAME is done; mark it done only when CMD succeeds
run_step() {
    local name=$1; shift
    if [[ -f ${exp}/.done/${name} ]]; then
        log "  ${name}: done already"
        return 0
    fi
    log "  ${name}"
    "$@"
    touch "${exp}/.done/${name}"
}

# model_of STAGE: "CHECKPOINT ADAPTERS" of the SSL model after STAGE (ADAPTERS: none, or a
# directory); full fine-tuning methods leave a whole checkpoint instead of adapters
model_of() {
    local s=$1
    if [[ ${s} == base || ${train_on} == none ]]; then
        echo "${base_ckpt} none"
    elif [[ -d ${exp}/ssl/${s}/adapters ]]; then
        echo "${base_ckpt} ${exp}/ssl/${s}/adapters"
    else
        echo "${exp}/ssl/${s}/upstream.pt none"
    fi
}

if [[ ${stage} -le 1 && ${stop_stage} -ge 1 ]]; then
    log "Stage 1: data preparation (${corpus}: ${all_languages})"
    if [[ ${synth} == true ]]; then
        run_step synth ${train_cmd} "${exp}/logs/synth.log" \
            python -m lamer.bin.synth_corpus --out "$(dirname "${root}")" --langs "$(plan_get synth_langs)" \
            --utts-per-lang "${synth_utts}" --seed "${seed}" --nj "${nj}" ${synth_opts}
    fi
    run_step data ${train_cmd} "${exp}/logs/data.log" \
        python -m lamer.bin.prepare_data "${corpus}" --root "${root}" --langs "$(plan_get all_locales)" \
        --out "${data}" --dump "${dump}/audio" --nj "${nj}" ${prep_opts}
fi

if [[ ${stage} -le 2 && ${stop_stage} -ge 2 ]]; then
    log "Stage 2: probe data and token list"
    for split in train dev test; do
        dirs=()
        for lang in ${all_languages}; do dirs+=("${data}/${lang}/${split}"); done
        run_step probe_${split} python -m lamer.bin.probe_data dir --data "${dirs[@]}" --out "${dump}/probe/${split}"
    done
    run_step tokens python -m lamer.bin.probe_data tokens --text "${dump}/probe/train/text" --out "${dump}/tokens/char" ${token_opts}
fi

if [[ ${stage} -le 3 && ${stop_stage} -ge 3 ]]; then
    read -r kind value <<<"$(plan_get base_model)"
    log "Stage 3: base model (${kind} ${value})"
    if [[ ${kind} == checkpoint ]]; then
        run_step base_model python -m lamer.bin.export_model --upstream "${value}" --format s3prl --out "${base_dir}"
    else
        train_dirs=(); valid_dirs=()
        for lang in $(plan_get languages base); do
            train_dirs+=(--train_dir "${data}/${lang}/train"); valid_dirs+=(--valid_dir "${data}/${lang}/dev")
        done
        run_step base_model ${cuda_cmd} "${exp}/logs/pretrain_base.log" \
            python -m lamer.bin.pretrain_base "${train_dirs[@]}" "${valid_dirs[@]}" --config "${value}" \
            --work_dir "${base_dir}" --layer "${target_layer}" --num_clusters "${num_clusters}" --seed "${seed}" \
            -- --ngpu "${ngpu}" ${pretrain_opts}
    fi
fi

if [[ ${stage} -le 4 && ${stop_stage} -ge 4 && ${train_on} == new ]]; then
    log "Stage 4: replay samples"
    minutes=$(plan_get replay_minutes); fraction=$(plan_get replay_fraction)
    for s in ${stages}; do
        [[ -n ${minutes}${fraction} ]] || { log "  no replay in this plan"; break; }
        for old in $(plan_get old "${s}"); do
            if [[ -n ${minutes} ]]; then
                amount=(--minutes "${minutes}")
            else
                new_dirs=(); for lang in $(plan_get languages "${s}"); do new_dirs+=("${data}/${lang}/train"); done
                amount=(--fraction "${fraction}" --of "${new_dirs[0]}")
            fi
            run_step replay_${s}_${old} python -m lamer.bin.prepare_data replay --src "${data}/${old}/train" \
                "${amount[@]}" --strategy "$(plan_get replay_strategy)" --seed "${seed}" \
                --out "${exp}/replay/${s}/${old}"
        done
    done
fi

if [[ ${stage} -le 5 && ${stop_stage} -ge 5 && ${train_on} != none ]]; then
    for s in ${stages}; do
        case ${train_on} in
            new) train_langs=$(plan_get languages "${s}") ;;
            old) train_langs=$(plan_get languages base) ;;
            all) train_langs="$(plan_get old "${s}") $(plan_get languages "${s}")" ;;
        esac
        log "Stage 5: continual SSL training, stage ${s} (on ${train_on} languages: ${train_langs})"
        prev=$(plan_get previous "${s}")
        new_train=(); new_dev=(); replay=()
        for lang in ${train_langs}; do
            new_train+=(--data_dir "${data}/${lang}/train"); new_dev+=(--data_dir "${data}/${lang}/dev")
        done
        for old in $(plan_get old "${s}"); do
            [[ ${train_on} == new && -d ${exp}/replay/${s}/${old} ]] && replay+=(--replay_data_dir "${exp}/replay/${s}/${old}")
        done
        init=(--upstream "${base_ckpt}")
        feature_model=(--upstream "${base_ckpt}")
        if [[ ${prev} != base ]]; then
            if [[ -d ${exp}/ssl/${prev}/adapters ]]; then
                init+=(--init_adapters "${exp}/ssl/${prev}/adapters")
                feature_model+=(--adapters "${exp}/ssl/${prev}/adapters")
            else
                init=(--upstream "${exp}/ssl/${prev}/upstream.pt")
                feature_model=(--upstream "${exp}/ssl/${prev}/upstream.pt")
            fi
        fi
        targets=${exp}/targets/${s}
        run_step targets_${s} python -m lamer.bin.ssl_targets "${new_train[@]}" "${replay[@]}" "${feature_model[@]}" \
            --feature layer --layer "${target_layer}" --num_clusters "${num_clusters}" --seed "${seed}" \
            --out_dir "${targets}/train"
        run_step targets_${s}_dev python -m lamer.bin.ssl_targets "${new_dev[@]}" "${feature_model[@]}" \
            --feature layer --layer "${target_layer}" --codebook "${targets}/train" --out_dir "${targets}/dev"
        replay_opts=()
        [[ ${#replay[@]} -gt 0 ]] && replay_opts=(--replay_utt2lang "${targets}/train/replay_utt2lang")
        run_step ssl_${s} ${cuda_cmd} "${exp}/logs/ssl_train_${s}.log" \
            python -m lamer.bin.ssl_train --config "${method}" "${init[@]}" --ngpu "${ngpu}" --seed "${seed}" \
            --resume true --num_classes "${num_clusters}" \
            --train_data_path_and_name_and_type "${targets}/train/wav.scp,speech,sound" \
            --train_data_path_and_name_and_type "${targets}/train/labels,labels,text_int" \
            --train_shape_file "${targets}/train/speech_shape" \
            --valid_data_path_and_name_and_type "${targets}/dev/wav.scp,speech,sound" \
            --valid_data_path_and_name_and_type "${targets}/dev/labels,labels,text_int" \
            --valid_shape_file "${targets}/dev/speech_shape" \
            "${replay_opts[@]}" --output_dir "${exp}/ssl/${s}" ${ssl_train_opts}
    done
fi

if [[ ${stage} -le 6 && ${stop_stage} -ge 6 ]]; then
    for s in base ${stages}; do
        log "Stage 6: probe training on the model after stage ${s}"
        if [[ ${s} == base && -n ${base_exp} ]]; then
            run_step probe_base share "${base_exp}/probe/base" "${exp}/probe/base"
            continue
        elif [[ ${s} != base && ${train_on} == none ]]; then
            run_step probe_${s} share "${exp}/probe/base" "${exp}/probe/${s}"   # the same model
            continue
        fi
        read -r ckpt adapters <<<"$(model_of "${s}")"
        frontend=(--frontend_conf "path_or_url=${ckpt}")
        [[ ${adapters} == none ]] || frontend+=(--frontend_conf "adapters=${adapters}")
        probe_data=()
        for split in train valid; do
            dir=${dump}/probe/${split/valid/dev}
            probe_data+=(--${split}_data_path_and_name_and_type "${dir}/wav.scp,speech,sound"
                         --${split}_data_path_and_name_and_type "${dir}/text,text,text"
                         --${split}_shape_file "${dir}/speech_shape")
        done
        run_step probe_${s} ${cuda_cmd} "${exp}/logs/probe_${s}.log" \
            python -m lamer.bin.asr_train --config "$(plan_get probe)" --ngpu "${ngpu}" --seed "${seed}" \
            --resume true --output_dir "${exp}/probe/${s}" "${frontend[@]}" \
            --use_preprocessor true --token_type char --token_list "${dump}/tokens/char/tokens.txt" \
            --non_linguistic_symbols "${dump}/tokens/char/nlsyms.txt" "${probe_data[@]}" ${probe_train_opts}
    done
fi

if [[ ${stage} -le 7 && ${stop_stage} -ge 7 ]]; then
    first_protocol=$(plan_get protocols | awk '{print $1}')
    # same_score PROTOCOL STAGE: the scores this pair shares (the base probe reading the base
    # model, under any protocol and for every stage of --train_on none: one computation, scored
    # once), or nothing when the pair is decoded itself
    same_score() {
        local same=
        if [[ $2 == base && -n ${base_exp} ]]; then
            same=${base_exp}/score/$1/base
        elif [[ $2 == base || ${train_on} == none ]]; then
            same=${exp}/score/${first_protocol}/base
        fi
        [[ ${same} == "${exp}/score/$1/$2" ]] || echo "${same}"
    }
    # every pair still to decode goes to one process (ESPnet's import is paid once); a pair is
    # marked done with the process, so a failed run decodes its pairs again
    jobs_file=${exp}/decode/jobs.tsv
    mkdir -p "${exp}/decode"; : >"${jobs_file}"
    pending=()
    for protocol in $(plan_get protocols); do
        for s in base ${stages}; do
            [[ -z $(same_score "${protocol}" "${s}") && ! -f ${exp}/.done/decode_${protocol}_${s} ]] || continue
            read -r ckpt adapters <<<"$(model_of "${s}")"
            probe=${exp}/probe/${s} override=(- -)
            if [[ ${protocol} == fixed ]]; then
                probe=${exp}/probe/base   # the base probe, frozen, reads this stage's features
                override=("${adapters}" "${ckpt}")
            fi
            printf '%s\t%s\t%s\t%s\t%s\n' "${exp}/decode/${protocol}/${s}" "${probe}/config.yaml" \
                "${probe}/valid.loss.best.pth" "${override[@]}" >>"${jobs_file}"
            pending+=("decode_${protocol}_${s}")
        done
    done
    if [[ ${#pending[@]} -gt 0 ]]; then
        log "Stage 7: decoding ${pending[*]}"
        ${decode_cmd} "${exp}/logs/decode.log" \
            python -m lamer.bin.asr_inference --config "${decode_config}" --decoding "${decoding}" --ngpu "${ngpu}" \
            --data_path_and_name_and_type "${dump}/probe/test/wav.scp,speech,sound" --jobs "${jobs_file}"
        for name in "${pending[@]}"; do touch "${exp}/.done/${name}"; done
    fi
    for protocol in $(plan_get protocols); do
        for s in base ${stages}; do
            log "Stage 7: scoring, protocol ${protocol}, model after stage ${s}"
            same=$(same_score "${protocol}" "${s}")
            if [[ -n ${same} ]]; then
                run_step score_${protocol}_${s} share "${same}" "${exp}/score/${protocol}/${s}"
            else
                run_step score_${protocol}_${s} python -m lamer.bin.score --ref "${dump}/probe/test/text" \
                    --hyp "${exp}/decode/${protocol}/${s}/1best_recog/text" --utt2lang "${dump}/probe/test/utt2lang" \
                    --out "${exp}/score/${protocol}/${s}"
            fi
        done
    done
fi

if [[ ${stage} -le 8 && ${stop_stage} -ge 8 ]]; then
    log "Stage 8: results across stages"
    last=${stages##* }
    usage=()
    if [[ -d ${exp}/ssl/${last}/adapters ]]; then
        dev_dirs=(); for lang in ${all_languages}; do dev_dirs+=("${data}/${lang}/dev"); done
        run_step expert_usage python -m lamer.bin.expert_usage --upstream "${base_ckpt}" \
            --adapters "${exp}/ssl/${last}/adapters" --data "${dev_dirs[@]}" --out "${exp}/expert_usage.json" --if-routed
        [[ -f ${exp}/expert_usage.json ]] && usage=(--expert-usage "${exp}/expert_usage.json")
    fi
    for protocol in $(plan_get protocols); do
        python -m lamer.bin.collect_results --plan "${plan}" --scores "${exp}/score/${protocol}" \
            --protocol "${protocol}" --out "${exp}/results_${protocol}.json"
        python -m lamer.bin.forgetting_report --matrix "${exp}/results_${protocol}.json" "${usage[@]}" \
            --out "${exp}/report/${protocol}"
    done
    log "Results: $(ls -d "${exp}"/report/*/RESULTS.md | tr '\n' ' ')"
fi
log "Finished stages ${stage}-${stop_stage} of ${plan} in ${exp}"
