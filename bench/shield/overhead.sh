#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What the Shield's block mode adds to a request (issue 6: <= 5 % added p99 for 4 KB
# prompts): bench/ab.sh with shield.mode off vs block on a benign 4 KB prompt
# (bench/shield/chat4k.lua). env: BENCH_DURATION_S=8 per wrk run, BENCH_ROUNDS=3.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec "$HERE/../ab.sh" "Shield block mode vs off, 4 KB benign prompt" \
	off "shield: {mode: off}" block "shield: {mode: block}" "$HERE/chat4k.lua"
