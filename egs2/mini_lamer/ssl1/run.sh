#!/usr/bin/env bash
# The embedded demo (conf/plan.yaml): synthesise a 5-language corpus, import the shipped small HuBERT
# (pre-trained on en/fr/de, its SHA-256 checked; local/rebuild_base_model.sh rebuilds it), extend
# it to Vietnamese and Hindi with Lamer as published + replay, and score ASR (CER, PER) and LID
# (first decoded tag and the probe's utterance classifier) before and after the stage under both
# protocols. Sized for about 10 minutes on 2 CPU cores, two jobs at a time: the stage trains 400
# steps (conf/ssl/far.yaml's 800 halved); see RESULTS.md for what that does and does not show.
# Results: exp/plan/report/{retrained,fixed}/RESULTS.md and the PNG plots beside them.
# Usage: ./run.sh [--stage N] [--stop_stage M] [other options of ssl.sh]
set -euo pipefail
cd "$(dirname "$0")"
./ssl.sh --synth true --synth_utts 240 --synth_opts "--test_fraction 0.25" --nj 2 --max_jobs 2 --inference_nj 2 \
    --target_feature mfcc --ssl_train_opts "--num_iters_per_epoch 400" \
    "$@"
