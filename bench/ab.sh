#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A/B overhead of one gateway setting. One zero-delay fake upstream and two hiwayd from
# bench/overhead/hiway.yaml.in, identical but for one YAML line each (A = the baseline, B =
# the feature on), take the same chat completion from wrk at c=1 and c=64, the two targets
# interleaved over several rounds so background noise hits both alike. Prints p50/p99 and
# throughput per target and round, the medians over rounds, and B's added p99 and RPS cost as
# percentages of A's. Every process is tracked and stopped by PID; loopback only.
#
# usage: bench/ab.sh TITLE LABEL_A YAML_A LABEL_B YAML_B WRK_LUA   (after `make`)
# env:   BENCH_DURATION_S=8 per wrk run, BENCH_ROUNDS=3, BENCH_TEMPLATE=another hiway.yaml.in
#        (for a setting the default template already names: YAML keys may appear only once)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
(($# == 6)) || { echo "usage: bench/ab.sh TITLE LABEL_A YAML_A LABEL_B YAML_B WRK_LUA" >&2; exit 2; }
TITLE=$1 LUA=$6
LABELS=("$2" "$4")
declare -A YAML=([$2]=$3 [$4]=$5)
DURATION=${BENCH_DURATION_S:-8}
ROUNDS=${BENCH_ROUNDS:-3}
TEMPLATE=${BENCH_TEMPLATE:-$ROOT/bench/overhead/hiway.yaml.in}
FAKE_BIN=$ROOT/build/fake-upstream
HIWAYD_BIN=$ROOT/build/hiwayd

die() {
	echo "bench/ab: error: $*" >&2
	exit 1
}
[[ -x $FAKE_BIN && -x $HIWAYD_BIN ]] || die "run make first"
command -v wrk >/dev/null || die "wrk is missing (apt-get install wrk)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hiway-ab-bench.XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		stop "$p" 5
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

start_fake 2
PIDS+=("$FAKE_PID")

declare -A PORT KEY
for label in "${LABELS[@]}"; do
	d=$WORK/$label
	mkdir -p "$d"
	PORT[$label]=$(free_port)
	sed -e "s|@DIR@|$d|g" -e "s|@PORT@|${PORT[$label]}|g" -e "s|@UPSTREAM_PORT@|$FAKE_PORT|g" \
		"$TEMPLATE" >"$d/hiway.yaml"
	echo "${YAML[$label]}" >>"$d/hiway.yaml"
	(cd "$d" && exec "$HIWAYD_BIN" --config "$d/hiway.yaml") >"$d/stdout" 2>"$d/stderr" &
	pid=$!
	PIDS+=("$pid")
	wait_http "http://127.0.0.1:${PORT[$label]}/health" "$pid" "hiwayd ($label)"
	KEY[$label]=$(sed -n 's/.*hiway: API key: \(hw_live_[0-9a-f]\{32\}\) (shown once).*/\1/p' "$d/stderr" | head -n 1)
	[[ -n ${KEY[$label]} ]] || die "hiwayd ($label) printed no key"
done

field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2"; }
declare -A P50 P99 RPS
for c in 1 64; do
	for ((r = 1; r <= ROUNDS; r++)); do
		for label in "${LABELS[@]}"; do
			t=1
			((c > 1)) && t=2
			line=$(BENCH_API_KEY=${KEY[$label]} timeout $((DURATION + 30)) wrk -t$t -c$c -d"${DURATION}s" \
				--timeout 5s -s "$LUA" "http://127.0.0.1:${PORT[$label]}/v1/chat/completions" |
				grep '^BENCH ')
			[[ $(field non2xx "$line") == 0 && $(field sockerr "$line") == 0 ]] ||
				die "errors on $label c=$c: $line"
			rps=$(awk -v n="$(field requests "$line")" -v us="$(field duration_us "$line")" 'BEGIN { printf "%.0f", n * 1e6 / us }')
			P50[$label,$c]+="$(field p50_us "$line") "
			P99[$label,$c]+="$(field p99_us "$line") "
			RPS[$label,$c]+="$rps "
			echo "round $r c=$c $label: p50 $(field p50_us "$line") us, p99 $(field p99_us "$line") us, $rps req/s" >&2
		done
	done
done

median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
A=${LABELS[0]} B=${LABELS[1]}
echo "$TITLE, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, ${ROUNDS} rounds of ${DURATION}s"
echo
echo "| c | $A p50 µs | $B p50 µs | $A p99 µs | $B p99 µs | added p99 | $A req/s | $B req/s | RPS cost |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in 1 64; do
	a50=$(median "${P50[$A,$c]}") b50=$(median "${P50[$B,$c]}")
	a99=$(median "${P99[$A,$c]}") b99=$(median "${P99[$B,$c]}")
	arps=$(median "${RPS[$A,$c]}") brps=$(median "${RPS[$B,$c]}")
	added=$(awk -v b="$b99" -v a="$a99" 'BEGIN { printf "%+.1f %%", (b - a) * 100 / a }')
	cost=$(awk -v b="$brps" -v a="$arps" 'BEGIN { printf "%+.1f %%", (a - b) * 100 / a }')
	echo "| $c | $a50 | $b50 | $a99 | $b99 | $added | $arps | $brps | $cost |"
done
echo
echo "p99 per round, c=1: $A ${P99[$A,1]}/ $B ${P99[$B,1]}; c=64: $A ${P99[$A,64]}/ $B ${P99[$B,64]}"
