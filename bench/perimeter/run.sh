#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Kernel perimeter benchmark (needs root). Three measures, printed with their targets:
#  1. per-packet cost of the XDP program through BPF_PROG_TEST_RUN (repeat loop, best of 5) at
#     0, 1k and 100k rules per family (target <= 60 ns at 100k, flat from 1k to 100k);
#  2. drop rate of denied sources on a veth, hiway's XDP program vs an nftables netdev-ingress
#     set holding the same CIDRs, fed by a bounded AF_PACKET SYN generator in a namespace
#     (target XDP >= 1.5x);
#  3. a legit client's p99 (new connection per request) while denied sources flood, with and
#     without the perimeter (target: with it <= 2x the no-flood p99).
# Everything runs in namespaces and veths made here (unique names) and removed on exit; the
# generator is bounded in time and packets. hiwayd runs on the host, bound to the veth
# addresses only.
#
# usage: bench/perimeter/run.sh          (after `make`)
# env:   BENCH_FLOOD_S=3        seconds per drop-rate run
#        BENCH_RULES=1000       CIDRs in the deny set for measures 2 and 3
#        BENCH_LAT_N=300        requests per latency run
#        BENCH_REPEAT=1000000   BPF_PROG_TEST_RUN repeat
#        BENCH_FLOOD_PPS=100000 flood rate during the latency runs (0 = as fast as it goes)
#        BENCH_ROUNDS=3         alternating drop-rate rounds (best per mode is kept)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
B=$ROOT/build
FLOOD_S=${BENCH_FLOOD_S:-3}
RULES=${BENCH_RULES:-1000}
LAT_N=${BENCH_LAT_N:-300}
FLOOD_PPS=${BENCH_FLOOD_PPS:-100000}
ROUNDS=${BENCH_ROUNDS:-3}
REPEAT=${BENCH_REPEAT:-1000000}

die() {
	echo "perimeter bench: $*" >&2
	exit 1
}
[[ $(id -u) -eq 0 ]] || die "needs root (BPF, namespaces)"
for t in ip nft bpftool python3 curl; do command -v $t >/dev/null || die "$t missing (scripts/deps.sh --test)"; done
for f in bench/perimeter-cost bench/perimeter-flood hiway-agent hiwayd; do
	[[ -x $B/$f ]] || die "$B/$f not built: run make"
done

TAG=$(printf '%04x' $((($$ + RANDOM) & 0xffff)))
OCT=$((30 + ($$ % 200)))
NS_A=hwba$TAG NS_C=hwbc$TAG
IF_A=hwba$TAG IF_C=hwbc$TAG
HOST_A=10.203.$OCT.1 PEER_A=10.203.$OCT.2
HOST_C=10.204.$OCT.1 PEER_C=10.204.$OCT.2
PIN=/sys/fs/bpf/hiway-bench-$TAG
NFT_TABLE=hwbench$TAG
WORK=$(mktemp -d /tmp/hiway-perimeter-bench.XXXXXX)
HIWAYD_PID=""
FLOOD_PID=""

cleanup() {
	stop "$FLOOD_PID" 2
	stop "$HIWAYD_PID" 5
	[[ -f $WORK/hiway.yaml ]] && "$B/hiway-agent" --config "$WORK/hiway.yaml" --detach >/dev/null 2>&1
	nft delete table netdev "$NFT_TABLE" 2>/dev/null || true
	ip netns del "$NS_A" 2>/dev/null || true
	ip netns del "$NS_C" 2>/dev/null || true
	ip link del "$IF_A" 2>/dev/null || true
	ip link del "$IF_C" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

echo "# perimeter benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, kernel $(uname -r)"

# ---------------------------------------------------------------- 1. per-packet cost
echo "## 1. per-packet cost (BPF_PROG_TEST_RUN, XDP entry point, best of 5 x $REPEAT runs, ns)"
declare -A COST
for n in 0 1000 100000; do
	while read -r rules kind ns; do
		COST[$rules,$kind]=$ns
	done < <("$B/bench/perimeter-cost" "$n" "$REPEAT")
done
printf '%-16s %10s %10s %10s\n' "packet" "0 rules" "1k rules" "100k rules"
for kind in harness_only v4_pass_ack v4_drop_deny v4_syn_bucket v6_pass_ack v6_drop_deny; do
	printf '%-16s %10s %10s %10s\n' "$kind" "${COST[0,$kind]}" "${COST[1000,$kind]}" "${COST[100000,$kind]}"
done
worst=0
for kind in v4_pass_ack v4_drop_deny v6_pass_ack v6_drop_deny; do
	awk -v a="${COST[100000,$kind]}" -v w="$worst" 'BEGIN { exit !(a > w) }' && worst=${COST[100000,$kind]}
done
flat=$(awk -v a="${COST[1000,v4_drop_deny]}" -v b="${COST[100000,v4_drop_deny]}" 'BEGIN { printf "%.2f", b / a }')
echo "worst pass/deny cost at 100k rules: ${worst} ns (target <= 60): $(awk -v w="$worst" 'BEGIN { print (w <= 60) ? "met" : "NOT met" }')"
echo "v4 deny cost 100k/1k: ${flat}x (flat means ~1.0)"

# ---------------------------------------------------------------- network
for pair in "$NS_A $IF_A $HOST_A $PEER_A" "$NS_C $IF_C $HOST_C $PEER_C"; do
	read -r ns ifn host peer <<<"$pair"
	ip netns add "$ns"
	ip link add "$ifn" type veth peer name eth0 netns "$ns"
	ip addr add "$host/24" dev "$ifn"
	ip link set "$ifn" up
	ip -n "$ns" addr add "$peer/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" link set lo up
done
MAC_A=$(cat "/sys/class/net/$IF_A/address")

# Deny set: the attacker's /24 plus RULES-1 random CIDRs outside 10/8.
python3 - "$RULES" "10.203.$OCT.0/24" >"$WORK/cidrs" <<'PY'
import random, sys
random.seed(7)
n, own = int(sys.argv[1]), sys.argv[2]
out = {own}
while len(out) < n:
    plen = random.randint(16, 32)
    a = random.getrandbits(32)
    if a >> 24 == 10:
        a ^= 1 << 31
    a &= (0xffffffff << (32 - plen)) & 0xffffffff
    out.add("%d.%d.%d.%d/%d" % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255, plen))
print("\n".join(sorted(out)))
PY

PORT=$(free_port)
cat >"$WORK/hiway.yaml.in" <<YAML
server: {listen: ["127.0.0.1:$PORT", "$HOST_A:$PORT", "$HOST_C:$PORT"]}
store: "sqlite:$WORK/hiway.db"
logging: {level: warn}
guardian: {enabled: false}
perimeter:
  interfaces: [$IF_A, $IF_C]
  attach: @ATTACH@
  pin_path: $PIN
  syn_rate_per_s: 0
YAML
sed 's/@ATTACH@/native/' "$WORK/hiway.yaml.in" >"$WORK/hiway.yaml"
(cd "$WORK" && exec "$B/hiwayd" --config "$WORK/hiway.yaml") >"$WORK/hiwayd.out" 2>"$WORK/hiwayd.err" &
HIWAYD_PID=$!
wait_http "http://127.0.0.1:$PORT/health" "$HIWAYD_PID" hiwayd
python3 - "$WORK/hiway.db" "$WORK/cidrs" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=10)
now = int(time.time())
rows = [("bench%d" % i, c.strip(), "deny", now) for i, c in enumerate(open(sys.argv[2])) if c.strip()]
db.executemany("INSERT INTO ip_rules(id, workspace_id, cidr, family, action, comment, kernel,"
               " expires_at, created_at) VALUES (?, NULL, ?, 4, ?, 'bench', 1, NULL, ?)", rows)
db.execute("UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE name = 'perimeter_generation'")
db.commit()
PY

drops() { # the summed drop_deny packets of the pinned verdict_stats
	bpftool -j map dump pinned "$PIN/verdict_stats" |
		python3 -c 'import json,sys; print(sum(v["value"]["packets"] for e in json.load(sys.stdin) if e["formatted"]["key"] == 2 for v in e["formatted"]["values"]))'
}
flood() { # SECONDS MAX PPS: SYNs from 200 sources of the attacker's /24 to hiwayd's port
	ip netns exec "$NS_A" "$B/bench/perimeter-flood" eth0 "$MAC_A" "$HOST_A" "$PORT" "10.203.$OCT.2" 200 "$1" "$2" "$3"
}
attach() { # MODE: native | generic | tc
	sed "s/@ATTACH@/$1/" "$WORK/hiway.yaml.in" >"$WORK/hiway.yaml"
	"$B/hiway-agent" --config "$WORK/hiway.yaml" --once >>"$WORK/agent.log" 2>&1 || die "agent failed: $(tail -3 "$WORK/agent.log")"
}
detach() { "$B/hiway-agent" --config "$WORK/hiway.yaml" --detach >>"$WORK/agent.log" 2>&1; }
flood_bg() { # SECONDS PPS: the same flood in the background, FLOOD_PID is the generator itself
	ip netns exec "$NS_A" "$B/bench/perimeter-flood" eth0 "$MAC_A" "$HOST_A" "$PORT" "10.203.$OCT.2" 200 "$1" 2000000000 "$2" >/dev/null &
	FLOOD_PID=$!
	sleep 0.5
	alive "$FLOOD_PID" || die "the flood generator did not start"
}
ratio_met() { # A B TARGET: "A/B" and whether it is >= TARGET
	awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { r = a / b; printf "%.2fx (target >= %s): %s", r, t, (r >= t) ? "met" : "NOT met" }'
}

# ---------------------------------------------------------------- 2. drop rate
echo "## 2. drop rate of denied sources on a veth ($RULES CIDRs, ${FLOOD_S}s of SYNs as fast as one core sends, best of $ROUNDS)"
declare -A SENT DROP RATE
nft_on() {
	nft -f - <<NFT
table netdev $NFT_TABLE {
	set deny { type ipv4_addr; flags interval; auto-merge; elements = { $(paste -sd, "$WORK/cidrs") } }
	chain ingress { type filter hook ingress device "$IF_A" priority -500; ip saddr @deny counter drop; }
}
NFT
}
nft_drops() {
	nft -j list chain netdev "$NFT_TABLE" ingress |
		python3 -c 'import json,sys; print([x["counter"]["packets"] for r in json.load(sys.stdin)["nftables"] if "rule" in r for x in r["rule"]["expr"] if "counter" in x][0])'
}
# Alternating rounds, best per mode: the machine is shared and one core's send rate moves.
for round in $(seq "$ROUNDS"); do
	for mode in native generic tc nft; do
		if [[ $mode == nft ]]; then nft_on; d0=0; else attach "$mode"; d0=$(drops); fi
		read -r sent el < <(flood "$FLOOD_S" 100000000 0)
		if [[ $mode == nft ]]; then d=$(nft_drops); nft delete table netdev "$NFT_TABLE"; else d=$(($(drops) - d0)); detach; fi
		r=$(awk -v d="$d" -v t="$el" 'BEGIN { printf "%.0f", d / t }')
		echo "  round $round $mode: sent $sent dropped $d in ${el}s = $r/s" >&2
		if [[ -z ${RATE[$mode]:-} || $r -gt ${RATE[$mode]} ]]; then
			RATE[$mode]=$r SENT[$mode]=$sent DROP[$mode]=$d
		fi
	done
done
printf '%-26s %12s %12s %12s\n' "" "sent" "dropped" "drops/s"
printf '%-26s %12s %12s %12s\n' "hiway XDP (native, veth)" "${SENT[native]}" "${DROP[native]}" "${RATE[native]}"
printf '%-26s %12s %12s %12s\n' "hiway XDP (generic)" "${SENT[generic]}" "${DROP[generic]}" "${RATE[generic]}"
printf '%-26s %12s %12s %12s\n' "hiway TC (tcx)" "${SENT[tc]}" "${DROP[tc]}" "${RATE[tc]}"
printf '%-26s %12s %12s %12s\n' "nftables netdev-ingress set" "${SENT[nft]}" "${DROP[nft]}" "${RATE[nft]}"
echo "XDP/nftables drop rate: $(ratio_met "${RATE[native]}" "${RATE[nft]}" 1.5)"
echo "XDP generic/nftables:   $(ratio_met "${RATE[generic]}" "${RATE[nft]}" 1.5)"
echo "TC/nftables drop rate:  $(ratio_met "${RATE[tc]}" "${RATE[nft]}" 1.5)"

# ---------------------------------------------------------------- 3. legit client p99
echo "## 3. legit client, $LAT_N sequential GET /health on new connections (ms); flood ${FLOOD_PPS} SYN/s (0 = unlimited) from denied sources"
lat() { ip netns exec "$NS_C" python3 "$ROOT/bench/perimeter/latency.py" "$HOST_C" "$PORT" "$LAT_N" 30; }
FLOOD_SECS=40 # the generator is stopped after each run; this only bounds it
declare -A L
read -r n p50 p99 f < <(lat)
L[base]="$n $p50 $p99 $f"
flood_bg "$FLOOD_SECS" "$FLOOD_PPS"
read -r n p50 p99 f < <(lat)
stop "$FLOOD_PID" 2
FLOOD_PID=""
L[none]="$n $p50 $p99 $f"
for mode in native tc; do
	attach "$mode"
	d0=$(drops)
	flood_bg "$FLOOD_SECS" "$FLOOD_PPS"
	read -r n p50 p99 f < <(lat)
	stop "$FLOOD_PID" 2
	FLOOD_PID=""
	L[$mode]="$n $p50 $p99 $f $(($(drops) - d0))"
	detach
done
printf '%-30s %6s %9s %9s %6s %12s\n' "" "n" "p50" "p99" "fails" "flood drops"
for k in base none native tc; do
	read -r n p50 p99 f d <<<"${L[$k]}"
	case $k in base) label="no flood, no perimeter" ;; none) label="flood, no perimeter" ;;
	native) label="flood, perimeter XDP native" ;; tc) label="flood, perimeter TC" ;; esac
	printf '%-30s %6s %9s %9s %6s %12s\n' "$label" "$n" "$p50" "$p99" "$f" "${d:--}"
done
p99() { read -r _ _ p _ <<<"${L[$1]}"; echo "$p"; }
lim() { awk -v a="$1" -v b="$2" 'BEGIN { r = a / b; printf "%.2fx (target <= 2): %s", r, (r <= 2) ? "met" : "NOT met" }'; }
echo "p99 flood/no-flood: without perimeter $(awk -v a="$(p99 none)" -v b="$(p99 base)" 'BEGIN { printf "%.2fx", a / b }'); XDP $(lim "$(p99 native)" "$(p99 base)"); TC $(lim "$(p99 tc)" "$(p99 base)")"
