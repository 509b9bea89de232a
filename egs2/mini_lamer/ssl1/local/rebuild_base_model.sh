#!/usr/bin/env bash
# Rebuild the demo's shipped base model in one command: synthesise its corpus, prepare the data
# dirs, pre-train a small HuBERT from scratch (two iterations, python -m lamer.bin.pretrain_base),
# export it, and write its SHA-256 beside it:
#   <out>/upstream.pt          the s3prl checkpoint a plan imports:
#                                base_model: {checkpoint: <out>/upstream.pt, sha256: HEX}
#   <out>/upstream.pt.sha256   HEX  upstream.pt   (sha256sum's format: `sha256sum -c` checks it in <out>)
#   <out>/rebuild.txt          this command line and the lamer commit it ran at
# The SHA-256 is printed last. Work files (corpus, data dirs, both pre-training iterations) go
# to --dir; every step is restartable (a re-run skips finished languages and iterations, and
# resumes an interrupted training). Jobs go through cmd.sh's $train_cmd / $cuda_cmd with their
# logs in <dir>/logs. Run from anywhere: paths are relative to the recipe directory.
#
# ./local/rebuild_base_model.sh --help lists the options with their defaults.
set -euo pipefail
cd "$(dirname "$0")/.."

help_message="Usage: ./local/rebuild_base_model.sh [options]
  e.g. ./local/rebuild_base_model.sh --out base_model --pretrain_opts \"--max_epoch 20\""

pretrain_config=conf/ssl/base_pretrain_every_frame.yaml  # ssl_train config of both pre-training iterations
                      # (not --config: that one reads a file of name=value option lines, as in Kaldi)
langs=en,fr,de        # the synthetic corpus' languages (its keys: python -m lamer.bin.synth_corpus --list_langs)
utts_per_lang=240     # utterances per language of the synthetic corpus, all splits together
synth_seed=0          # seed of the synthetic corpus
synth_opts="--test_fraction 0.25"  # extra options of synth_corpus (the demo's: 60 test utterances per language)
seed=0                # seed of pre-training (k-means and training)
layer=3               # layer (1-based) clustered for the second iteration's targets
num_clusters=100      # k-means clusters of both iterations
nj=2                  # parallel jobs of corpus synthesis and data preparation
ngpu=0                # GPUs of the pre-training job (0: CPU)
pretrain_opts="--max_epoch 6"  # extra ESPnet options of both pre-training iterations (ssl_train, after pretrain_base's --)
dir=exp/base_model_rebuild  # work directory: corpus, data dirs, pre-training, logs
out=base_model        # the shipped model's directory (replaced when the export is written)

declare -ra invocation=("./local/rebuild_base_model.sh" "$@")  # for <out>/rebuild.txt
. ./path.sh
. ./cmd.sh
. "${LAMER_ROOT}/tools/parse_options.sh"
if [[ $# -ne 0 ]]; then
    echo "$0: unexpected argument(s): $* (options are --name value; $0 --help lists them)" >&2
    exit 2
fi

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (rebuild_base_model.sh) $*"; }
# one column of the synthetic corpus' language table for each of --langs, comma separated
lang_column() {
    python -m lamer.bin.synth_corpus --list_langs | awk -F'\t' -v want="$1" -v langs="${langs}" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == want) col = i; next }
        { value[$1] = $col }
        END { n = split(langs, keys, ","); for (i = 1; i <= n; i++) {
                  if (!(keys[i] in value)) { print "unknown language key " keys[i] > "/dev/stderr"; exit 1 }
                  printf "%s%s", (i > 1 ? "," : ""), value[keys[i]] }
              print "" }'
}
locales=$(lang_column cv_locale)
iso3s=$(lang_column iso3)
[[ -f ${pretrain_config} ]] || { echo "$0: --pretrain_config ${pretrain_config}: no such file" >&2; exit 1; }
mkdir -p "${dir}/logs"

log "Stage 1: synthetic corpus (${langs}, ${utts_per_lang} utterances each, seed ${synth_seed}) in ${dir}/corpus"
# shellcheck disable=SC2086  # *_opts are word lists
${train_cmd} --gpu 0 "${dir}/logs/synth.log" python -m lamer.bin.synth_corpus --out "${dir}/corpus" \
    --langs "${langs}" --utts_per_lang "${utts_per_lang}" --seed "${synth_seed}" --nj "${nj}" ${synth_opts}

log "Stage 2: data dirs (${locales}) in ${dir}/data"
${train_cmd} --gpu 0 "${dir}/logs/data.log" python -m lamer.bin.prepare_data commonvoice \
    --root "${dir}/corpus/commonvoice" --langs "${locales}" --out "${dir}/data" --dump "${dir}/dump" --nj "${nj}"

log "Stage 3: pre-training (${pretrain_config}, seed ${seed}) in ${dir}/pretrain"
dirs=()
for lang in ${iso3s//,/ }; do
    dirs+=(--train_dir "${dir}/data/${lang}/train" --valid_dir "${dir}/data/${lang}/dev")
done
# shellcheck disable=SC2086
${cuda_cmd} --gpu "${ngpu}" "${dir}/logs/pretrain.log" python -m lamer.bin.pretrain_base "${dirs[@]}" \
    --config "${pretrain_config}" --work_dir "${dir}/pretrain" --layer "${layer}" --num_clusters "${num_clusters}" \
    --seed "${seed}" -- --ngpu "${ngpu}" ${pretrain_opts}

log "Stage 4: export to ${out}, SHA-256"
${train_cmd} --gpu 0 "${dir}/logs/export.log" python -m lamer.bin.export_model \
    --upstream "${dir}/pretrain/upstream.pt" --format s3prl --out "${out}"
command_line=$(printf '%q ' "${invocation[@]}")
printf '%s\n# at lamer commit %s\n' "${command_line% }" \
    "$(git -C "${LAMER_ROOT}" rev-parse HEAD 2>/dev/null || echo unknown)" >"${out}/.rebuild.txt.tmp"
mv "${out}/.rebuild.txt.tmp" "${out}/rebuild.txt"
digest=$(python -m lamer.bin.checksum --sidecar "${out}/upstream.pt" | cut -d' ' -f1)
log "Done: ${out}/upstream.pt ($(du -h "${out}/upstream.pt" | cut -f1)), sha256 ${digest}"
echo "${digest}"
