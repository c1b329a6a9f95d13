#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Streaming benchmark (issue 3). In one run, against one paced SSE fake upstream on loopback, it
# measures the fake directly, nginx as a plain keep-alive reverse proxy with proxy_buffering
# off, and hiwayd: time-to-first-token (TTFT) and per-chunk timing of a streamed chat answer at
# concurrency 1 and 32, and prints what each proxy adds over direct, the hiwayd/nginx ratio
# and the same figures as markdown for BENCHMARKS.md. Progress goes to stderr.
#
# The load comes from bench/streaming/sse_client.c (built here with cc -O2), whose top comment
# defines the measures: TTFT from the request's last write to the first `data:` event; per
# chunk, |gap - pacing| between consecutive events ("jitter") and the first-to-last event time
# ("duration"). The fake sends the first event at once (first_byte_delay_ms 0), because its
# timer has millisecond resolution and a delay would add up to 1 ms of noise to every TTFT;
# the later events are paced by chunk_delay_ms.
#
# The machine this runs on may be shared, so: targets are interleaved within each round and
# their order rotates between rounds, every (target, concurrency) pair is repeated
# BENCH_ROUNDS times, and the report gives the median of the rounds' percentiles next to the
# percentiles of all rounds' samples pooled (at c=1 one run holds only ~100 requests).
#
# usage: bench/streaming/run.sh        (after `make`; run from anywhere)
# env:   BENCH_ROUNDS=3             rounds; each measures every target at every concurrency
#        BENCH_C1_DURATION_S=15     seconds per c=1 run
#        BENCH_CN_DURATION_S=6      seconds per run at the higher concurrencies
#        BENCH_CONCURRENCIES="1 32"
#        BENCH_MAX_REQUESTS=100000  cap on requests per run (each run ends at time or count)
#        BENCH_CHUNKS=20            paced events per answer (gaps measured per request)
#        BENCH_CHUNK_DELAY_MS=5     the fake's pacing between events
#        BENCH_FIRST_BYTE_DELAY_MS=0  the fake's delay before the first event
#        BENCH_WARMUP_S=2           per target before the first round, at the top concurrency
#        BENCH_FAKE_THREADS=2       fake-upstream MHD threads
#        BENCH_NGINX_WORKERS        nginx worker_processes (default: number of CPUs)
#        BENCH_SKIP_HIWAYD=1        measure direct and nginx only
#        BENCH_KEEP_LOGS=1          keep the work directory (configs, logs, raw samples)
#        FAKE_UPSTREAM, HIWAYD binaries (default build/fake-upstream, build/hiwayd); CC
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
HERE=$ROOT/bench/streaming
ROUNDS=${BENCH_ROUNDS:-3}
C1_DURATION=${BENCH_C1_DURATION_S:-15}
CN_DURATION=${BENCH_CN_DURATION_S:-6}
read -r -a CONCURRENCIES <<<"${BENCH_CONCURRENCIES:-1 32}"
MAX_REQUESTS=${BENCH_MAX_REQUESTS:-100000}
CHUNKS=${BENCH_CHUNKS:-20}
CHUNK_DELAY=${BENCH_CHUNK_DELAY_MS:-5}
FIRST_DELAY=${BENCH_FIRST_BYTE_DELAY_MS:-0}
WARMUP=${BENCH_WARMUP_S:-2}
FAKE_THREADS=${BENCH_FAKE_THREADS:-2}
NGINX_WORKERS=${BENCH_NGINX_WORKERS:-$(nproc)}
SKIP_HIWAYD=${BENCH_SKIP_HIWAYD:-0}
FAKE_BIN=${FAKE_UPSTREAM:-$ROOT/build/fake-upstream}
HIWAYD_BIN=${HIWAYD:-$ROOT/build/hiwayd}
CC=${CC:-cc}

die() {
	echo "bench/streaming: error: $*" >&2
	exit 1
}
say() { echo "bench/streaming: $*" >&2; }

# count NAME VALUE MIN [MAX]: VALUE must be an integer in [MIN, MAX].
count() {
	if ! [[ $2 =~ ^[0-9]+$ ]] || (($2 < $3)) || { [[ -n ${4:-} ]] && (($2 > $4)); }; then
		die "$1 must be an integer >= $3${4:+ and <= $4}, got '$2'"
	fi
}
count BENCH_ROUNDS "$ROUNDS" 1
count BENCH_C1_DURATION_S "$C1_DURATION" 1
count BENCH_CN_DURATION_S "$CN_DURATION" 1
count BENCH_MAX_REQUESTS "$MAX_REQUESTS" 1
count BENCH_CHUNKS "$CHUNKS" 1 4000
count BENCH_CHUNK_DELAY_MS "$CHUNK_DELAY" 0
count BENCH_FIRST_BYTE_DELAY_MS "$FIRST_DELAY" 0
count BENCH_WARMUP_S "$WARMUP" 0
count BENCH_FAKE_THREADS "$FAKE_THREADS" 1
count BENCH_NGINX_WORKERS "$NGINX_WORKERS" 1
((${#CONCURRENCIES[@]})) || die "BENCH_CONCURRENCIES is empty"
for c in "${CONCURRENCIES[@]}"; do count "BENCH_CONCURRENCIES entry" "$c" 1 1024; done

# ---- tools ----

NGINX=$(command -v nginx || true)
[[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
missing=()
[[ -n $NGINX ]] || missing+=(nginx)
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
command -v "$CC" >/dev/null || die "no C compiler ($CC) for sse_client"
[[ -x $FAKE_BIN ]] || die "$FAKE_BIN not found: run make"
if [[ $SKIP_HIWAYD != 1 ]]; then
	[[ -x $HIWAYD_BIN ]] || die "$HIWAYD_BIN not found: run make (or BENCH_SKIP_HIWAYD=1)"
	HIWAYD_BIN=$(realpath "$HIWAYD_BIN")
fi

# ---- processes: every child is tracked by PID and stopped by PID ----

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hiway-sbench.XXXXXX")
# nginx workers drop root privileges and still need to reach their temp directories.
chmod 755 "$WORK"
FAKE_PID='' NGINX_PID='' HIWAYD_PID='' CLIENT_PID=''

cleanup() {
	local rc=$?
	stop "$CLIENT_PID" 2
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

# ---- the client and the request ----

CLIENT=$WORK/sse_client
"$CC" -O2 -Wall -Wextra -o "$CLIENT" "$HERE/sse_client.c" 2>"$WORK/cc.err" ||
	die "building sse_client failed: $(cat "$WORK/cc.err")"

# CHUNKS paced gaps need CHUNKS+1 events: the role event, CHUNKS-1 words and the finish event
# (OpenAI-format streams; the usage event and [DONE] that follow differ between a direct
# answer and hiwayd's, so they are not measured).
EVENTS=$((CHUNKS + 1))
words=$(seq -s ' ' 1 $((CHUNKS - 1)) | sed 's/[0-9][0-9]*/w&/g')
BODY=$WORK/body.json
printf '{"model":"fake/bench","stream":true,"max_tokens":256,"messages":[{"role":"user","content":"Count."}],"fake":{"content":"%s","first_byte_delay_ms":%d,"chunk_delay_ms":%d}}\n' \
	"$words" "$FIRST_DELAY" "$CHUNK_DELAY" >"$BODY"
((CHUNKS > 1)) || sed -i 's/"content":""/"content":"w"/' "$BODY"

# check_stream NAME URL: one request by hand, so a misconfigured target fails with its answer
# shown instead of as a run full of errors.
check_stream() {
	local name=$1 url=$2 code auth=()
	[[ -n ${BENCH_API_KEY:-} ]] && auth=(-H "Authorization: Bearer $BENCH_API_KEY")
	code=$(curl -s -N -o "$WORK/$name.check" -w '%{http_code}' --max-time 30 \
		-H 'Content-Type: application/json' "${auth[@]}" --data-binary "@$BODY" "$url") || true
	if [[ $code != 200 ]] || [[ $(grep -c '^data: {' "$WORK/$name.check") -lt $EVENTS ]]; then
		die "$name: POST $url answered $code: $(head -c 800 "$WORK/$name.check")"
	fi
}

# ---- measurement ----

declare -A URL LINES

field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2"; }

# client_run NAME C DURATION_S OUT RAW: one sse_client run; prints its SSE line.
client_run() {
	local name=$1 c=$2 secs=$3 out=$4 raw=$5 key=()
	[[ $name == hiwayd ]] && key=(--key "$BENCH_API_KEY")
	timeout $((secs + 60)) "$CLIENT" --url "${URL[$name]}" --body-file "$BODY" \
		--events "$EVENTS" --pacing-ms "$CHUNK_DELAY" --connections "$c" \
		--requests "$MAX_REQUESTS" --duration "$secs" --raw "$raw" "${key[@]}" \
		--stagger-ms $((CHUNKS * CHUNK_DELAY)) \
		>"$out" 2>&1 &
	CLIENT_PID=$!
	wait "$CLIENT_PID" || die "sse_client failed on ${URL[$name]}: $(cat "$out")"
	CLIENT_PID=
	grep '^SSE ' "$out" || die "no SSE line from sse_client: $(cat "$out")"
}

# ---- fake upstream ----

start_fake "$FAKE_THREADS"
URL[direct]=http://127.0.0.1:$FAKE_PORT/v1/chat/completions
check_stream direct "${URL[direct]}"
TARGETS=(direct)

# ---- nginx ----

start_nginx "$HERE/nginx.conf.in" "$NGINX_WORKERS"
URL[nginx]=http://127.0.0.1:$NGINX_PORT/v1/chat/completions
check_stream nginx "${URL[nginx]}"
TARGETS+=(nginx)

# ---- hiwayd ----

if [[ $SKIP_HIWAYD != 1 ]]; then
	start_hiwayd "$HERE/hiway.yaml.in"
	URL[hiwayd]=http://127.0.0.1:$HIWAYD_PORT/v1/chat/completions
	check_stream hiwayd "${URL[hiwayd]}"
	TARGETS+=(hiwayd)
fi

# ---- rounds: targets interleaved, their order rotated, so background noise hits them alike ----

CMAX=${CONCURRENCIES[-1]}
for c in "${CONCURRENCIES[@]}"; do ((c > CMAX)) && CMAX=$c; done
if ((WARMUP > 0)); then
	for t in "${TARGETS[@]}"; do
		say "$t: warm-up ${WARMUP}s at c=$CMAX"
		client_run "$t" "$CMAX" "$WARMUP" "$WORK/warmup-$t.out" "$WORK/warmup-$t.raw" >/dev/null
	done
fi
ERRORS=()
NT=${#TARGETS[@]}
for ((r = 1; r <= ROUNDS; r++)); do
	for c in "${CONCURRENCIES[@]}"; do
		secs=$CN_DURATION
		((c == 1)) && secs=$C1_DURATION
		for ((k = 0; k < NT; k++)); do
			t=${TARGETS[$(((k + r - 1) % NT))]}
			say "round $r/$ROUNDS: $t c=$c for ${secs}s"
			line=$(client_run "$t" "$c" "$secs" "$WORK/run-$t-c$c-r$r.out" "$WORK/raw-$t-c$c-r$r.txt")
			say "  $line"
			LINES[$t,$c,$r]=$line
			e=$(field errors "$line")
			((e == 0)) || ERRORS+=("$t c=$c round $r: $e errors of $(field requests "$line") requests")
		done
	done
done
stop "$HIWAYD_PID" 40
HIWAYD_PID=
stop "$NGINX_PID" 10
NGINX_PID=
stop "$FAKE_PID" 5
FAKE_PID=

# ---- report ----

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# Per (target, c): MED[t,c,metric] = median over rounds; POOL[t,c,metric] = all rounds pooled.
declare -A MED POOL REQS
METRICS=(ttft_p50_us ttft_p99_us ttft_max_us jitter_p50_us jitter_p99_us dur_p50_us dur_p99_us
	first_n first_ttft_p50_us warm_ttft_p50_us warm_ttft_p99_us)
for t in "${TARGETS[@]}"; do
	for c in "${CONCURRENCIES[@]}"; do
		pooled=$("$CLIENT" --summarize "$WORK"/raw-"$t"-c"$c"-r*.txt)
		REQS[$t,$c]=$(field requests "$pooled")
		for m in "${METRICS[@]}"; do
			vals=()
			for ((r = 1; r <= ROUNDS; r++)); do vals+=("$(field "$m" "${LINES[$t,$c,$r]}")"); done
			MED[$t,$c,$m]=$(median "${vals[@]}")
			POOL[$t,$c,$m]=$(field "$m" "$pooled")
		done
	done
done

added() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.0f", a - b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo "hiway streaming benchmark, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "host: $(nproc) CPUs, Linux $(uname -r); $("$NGINX" -v 2>&1 | sed 's/.*version: //')"
echo "setup: fake-upstream ($FAKE_THREADS threads) streaming $EVENTS events, the first at once, then one every ${CHUNK_DELAY} ms; nginx $NGINX_WORKERS workers (proxy_buffering off); all on 127.0.0.1"
echo "runs: $ROUNDS rounds, targets interleaved and rotated; c=1 ${C1_DURATION}s, other c ${CN_DURATION}s per run; figures in µs"
echo
for t in "${TARGETS[@]:1}"; do
	for c in "${CONCURRENCIES[@]}"; do
		echo "$t adds to TTFT, c=$c: p50 $(added "${POOL[$t,$c,ttft_p50_us]}" "${POOL[direct,$c,ttft_p50_us]}") µs, p99 $(added "${POOL[$t,$c,ttft_p99_us]}" "${POOL[direct,$c,ttft_p99_us]}") µs (pooled); median of rounds: p50 $(added "${MED[$t,$c,ttft_p50_us]}" "${MED[direct,$c,ttft_p50_us]}"), p99 $(added "${MED[$t,$c,ttft_p99_us]}" "${MED[direct,$c,ttft_p99_us]}")"
		echo "$t adds per chunk, c=$c: jitter p50 $(added "${POOL[$t,$c,jitter_p50_us]}" "${POOL[direct,$c,jitter_p50_us]}") µs, p99 $(added "${POOL[$t,$c,jitter_p99_us]}" "${POOL[direct,$c,jitter_p99_us]}") µs; stream duration p50 $(added "${POOL[$t,$c,dur_p50_us]}" "${POOL[direct,$c,dur_p50_us]}") µs (pooled)"
	done
done
if [[ -n ${URL[hiwayd]:-} ]]; then
	for c in "${CONCURRENCIES[@]}"; do
		for p in p50 p99; do
			m=ttft_${p}_us
			h=$((POOL[hiwayd,$c,$m] - POOL[direct,$c,$m]))
			n=$((POOL[nginx,$c,$m] - POOL[direct,$c,$m]))
			echo "added TTFT $p hiwayd/nginx, c=$c: $(ratio "$h" "$n") ($h vs $n µs)"
		done
	done
	# A p99 difference between two separate runs is only as good as the runs' own p99s: the
	# verdict is given only when the pooled and the median-of-rounds figures agree.
	for c in "${CONCURRENCIES[@]}"; do
		hp=$((POOL[hiwayd,$c,ttft_p99_us] - POOL[direct,$c,ttft_p99_us]))
		hm=$(awk -v a="${MED[hiwayd,$c,ttft_p99_us]}" -v b="${MED[direct,$c,ttft_p99_us]}" 'BEGIN { printf "%.0f", a - b }')
		if ((hp <= 200 && hm <= 200)); then
			v=met
		elif ((hp > 200 && hm > 200)); then
			v="not met"
		else
			v="not resolved (the two estimates disagree)"
		fi
		echo "target added TTFT p99 <= 200 µs, c=$c: pooled $hp µs, median of rounds $hm µs -> $v"
		hw=$((POOL[hiwayd,$c,warm_ttft_p99_us] - POOL[direct,$c,warm_ttft_p99_us]))
		echo "  the same without each connection's first request (warm), pooled: $hw µs -> $( ((hw <= 200)) && echo met || echo not met)"
	done
fi
# How much the baseline itself moves: direct's TTFT p99 in each round.
for c in "${CONCURRENCIES[@]}"; do
	vals=()
	for ((r = 1; r <= ROUNDS; r++)); do vals+=("$(field ttft_p99_us "${LINES[direct,$c,$r]}")"); done
	echo "noise: direct TTFT p99 by round, c=$c: ${vals[*]} µs"
done

echo
echo "TTFT (µs; pooled over $ROUNDS rounds, median of the rounds' values in brackets):"
echo
echo "| target | c | requests | TTFT p50 | TTFT p99 | TTFT max | added p50 | added p99 |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for t in "${TARGETS[@]}"; do
	for c in "${CONCURRENCIES[@]}"; do
		a50=— a99=—
		if [[ $t != direct ]]; then
			a50="$(added "${POOL[$t,$c,ttft_p50_us]}" "${POOL[direct,$c,ttft_p50_us]}") [$(added "${MED[$t,$c,ttft_p50_us]}" "${MED[direct,$c,ttft_p50_us]}")]"
			a99="$(added "${POOL[$t,$c,ttft_p99_us]}" "${POOL[direct,$c,ttft_p99_us]}") [$(added "${MED[$t,$c,ttft_p99_us]}" "${MED[direct,$c,ttft_p99_us]}")]"
		fi
		echo "| $t | $c | ${REQS[$t,$c]} | ${POOL[$t,$c,ttft_p50_us]} [${MED[$t,$c,ttft_p50_us]}] | ${POOL[$t,$c,ttft_p99_us]} [${MED[$t,$c,ttft_p99_us]}] | ${POOL[$t,$c,ttft_max_us]} | $a50 | $a99 |"
	done
done
echo
echo "A connection's first request vs the rest (µs; pooled): first = the first request on each new client connection (C per run), warm = all later ones"
echo
echo "| target | c | first requests | first TTFT p50 | warm TTFT p50 | warm TTFT p99 | added warm p50 | added warm p99 |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for t in "${TARGETS[@]}"; do
	for c in "${CONCURRENCIES[@]}"; do
		a50=— a99=—
		if [[ $t != direct ]]; then
			a50=$(added "${POOL[$t,$c,warm_ttft_p50_us]}" "${POOL[direct,$c,warm_ttft_p50_us]}")
			a99=$(added "${POOL[$t,$c,warm_ttft_p99_us]}" "${POOL[direct,$c,warm_ttft_p99_us]}")
		fi
		echo "| $t | $c | ${POOL[$t,$c,first_n]} | ${POOL[$t,$c,first_ttft_p50_us]} | ${POOL[$t,$c,warm_ttft_p50_us]} | ${POOL[$t,$c,warm_ttft_p99_us]} | $a50 | $a99 |"
	done
done
echo
echo "Per chunk (µs; pooled): jitter = |gap between consecutive events - ${CHUNK_DELAY} ms|, duration = first to last of $EVENTS events (ideal $((CHUNKS * CHUNK_DELAY * 1000)))"
echo
echo "| target | c | jitter p50 | jitter p99 | added jitter p99 | duration p50 | duration p99 | added duration p50 |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for t in "${TARGETS[@]}"; do
	for c in "${CONCURRENCIES[@]}"; do
		aj=— ad=—
		if [[ $t != direct ]]; then
			aj=$(added "${POOL[$t,$c,jitter_p99_us]}" "${POOL[direct,$c,jitter_p99_us]}")
			ad=$(added "${POOL[$t,$c,dur_p50_us]}" "${POOL[direct,$c,dur_p50_us]}")
		fi
		echo "| $t | $c | ${POOL[$t,$c,jitter_p50_us]} | ${POOL[$t,$c,jitter_p99_us]} | $aj | ${POOL[$t,$c,dur_p50_us]} | ${POOL[$t,$c,dur_p99_us]} | $ad |"
	done
done

if ((${#ERRORS[@]})); then
	echo
	printf 'errors: %s\n' "${ERRORS[@]}"
	die "some runs had errors (see above); their figures are not valid"
fi
