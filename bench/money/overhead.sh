#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What money accounting adds to a request (issue 4: <= 5 % added p99 and RPS cost):
# bench/ab.sh with money.enabled false vs true (admission, reservation, settlement committed
# by the ledger writer before the answer's last byte) on the small overhead prompt.
# env: BENCH_DURATION_S=8 per wrk run, BENCH_ROUNDS=3.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec "$HERE/../ab.sh" "Money on vs off, small prompt" \
	off "money: {enabled: false}" on "money: {enabled: true}" "$HERE/../overhead/chat.lua"
