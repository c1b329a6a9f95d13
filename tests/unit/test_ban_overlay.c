// SPDX-License-Identifier: Apache-2.0
/* The pending auto-ban set: added bans match at once, pruning by sequence keeps the newer
 * ones, readers run while writers swap. */
#include "iprules/ban_overlay.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

static struct hw_ipaddr addr(const char *s)
{
	struct hw_ipaddr a;
	assert_int_equal(hw_ip_parse(s, &a), 0);
	return a;
}

static void test_add_prune(void **state)
{
	struct hw_ban_overlay *o = hw_ban_overlay_new();
	struct hw_ipaddr a = addr("203.0.113.1"), b = addr("2001:db8::2"), c = addr("203.0.113.3");
	(void)state;
	assert_false(hw_ban_overlay_contains(o, &a));
	assert_int_equal(hw_ban_overlay_seq(o), 0);
	assert_int_equal(hw_ban_overlay_add(o, &a), 0);
	assert_int_equal(hw_ban_overlay_add(o, &b), 0);
	uint64_t upto = hw_ban_overlay_seq(o);
	assert_int_equal(upto, 2);
	assert_int_equal(hw_ban_overlay_add(o, &c), 0);
	assert_true(hw_ban_overlay_contains(o, &a));
	assert_true(hw_ban_overlay_contains(o, &b));
	assert_true(hw_ban_overlay_contains(o, &c));
	struct hw_ipaddr near = addr("203.0.113.2");
	assert_false(hw_ban_overlay_contains(o, &near)); /* host entries only */
	/* a rebuild that read the store after entry 2 holds a and b: they go, c stays */
	hw_ban_overlay_prune(o, upto);
	assert_int_equal(hw_ban_overlay_size(o), 1);
	assert_false(hw_ban_overlay_contains(o, &a));
	assert_false(hw_ban_overlay_contains(o, &b));
	assert_true(hw_ban_overlay_contains(o, &c));
	hw_ban_overlay_prune(o, upto); /* nothing older left: no change */
	assert_int_equal(hw_ban_overlay_size(o), 1);
	hw_ban_overlay_prune(o, hw_ban_overlay_seq(o));
	assert_int_equal(hw_ban_overlay_size(o), 0);
	assert_false(hw_ban_overlay_contains(o, &c));
	hw_ban_overlay_reclaim(o, false);
	assert_false(hw_ban_overlay_contains(NULL, &c));
	hw_ban_overlay_free(o);
}

static struct hw_ban_overlay *shared;
static atomic_bool done;

static void *reader(void *arg)
{
	struct hw_ipaddr first = addr("198.51.100.0");
	unsigned long seen = 0;
	(void)arg;
	while (!atomic_load(&done))
		seen += hw_ban_overlay_contains(shared, &first);
	return (void *)seen;
}

static void test_readers_during_swaps(void **state)
{
	pthread_t t;
	char text[32];
	(void)state;
	shared = hw_ban_overlay_new();
	atomic_store(&done, false);
	struct hw_ipaddr first = addr("198.51.100.0");
	assert_int_equal(hw_ban_overlay_add(shared, &first), 0);
	pthread_create(&t, NULL, reader, NULL);
	for (int i = 1; i < 500; i++) {
		snprintf(text, sizeof(text), "198.51.%d.%d", 100 + i / 250, i % 250);
		struct hw_ipaddr a = addr(text);
		assert_int_equal(hw_ban_overlay_add(shared, &a), 0);
		if (i % 50 == 0)
			hw_ban_overlay_prune(shared, (uint64_t)i - 10); /* entry 1 goes at i = 50 */
	}
	atomic_store(&done, true);
	pthread_join(t, NULL);
	assert_false(hw_ban_overlay_contains(shared, &first));
	hw_ban_overlay_free(shared);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_prune),
	    cmocka_unit_test(test_readers_during_swaps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
