// SPDX-License-Identifier: Apache-2.0
/* The money formulas of SPEC §10 at their boundaries: markup brackets and rounding, worst
 * cases, Budget Control thresholds, month rollover, the grace cap and low-balance tiers. */
#include "money/money_calc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#define USD(x) ((int64_t)((x) * 1000000.0 + 0.5))

static const struct hw_cfg_markup_bracket brackets[] = {
	{USD(500), 1250}, {USD(5000), 1100}, {USD(20000), 1000}, {-1, 900}};

static void rate_brackets(void **state)
{
	(void)state;
	assert_int_equal(hw_money_rate_bp(brackets, 4, 0), 1250);
	assert_int_equal(hw_money_rate_bp(brackets, 4, USD(500) - 1), 1250);
	assert_int_equal(hw_money_rate_bp(brackets, 4, USD(500)), 1100);
	assert_int_equal(hw_money_rate_bp(brackets, 4, USD(4999.999999)), 1100);
	assert_int_equal(hw_money_rate_bp(brackets, 4, USD(5000)), 1000);
	assert_int_equal(hw_money_rate_bp(brackets, 4, USD(20000)), 900);
	assert_int_equal(hw_money_rate_bp(brackets, 4, INT64_MAX / 2), 900);
}

static void markup_rounds_up(void **state)
{
	(void)state;
	assert_int_equal(hw_money_markup(0, 1250), 0);
	assert_int_equal(hw_money_markup(1, 1250), 1); /* 0.125 µ$ -> 1 */
	assert_int_equal(hw_money_markup(8, 1250), 1);
	assert_int_equal(hw_money_markup(9, 1250), 2); /* 1.125 -> 2 */
	assert_int_equal(hw_money_markup(10000, 1250), 1250);
	assert_int_equal(hw_money_markup(10001, 1250), 1251);
	assert_int_equal(hw_money_markup(USD(100), 900), USD(9));
	assert_int_equal(hw_money_markup(100, 0), 0);
	/* Large amounts stay exact (no overflow in the product). */
	assert_int_equal(hw_money_markup(INT64_C(900000000000000000), 1250), INT64_C(112500000000000000));
}

static void worst_case(void **state)
{
	(void)state;
	assert_int_equal(hw_money_prompt_est(0, 3, 50), 50);
	assert_int_equal(hw_money_prompt_est(2, 3, 50), 50);
	assert_int_equal(hw_money_prompt_est(3, 3, 50), 51);
	assert_int_equal(hw_money_prompt_est(3000, 3, 50), 1050);
	struct hw_model m;
	memset(&m, 0, sizeof(m));
	m.input_per_mtok = USD(3);
	m.output_per_mtok = USD(15);
	m.max_output_tokens = 8192;
	assert_int_equal(hw_money_max_out(0, 4096, &m), 4096);
	assert_int_equal(hw_money_max_out(100, 4096, &m), 100);
	assert_int_equal(hw_money_max_out(100000, 4096, &m), 8192);
	/* 1050 prompt tokens at $3/M = 3150 µ$; 4096 at $15/M = 61440 µ$. */
	assert_int_equal(hw_money_worst_upstream(&m, 1050, 4096), 3150 + 61440);
	/* Each term rounds up on its own: 1 token at $3/M is 3 µ$, at $0.1/M 1 µ$. */
	m.input_per_mtok = USD(0.1);
	assert_int_equal(hw_money_worst_upstream(&m, 1, 0), 1);
}

static void verdicts(void **state)
{
	(void)state;
	struct hw_money_thresholds t = {0.90, 0.95, 1.00};
	int64_t cap = USD(100);
	assert_int_equal(hw_money_verdict(USD(89.999999), cap, &t), HW_MONEY_OK);
	assert_int_equal(hw_money_verdict(USD(90), cap, &t), HW_MONEY_DOWNGRADE);
	assert_int_equal(hw_money_verdict(USD(94.999999), cap, &t), HW_MONEY_DOWNGRADE);
	assert_int_equal(hw_money_verdict(USD(95), cap, &t), HW_MONEY_LIGHT_ONLY);
	assert_int_equal(hw_money_verdict(USD(99.999999), cap, &t), HW_MONEY_LIGHT_ONLY);
	assert_int_equal(hw_money_verdict(USD(100), cap, &t), HW_MONEY_BLOCK);
	assert_int_equal(hw_money_verdict(USD(1000), -1, &t), HW_MONEY_OK);
	assert_int_equal(hw_money_verdict(0, 0, &t), HW_MONEY_BLOCK); /* a zero cap blocks */
	assert_string_equal(hw_money_verdict_name(HW_MONEY_LIGHT_ONLY), "LIGHT_ONLY");
}

static void months(void **state)
{
	(void)state;
	char m[8];
	hw_money_month(1798761599, m); /* 2026-12-31T23:59:59Z */
	assert_string_equal(m, "2026-12");
	hw_money_month(1798761600, m); /* 2027-01-01T00:00:00Z */
	assert_string_equal(m, "2027-01");
	assert_int_equal(hw_money_next_month(1798761599), 1798761600);
	assert_int_equal(hw_money_next_month(1798761600), 1801440000); /* 2027-02-01 */
	/* February of a leap year. */
	assert_int_equal(hw_money_next_month(1709251199), 1709251200); /* 2024-02-29T23:59:59 -> 03-01 */
}

static void grace(void **state)
{
	(void)state;
	int64_t since = 1000000;
	assert_null(hw_money_grace_cut(since, since + 72 * 3600 - 1, 99999, 72, 100000));
	assert_string_equal(hw_money_grace_cut(since, since + 72 * 3600, 0, 72, 100000),
			    "grace_period_exceeded_time");
	assert_string_equal(hw_money_grace_cut(since, since, 100000, 72, 100000),
			    "grace_period_exceeded_tokens");
	/* Time is checked first. */
	assert_string_equal(hw_money_grace_cut(since, since + 72 * 3600, 100000, 72, 100000),
			    "grace_period_exceeded_time");
	assert_false(hw_money_grace_warn(since, since + 36 * 3600 - 1, 49999, 72, 100000, 0.5));
	assert_true(hw_money_grace_warn(since, since + 36 * 3600, 0, 72, 100000, 0.5));
	assert_true(hw_money_grace_warn(since, since, 50000, 72, 100000, 0.5));
}

static void low_tiers(void **state)
{
	(void)state;
	int64_t pct[] = {20, 10};
	assert_int_equal(hw_money_low_tiers(USD(2.000001), USD(10), pct, 2), 0);
	assert_int_equal(hw_money_low_tiers(USD(2), USD(10), pct, 2), 1);
	assert_int_equal(hw_money_low_tiers(USD(1), USD(10), pct, 2), 3);
	assert_int_equal(hw_money_low_tiers(0, 0, pct, 2), 0); /* never topped up */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rate_brackets), cmocka_unit_test(markup_rounds_up),
		cmocka_unit_test(worst_case),	 cmocka_unit_test(verdicts),
		cmocka_unit_test(months),	 cmocka_unit_test(grace),
		cmocka_unit_test(low_tiers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
