#!/usr/bin/env bash
# The embedded demo: synthesise a 7-language corpus, pre-train a small HuBERT on en/fr/de,
# extend it to es/it then nl/pt with Lamer + replay, and score ASR (CER) and LID after every
# stage under both protocols. Sized for about 20 minutes on 2 CPU cores, so every model is
# trained briefly: see RESULTS.md for what that does and does not show. Results:
#   exp/plan/report/{retrained,fixed}/RESULTS.md and the PNG plots beside them.
# Usage: ./run.sh [--stage N] [--stop_stage M] [other options of ssl.sh]
set -euo pipefail
cd "$(dirname "$0")"
./ssl.sh --synth true --synth_utts 150 --nj 2 \
    --pretrain_opts "--max_epoch 4" \
    --ssl_train_opts "--max_epoch 3 --num_iters_per_epoch 20" \
    --probe_train_opts "--max_epoch 8" \
    "$@"
