/* SPDX-License-Identifier: Apache-2.0 */
/* The money formulas of SPEC §10, pure functions of their inputs (amounts in int64 µ$,
 * rates in basis points, times in unix seconds), so every boundary is unit-testable with
 * any clock. */
#ifndef HW_MONEY_MONEY_CALC_H
#define HW_MONEY_MONEY_CALC_H

#include "common/config.h"
#include "routing/catalog.h"

#include <stdint.h>

/* Budget Control verdicts (SPEC §10.4), in increasing severity. */
enum hw_money_verdict {
	HW_MONEY_OK,
	HW_MONEY_DOWNGRADE,
	HW_MONEY_LIGHT_ONLY,
	HW_MONEY_BLOCK,
};

struct hw_money_thresholds {
	double downgrade, light_only, block;
};

/* The markup rate chosen by month-to-date settled upstream spend (degressive brackets). */
int64_t hw_money_rate_bp(const struct hw_cfg_markup_bracket *brackets, size_t n, int64_t month_spend);

/* ceil(upstream × rate_bp / 10 000), without overflow for any realistic amount. */
int64_t hw_money_markup(int64_t upstream, int64_t rate_bp);

/* Worst-case prompt tokens: floor(input_chars / chars_per_token) + overhead_tokens. */
int64_t hw_money_prompt_est(int64_t input_chars, int64_t chars_per_token, int64_t overhead_tokens);

/* Output tokens reserved: the request's max tokens (else `default_max`), capped at the
 * model's max_output_tokens when it has one. */
int64_t hw_money_max_out(int64_t requested, int64_t default_max, const struct hw_model *m);

/* Worst-case upstream cost of a request at model `m`'s prices. */
int64_t hw_money_worst_upstream(const struct hw_model *m, int64_t prompt_est, int64_t max_out);

/* The verdict for settled `spend` against `cap` (cap < 0 = no cap: always OK). */
enum hw_money_verdict hw_money_verdict(int64_t spend, int64_t cap, const struct hw_money_thresholds *t);
const char *hw_money_verdict_name(enum hw_money_verdict v);

/* "YYYY-MM" of a unix time (UTC); out needs 8 bytes. */
void hw_money_month(int64_t unix_s, char out[8]);
/* The first second of the next month (UTC): when month counters reset. */
int64_t hw_money_next_month(int64_t unix_s);

/* Passthrough grace cap (SPEC §10.6): NULL while the cycle may go on, else the code of the
 * first rejection: time is checked first. */
const char *hw_money_grace_cut(int64_t since_s, int64_t now_s, int64_t tokens, int64_t grace_hours,
			       int64_t grace_tokens);
/* Whether the cycle reached warn_fraction of either cap. */
bool hw_money_grace_warn(int64_t since_s, int64_t now_s, int64_t tokens, int64_t grace_hours,
			 int64_t grace_tokens, double warn_fraction);

/* Low-balance tiers (SPEC §10.7): bit i set when balance <= percents[i] % of last_topup;
 * the caller fires the bits not fired since the last top-up. */
uint32_t hw_money_low_tiers(int64_t balance, int64_t last_topup, const int64_t *percents, size_t n);

#endif
