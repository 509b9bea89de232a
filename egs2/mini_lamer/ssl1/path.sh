# Environment of the recipes: the toolkit's venv first on PATH, quiet and reproducible threads.
LAMER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
export LAMER_ROOT
export PATH="${LAMER_ROOT}/tools/venv/bin:${PATH}"
export PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
