// SPDX-License-Identifier: Apache-2.0
/* Per-key RPM and the Guardian rules (SPEC §11) with time passed in: every rule's
 * boundaries, throttle and block penalties, alert intervals, the memory bound and idle
 * expiry, and 100 threads on one key limited to 60 RPM. */
#include "common/config.h"
#include "guardian/guardian.h"
#include "guardian/time_ring.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define T0 1800000000000LL /* an arbitrary wall time in ms */

static struct hw_config *cfg_load(void)
{
	char err[256];
	struct hw_config *cfg = NULL;
	assert_int_equal(hw_config_load_string("", 0, "hiway.yaml", &cfg, err, sizeof(err)), 0);
	return cfg;
}

struct fx {
	struct hw_config *cfg;
	struct hw_guardian *g;
	struct hw_gd_settings s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->cfg = cfg_load();
	struct hw_gd_limits lim;
	hw_gd_limits_from_config(f->cfg, &lim);
	f->g = hw_guardian_new(&lim);
	hw_gd_settings_defaults(f->cfg, &f->s);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	hw_guardian_free(f->g);
	hw_config_free(f->cfg);
	free(f);
	return 0;
}

static const uint8_t H1[HW_GD_HASH_LEN] = {1};
static const uint8_t H2[HW_GD_HASH_LEN] = {2};

static enum hw_gd_verdict admit(struct fx *f, const char *key, int64_t rpm, const uint8_t *h,
				int64_t tokens, int64_t now, struct hw_gd_outcome *out)
{
	struct hw_gd_request rq = {key, rpm, &f->s, h, tokens, now};
	hw_guardian_admit(f->g, &rq, out);
	return out->verdict;
}

static void test_rpm_window_and_retry_after(void **state)
{
	struct fx *f = *state;
	struct hw_gd_outcome o;
	/* 3 per minute at t, t+10.5 s, t+20 s; the 4th at t+30 s waits until t+60 s. */
	assert_int_equal(admit(f, "k", 3, NULL, 0, T0, &o), HW_GD_PASS);
	assert_int_equal(admit(f, "k", 3, NULL, 0, T0 + 10500, &o), HW_GD_PASS);
	assert_int_equal(admit(f, "k", 3, NULL, 0, T0 + 20000, &o), HW_GD_PASS);
	assert_int_equal(admit(f, "k", 3, NULL, 0, T0 + 30000, &o), HW_GD_RATE_LIMITED);
	assert_int_equal(o.retry_after_s, 30);
	assert_int_equal(o.limit, 3);
	assert_string_equal(o.message, "Per-key rate limit exceeded (3 req/min).");
	/* ceil: 0.001 s left is 1 s; a rejected request took no slot. */
	assert_int_equal(admit(f, "k", 3, NULL, 0, T0 + 59999, &o), HW_GD_RATE_LIMITED);
	assert_int_equal(o.retry_after_s, 1);
	assert_int_equal(admit(f, "k", 3, NULL, 0, T0 + 59001, &o), HW_GD_RATE_LIMITED);
	assert_int_equal(o.retry_after_s, 1);
	assert_int_equal(admit(f, "k", 3, NULL, 0, T0 + 58999, &o), HW_GD_RATE_LIMITED);
	assert_int_equal(o.retry_after_s, 2);
	/* At exactly t+60 s the first entry has left the window. */
	assert_int_equal(admit(f, "k", 3, NULL, 0, T0 + 60000, &o), HW_GD_PASS);
	assert_int_equal(admit(f, "k", 3, NULL, 0, T0 + 60001, &o), HW_GD_RATE_LIMITED);
	assert_int_equal(o.retry_after_s, 11); /* t+10.5 s + 60 s - (t+60.001 s) = 10.499 */
	/* Other keys are independent; unlimited never refuses. */
	assert_int_equal(admit(f, "other", 3, NULL, 0, T0 + 60001, &o), HW_GD_PASS);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(admit(f, "free", -1, NULL, 0, T0, &o), HW_GD_PASS);
}

static void test_rpm_limit_change_keeps_newest(void **state)
{
	struct fx *f = *state;
	struct hw_gd_outcome o;
	for (int i = 0; i < 5; i++)
		assert_int_equal(admit(f, "k", 10, NULL, 0, T0 + i * 1000, &o), HW_GD_PASS);
	/* Lowered to 2: the 2 newest (t+3 s, t+4 s) fill it; the oldest of them frees at t+63. */
	assert_int_equal(admit(f, "k", 2, NULL, 0, T0 + 5000, &o), HW_GD_RATE_LIMITED);
	assert_int_equal(o.retry_after_s, 58);
	assert_int_equal(admit(f, "k", 2, NULL, 0, T0 + 63000, &o), HW_GD_PASS);
}

static void test_rpm_coarse_above_log_max(void **state)
{
	struct fx *f = *state;
	struct hw_gd_limits lim;
	hw_gd_limits_from_config(f->cfg, &lim);
	lim.rpm_log_max = 4;
	struct hw_guardian *g = hw_guardian_new(&lim);
	struct hw_gd_outcome o;
	struct hw_gd_request rq = {"k", 6, NULL, NULL, 0, T0};
	for (int i = 0; i < 6; i++) {
		rq.now_ms = T0 + i * 100;
		hw_guardian_admit(g, &rq, &o);
		assert_int_equal(o.verdict, HW_GD_PASS);
	}
	rq.now_ms = T0 + 30000;
	hw_guardian_admit(g, &rq, &o);
	assert_int_equal(o.verdict, HW_GD_RATE_LIMITED);
	assert_int_equal(o.retry_after_s, 31); /* rounded up to the end of the first second */
	rq.now_ms = T0 + 61000;
	hw_guardian_admit(g, &rq, &o);
	assert_int_equal(o.verdict, HW_GD_PASS);
	hw_guardian_free(g);
}

static void test_dedup_boundaries(void **state)
{
	struct fx *f = *state;
	struct hw_gd_outcome o;
	/* count 3 in 60 s: the 4th within the window is blocked, retry 60. */
	assert_int_equal(admit(f, "k", -1, H1, 10, T0, &o), HW_GD_PASS);
	assert_int_equal(admit(f, "k", -1, H1, 10, T0 + 1000, &o), HW_GD_PASS);
	assert_int_equal(admit(f, "k", -1, H2, 10, T0 + 1500, &o), HW_GD_PASS);
	assert_int_equal(admit(f, "k", -1, H1, 10, T0 + 2000, &o), HW_GD_PASS);
	assert_int_equal(admit(f, "k", -1, H1, 10, T0 + 47000, &o), HW_GD_BLOCKED);
	assert_int_equal(o.rule, HW_GD_DEDUP);
	assert_int_equal(o.retry_after_s, 60);
	assert_string_equal(o.message, "Blocked by Guardian: dedup (3 identical prompts in 47s)");
	assert_int_equal(o.n_trig, 1);
	assert_true(o.trig[0].notify);
	assert_string_equal(o.trig[0].action, "block");
	/* A blocked copy does not enter the window: at t+60 s the first left it. */
	assert_int_equal(admit(f, "k", -1, H1, 10, T0 + 59999, &o), HW_GD_BLOCKED);
	assert_false(o.trig[0].notify); /* one event per rule per key per alert interval */
	assert_int_equal(admit(f, "k", -1, H1, 10, T0 + 60000, &o), HW_GD_PASS);
	assert_int_equal(admit(f, "k", -1, H2, 10, T0 + 60000, &o), HW_GD_PASS);
	/* Alert-only lets the request pass and counts the trigger. */
	f->s.dedup.action = HW_GD_ALERT;
	assert_int_equal(admit(f, "k", -1, H1, 10, T0 + 60001, &o), HW_GD_PASS);
	assert_int_equal(o.n_trig, 1);
	assert_string_equal(o.trig[0].action, "alert");
	/* Disabled: nothing. */
	f->s.dedup.enabled = false;
	assert_int_equal(admit(f, "k", -1, H1, 10, T0 + 60002, &o), HW_GD_PASS);
	assert_int_equal(o.n_trig, 0);
}

static void test_dedup_throttle_replaces_block(void **state)
{
	struct fx *f = *state;
	struct hw_gd_outcome o;
	f->s.dedup.action = HW_GD_THROTTLE;
	f->s.cost_spike.throttle_rps = 0.5;
	f->s.cost_spike.duration_s = 10;
	for (int i = 0; i < 3; i++)
		assert_int_equal(admit(f, "k", -1, H1, 10, T0 + i, &o), HW_GD_PASS);
	assert_int_equal(admit(f, "k", -1, H1, 10, T0 + 10, &o), HW_GD_BLOCKED);
	assert_int_equal(o.retry_after_s, 2); /* 1 token at 0.5 req/s */
	assert_string_equal(o.message, "Blocked by Guardian: dedup (key throttled to 0.5 req/s)");
	assert_int_equal(admit(f, "k", -1, H2, 10, T0 + 1010, &o), HW_GD_BLOCKED);
	assert_int_equal(o.retry_after_s, 1);
	assert_int_equal(admit(f, "k", -1, H2, 10, T0 + 2010, &o), HW_GD_PASS);
	assert_int_equal(admit(f, "k", -1, H2, 10, T0 + 2011, &o), HW_GD_BLOCKED);
	/* The throttle ends after duration_s. */
	assert_int_equal(admit(f, "k", -1, H2, 10, T0 + 10010, &o), HW_GD_PASS);
	assert_int_equal(admit(f, "k", -1, H2, 10, T0 + 10011, &o), HW_GD_PASS);
}

static void test_context_bloat_boundary(void **state)
{
	struct fx *f = *state;
	struct hw_gd_outcome o;
	assert_int_equal(admit(f, "k", -1, NULL, 50000, T0, &o), HW_GD_PASS);
	assert_int_equal(admit(f, "k", -1, NULL, 50001, T0, &o), HW_GD_BLOAT);
	assert_int_equal(o.limit, 50000);
	assert_int_equal(o.prompt_tokens, 50001);
	assert_string_equal(o.message, "Prompt too large: 50001 tokens (limit 50000).");
	f->s.context_bloat.action = HW_GD_ALERT;
	assert_int_equal(admit(f, "k", -1, NULL, 50001, T0, &o), HW_GD_PASS);
	assert_int_equal(o.n_trig, 1);
	assert_int_equal(o.trig[0].rule, HW_GD_CONTEXT_BLOAT);
}

static void cost(struct fx *f, const char *key, double usd, int64_t now, struct hw_gd_outcome *o)
{
	hw_guardian_cost(f->g, key, &f->s, (int64_t)(usd * 1e6 + 0.5), now, o);
}

static void test_cost_spike_min_spend(void **state)
{
	struct fx *f = *state;
	struct hw_gd_outcome o;
	/* No history: the floor ($1.00) decides; >= triggers. */
	cost(f, "k", 0.5, T0, &o);
	cost(f, "k", 0.49, T0 + 1000, &o);
	assert_int_equal(o.n_trig, 0);
	assert_int_equal(admit(f, "k", -1, NULL, 1, T0 + 1500, &o), HW_GD_PASS);
	cost(f, "k", 0.01, T0 + 2000, &o);
	assert_int_equal(o.n_trig, 1);
	assert_int_equal(o.trig[0].rule, HW_GD_COST_SPIKE);
	assert_string_equal(o.trig[0].action, "throttle");
	/* Throttled to 1 req/s for 900 s: a new bucket is empty. */
	assert_int_equal(admit(f, "k", -1, NULL, 1, T0 + 2000, &o), HW_GD_BLOCKED);
	assert_int_equal(o.rule, HW_GD_COST_SPIKE);
	assert_int_equal(o.retry_after_s, 1);
	assert_string_equal(o.message,
			    "Blocked by Guardian: cost_spike (key throttled to 1 req/s)");
	assert_int_equal(admit(f, "k", -1, NULL, 1, T0 + 3000, &o), HW_GD_PASS);
	assert_int_equal(admit(f, "k", -1, NULL, 1, T0 + 3500, &o), HW_GD_BLOCKED);
	assert_int_equal(admit(f, "k", -1, NULL, 1, T0 + 2000 + 900000, &o), HW_GD_PASS);
	assert_int_equal(admit(f, "k", -1, NULL, 1, T0 + 2000 + 900001, &o), HW_GD_PASS);
}

static void test_cost_spike_multiplier_and_block(void **state)
{
	struct fx *f = *state;
	struct hw_gd_outcome o;
	f->s.cost_spike.min_spend = 10000; /* $0.01 */
	f->s.cost_spike.action = HW_GD_BLOCK;
	/* $2.88 two hours ago; now 10 x (2.88 + x) / 288 <= x needs x >= 0.10358. */
	cost(f, "k", 2.88, T0, &o);
	assert_int_equal(o.n_trig, 1); /* $2.88 in 5 min above the $0.01 floor, no history */
	hw_guardian_free(f->g);
	struct hw_gd_limits lim;
	hw_gd_limits_from_config(f->cfg, &lim);
	f->g = hw_guardian_new(&lim);
	f->s.cost_spike.action = HW_GD_ALERT;
	cost(f, "k", 2.88, T0, &o);
	f->s.cost_spike.action = HW_GD_BLOCK;
	int64_t t = T0 + 2 * 3600 * 1000;
	cost(f, "k", 0.10, t, &o);
	assert_int_equal(o.n_trig, 0);
	cost(f, "k", 0.004, t + 1000, &o); /* 0.104 >= 10 x 2.984 / 288 = 0.1036 */
	assert_int_equal(o.n_trig, 1);
	assert_string_equal(o.trig[0].action, "block");
	assert_int_equal(admit(f, "k", -1, NULL, 1, t + 1000, &o), HW_GD_BLOCKED);
	assert_int_equal(o.retry_after_s, 900);
	assert_string_equal(o.message, "Blocked by Guardian: cost_spike (key blocked for 900s)");
	assert_int_equal(admit(f, "k", -1, NULL, 1, t + 1000 + 899001, &o), HW_GD_BLOCKED);
	assert_int_equal(o.retry_after_s, 1);
	assert_int_equal(admit(f, "k", -1, NULL, 1, t + 1000 + 900000, &o), HW_GD_PASS);
}

static void done(struct fx *f, const char *key, const uint8_t *rq, const uint8_t *rs, int64_t now,
		 struct hw_gd_outcome *o)
{
	hw_guardian_completed(f->g, key, &f->s, rq, rs, now, o);
}

static void test_zombie_boundaries(void **state)
{
	struct fx *f = *state;
	struct hw_gd_outcome o;
	/* 10 answers 200 s apart span 1,800 s: the 10th suspends. */
	for (int i = 0; i < 9; i++) {
		done(f, "k", H1, H2, T0 + i * 200000LL, &o);
		assert_false(o.suspend);
	}
	done(f, "k", H1, H2, T0 + 9 * 200000LL - 1, &o); /* 1 ms short of 1,800 s */
	assert_false(o.suspend);
	done(f, "k", H1, H2, T0 + 9 * 200000LL, &o);
	assert_true(o.suspend);
	assert_int_equal(o.n_trig, 1);
	assert_string_equal(o.trig[0].action, "suspend");
	assert_true(o.trig[0].notify);
	assert_int_equal(admit(f, "k", -1, NULL, 1, T0 + 9 * 200000LL, &o), HW_GD_SUSPENDED);
	hw_guardian_suspended(f->g, "k");
	assert_int_equal(admit(f, "k", -1, NULL, 1, T0 + 9 * 200000LL, &o), HW_GD_PASS);

	/* A gap above max_gap_s restarts the run. */
	for (int i = 0; i < 5; i++)
		done(f, "g", H1, H2, T0 + i * 300000LL, &o); /* gaps of exactly 300 s continue */
	done(f, "g", H1, H2, T0 + 4 * 300000LL + 300001, &o);
	for (int i = 1; i < 7; i++) {
		done(f, "g", H1, H2, T0 + 4 * 300000LL + 300001 + i * 300000LL, &o);
		assert_false(o.suspend);
	}
	/* A different pair restarts it too. */
	for (int i = 0; i < 20; i++) {
		done(f, "p", H1, i % 2 ? H1 : H2, T0 + i * 200000LL, &o);
		assert_false(o.suspend);
	}
	/* Too few requests over a long time: 5 answers over 1,800 s do not trigger. */
	f->s.zombie_agent.max_gap_s = 1000;
	for (int i = 0; i < 5; i++) {
		done(f, "few", H1, H2, T0 + i * 450000LL, &o);
		assert_false(o.suspend);
	}
	/* Throttle instead of suspension. */
	f->s.zombie_agent.action = HW_GD_THROTTLE;
	for (int i = 0; i < 10; i++)
		done(f, "t", H1, H2, T0 + i * 200000LL, &o);
	assert_false(o.suspend);
	assert_string_equal(o.trig[0].action, "throttle");
	assert_int_equal(admit(f, "t", -1, NULL, 1, T0 + 9 * 200000LL, &o), HW_GD_BLOCKED);
	assert_int_equal(o.rule, HW_GD_ZOMBIE);
}

static void test_alert_interval(void **state)
{
	struct fx *f = *state;
	struct hw_gd_outcome o;
	f->s.context_bloat.action = HW_GD_ALERT;
	admit(f, "k", -1, NULL, 60000, T0, &o);
	assert_true(o.trig[0].notify);
	admit(f, "k", -1, NULL, 60000, T0 + 3599999, &o);
	assert_false(o.trig[0].notify);
	admit(f, "k", -1, NULL, 60000, T0 + 3600000, &o);
	assert_true(o.trig[0].notify);
	/* Per key. */
	admit(f, "k2", -1, NULL, 60000, T0 + 3600001, &o);
	assert_true(o.trig[0].notify);
}

static void test_memory_bound_and_expiry(void **state)
{
	struct fx *f = *state;
	struct hw_gd_limits lim;
	hw_gd_limits_from_config(f->cfg, &lim);
	lim.max_keys = 640;
	lim.idle_ms = 60000;
	struct hw_guardian *g = hw_guardian_new(&lim);
	struct hw_gd_outcome o;
	char id[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "kid_%d", i);
		struct hw_gd_request rq = {id, 5, &f->s, H1, 1, T0 + i};
		hw_guardian_admit(g, &rq, &o);
		assert_int_equal(o.verdict, HW_GD_PASS);
	}
	assert_true(hw_guardian_tracked(g) <= 640);
	assert_true(hw_guardian_tracked(g) > 0);
	hw_guardian_sweep(g, T0 + 4999 + 59999); /* the last key seen is not idle yet */
	assert_true(hw_guardian_tracked(g) > 0);
	hw_guardian_sweep(g, T0 + 4999 + 60000);
	assert_int_equal(hw_guardian_tracked(g), 0);
	/* A key under a block survives its idle time. */
	struct hw_gd_settings s = f->s;
	s.cost_spike.action = HW_GD_BLOCK;
	s.cost_spike.duration_s = 3600;
	hw_guardian_cost(g, "blocked", &s, 5000000, T0, &o);
	assert_int_equal(o.n_trig, 1);
	hw_guardian_sweep(g, T0 + 120000);
	assert_int_equal(hw_guardian_tracked(g), 1);
	hw_guardian_sweep(g, T0 + 3600000);
	assert_int_equal(hw_guardian_tracked(g), 0);
	hw_guardian_free(g);
}

/* 100 threads, one key limited to 60 RPM, everything at one instant: exactly 60 pass and
 * every refusal waits exactly 60 s. Then one second later, still none. */
struct hammer {
	struct hw_guardian *g;
	int64_t now;
	_Atomic int passed, refused, wrong_retry;
};

static void *hammer_main(void *arg)
{
	struct hammer *h = arg;
	for (int i = 0; i < 10; i++) {
		struct hw_gd_request rq = {"kid_hot", 60, NULL, NULL, 0, h->now};
		struct hw_gd_outcome o;
		hw_guardian_admit(h->g, &rq, &o);
		if (o.verdict == HW_GD_PASS) {
			h->passed++;
		} else {
			h->refused++;
			if (o.retry_after_s != 60 - (h->now - T0) / 1000)
				h->wrong_retry++;
		}
	}
	return NULL;
}

static void run_hammer(struct hammer *h)
{
	pthread_t t[100];
	for (int i = 0; i < 100; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer_main, h), 0);
	for (int i = 0; i < 100; i++)
		pthread_join(t[i], NULL);
}

static void test_hundred_threads_one_key(void **state)
{
	struct fx *f = *state;
	struct hammer h = {.g = f->g, .now = T0};
	run_hammer(&h);
	assert_int_equal(h.passed, 60);
	assert_int_equal(h.refused, 940);
	assert_int_equal(h.wrong_retry, 0);
	struct hammer h2 = {.g = f->g, .now = T0 + 1000};
	run_hammer(&h2);
	assert_int_equal(h2.passed, 0);
	assert_int_equal(h2.wrong_retry, 0); /* 59 s left */
	struct hammer h3 = {.g = f->g, .now = T0 + 60000};
	run_hammer(&h3);
	assert_int_equal(h3.passed, 60);
}

/* The ring grows by doubling up to its bound, then drops its oldest; memory follows the
 * entries held, not the bound. */
static void test_time_ring(void **state)
{
	(void)state;
	struct hw_time_ring r = {0};
	for (int i = 1; i <= 5; i++)
		assert_true(hw_time_ring_push(&r, i, 1000000));
	assert_int_equal(r.n, 5);
	assert_int_equal(r.cap, 8);
	for (int i = 6; i <= 12; i++)
		assert_true(hw_time_ring_push(&r, i, 10));
	assert_int_equal(r.n, 10);
	assert_int_equal(r.cap, 10);
	assert_int_equal(hw_time_ring_oldest(&r), 3);
	hw_time_ring_expire(&r, 7);
	assert_int_equal(r.n, 5);
	assert_int_equal(hw_time_ring_oldest(&r), 8);
	assert_true(hw_time_ring_push(&r, 13, 2)); /* a lowered bound keeps the newest */
	assert_int_equal(r.n, 2);
	assert_int_equal(hw_time_ring_oldest(&r), 12);
	assert_false(hw_time_ring_push(&r, 14, 0));
	hw_time_ring_free(&r);
	assert_null(r.v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_rpm_window_and_retry_after, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rpm_limit_change_keeps_newest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rpm_coarse_above_log_max, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dedup_boundaries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dedup_throttle_replaces_block, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_context_bloat_boundary, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cost_spike_min_spend, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cost_spike_multiplier_and_block, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zombie_boundaries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alert_interval, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_memory_bound_and_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hundred_threads_one_key, setup, teardown),
	    cmocka_unit_test(test_time_ring),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
