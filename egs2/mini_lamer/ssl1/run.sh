#!/usr/bin/env bash
# The embedded demo: synthesise a 7-language corpus, pre-train a small HuBERT on en/fr/de,
# extend it to es/it then nl/pt with Lamer + replay, and score ASR (CER) and LID after every
# stage under both protocols. About 20 minutes on 2 CPU cores. Results:
#   exp/plan/report/{retrained,fixed}/RESULTS.md and the PNG plots beside them.
# Usage: ./run.sh [--stage N] [--stop_stage M] [options of ssl.sh]
set -euo pipefail
cd "$(dirname "$0")"
./ssl.sh --synth true --synth_utts 200 --nj 2 "$@"
