// SPDX-License-Identifier: Apache-2.0
/* Auto-ban counters with injected time: the sliding window's edges, both reasons apart,
 * the restart after a ban, bounded memory (eviction of the least recently seen source,
 * idle expiry) and concurrent use. */
#include "iprules/autoban.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static const struct hw_autoban_limits lim = {{20, 30}, {60000, 60000}};

static struct hw_ipaddr addr(const char *s)
{
	struct hw_ipaddr a;
	assert_int_equal(hw_ip_parse(s, &a), 0);
	return a;
}

static void test_threshold_inside_window(void **state)
{
	struct hw_autoban *ab = hw_autoban_new(1000);
	struct hw_ipaddr a = addr("203.0.113.1");
	(void)state;
	/* 19 failures spread over 59 s: no ban; the 20th at 59.999 s after the first bans */
	for (int i = 0; i < 19; i++)
		assert_false(hw_autoban_note(ab, &a, HW_AUTOBAN_AUTH_FAILURES, &lim, i * 3000));
	assert_true(hw_autoban_note(ab, &a, HW_AUTOBAN_AUTH_FAILURES, &lim, 59999));
	/* the window starts over after a ban */
	assert_false(hw_autoban_note(ab, &a, HW_AUTOBAN_AUTH_FAILURES, &lim, 60000));
	hw_autoban_free(ab);
}

static void test_window_edge(void **state)
{
	struct hw_autoban *ab = hw_autoban_new(1000);
	struct hw_ipaddr a = addr("2001:db8::1");
	(void)state;
	/* the first of 20 is exactly 60 s old when the 20th arrives: outside the window */
	assert_false(hw_autoban_note(ab, &a, HW_AUTOBAN_AUTH_FAILURES, &lim, 0));
	for (int i = 1; i < 19; i++)
		assert_false(hw_autoban_note(ab, &a, HW_AUTOBAN_AUTH_FAILURES, &lim, 1000 + i));
	assert_false(hw_autoban_note(ab, &a, HW_AUTOBAN_AUTH_FAILURES, &lim, 60000));
	/* one more: the last 20 now span 1001 .. 60001, inside */
	assert_true(hw_autoban_note(ab, &a, HW_AUTOBAN_AUTH_FAILURES, &lim, 60001));
	hw_autoban_free(ab);
}

static void test_reasons_apart(void **state)
{
	struct hw_autoban *ab = hw_autoban_new(1000);
	struct hw_ipaddr a = addr("198.51.100.7"), b = addr("198.51.100.8");
	(void)state;
	/* guardian blocks need 30; 401s do not count toward them, nor another source's */
	for (int i = 0; i < 19; i++) {
		assert_false(hw_autoban_note(ab, &a, HW_AUTOBAN_AUTH_FAILURES, &lim, i));
		assert_false(hw_autoban_note(ab, &b, HW_AUTOBAN_AUTH_FAILURES, &lim, i));
	}
	for (int i = 0; i < 29; i++)
		assert_false(hw_autoban_note(ab, &a, HW_AUTOBAN_GUARDIAN_BLOCKS, &lim, 100 + i));
	assert_true(hw_autoban_note(ab, &a, HW_AUTOBAN_GUARDIAN_BLOCKS, &lim, 200));
	assert_true(hw_autoban_note(ab, &a, HW_AUTOBAN_AUTH_FAILURES, &lim, 201));
	assert_true(hw_autoban_note(ab, &b, HW_AUTOBAN_AUTH_FAILURES, &lim, 202));
	assert_string_equal(hw_autoban_reason_name(HW_AUTOBAN_GUARDIAN_BLOCKS), "guardian_blocks");
	assert_string_equal(hw_autoban_reason_name(HW_AUTOBAN_AUTH_FAILURES), "auth_failures");
	hw_autoban_free(ab);
}

static void test_bounded_memory(void **state)
{
	struct hw_autoban *ab = hw_autoban_new(64);
	char text[32];
	(void)state;
	for (int i = 0; i < 5000; i++) {
		snprintf(text, sizeof(text), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255,
			 i & 255);
		struct hw_ipaddr a = addr(text);
		hw_autoban_note(ab, &a, HW_AUTOBAN_AUTH_FAILURES, &lim, 1000);
	}
	/* 16 shards of 64 / 16 + 1 */
	assert_true(hw_autoban_tracked(ab) <= 16 * 5);
	/* idle sources go once every window has passed */
	struct hw_ipaddr x = addr("192.0.2.1");
	hw_autoban_note(ab, &x, HW_AUTOBAN_AUTH_FAILURES, &lim, 1000 + 60001);
	assert_true(hw_autoban_tracked(ab) <= 16 * 5);
	hw_autoban_forget(ab, &x);
	/* a forgotten source starts from zero */
	for (int i = 0; i < 19; i++)
		assert_false(hw_autoban_note(ab, &x, HW_AUTOBAN_AUTH_FAILURES, &lim, 70000 + i));
	hw_autoban_forget(ab, &x);
	assert_false(hw_autoban_note(ab, &x, HW_AUTOBAN_AUTH_FAILURES, &lim, 70100));
	hw_autoban_free(ab);
}

static void test_evicted_source_forgets(void **state)
{
	struct hw_autoban *ab = hw_autoban_new(0); /* one source per shard */
	struct hw_ipaddr a = addr("203.0.113.9");
	char text[32];
	(void)state;
	for (int i = 0; i < 19; i++)
		hw_autoban_note(ab, &a, HW_AUTOBAN_AUTH_FAILURES, &lim, i);
	/* flood other sources until a's shard evicted it */
	for (int i = 0; i < 256; i++) {
		snprintf(text, sizeof(text), "198.18.0.%d", i);
		struct hw_ipaddr b = addr(text);
		hw_autoban_note(ab, &b, HW_AUTOBAN_AUTH_FAILURES, &lim, 100);
	}
	assert_false(hw_autoban_note(ab, &a, HW_AUTOBAN_AUTH_FAILURES, &lim, 200));
	hw_autoban_free(ab);
}

struct worker_arg {
	struct hw_autoban *ab;
	int id;
	int bans;
};

static void *worker(void *p)
{
	struct worker_arg *w = p;
	char text[32];
	snprintf(text, sizeof(text), "100.64.0.%d", w->id);
	struct hw_ipaddr a;
	hw_ip_parse(text, &a);
	for (int i = 0; i < 2000; i++)
		w->bans += hw_autoban_note(w->ab, &a, HW_AUTOBAN_AUTH_FAILURES, &lim, i);
	return NULL;
}

static void test_concurrent(void **state)
{
	struct hw_autoban *ab = hw_autoban_new(1000);
	pthread_t t[4];
	struct worker_arg w[4];
	(void)state;
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker_arg){ab, i, 0};
		pthread_create(&t[i], NULL, worker, &w[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].bans, 100); /* every 20th event */
	}
	hw_autoban_free(ab);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_threshold_inside_window), cmocka_unit_test(test_window_edge),
	    cmocka_unit_test(test_reasons_apart),	    cmocka_unit_test(test_bounded_memory),
	    cmocka_unit_test(test_evicted_source_forgets),  cmocka_unit_test(test_concurrent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
