# Environment of the recipes: the toolkit's venv first on PATH, quiet and reproducible threads.
LAMER_ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../.." && pwd)
export LAMER_ROOT
export PATH="${LAMER_ROOT}/tools/venv/bin:${PATH}"
export PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # 2 threads thrash as soon as a data loader or another job takes a core
