#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Gateway overhead benchmark. In one run, against the same zero-delay fake upstream on loopback,
# it measures the fake directly, nginx as a plain keep-alive reverse proxy, and hiwayd: latency
# p50/p99 at concurrency 1, 64 and 256 and the best throughput; then hiwayd's RSS idle and over a
# constant-load soak. It prints what each proxy adds over direct and the hiwayd/nginx ratios,
# then the same results as markdown tables for BENCHMARKS.md. Progress goes to stderr.
#
# usage: bench/overhead/run.sh        (after `make`; run from anywhere)
# env:   BENCH_DURATION_S=10   seconds per measured wrk run
#        BENCH_WARMUP_S=2      warm-up per target before its runs (fills connection pools)
#        BENCH_SOAK_S=300      hiwayd constant-load soak for the RSS drift; 0 skips it
#        BENCH_SOAK_CONNECTIONS=64  concurrency of the soak
#        BENCH_FAKE_THREADS=2  fake-upstream MHD threads
#        BENCH_NGINX_WORKERS   nginx worker_processes (default: number of CPUs)
#        BENCH_SKIP_HIWAYD=1   measure direct and nginx only
#        BENCH_KEEP_LOGS=1     keep the work directory (configs, logs, raw wrk output)
#        FAKE_UPSTREAM, HIWAYD binaries (default build/fake-upstream, build/hiwayd)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
HERE=$ROOT/bench/overhead
DURATION=${BENCH_DURATION_S:-10}
WARMUP=${BENCH_WARMUP_S:-2}
SOAK=${BENCH_SOAK_S:-300}
SOAK_CONNS=${BENCH_SOAK_CONNECTIONS:-64}
FAKE_THREADS=${BENCH_FAKE_THREADS:-2}
NGINX_WORKERS=${BENCH_NGINX_WORKERS:-$(nproc)}
SKIP_HIWAYD=${BENCH_SKIP_HIWAYD:-0}
FAKE_BIN=${FAKE_UPSTREAM:-$ROOT/build/fake-upstream}
HIWAYD_BIN=${HIWAYD:-$ROOT/build/hiwayd}
CONCURRENCIES=(1 64 256)
BODY='{"model":"fake/bench","messages":[{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":32}'

die() {
	echo "bench/overhead: error: $*" >&2
	exit 1
}
say() { echo "bench/overhead: $*" >&2; }

# count NAME VALUE MIN: VALUE must be an integer >= MIN.
count() {
	if ! [[ $2 =~ ^[0-9]+$ ]] || (($2 < $3)); then
		die "$1 must be an integer >= $3, got '$2'"
	fi
}
count BENCH_DURATION_S "$DURATION" 1
count BENCH_WARMUP_S "$WARMUP" 0
count BENCH_SOAK_S "$SOAK" 0
count BENCH_SOAK_CONNECTIONS "$SOAK_CONNS" 1
count BENCH_FAKE_THREADS "$FAKE_THREADS" 1
count BENCH_NGINX_WORKERS "$NGINX_WORKERS" 1

# ---- tools ----

NGINX=$(command -v nginx || true)
[[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
missing=()
[[ -n $NGINX ]] || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
command -v ss >/dev/null || missing+=(iproute2)
if ((${#missing[@]})); then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		say "installing ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >&2 ||
			die "apt-get install ${missing[*]} failed"
		NGINX=$(command -v nginx || echo /usr/sbin/nginx)
	else
		die "missing tools: ${missing[*]} (apt-get install ${missing[*]})"
	fi
fi
[[ -x $FAKE_BIN ]] || die "$FAKE_BIN not found: run make"
if [[ $SKIP_HIWAYD != 1 ]]; then
	[[ -x $HIWAYD_BIN ]] || die "$HIWAYD_BIN not found: run make (or BENCH_SKIP_HIWAYD=1)"
	HIWAYD_BIN=$(realpath "$HIWAYD_BIN")
fi

# ---- processes: every child is tracked by PID and stopped by PID ----

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hiway-bench.XXXXXX")
# nginx workers drop root privileges and still need to reach their temp directories.
chmod 755 "$WORK"
FAKE_PID='' NGINX_PID='' HIWAYD_PID='' WRK_PID=''

cleanup() {
	local rc=$?
	stop "$WRK_PID" 2
	stop "$HIWAYD_PID" 40
	stop "$NGINX_PID" 10
	stop "$FAKE_PID" 5
	if ((rc == 0)) && [[ ${BENCH_KEEP_LOGS:-0} != 1 ]]; then
		rm -rf "$WORK"
	else
		say "logs kept in $WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# check_chat NAME URL: one request by hand, so a misconfigured target fails with its answer shown.
check_chat() {
	local name=$1 url=$2 code auth=()
	[[ -n ${BENCH_API_KEY:-} ]] && auth=(-H "Authorization: Bearer $BENCH_API_KEY")
	code=$(curl -s -o "$WORK/$name.check" -w '%{http_code}' --max-time 10 \
		-H 'Content-Type: application/json' "${auth[@]}" -d "$BODY" "$url") || true
	if [[ $code != 200 ]] || ! grep -q '"chat.completion"' "$WORK/$name.check"; then
		die "$name: POST $url answered $code: $(head -c 500 "$WORK/$name.check")"
	fi
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# ---- measurement ----

declare -A URL P50 P99 RPS MAXRPS
ERRORS=()

# wrk_run CONNECTIONS DURATION_S URL LOG: prints wrk's BENCH line (see chat.lua); LOG keeps
# wrk's full output.
wrk_run() {
	local conns=$1 secs=$2 url=$3 log=$4 threads=2
	((conns < 2)) && threads=1
	timeout $((secs + 60)) wrk -t"$threads" -c"$conns" -d"${secs}s" --timeout 5s --latency \
		-s "$HERE/chat.lua" "$url" >"$log" 2>&1 || die "wrk failed on $url: $(cat "$log")"
	grep '^BENCH ' "$log" || die "no BENCH line from wrk: $(cat "$log")"
}

field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2"; }

# measure NAME C: one run of target NAME at concurrency C.
measure() {
	local name=$1 c=$2 line req dur non2xx sockerr
	say "$name: c=$c for ${DURATION}s"
	line=$(wrk_run "$c" "$DURATION" "${URL[$name]}" "$WORK/wrk-$name-c$c.txt")
	req=$(field requests "$line")
	dur=$(field duration_us "$line")
	non2xx=$(field non2xx "$line")
	sockerr=$(field sockerr "$line")
	P50[$name,$c]=$(field p50_us "$line")
	P99[$name,$c]=$(field p99_us "$line")
	RPS[$name,$c]=$(awk -v r="$req" -v d="$dur" 'BEGIN { printf "%.0f", r * 1e6 / d }')
	((RPS[$name,$c] > ${MAXRPS[$name]:-0})) && MAXRPS[$name]=${RPS[$name,$c]}
	if ((non2xx + sockerr > 0)); then
		ERRORS+=("$name c=$c: $non2xx non-2xx responses, $sockerr socket errors")
	fi
}

# ---- fake upstream ----

start_fake "$FAKE_THREADS"
URL[direct]=http://127.0.0.1:$FAKE_PORT/v1/chat/completions
check_chat direct "${URL[direct]}"
TARGETS=(direct)

# ---- nginx ----

start_nginx "$HERE/nginx.conf.in" "$NGINX_WORKERS"
URL[nginx]=http://127.0.0.1:$NGINX_PORT/v1/chat/completions
check_chat nginx "${URL[nginx]}"
TARGETS+=(nginx)

# ---- hiwayd ----

if [[ $SKIP_HIWAYD != 1 ]]; then
	start_hiwayd "$HERE/hiway.yaml.in"
	sleep 1
	IDLE_RSS=$(rss_kb "$HIWAYD_PID")
	URL[hiwayd]=http://127.0.0.1:$HIWAYD_PORT/v1/chat/completions
	check_chat hiwayd "${URL[hiwayd]}"
	TARGETS+=(hiwayd)
fi

# ---- latency and throughput: targets interleaved, so background noise hits them alike ----

if ((WARMUP > 0)); then
	for t in "${TARGETS[@]}"; do
		say "$t: warm-up ${WARMUP}s"
		wrk_run 64 "$WARMUP" "${URL[$t]}" "$WORK/wrk-$t-warmup.txt" >/dev/null
	done
fi
for c in "${CONCURRENCIES[@]}"; do
	for t in "${TARGETS[@]}"; do
		measure "$t" "$c"
	done
done
stop "$NGINX_PID" 10
NGINX_PID=

# ---- hiwayd memory under a constant load ----

if [[ -n $HIWAYD_PID ]]; then
	if ((SOAK > 0)); then
		# The start sample waits out pool and cache growth, so drift measures a steady state.
		warm=$((SOAK / 10 > 5 ? SOAK / 10 : 5))
		((warm >= SOAK)) && warm=$((SOAK / 2))
		say "hiwayd: soak c=$SOAK_CONNS for ${SOAK}s (RSS sampled after ${warm}s and at the end)"
		timeout $((SOAK + 60)) wrk -t2 -c"$SOAK_CONNS" -d"${SOAK}s" --timeout 5s --latency \
			-s "$HERE/chat.lua" "${URL[hiwayd]}" >"$WORK/soak.out" 2>&1 &
		WRK_PID=$!
		start=$SECONDS
		sleep "$warm"
		SOAK_RSS_START=$(rss_kb "$HIWAYD_PID")
		SOAK_RSS_PEAK=$SOAK_RSS_START
		SOAK_RSS_END=$SOAK_RSS_START
		while ((SECONDS - start < SOAK - 1)) && alive "$WRK_PID"; do
			alive "$HIWAYD_PID" || die "hiwayd died during the soak"
			SOAK_RSS_END=$(rss_kb "$HIWAYD_PID")
			((SOAK_RSS_END > SOAK_RSS_PEAK)) && SOAK_RSS_PEAK=$SOAK_RSS_END
			sleep 1
		done
		wait "$WRK_PID" || die "soak wrk failed: $(cat "$WORK/soak.out")"
		WRK_PID=
		line=$(grep '^BENCH ' "$WORK/soak.out") || die "no BENCH line from the soak"
		SOAK_RPS=$(awk -v r="$(field requests "$line")" -v d="$(field duration_us "$line")" \
			'BEGIN { printf "%.0f", r * 1e6 / d }')
		if (($(field non2xx "$line") + $(field sockerr "$line") > 0)); then
			ERRORS+=("hiwayd soak: $(field non2xx "$line") non-2xx, $(field sockerr "$line") socket errors")
		fi
	fi
	stop "$HIWAYD_PID" 40
	HIWAYD_PID=
fi

# ---- report ----

ms() { awk -v us="$1" 'BEGIN { printf "%.3f", us / 1000 }'; }
added50_ms() { awk -v a="${P50[$1,$2]}" -v b="${P50[direct,$2]}" 'BEGIN { printf "%+.3f", (a - b) / 1000 }'; }
added99_ms() { awk -v a="${P99[$1,$2]}" -v b="${P99[direct,$2]}" 'BEGIN { printf "%+.3f", (a - b) / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
mib() { awk -v kb="$1" 'BEGIN { printf "%.1f MiB", kb / 1024 }'; }

declare -A ADDED99_RATIO
if [[ -n ${URL[hiwayd]:-} ]]; then
	for c in "${CONCURRENCIES[@]}"; do
		ADDED99_RATIO[$c]=$(ratio "$((P99[hiwayd,$c] - P99[direct,$c]))" \
			"$((P99[nginx,$c] - P99[direct,$c]))")
	done
	RPS_RATIO=$(ratio "${MAXRPS[hiwayd]}" "${MAXRPS[nginx]}")
	P99_SCALING=$(ratio "${P99[hiwayd,256]}" "${P99[hiwayd,1]}")
	if ((SOAK > 0)); then
		DRIFT=$(awk -v a="$SOAK_RSS_END" -v b="$SOAK_RSS_START" \
			'BEGIN { printf "%+.1f%%", (a - b) * 100 / b }')
	fi
fi

echo "hiway overhead benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "host: $(nproc) CPUs, Linux $(uname -r); $(wrk -v 2>&1 | awk 'NR == 1 { print "wrk", $2 }'), $("$NGINX" -v 2>&1 | sed 's/.*version: //')"
echo "setup: zero-delay fake-upstream ($FAKE_THREADS threads), nginx $NGINX_WORKERS workers, all on 127.0.0.1; ${DURATION}s per run after ${WARMUP}s warm-up, targets interleaved"
echo
for t in "${TARGETS[@]:1}"; do
	for c in "${CONCURRENCIES[@]}"; do
		echo "$t adds, c=$c: p50 $(added50_ms "$t" "$c") ms, p99 $(added99_ms "$t" "$c") ms"
	done
done
for t in "${TARGETS[@]}"; do
	echo "$t max RPS: ${MAXRPS[$t]}"
done
if [[ -n ${URL[hiwayd]:-} ]]; then
	for c in "${CONCURRENCIES[@]}"; do
		echo "added p99 hiwayd/nginx, c=$c: ${ADDED99_RATIO[$c]}"
	done
	echo "max RPS hiwayd/nginx: $RPS_RATIO"
	echo "hiwayd p99 c=256 / c=1: $P99_SCALING"
	echo "hiwayd RSS idle: $(mib "$IDLE_RSS")"
	if ((SOAK > 0)); then
		echo "hiwayd soak ${SOAK}s at c=$SOAK_CONNS ($SOAK_RPS RPS): RSS $(mib "$SOAK_RSS_START") -> $(mib "$SOAK_RSS_END"), drift $DRIFT, peak $(mib "$SOAK_RSS_PEAK")"
	fi
fi

echo
echo "| target | c | p50 ms | p99 ms | added p50 ms | added p99 ms | RPS |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for t in "${TARGETS[@]}"; do
	for c in "${CONCURRENCIES[@]}"; do
		added50=— added99=—
		if [[ $t != direct ]]; then
			added50=$(added50_ms "$t" "$c")
			added99=$(added99_ms "$t" "$c")
		fi
		echo "| $t | $c | $(ms "${P50[$t,$c]}") | $(ms "${P99[$t,$c]}") | $added50 | $added99 | ${RPS[$t,$c]} |"
	done
done
echo
echo "| metric | value |"
echo "|---|---|"
for t in "${TARGETS[@]}"; do
	echo "| max RPS, $t | ${MAXRPS[$t]} |"
done
if [[ -n ${URL[hiwayd]:-} ]]; then
	for c in "${CONCURRENCIES[@]}"; do
		echo "| added p99 hiwayd / nginx, c=$c | ${ADDED99_RATIO[$c]} |"
	done
	echo "| max RPS hiwayd / nginx | $RPS_RATIO |"
	echo "| hiwayd p99 c=256 / c=1 | $P99_SCALING |"
	echo "| hiwayd RSS idle | $(mib "$IDLE_RSS") |"
	if ((SOAK > 0)); then
		echo "| hiwayd RSS soak start / end (${SOAK}s at c=$SOAK_CONNS) | $(mib "$SOAK_RSS_START") / $(mib "$SOAK_RSS_END") |"
		echo "| hiwayd RSS drift | $DRIFT |"
	fi
fi

if ((${#ERRORS[@]})); then
	echo
	printf 'errors: %s\n' "${ERRORS[@]}"
	die "some runs had errors (see above); their figures are not valid"
fi
