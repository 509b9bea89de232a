#!/usr/bin/env bash
# Continual multilingual expansion on real fleurs data: settings over egs2/TEMPLATE/ssl1/ssl.sh.
# Edit db.sh (corpus root) and conf/plan.yaml (languages, local base checkpoint) first.
# Usage: ./run.sh [--stage N] [--stop_stage M] [--ngpu N] [other options of ssl.sh]
set -euo pipefail
cd "$(dirname "$0")"
# local/lang/<iso3>/lang.yaml: per-language text overrides and token settings (see docs/data.md)
./ssl.sh --nj 8 --target_layer 9 --num_clusters 500 --prep_opts "--lang_dir local/lang" \
    --token_opts "--lang_dir local/lang" "$@"
