#!/usr/bin/env bash
# Build tools/venv with the pins that work on a CPU-only Python 3.11 machine.
# Idempotent: a sentinel records a hash of the inputs, so a second run returns at once.
set -euo pipefail

tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "${tools_dir}")"
venv="${LAMER_VENV:-${tools_dir}/venv}"
python="${PYTHON:-python3.11}"
sentinel="${venv}/.lamer_installed"

inputs_hash="$(cat "${tools_dir}/install.sh" "${tools_dir}/requirements.txt" \
    "${tools_dir}/constraints.txt" "${root}/setup.py" | sha256sum | cut -d' ' -f1)"
if [ -f "${sentinel}" ] && [ "$(cat "${sentinel}")" = "${inputs_hash}" ]; then
    exit 0
fi

log() { echo "[install $(date +%H:%M:%S)] $*"; }

if ! command -v "${python}" >/dev/null; then
    echo "install.sh: ${python} not found; set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
rm -f "${sentinel}"
if [ ! -x "${venv}/bin/python" ]; then
    log "creating ${venv}"
    "${python}" -m venv "${venv}"
fi
pip=("${venv}/bin/python" -m pip --disable-pip-version-check)
# The machine-wide pip config names local indexes that may be absent: keep their noise out.
quiet_pip() { "${pip[@]}" "$@" 2> >(grep -v "^WARNING: Location" >&2); }
constraints=(-c "${tools_dir}/constraints.txt")

log "pip, setuptools, wheel"
# pip 26 refuses any index package whose metadata names a URL dependency, even in an unused
# extra (ci_sdr, needed by espnet, does): stay on pip 25.
quiet_pip install -q --upgrade "pip>=25,<26" "setuptools>=77" wheel
log "torch (CPU build) and torchaudio"
quiet_pip install -q "${constraints[@]}" torch==2.13.0
quiet_pip install -q --no-deps "${constraints[@]}" torchaudio==2.11.0
log "runtime requirements"
# ci_sdr's "all" extra names a git URL; installing it without dependencies keeps the
# resolver from looking there (its real dependencies are in requirements.txt).
quiet_pip install -q --no-deps "${constraints[@]}" ci_sdr==0.0.2
quiet_pip install -q "${constraints[@]}" -r "${tools_dir}/requirements.txt"
log "espnet (no deps) and espnet-s3prl"
quiet_pip install -q --no-deps "${constraints[@]}" espnet==202511
quiet_pip install -q "${constraints[@]}" espnet-s3prl==2026.5.14
log "lamer (editable)"
quiet_pip install -q --no-deps --no-build-isolation -e "${root}"

# torchaudio 2.11's wheel links CUDA libraries; on a CPU torch its pure-Python fallback
# (compliance.kaldi, functional.resample) works once the compiled extensions are gone.
"${venv}/bin/python" - <<'PY'
import glob, importlib.util, os, torch
if torch.version.cuda is None:
    spec = importlib.util.find_spec("torchaudio")
    lib = os.path.join(os.path.dirname(spec.origin), "lib")
    for so in glob.glob(os.path.join(lib, "*.so")):
        os.remove(so)
PY
log "checking imports"
"${venv}/bin/python" -c "import torch, torchaudio, espnet2.tasks.asr, s3prl, lamer; print('torch', torch.__version__, 'espnet2 ok')"
echo "${inputs_hash}" > "${sentinel}"
log "done: ${venv}"
