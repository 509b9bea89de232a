#!/usr/bin/env bash
# A throw-away single-node Slurm cluster (slurmctld + slurmd + munge) on this machine, for tests.
#
#   bash tools/slurm/cluster.sh install          # Debian packages, if missing (root)
#   bash tools/slurm/cluster.sh start [DIR]      # write DIR/slurm.conf, start daemons, wait for idle
#   bash tools/slurm/cluster.sh stop  [DIR]      # stop what `start` started (safe to repeat)
#   bash tools/slurm/cluster.sh status [DIR]
#
# DIR (default ${LAMER_SLURM_DIR:-/tmp/lamer-slurm}) holds the config, state, logs and pid files,
# and DIR/jobcomp.log: one line per finished job or array task (JobId, Name, JobState, ExitCode,
# WorkDir, ArrayJobId, ArrayTaskId, ...), Slurm's own record of what ran (no slurmdbd here, so
# no sacct): tests read it to check what was submitted.
# Clients need `export SLURM_CONF=DIR/slurm.conf`: `start` writes it to DIR/env.sh.
# Every failure prints "slurm: step '<step>' failed: <reason>" and exits 1.
# Runs as root (slurmd must); munged runs as the munge user. A munged that was already running is
# used and left alone; only daemons started here are stopped.
set -uo pipefail

readonly PACKAGES=(slurmctld slurmd slurm-client munge)
readonly BINARIES=(slurmctld slurmd sbatch srun scontrol sinfo munged munge unmunge)
readonly CTLD_PORT=6817 SLURMD_PORT=6818
readonly IDLE_TIMEOUT_S=${LAMER_SLURM_IDLE_TIMEOUT:-30}
readonly MUNGE_SOCKET_DIR=/run/munge

fail() { echo "slurm: step '$1' failed: $2" >&2; exit 1; }
say() { echo "slurm: $*" >&2; }

require_root() {
    [ "$(id -u)" -eq 0 ] || fail "$1" "must run as root (slurmd and munged need it); running as $(id -un)"
}

missing_binaries() {
    local b missing=()
    for b in "${BINARIES[@]}"; do command -v "$b" >/dev/null 2>&1 || missing+=("$b"); done
    echo "${missing[*]}"
}

cmd_install() {
    local missing
    missing=$(missing_binaries)
    if [ -z "${missing}" ]; then say "packages already installed"; return 0; fi
    require_root install
    command -v apt-get >/dev/null 2>&1 || fail install "missing ${missing} and no apt-get to install ${PACKAGES[*]}"
    say "installing ${PACKAGES[*]} (missing: ${missing})"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 \
        || fail install "apt-get update failed (no access to the Debian mirror?)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null 2>&1 \
        || fail install "apt-get install ${PACKAGES[*]} failed"
    missing=$(missing_binaries)
    [ -z "${missing}" ] || fail install "still missing after apt-get install: ${missing}"
}

port_in_use() {
    # A successful connect means something listens there.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_pid() {
    # A daemon writes its pid file shortly after forking; one that hangs on start writes none.
    local i
    for i in $(seq 1 40); do pid_alive "$1" && return 0; sleep 0.25; done
    return 1
}

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
    local dir=$1
    if munge_works; then say "munge: using the munged already running"; return 0; fi
    getent passwd munge >/dev/null || fail munge "no 'munge' user (is the munge package installed?)"
    if [ ! -s /etc/munge/munge.key ]; then
        mungekey -c -f -k /etc/munge/munge.key >/dev/null 2>&1 || fail munge "cannot create /etc/munge/munge.key"
    fi
    chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
    install -d -o munge -g munge -m 0755 "${MUNGE_SOCKET_DIR}" /var/log/munge /var/lib/munge
    runuser -u munge -- /usr/sbin/munged >"${dir}/munged.out" 2>&1 \
        || fail munge "munged did not start: $(tail -n 3 "${dir}/munged.out" /var/log/munge/munged.log 2>/dev/null | tr '\n' ' ')"
    touch "${dir}/munged.started-here"
    local i
    for i in $(seq 1 20); do munge_works && return 0; sleep 0.25; done
    fail munge "munged runs but 'munge -n | unmunge' fails: $(tail -n 3 /var/log/munge/munged.log 2>/dev/null | tr '\n' ' ')"
}

write_conf() {
    local dir=$1 host cpus mem_kib real_mem
    host=$(hostname -s)
    cpus=$(nproc)
    mem_kib=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
    real_mem=$(( mem_kib / 1024 * 9 / 10 ))  # MiB, below MemTotal or slurmd drains the node
    mkdir -p "${dir}/state" "${dir}/spool"
    cat >"${dir}/slurm.conf.tmp" <<EOF
# Written by tools/slurm/cluster.sh for a single-node test cluster on ${host}.
ClusterName=lamer
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=${CTLD_PORT}
SlurmdPort=${SLURMD_PORT}
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=${dir}/state
SlurmdSpoolDir=${dir}/spool
SlurmctldPidFile=${dir}/slurmctld.pid
SlurmdPidFile=${dir}/slurmd.pid
SlurmctldLogFile=${dir}/slurmctld.log
SlurmdLogFile=${dir}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=${dir}/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
MailProg=/bin/true
MinJobAge=300
KillWait=5
InactiveLimit=0
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${real_mem} State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP
EOF
    mv "${dir}/slurm.conf.tmp" "${dir}/slurm.conf"
    echo "export SLURM_CONF=${dir}/slurm.conf" >"${dir}/env.sh"
}

wait_idle() {
    local dir=$1 state="" i
    for i in $(seq 1 $(( IDLE_TIMEOUT_S * 4 ))); do
        state=$(timeout 5 sinfo -h -o %t 2>/dev/null | head -n 1)
        case "${state}" in idle|mix|alloc) return 0 ;; esac
        sleep 0.25
    done
    fail "node idle" "node state '${state:-unknown}' after ${IDLE_TIMEOUT_S} s; see ${dir}/slurmctld.log and ${dir}/slurmd.log"
}

cmd_start() {
    local dir=$1 missing
    require_root start
    missing=$(missing_binaries)
    [ -z "${missing}" ] || fail start "missing ${missing}; run: bash $0 install"
    mkdir -p "${dir}" || fail start "cannot create ${dir}"
    cmd_stop "${dir}" 2>/dev/null  # a previous run of ours, if any: start clean
    rm -rf "${dir}/state" "${dir}/spool" "${dir}"/*.log
    local port
    for port in "${CTLD_PORT}" "${SLURMD_PORT}"; do
        port_in_use "${port}" && fail ports "port ${port} is in use (another Slurm running?)"
    done
    start_munge "${dir}"
    write_conf "${dir}"
    export SLURM_CONF="${dir}/slurm.conf"
    timeout 20 slurmctld -c >"${dir}/slurmctld.out" 2>&1 && wait_pid "${dir}/slurmctld.pid" \
        || fail slurmctld "did not start: $(tail -n 3 "${dir}/slurmctld.out" "${dir}/slurmctld.log" 2>/dev/null | tr '\n' ' ')"
    timeout 20 slurmd -N "$(hostname -s)" >"${dir}/slurmd.out" 2>&1 && wait_pid "${dir}/slurmd.pid" \
        || fail slurmd "did not start: $(tail -n 3 "${dir}/slurmd.out" "${dir}/slurmd.log" 2>/dev/null | tr '\n' ' ')"
    wait_idle "${dir}"
    say "cluster up: $(sinfo -h -o '%N %c CPUs %m MiB %t' | head -n 1); export SLURM_CONF=${dir}/slurm.conf"
}

stop_pid() {
    # TERM, then KILL after a grace period; the daemon is ours because its pid file is in DIR.
    local pidfile=$1 pid i
    pid_alive "${pidfile}" || { rm -f "${pidfile}"; return 0; }
    pid=$(cat "${pidfile}")
    kill -TERM "${pid}" 2>/dev/null
    for i in $(seq 1 40); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.25; done
    kill -0 "${pid}" 2>/dev/null && kill -KILL "${pid}" 2>/dev/null
    rm -f "${pidfile}"
}

cmd_stop() {
    local dir=$1
    if [ -f "${dir}/slurm.conf" ] && pid_alive "${dir}/slurmctld.pid"; then
        SLURM_CONF="${dir}/slurm.conf" timeout 10 scontrol shutdown >/dev/null 2>&1
    fi
    stop_pid "${dir}/slurmd.pid"
    stop_pid "${dir}/slurmctld.pid"
    if [ -f "${dir}/munged.started-here" ]; then
        stop_pid "${MUNGE_SOCKET_DIR}/munged.pid"
        rm -f "${dir}/munged.started-here"
    fi
    say "stopped (${dir})"
}

cmd_status() {
    local dir=$1
    pid_alive "${dir}/slurmctld.pid" || { say "not running (${dir})"; return 1; }
    SLURM_CONF="${dir}/slurm.conf" sinfo
}

main() {
    local action=${1:-} dir=${2:-${LAMER_SLURM_DIR:-/tmp/lamer-slurm}}
    case "${action}" in
        install) cmd_install ;;
        start) cmd_start "${dir}" ;;
        stop) cmd_stop "${dir}" ;;
        status) cmd_status "${dir}" ;;
        *) echo "usage: $0 install|start|stop|status [DIR]" >&2; exit 2 ;;
    esac
}

main "$@"
