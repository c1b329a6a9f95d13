# SPDX-License-Identifier: Apache-2.0
# Process and port helpers shared by the benchmark scripts (sourced, not run). Every process a
# benchmark starts is tracked by PID and stopped by PID; ports are picked on loopback below the
# ephemeral range. The sourcing script defines die().

alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# stop PID GRACE_S: SIGTERM, then SIGKILL when it outlives the grace period.
stop() {
	local pid=$1 grace=$2 i
	[[ -n $pid ]] || return 0
	if alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < grace * 10; i++)); do
			alive "$pid" || break
			sleep 0.1
		done
		alive "$pid" && kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null || true
}

# A port below the ephemeral range, so no outgoing connection of this run can hold it.
free_port() {
	local p lo=10000 hi
	hi=$(awk '{ print $1 - 1 }' /proc/sys/net/ipv4/ip_local_port_range)
	((hi > lo)) || hi=32767
	for _ in $(seq 200); do
		p=$((lo + RANDOM % (hi - lo)))
		if [[ -z $(ss -Htan "sport = :$p") ]]; then
			echo "$p"
			return
		fi
	done
	die "no free loopback port found"
}

# wait_http URL PID NAME [TIMEOUT_S]: until URL answers 200, or die when PID exits first.
wait_http() {
	local url=$1 pid=$2 name=$3 timeout=${4:-30} i
	for ((i = 0; i < timeout * 10; i++)); do
		alive "$pid" || die "$name exited during startup"
		[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url") == 200 ]] && return
		sleep 0.1
	done
	die "$name not ready at $url after ${timeout}s"
}
