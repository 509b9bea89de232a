#!/usr/bin/env bash
# Prepare FLEURS language configs as Kaldi-style data dirs (thin wrapper over lamer.bin.prepare_data).
#
# Expected download layout (ROOT = google/fleurs' data/ folder, one folder per config):
#   ROOT/<config>/{train,dev,test}.tsv   ROOT/<config>/audio/<split>.tar.gz (or audio/<split>/)
# Output: DATA/<iso3>/{train,dev,test}/ and 16 kHz audio under DUMP/<iso3>/<split>/.
# A finished split (its .done marker exists) is skipped, so re-running is cheap.
#
# Usage: local/data_fleurs.sh [options] ROOT CONFIGS DATA DUMP
#   e.g. local/data_fleurs.sh --nj 8 /corpora/fleurs/data en_us,cmn_hans_cn data dump
# Options (Kaldi style, --name value):
#   --nj N               parallel audio conversion jobs (default 4)
#   --skip-bad true      skip bad rows, counted in DATA/<iso3>/<split>/report.json (default false)
#   --splits LIST        comma separated (default train,dev,test)
#   --min-duration S / --max-duration S   duration filter in seconds (default 0.5 / 60)
#   --lang-map LIST      extra CONFIG=iso3 pairs, e.g. xx_yy=zzz
set -euo pipefail

nj=4
skip_bad=false
splits=train,dev,test
min_duration=0.5
max_duration=60
lang_map=
python=${PYTHON:-python}

. "$(dirname "$0")/../tools/parse_options.sh"
if [[ $# -ne 4 ]]; then
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 1
fi

args=(fleurs --root "$1" --langs "$2" --out "$3" --dump "$4" --nj "$nj" --splits "$splits"
      --min-duration "$min_duration" --max-duration "$max_duration" --lang-map "$lang_map")
[[ $skip_bad == true ]] && args+=(--skip-bad)
exec "$python" -m lamer.bin.prepare_data "${args[@]}"
