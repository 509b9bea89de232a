#!/usr/bin/env bash
# Prepare Common Voice locales as Kaldi-style data dirs (thin wrapper over lamer.bin.prepare_data).
#
# Expected download layout (ROOT = a release folder, one folder per locale):
#   ROOT/<locale>/clips/*.mp3  ROOT/<locale>/{validated,train,dev,test}.tsv
# Output: DATA/<iso3>/{train,dev,test}/ and 16 kHz audio under DUMP/<iso3>/<split>/.
# A finished split (its .done marker exists) is skipped, so re-running is cheap.
#
# Usage: see --help (the options below, each with its default and description).
set -euo pipefail

help_message="Usage: local/data_commonvoice.sh [options] ROOT LOCALES DATA DUMP
  e.g. local/data_commonvoice.sh --nj 8 /corpora/cv-corpus-17.0 en,fr,zh-CN data dump"

nj=4                 # parallel audio conversion jobs
skip_bad=false       # skip bad rows, counted in DATA/<iso3>/<split>/report.json
split_mode=validated # validated (train = validated minus dev/test) or official
splits=train,dev,test  # comma separated
min_duration=0.5     # shortest utterance kept, seconds
max_duration=60      # longest utterance kept, seconds
lang_map=            # extra LOCALE=iso3 pairs, e.g. xx=yyy
python=${PYTHON:-python}  # the Python that runs lamer (default: $PYTHON or python)

. "$(dirname "$0")/../tools/parse_options.sh"
if [[ $# -ne 4 ]]; then
    echo "${help_message}" >&2
    exit 1
fi

args=(commonvoice --root "$1" --langs "$2" --out "$3" --dump "$4" --nj "$nj" --split-mode "$split_mode"
      --splits "$splits" --min_duration "$min_duration" --max_duration "$max_duration" --lang_map "$lang_map")
[[ $skip_bad == true ]] && args+=(--skip_bad)
exec "$python" -m lamer.bin.prepare_data "${args[@]}"
