#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What the Shield's block mode adds to a request (issue 6: <= 5 % added p99 for 4 KB
# prompts). One zero-delay fake upstream and two hiwayd, identical but for `shield.mode`
# (off, block), take the same benign 4 KB chat completion (bench/shield/chat4k.lua) from wrk
# at c=1 and c=64, the two targets interleaved over several rounds so background noise hits
# both alike. Prints p50/p99 per target and round, the medians over rounds, and block's added
# p99 as a percentage of off's. Every process is tracked and stopped by PID; loopback only.
#
# usage: bench/shield/overhead.sh   (after `make`)
# env:   BENCH_DURATION_S=8 per wrk run, BENCH_ROUNDS=3
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/bench/shield
DURATION=${BENCH_DURATION_S:-8}
ROUNDS=${BENCH_ROUNDS:-3}
FAKE_BIN=$ROOT/build/fake-upstream
HIWAYD_BIN=$ROOT/build/hiwayd
[[ -x $FAKE_BIN && -x $HIWAYD_BIN ]] || { echo "bench/shield: run make first" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench/shield: wrk is missing (apt-get install wrk)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hiway-shield-bench.XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$FAKE_BIN" --listen 127.0.0.1:0 --threads 2 >"$WORK/fake.out" 2>"$WORK/fake.err" &
PIDS+=($!)
for _ in $(seq 100); do grep -q '^listening on ' "$WORK/fake.out" && break; sleep 0.1; done
FAKE_PORT=$(awk '/^listening on / { print $3 }' "$WORK/fake.out")

declare -A PORT KEY
for mode in off block; do
	d=$WORK/$mode
	mkdir -p "$d"
	PORT[$mode]=$(free_port)
	sed -e "s|@DIR@|$d|g" -e "s|@PORT@|${PORT[$mode]}|g" -e "s|@UPSTREAM_PORT@|$FAKE_PORT|g" \
		"$ROOT/bench/overhead/hiway.yaml.in" >"$d/hiway.yaml"
	echo "shield: {mode: $mode}" >>"$d/hiway.yaml"
	(cd "$d" && exec "$HIWAYD_BIN" --config "$d/hiway.yaml") >"$d/stdout" 2>"$d/stderr" &
	PIDS+=($!)
	for _ in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:${PORT[$mode]}/health" && break
		sleep 0.1
	done
	KEY[$mode]=$(sed -n 's/.*hiway: API key: \(hw_live_[0-9a-f]\{32\}\) (shown once).*/\1/p' "$d/stderr" | head -n 1)
	[[ -n ${KEY[$mode]} ]] || { echo "bench/shield: hiwayd ($mode) printed no key" >&2; exit 1; }
done

field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2"; }
declare -A P50 P99
for c in 1 64; do
	for ((r = 1; r <= ROUNDS; r++)); do
		for mode in off block; do
			t=1
			((c > 1)) && t=2
			line=$(BENCH_API_KEY=${KEY[$mode]} timeout $((DURATION + 30)) wrk -t$t -c$c -d"${DURATION}s" \
				--timeout 5s -s "$HERE/chat4k.lua" "http://127.0.0.1:${PORT[$mode]}/v1/chat/completions" |
				grep '^BENCH ')
			[[ $(field non2xx "$line") == 0 && $(field sockerr "$line") == 0 ]] ||
				{ echo "bench/shield: errors on $mode c=$c: $line" >&2; exit 1; }
			P50[$mode,$c]+="$(field p50_us "$line") "
			P99[$mode,$c]+="$(field p99_us "$line") "
			echo "round $r c=$c $mode: p50 $(field p50_us "$line") us, p99 $(field p99_us "$line") us, $(field requests "$line") requests" >&2
		done
	done
done

median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "Shield block mode vs off, 4 KB benign prompt, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, ${ROUNDS} rounds of ${DURATION}s"
echo
echo "| c | off p50 µs | block p50 µs | off p99 µs | block p99 µs | added p99 |"
echo "|---:|---:|---:|---:|---:|---:|"
for c in 1 64; do
	o50=$(median "${P50[off,$c]}") b50=$(median "${P50[block,$c]}")
	o99=$(median "${P99[off,$c]}") b99=$(median "${P99[block,$c]}")
	added=$(awk -v b="$b99" -v o="$o99" 'BEGIN { printf "%+.1f %%", (b - o) * 100 / o }')
	echo "| $c | $o50 | $b50 | $o99 | $b99 | $added |"
done
echo
echo "p99 per round, c=1: off ${P99[off,1]}/ block ${P99[block,1]}; c=64: off ${P99[off,64]}/ block ${P99[block,64]}"
