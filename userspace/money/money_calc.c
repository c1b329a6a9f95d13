// SPDX-License-Identifier: Apache-2.0
#include "money/money_calc.h"

#include <stdio.h>
#include <time.h>

int64_t hw_money_rate_bp(const struct hw_cfg_markup_bracket *b, size_t n, int64_t spend)
{
	for (size_t i = 0; i < n; i++)
		if (b[i].below < 0 || spend < b[i].below)
			return b[i].rate_bp;
	return n ? b[n - 1].rate_bp : 0;
}

int64_t hw_money_markup(int64_t upstream, int64_t rate_bp)
{
	if (upstream <= 0 || rate_bp <= 0)
		return 0;
	/* Split so the product cannot overflow: upstream = q × 10 000 + r. */
	int64_t q = upstream / 10000, r = upstream % 10000;
	return q * rate_bp + (r * rate_bp + 9999) / 10000;
}

int64_t hw_money_prompt_est(int64_t input_chars, int64_t chars_per_token, int64_t overhead)
{
	if (chars_per_token < 1)
		chars_per_token = 1;
	return (input_chars > 0 ? input_chars : 0) / chars_per_token + overhead;
}

int64_t hw_money_max_out(int64_t requested, int64_t default_max, const struct hw_model *m)
{
	int64_t n = requested > 0 ? requested : default_max;
	if (m && m->max_output_tokens > 0 && n > m->max_output_tokens)
		n = m->max_output_tokens;
	return n;
}

int64_t hw_money_worst_upstream(const struct hw_model *m, int64_t prompt_est, int64_t max_out)
{
	if (!m)
		return 0;
	return hw_cost_micro(prompt_est, m->input_per_mtok) + hw_cost_micro(max_out, m->output_per_mtok);
}

enum hw_money_verdict hw_money_verdict(int64_t spend, int64_t cap, const struct hw_money_thresholds *t)
{
	if (cap < 0)
		return HW_MONEY_OK;
	/* Compared as spend >= fraction × cap in µ$, rounded up, so 0.90 of $100 is exactly
	 * $90 and not a binary-float neighbour. */
	int64_t at_block = (int64_t)((double)cap * t->block + 0.5);
	int64_t at_light = (int64_t)((double)cap * t->light_only + 0.5);
	int64_t at_down = (int64_t)((double)cap * t->downgrade + 0.5);
	if (spend >= at_block)
		return HW_MONEY_BLOCK;
	if (spend >= at_light)
		return HW_MONEY_LIGHT_ONLY;
	if (spend >= at_down)
		return HW_MONEY_DOWNGRADE;
	return HW_MONEY_OK;
}

const char *hw_money_verdict_name(enum hw_money_verdict v)
{
	static const char *const names[] = {"OK", "DOWNGRADE", "LIGHT_ONLY", "BLOCK"};
	return names[v];
}

void hw_money_month(int64_t unix_s, char out[8])
{
	time_t t = (time_t)unix_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, 8, "%04u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u);
}

int64_t hw_money_next_month(int64_t unix_s)
{
	time_t t = (time_t)unix_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	struct tm next = {.tm_year = tm.tm_year, .tm_mon = tm.tm_mon + 1, .tm_mday = 1};
	return (int64_t)timegm(&next);
}

const char *hw_money_grace_cut(int64_t since, int64_t now, int64_t tokens, int64_t grace_hours,
			       int64_t grace_tokens)
{
	if (now - since >= grace_hours * 3600)
		return "grace_period_exceeded_time";
	if (tokens >= grace_tokens)
		return "grace_period_exceeded_tokens";
	return NULL;
}

bool hw_money_grace_warn(int64_t since, int64_t now, int64_t tokens, int64_t grace_hours,
			 int64_t grace_tokens, double warn_fraction)
{
	return (double)(now - since) >= warn_fraction * (double)(grace_hours * 3600) ||
	       (double)tokens >= warn_fraction * (double)grace_tokens;
}

uint32_t hw_money_low_tiers(int64_t balance, int64_t last_topup, const int64_t *percents, size_t n)
{
	uint32_t bits = 0;
	if (last_topup <= 0)
		return 0;
	for (size_t i = 0; i < n && i < 31; i++)
		if (balance * 100 <= last_topup * percents[i])
			bits |= 1u << i;
	return bits;
}
