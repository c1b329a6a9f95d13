#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What per-key RPM and Guardian add to a request (issue 5: <= 3 % added p99): bench/ab.sh
# with both off vs both on. B turns every check on with limits high enough that wrk's
# identical requests are never refused, so the cost of the checks is measured, not the cost
# of rejections: RPM 1,000,000/min on an exact log, dedup counting up to 1,000,000 copies,
# cost_spike's floor out of reach, context_bloat and zombie_agent at their defaults.
# env: BENCH_DURATION_S=8 per wrk run, BENCH_ROUNDS=3.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OFF=$'keys: {default_rpm_limit: null}\nguardian: {enabled: false}'
ON=$'keys: {default_rpm_limit: 1000000}\nguardian: {enabled: true, dedup: {count: 1000000},'
ON+=$' cost_spike: {min_spend_usd: 1000000},\n  limits: {rpm_log_max: 1000000, dedup_log_max: 1000000}}'
BENCH_TEMPLATE="$HERE/hiway.yaml.in" exec "$HERE/../ab.sh" "Guardian and RPM on vs off, small prompt" \
	off "$OFF" on "$ON" "$HERE/../overhead/chat.lua"
