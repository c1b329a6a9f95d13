#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every test: unit tests (cmocka) and integration tests (real hiwayd + fake upstream
# on loopback), first on the release build, then on the ASan/UBSan build. The kernel
# perimeter's BPF_PROG_TEST_RUN tests are built as build*/tests/test_bpf_* and run with the
# unit tests (they skip without root/CAP_BPF); its netns tests are in the integration run.
# Closes with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test || { echo "dependency install failed"; exit 1; }

passed=0
failed=0
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp"

count_cmocka() { # $1 = output file
	local p f
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
}

run_suite() { # $1 = build dir, $2 = label
	local out=$1 label=$2 log rc
	log=$(mktemp)
	for t in "$out"/tests/test_*; do
		[ -x "$t" ] || continue
		"$t" >"$log" 2>&1
		rc=$?
		count_cmocka "$log"
		if [ $rc -ne 0 ]; then
			echo "--- $label $(basename "$t") failed (exit $rc):"
			tail -40 "$log"
			grep -q '^\[  FAILED  \]' "$log" || failed=$((failed + 1))
		else
			echo "ok   $label $(basename "$t")"
		fi
	done
	HIWAY_BUILD="$out" /usr/bin/python3 tests/integration/run.py >"$log" 2>&1
	rc=$?
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	if [ -n "$line" ]; then
		passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
		failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
	fi
	if [ $rc -ne 0 ]; then
		echo "--- $label integration failed (exit $rc):"
		grep -E 'FAIL|Error|error' "$log" | head -60
		[ -z "$line" ] && failed=$((failed + 1))
	else
		echo "ok   $label integration ($line)"
	fi
	rm -f "$log"
}

jobs=$(nproc)
if ! make -j"$jobs" >/tmp/hiway-build.log 2>&1; then
	tail -50 /tmp/hiway-build.log
	echo "0 passed, 1 failed"
	exit 1
fi
run_suite build release

if ! make -j"$jobs" VARIANT=asan TEST_HOOKS=1 >/tmp/hiway-build-asan.log 2>&1; then
	tail -50 /tmp/hiway-build-asan.log
	echo "$passed passed, $((failed + 1)) failed"
	exit 1
fi
run_suite build-asan asan

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
