// SPDX-License-Identifier: Apache-2.0
/* The perimeter runtime over a real store: the Guardian's entry point (429 guardian_block
 * counting) and 401 counting end in a ban that applies at once, exemptions (configured,
 * trusted proxies, global kernel allow rules), a change written by another connection is
 * picked up by the poll, expiry, and the client IP through the configured proxies. */
#include "common/clock.h"
#include "common/config.h"
#include "iprules/perimeter.h"
#include "store/store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

struct fixture {
	char dir[64];
	char path[96];
	struct hw_store *st;
	struct hw_config *cfg;
};

static const struct hw_config *cfg_of(void *arg)
{
	return ((struct fixture *)arg)->cfg;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char url[128], yaml[1024], err[256];
	assert_non_null(f);
	strcpy(f->dir, "/tmp/hw_test_perimeter_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/hiway.db", f->dir);
	snprintf(url, sizeof(url), "sqlite:%s", f->path);
	snprintf(
	    yaml, sizeof(yaml),
	    "store: \"%s\"\n"
	    "server: {trusted_proxies: [\"10.0.0.1/32\"]}\n"
	    "perimeter: {poll_ms: 50, autoban: {auth_failures: {count: 2, window_s: 60}, "
	    "guardian_blocks: {count: 3, window_s: 60}, ttl_s: 600, exempt: [\"127.0.0.0/8\"]}}\n",
	    url);
	if (hw_config_load_string(yaml, strlen(yaml), "test.yaml", &f->cfg, err, sizeof(err)) < 0)
		fail_msg("config: %s", err);
	assert_int_equal(hw_store_open(url, 5000, "normal", &f->st), 0);
	assert_int_equal(hw_perimeter_start(f->st, cfg_of, f), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	char p[128];
	hw_perimeter_stop();
	f->st->ops->close(f->st);
	hw_config_free(f->cfg);
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, suffixes[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct hw_ipaddr addr(const char *s)
{
	struct hw_ipaddr a;
	assert_int_equal(hw_ip_parse(s, &a), 0);
	return a;
}

static size_t bans_with(struct hw_store *st, const char *reason, const char *cidr)
{
	struct hw_ban *rows = NULL;
	size_t n = 0, hits = 0;
	assert_int_equal(st->ops->perimeter.ban_list_all(st, &rows, &n), 0);
	for (size_t i = 0; i < n; i++)
		hits += strcmp(rows[i].reason, reason) == 0 && strcmp(rows[i].cidr, cidr) == 0;
	free(rows);
	return hits;
}

static void test_guardian_blocks_ban(void **state)
{
	struct fixture *f = *state;
	struct hw_ipaddr a = addr("198.51.100.3");
	for (int i = 0; i < 2; i++)
		hw_perimeter_note(&a, HW_AUTOBAN_GUARDIAN_BLOCKS);
	assert_int_equal(hw_perimeter_check(&a), HW_IP_ALLOWED);
	hw_perimeter_note(&a, HW_AUTOBAN_GUARDIAN_BLOCKS);
	/* at once, without waiting for a poll */
	assert_int_equal(hw_perimeter_check(&a), HW_IP_DENIED_BAN);
	assert_int_equal(bans_with(f->st, "guardian_blocks", "198.51.100.3/32"), 1);
	/* the refresher folds it into the full snapshot soon after */
	struct hw_perimeter_counts k;
	for (int waited = 0; waited < 2000; waited += 10) {
		hw_perimeter_counts(&k);
		if (k.autobans_active == 1)
			break;
		usleep(10000);
	}
	assert_int_equal(k.autobans_active, 1);
	assert_int_equal(k.bans[0], 1);
	/* 401s: count 2 in this configuration, IPv6 gets a /128 */
	struct hw_ipaddr b = addr("2001:db8::77");
	hw_perimeter_note(&b, HW_AUTOBAN_AUTH_FAILURES);
	assert_int_equal(hw_perimeter_check(&b), HW_IP_ALLOWED);
	hw_perimeter_note(&b, HW_AUTOBAN_AUTH_FAILURES);
	assert_int_equal(hw_perimeter_check(&b), HW_IP_DENIED_BAN);
	assert_int_equal(bans_with(f->st, "auth_failures", "2001:db8::77/128"), 1);
}

static void test_exemptions(void **state)
{
	struct fixture *f = *state;
	struct hw_ip_rule r;
	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "ipr_ALLOW");
	snprintf(r.cidr, sizeof(r.cidr), "192.0.2.0/24");
	r.family = 4;
	snprintf(r.action, sizeof(r.action), "allow");
	r.kernel = true;
	r.created_at = hw_clock_wall_s();
	assert_int_equal(f->st->ops->perimeter.rule_insert(f->st, &r, 100), 0);
	assert_int_equal(hw_perimeter_refresh(), 0);
	static const char *const exempt[] = {"127.0.0.5", "10.0.0.1", "192.0.2.44"};
	for (size_t i = 0; i < 3; i++) {
		struct hw_ipaddr a = addr(exempt[i]);
		assert_true(hw_perimeter_autoban_exempt(&a));
		for (int k = 0; k < 10; k++)
			hw_perimeter_note(&a, HW_AUTOBAN_AUTH_FAILURES);
		assert_int_equal(hw_perimeter_check(&a), HW_IP_ALLOWED);
	}
	struct hw_ipaddr other = addr("192.0.3.1");
	assert_false(hw_perimeter_autoban_exempt(&other));
	/* a kernel:false global allow does not exempt */
	r.kernel = false;
	snprintf(r.id, sizeof(r.id), "ipr_NOKERNEL");
	snprintf(r.cidr, sizeof(r.cidr), "192.0.3.0/24");
	assert_int_equal(f->st->ops->perimeter.rule_insert(f->st, &r, 100), 0);
	assert_int_equal(hw_perimeter_refresh(), 0);
	assert_false(hw_perimeter_autoban_exempt(&other));
}

static void test_other_process_change_and_expiry(void **state)
{
	struct fixture *f = *state;
	struct hw_ipaddr a = addr("203.0.113.8");
	sqlite3 *db = NULL;
	char sql[512];
	long long now = (long long)hw_clock_wall_s();

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	snprintf(sql, sizeof(sql),
		 "BEGIN IMMEDIATE; INSERT INTO ip_rules VALUES ('ipr_DIRECT', NULL, "
		 "'203.0.113.0/24', 4, 'deny', NULL, 1, %lld, %lld); UPDATE settings SET value = "
		 "CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE name = 'perimeter_generation'; "
		 "COMMIT;",
		 now + 2, now);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	/* poll_ms 50: applied well within a second */
	int waited = 0;
	while (hw_perimeter_check(&a) == HW_IP_ALLOWED && waited < 1000) {
		usleep(10000);
		waited += 10;
	}
	assert_true(waited < 1000);
	assert_int_equal(hw_perimeter_check(&a), HW_IP_DENIED_RULE);
	/* and stops at expires_at (2 s from now) without any store change */
	waited = 0;
	while (hw_perimeter_check(&a) != HW_IP_ALLOWED && waited < 4000) {
		usleep(20000);
		waited += 20;
	}
	assert_true(waited < 4000);
	struct hw_ipaddr ws_check = addr("203.0.113.9");
	assert_int_equal(hw_perimeter_check_workspace("WS", &ws_check), HW_IP_ALLOWED);
}

static void test_client_ip_from_config(void **state)
{
	struct hw_ipaddr proxy = addr("10.0.0.1"), other = addr("10.0.0.2"), out;
	char text[HW_IP_TEXT_MAX];
	(void)state;
	hw_perimeter_client_ip(&proxy, "203.0.113.77, 10.0.0.1", &out);
	hw_ip_format(&out, text, sizeof(text));
	assert_string_equal(text, "203.0.113.77");
	hw_perimeter_client_ip(&other, "203.0.113.77", &out);
	hw_ip_format(&out, text, sizeof(text));
	assert_string_equal(text, "10.0.0.2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_guardian_blocks_ban, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exemptions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_process_change_and_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_client_ip_from_config, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
