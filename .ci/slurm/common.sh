# Paths and helpers of the one-node test cluster, sourced by start, stop, exec and
# check. The cluster writes its configuration to /etc/slurm/slurm.conf and everything
# else under SLURM_DIR.

SLURM_DIR="${AECORE_SLURM_DIR:-/tmp/aecore-slurm}"
SLURM_TEMPLATE="$(dirname "${BASH_SOURCE[0]}")/slurm.conf.in"
NETNS_FILE="$SLURM_DIR/netns"
MUNGE_DIR="$SLURM_DIR/munge"
MUNGE_SOCKET="$MUNGE_DIR/munge.socket"
MUNGE_KEY="$MUNGE_DIR/munge.key"
MUNGE_PID="$MUNGE_DIR/munged.pid"
SLURMCTLD_PID="$SLURM_DIR/run/slurmctld.pid"
SLURMD_PID="$SLURM_DIR/run/slurmd.pid"
# Debian's default path. The Slurm executor's job-step plugin
# (snakemake-executor-plugin-slurm-jobstep 0.6.1) removes SLURM_CONF from the
# environment of the srun it starts inside each job, so srun finds the
# configuration only at the default path.
export SLURM_CONF=/etc/slurm/slurm.conf
# First line of the configuration that start writes. stop removes the file only when
# it begins with this line.
CONF_MARKER="# Written by aecore's .ci/slurm/start; .ci/slurm/stop removes it."

conf_is_ours() {
    [[ -f $SLURM_CONF ]] && [[ "$(head -n 1 "$SLURM_CONF")" == "$CONF_MARKER" ]]
}

fail() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Succeed when the PID file names a live process whose command is $2, so that a
# stale file whose PID now belongs to another program does not count.
daemon_alive() {
    local pid_file=$1 name=$2 pid
    [[ -s $pid_file ]] || return 1
    pid="$(<"$pid_file")"
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$name" ]]
}

netns_mounted() {
    findmnt --noheadings "$NETNS_FILE" >/dev/null 2>&1
}

# Run a command inside the cluster's network namespace.
in_netns() {
    nsenter --net="$NETNS_FILE" "$@"
}

cluster_running() {
    netns_mounted && daemon_alive "$MUNGE_PID" munged &&
        daemon_alive "$SLURMCTLD_PID" slurmctld && daemon_alive "$SLURMD_PID" slurmd
}

# Print the last lines of each daemon log, for error messages.
show_logs() {
    local log
    for log in "$MUNGE_DIR/munged.log" "$SLURM_DIR/log/slurmctld.log" \
        "$SLURM_DIR/log/slurmd.log"; do
        if [[ -s $log ]]; then
            printf -- '--- last lines of %s ---\n' "$log" >&2
            tail -n 15 "$log" >&2
        fi
    done
}
