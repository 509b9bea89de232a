#!/usr/bin/env bash
# Build tools/venv with the pins that work on Python 3.11, for the CPU or for NVIDIA GPUs.
#
#   bash tools/install.sh                      # CUDA build where an NVIDIA driver is seen, else CPU
#   TORCH_VARIANT=cuda bash tools/install.sh   # or cpu: force the choice (e.g. on a GPU-less login node)
#   LAMER_VENV=/path/venv PYTHON=python3.11 bash tools/install.sh
#
# The two torch/torchaudio pairs (docs/installation.md; what was verified: tools/RESULTS.md):
#   cpu:  torch 2.13.0+cpu, torchaudio 2.11.0 with its CUDA-linked extensions removed (its
#         pure-Python parts, all that lamer and ESPnet's paths here use, work without them);
#   cuda: torch 2.13.0 from PyPI (CUDA 13 build) and torchaudio 2.11.1, whose metadata asks for
#         torch>=2.11 and whose extensions use only torch's stable C ABI (no C++ symbols of
#         torch), so they load into torch 2.13; there is no torchaudio 2.13.
# Idempotent: a sentinel records a hash of the inputs and the variant, so a second run returns at once.
set -euo pipefail

tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "${tools_dir}")"
venv="${LAMER_VENV:-${tools_dir}/venv}"
python="${PYTHON:-python3.11}"
sentinel="${venv}/.lamer_installed"

log() { echo "[install $(date +%H:%M:%S)] $*"; }

# Why this variant, for the log: an explicit TORCH_VARIANT, else what the NVIDIA driver shows.
nvidia_driver() {
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        echo "nvidia-smi: $(nvidia-smi -L | head -n 1)"
    elif [ -r /proc/driver/nvidia/version ]; then
        echo "/proc/driver/nvidia/version: $(head -n 1 /proc/driver/nvidia/version)"
    fi
}
variant="${TORCH_VARIANT:-auto}"
case "${variant}" in
    cpu|cuda) reason="TORCH_VARIANT=${variant}" ;;
    auto)
        reason="$(nvidia_driver)"
        if [ -n "${reason}" ]; then variant=cuda; else variant=cpu; reason="no NVIDIA driver seen"; fi ;;
    *) echo "install.sh: TORCH_VARIANT=${variant}: expected cpu, cuda or auto (the default)" >&2; exit 1 ;;
esac

inputs_hash="$( (cat "${tools_dir}/install.sh" "${tools_dir}/requirements.txt" \
    "${tools_dir}/constraints.txt" "${root}/setup.py"; echo "variant=${variant}") | sha256sum | cut -d' ' -f1)"
if [ -f "${sentinel}" ] && [ "$(cat "${sentinel}")" = "${inputs_hash}" ]; then
    exit 0
fi
log "torch variant: ${variant} (${reason})"

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
# The variant's pair is a constraint on every later step too, so no dependency moves it.
# `!=2.13.0+cpu` keeps pip from taking the local CPU file that `==2.13.0` also matches.
pair="${venv}/lamer-torch-pair.txt"
case "${variant}" in
    cpu) printf '%s\n' "torch==2.13.0" "torchaudio==2.11.0" >"${pair}" ;;
    cuda) printf '%s\n' "torch==2.13.0,!=2.13.0+cpu" "torchaudio==2.11.1" >"${pair}" ;;
esac
constraints=(-c "${tools_dir}/constraints.txt" -c "${pair}")

log "pip, setuptools, wheel"
# pip 26 refuses any index package whose metadata names a URL dependency, even in an unused
# extra (ci_sdr, needed by espnet, does): stay on pip 25.
quiet_pip install -q --upgrade "pip>=25,<26" "setuptools>=77" wheel
log "torch and torchaudio ($(tr '\n' ' ' <"${pair}"))"
quiet_pip install -q "${constraints[@]}" torch
if [ "${variant}" = cpu ]; then
    # torchaudio 2.11.0 declares no torch requirement; 2.11.1 would accept any torch>=2.11.
    quiet_pip install -q --no-deps "${constraints[@]}" torchaudio
else
    # With its dependencies: pip checks torchaudio's own torch>=2.11 against the torch above.
    quiet_pip install -q "${constraints[@]}" torchaudio
fi
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
# lamer-espnet.pth: ESPnet's own asr_train / Speech2Text know frontend: lamer and upstream: lamer_local
"${venv}/bin/python" -m lamer.bin.espnet_plugin install

# torchaudio's wheels link CUDA 13 libraries; on a CPU torch its pure-Python fallback
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
"${venv}/bin/python" - "${variant}" <<'PY'
import os
import shutil
import sys

import espnet2.tasks.asr  # noqa: F401  (imports torchaudio.compliance, as training does)
import lamer  # noqa: F401
import s3prl  # noqa: F401
import torch
import torchaudio

variant = sys.argv[1]
build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU"
print(f"torch {torch.__version__} ({build} build), torchaudio {torchaudio.__version__}, espnet2 ok")
if variant == "cuda":
    if torch.version.cuda is None:
        sys.exit("install.sh: TORCH_VARIANT=cuda but pip installed a CPU build of torch")
    # Loads torchaudio's compiled library and runs one of its kernels (on the CPU: no GPU needed),
    # which proves its stable-ABI symbols resolve against this torch.
    from torchaudio.functional import forced_align
    emission = torch.randn(1, 5, 3).log_softmax(-1)
    forced_align(emission, torch.tensor([[1, 2]], dtype=torch.int32), blank=0)
    print(f"torchaudio extensions load; GPUs visible: {torch.cuda.device_count()}")
    if torch.cuda.device_count() == 0 and (os.path.exists("/proc/driver/nvidia/version") or shutil.which("nvidia-smi")):
        print(f"install.sh: warning: an NVIDIA driver is installed but torch sees no GPU: CUDA {torch.version.cuda} "
              "needs driver 580 or newer (nvidia-smi shows the driver's version)", file=sys.stderr)
elif torch.version.cuda is not None:
    print(f"install.sh: warning: TORCH_VARIANT=cpu but torch is a CUDA build ({torch.version.cuda}): "
          "pip found no CPU wheel of torch 2.13.0 (PyTorch's CPU index has one: "
          "PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu)", file=sys.stderr)
PY
echo "${inputs_hash}" > "${sentinel}"
log "done: ${venv}"
