#!/usr/bin/env bash
# The embedded demo: synthesise a 7-language corpus, import the shipped small HuBERT (pre-trained
# on en/fr/de, its SHA-256 checked: conf/plan.yaml, local/rebuild_base_model.sh rebuilds it),
# extend it to es/it then nl/pt with Lamer + replay, and score ASR (CER) and LID (first decoded tag
# and the probe's utterance classifier) after every stage under both protocols. Sized for about
# 10 minutes on 2 CPU cores, two jobs at a time: see RESULTS.md for what that does and does not show.
# Results: exp/plan/report/{retrained,fixed}/RESULTS.md and the PNG plots beside them.
# Usage: ./run.sh [--stage N] [--stop_stage M] [other options of ssl.sh]
set -euo pipefail
cd "$(dirname "$0")"
./ssl.sh --synth true --synth_utts 150 --nj 2 --max_jobs 2 --inference_nj 2 \
    --ssl_train_opts "--max_epoch 1 --num_iters_per_epoch 40" \
    "$@"
