// SPDX-License-Identifier: Apache-2.0
/* Circuit breaker state machine (SPEC §9.4) with the wall clock moved by the test offset. */
#include "common/clock.h"
#include "upstream/breaker.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static int setup(void **state)
{
	(void)state;
	hw_breaker_configure(5, 30, 300);
	hw_breaker_reset_all();
	hw_clock_set_offset_ms(0);
	return 0;
}

static void fail_n(struct hw_breaker *b, int n)
{
	for (int i = 0; i < n; i++) {
		assert_int_equal(hw_breaker_admit(b), HW_ADMIT_PASS);
		hw_breaker_report(b, HW_OUTCOME_FAILURE, false);
	}
}

static void test_opens_after_consecutive_failures(void **state)
{
	(void)state;
	struct hw_breaker *b = hw_breaker_for("p/opens");
	assert_non_null(b);
	assert_ptr_equal(hw_breaker_for("p/opens"), b);
	fail_n(b, 4);
	assert_int_equal(hw_breaker_open_count(), 0);
	fail_n(b, 1);
	assert_int_equal(hw_breaker_admit(b), HW_ADMIT_OPEN);
	assert_int_equal(hw_breaker_open_count(), 1);
}

static void test_success_resets_count(void **state)
{
	(void)state;
	struct hw_breaker *b = hw_breaker_for("p/reset");
	fail_n(b, 4);
	hw_breaker_report(b, HW_OUTCOME_SUCCESS, false);
	fail_n(b, 4);
	hw_breaker_report(b, HW_OUTCOME_NEUTRAL, false);
	assert_int_equal(hw_breaker_admit(b), HW_ADMIT_PASS);
	hw_breaker_report(b, HW_OUTCOME_FAILURE, false); /* the fifth in a row: neutral does not reset */
	assert_int_equal(hw_breaker_admit(b), HW_ADMIT_OPEN);
}

static void test_half_open_single_probe(void **state)
{
	(void)state;
	struct hw_breaker *b = hw_breaker_for("p/probe");
	fail_n(b, 5);
	hw_clock_set_offset_ms(29999);
	assert_int_equal(hw_breaker_admit(b), HW_ADMIT_OPEN);
	hw_clock_set_offset_ms(30000);
	assert_int_equal(hw_breaker_admit(b), HW_ADMIT_PROBE);
	/* exactly one probe at a time */
	assert_int_equal(hw_breaker_admit(b), HW_ADMIT_OPEN);
	bool cooling;
	assert_true(hw_breaker_blocked(b, &cooling));
	assert_false(cooling);
	/* an attempt admitted before the opening does not decide the half-open circuit */
	hw_breaker_report(b, HW_OUTCOME_NEUTRAL, false);
	hw_breaker_report(b, HW_OUTCOME_SUCCESS, false);
	assert_int_equal(hw_breaker_admit(b), HW_ADMIT_OPEN);
	/* a probe ended without a verdict is given back */
	hw_breaker_report(b, HW_OUTCOME_NEUTRAL, true);
	assert_int_equal(hw_breaker_admit(b), HW_ADMIT_PROBE);
	hw_breaker_report(b, HW_OUTCOME_SUCCESS, true);
	assert_int_equal(hw_breaker_admit(b), HW_ADMIT_PASS);
	assert_int_equal(hw_breaker_open_count(), 0);
}

static void test_failed_probe_reopens(void **state)
{
	(void)state;
	struct hw_breaker *b = hw_breaker_for("p/reopen");
	fail_n(b, 5);
	hw_clock_set_offset_ms(30000);
	assert_int_equal(hw_breaker_admit(b), HW_ADMIT_PROBE);
	hw_breaker_report(b, HW_OUTCOME_FAILURE, true);
	hw_clock_set_offset_ms(59999);
	assert_int_equal(hw_breaker_admit(b), HW_ADMIT_OPEN);
	hw_clock_set_offset_ms(60000);
	assert_int_equal(hw_breaker_admit(b), HW_ADMIT_PROBE);
}

static void test_cooldown_capped(void **state)
{
	(void)state;
	hw_breaker_configure(5, 30, 10);
	struct hw_breaker *b = hw_breaker_for("p/cool");
	hw_breaker_cooldown(b, 3600); /* capped at max_cooldown_s = 10 */
	assert_int_equal(hw_breaker_admit(b), HW_ADMIT_COOLING);
	bool cooling;
	assert_true(hw_breaker_blocked(b, &cooling));
	assert_true(cooling);
	hw_clock_set_offset_ms(9999);
	assert_int_equal(hw_breaker_admit(b), HW_ADMIT_COOLING);
	hw_clock_set_offset_ms(10000);
	assert_int_equal(hw_breaker_admit(b), HW_ADMIT_PASS);
	/* a cool-down never opens the circuit */
	assert_int_equal(hw_breaker_open_count(), 0);
}

static void test_cooldown_holds_the_probe(void **state)
{
	(void)state;
	struct hw_breaker *b = hw_breaker_for("p/coolprobe");
	fail_n(b, 5);
	hw_breaker_cooldown(b, 60);
	hw_clock_set_offset_ms(30000);
	assert_int_equal(hw_breaker_admit(b), HW_ADMIT_COOLING);
	hw_clock_set_offset_ms(60000);
	assert_int_equal(hw_breaker_admit(b), HW_ADMIT_PROBE);
}

static void test_null_breaker_passes(void **state)
{
	(void)state;
	assert_int_equal(hw_breaker_admit(NULL), HW_ADMIT_PASS);
	hw_breaker_report(NULL, HW_OUTCOME_FAILURE, false);
	hw_breaker_cooldown(NULL, 5);
	char longid[200];
	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	assert_null(hw_breaker_for(longid));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_opens_after_consecutive_failures, setup),
		cmocka_unit_test_setup(test_success_resets_count, setup),
		cmocka_unit_test_setup(test_half_open_single_probe, setup),
		cmocka_unit_test_setup(test_failed_probe_reopens, setup),
		cmocka_unit_test_setup(test_cooldown_capped, setup),
		cmocka_unit_test_setup(test_cooldown_holds_the_probe, setup),
		cmocka_unit_test_setup(test_null_breaker_passes, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
