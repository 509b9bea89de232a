#!/usr/bin/env bash
# CI: the Slurm tests on a real single-node cluster: the backend (tests/launch/test_launch_slurm.py),
# then the tiny recipe through the queue with --nj 2 --inference_nj 2 (tests/recipe/test_recipe_slurm.py).
#
#   bash tools/slurm/ci_slurm_test.sh
#
# Installs slurm + munge if missing, starts the cluster (tools/slurm/cluster.sh), runs the tests
# with LAMER_SLURM_TEST=1 and always stops the daemons it started. Where the packages cannot be
# installed or the cluster cannot start, it prints why and exits 0 (skipped); a failing test on a
# running cluster exits non-zero. Needs root and tools/venv (`make install`).
set -uo pipefail
cd "$(dirname "$0")/../.."
readonly CLUSTER=tools/slurm/cluster.sh
readonly DIR=${LAMER_SLURM_DIR:-/tmp/lamer-slurm}  # the same cluster as cluster.sh: restarted, then stopped
readonly PY=${PY:-tools/venv/bin/python}
started_at=$(date +%s)

say() { echo "ci_slurm_test: $*" >&2; }
skip() { say "SKIPPED: $* ($(( $(date +%s) - started_at )) s)"; exit 0; }

[ -x "${PY}" ] || { say "no ${PY}: run make install first"; exit 1; }
trap 'bash "${CLUSTER}" stop "${DIR}" >/dev/null 2>&1' EXIT
trap 'exit 130' INT TERM
[ "$(id -u)" -eq 0 ] || skip "not root: slurmd and munged cannot be started by $(id -un)"
bash "${CLUSTER}" install || skip "the Slurm packages cannot be installed here"
bash "${CLUSTER}" start "${DIR}" || skip "the Slurm cluster did not start here"
say "cluster up after $(( $(date +%s) - started_at )) s"

export SLURM_CONF="${DIR}/slurm.conf" LAMER_SLURM_TEST=1
rc=0
for tests in tests/launch/test_launch_slurm.py tests/recipe/test_recipe_slurm.py; do
    test_started=$(date +%s)
    "${PY}" -m pytest -q -p no:cacheprovider "${tests}"
    test_rc=$?
    say "${tests}: pytest exit ${test_rc} in $(( $(date +%s) - test_started )) s"
    if [ "${test_rc}" -ne 0 ]; then
        say "end of the daemon logs:"
        tail -n 20 "${DIR}/slurmctld.log" "${DIR}/slurmd.log" >&2
        rc=1  # no tests collected (exit 5) is a failure too
    fi
done
say "done in $(( $(date +%s) - started_at )) s, exit ${rc}"
exit "${rc}"
