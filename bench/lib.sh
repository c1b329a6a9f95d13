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

# start_fake THREADS: the fake upstream on a free port; sets FAKE_PID and FAKE_PORT.
start_fake() {
	local i
	"$FAKE_BIN" --listen 127.0.0.1:0 --threads "$1" >"$WORK/fake.out" 2>"$WORK/fake.err" &
	FAKE_PID=$!
	for ((i = 0; i < 100; i++)); do
		grep -q '^listening on ' "$WORK/fake.out" && break
		alive "$FAKE_PID" || die "fake-upstream exited: $(cat "$WORK/fake.err")"
		sleep 0.1
	done
	FAKE_PORT=$(awk '/^listening on / { print $3 }' "$WORK/fake.out")
	[[ -n $FAKE_PORT ]] || die "fake-upstream did not report its port"
}

# start_nginx CONF_IN WORKERS: nginx as a reverse proxy to the fake; sets NGINX_PID and
# NGINX_PORT.
start_nginx() {
	local ng=$WORK/nginx
	mkdir -p "$ng/tmp"
	NGINX_PORT=$(free_port)
	sed -e "s|@DIR@|$ng|g" -e "s|@PORT@|$NGINX_PORT|g" -e "s|@UPSTREAM_PORT@|$FAKE_PORT|g" \
		-e "s|@WORKERS@|$2|g" "$1" >"$ng/nginx.conf"
	"$NGINX" -p "$ng" -c "$ng/nginx.conf" -e "$ng/error.log" >"$ng/stdout" 2>&1 &
	NGINX_PID=$!
	wait_http "http://127.0.0.1:$NGINX_PORT/v1/models" "$NGINX_PID" nginx
}

# start_hiwayd CONF_IN: hiwayd with the fake as its provider; sets HW (its directory),
# HIWAYD_PID, HIWAYD_PORT and exports BENCH_API_KEY (the key it prints once).
start_hiwayd() {
	HW=$WORK/hiwayd
	mkdir -p "$HW"
	HIWAYD_PORT=$(free_port)
	sed -e "s|@DIR@|$HW|g" -e "s|@PORT@|$HIWAYD_PORT|g" -e "s|@UPSTREAM_PORT@|$FAKE_PORT|g" \
		"$1" >"$HW/hiway.yaml"
	(cd "$HW" && exec "$HIWAYD_BIN" --config "$HW/hiway.yaml") >"$HW/stdout" 2>"$HW/stderr" &
	HIWAYD_PID=$!
	wait_http "http://127.0.0.1:$HIWAYD_PORT/health" "$HIWAYD_PID" hiwayd
	BENCH_API_KEY=$(sed -n 's/.*hiway: API key: \(hw_live_[0-9a-f]\{32\}\) (shown once).*/\1/p' \
		"$HW/stderr" | head -n 1)
	[[ -n $BENCH_API_KEY ]] || die "no 'hiway: API key: …' line on hiwayd's stderr"
	export BENCH_API_KEY
}
