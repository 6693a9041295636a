#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for testing the workflow's SLURM profile.
#   sudo scripts/slurm_cluster.sh up  [STATE_DIR]   # starts munged, slurmctld, slurmd; prints SLURM_CONF
#   sudo scripts/slurm_cluster.sh down [STATE_DIR]  # stops them by the PIDs in their pid files
# Needs Debian's slurmctld slurmd slurm-client munge (root, no systemd). Partition: xeon.
# Writes /etc/slurm/slurm.conf (ClusterName=paperlib) unless another cluster's file is there.
set -euo pipefail
action=${1:?up or down}
state=${2:-/tmp/paper_lib_slurm}
# job steps (srun inside sbatch) read the default path, not $SLURM_CONF: the file goes there, and
# only if that path holds no configuration of a real cluster
conf=/etc/slurm/slurm.conf
if [ -s "$conf" ] && ! grep -q "^ClusterName=paperlib$" "$conf"; then
    echo "$conf belongs to another cluster; not touching it" >&2
    exit 1
fi
mkdir -p /etc/slurm
host=$(hostname -s)

stop_pid() {  # stop the daemon whose pid file is $1, if it runs
    [ -f "$1" ] || return 0
    local pid; pid=$(cat "$1")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$1"
}

if [ "$action" = down ]; then
    stop_pid "$state/slurmd.pid"
    stop_pid "$state/slurmctld.pid"
    stop_pid /run/munge/munged.pid
    exit 0
fi

getent hosts "$host" >/dev/null || echo "127.0.0.1 $host" >> /etc/hosts
mkdir -p "$state"/{ctld,d,log} /run/munge /var/log/munge /var/lib/munge /etc/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
[ -s /etc/munge/munge.key ] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none; }
chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
# munged runs as user munge and keeps its pid file in its own /run/munge
if ! [ -f /run/munge/munged.pid ] || ! kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null; then
    runuser -u munge -- /usr/sbin/munged --force
    for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
fi
memory=$(( $(free -m | awk '/^Mem:/ {print $2}') - 1024 ))
cat > "$conf" <<CONF
ClusterName=paperlib
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=300
DefMemPerCPU=1000
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$state/log/jobcomp.txt
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
NodeName=$host CPUs=$(nproc) RealMemory=$memory State=UNKNOWN
PartitionName=xeon Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$conf
/usr/sbin/slurmctld -f "$conf"
for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
/usr/sbin/slurmd -f "$conf"
for _ in $(seq 150); do [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && break; sleep 0.2; done
[ "$(sinfo -h -o %t)" = idle ] || { echo "slurmd did not come up: $(sinfo -h -o %t)" >&2; exit 1; }
echo "SLURM_CONF=$conf"
