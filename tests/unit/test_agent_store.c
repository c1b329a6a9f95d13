// SPDX-License-Identifier: Apache-2.0
/* hiway-agent's store contract (SPEC §13.2, schema step 6): which ip_rules and bans rows make
 * the kernel's perimeter set, CIDR parsing, the generation setting and the status upsert. */
#include "agent/agent_store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

struct fx {
	char path[64];
	sqlite3 *db;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "/tmp/hw-agent-store-XXXXXX");
	int fd = mkstemp(f->path);
	assert_true(fd >= 0);
	close(fd);
	char url[80];
	snprintf(url, sizeof(url), "sqlite:%s", f->path);
	assert_int_equal(hw_agent_store_open(url, 1000, &f->db), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	sqlite3_close(f->db);
	char p[96];
	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	free(f);
	return 0;
}

static void exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

static const struct hw_perim_rule *find(const struct hw_perim_rule *r, size_t n, const char *addr,
					uint32_t plen)
{
	uint8_t a[16] = {0};
	int fam = strchr(addr, ':') ? 6 : 4;
	inet_pton(fam == 6 ? AF_INET6 : AF_INET, addr, a);
	for (size_t i = 0; i < n; i++)
		if (r[i].family == fam && r[i].prefixlen == plen && !memcmp(r[i].addr, a, 16))
			return &r[i];
	return NULL;
}

static void test_parse_cidr(void **state)
{
	(void)state;
	struct hw_perim_rule r;
	assert_int_equal(hw_agent_parse_cidr("10.1.2.3/8", &r), 0);
	assert_int_equal(r.family, 4);
	assert_int_equal(r.prefixlen, 8);
	assert_memory_equal(r.addr, "\x0a\x00\x00\x00", 4);
	assert_int_equal(hw_agent_parse_cidr("192.0.2.7", &r), 0);
	assert_int_equal(r.prefixlen, 32);
	assert_int_equal(hw_agent_parse_cidr("2001:db8::ff/33", &r), 0);
	assert_int_equal(r.family, 6);
	assert_int_equal(r.prefixlen, 33);
	assert_int_equal(r.addr[15], 0);
	assert_int_equal(hw_agent_parse_cidr("::1", &r), 0);
	assert_int_equal(r.prefixlen, 128);
	assert_int_equal(hw_agent_parse_cidr("10.0.0.0/33", &r), -EINVAL);
	assert_int_equal(hw_agent_parse_cidr("10.0.0.0/", &r), -EINVAL);
	assert_int_equal(hw_agent_parse_cidr("nope/8", &r), -EINVAL);
	assert_int_equal(hw_agent_parse_cidr(NULL, &r), -EINVAL);
}

static void test_perimeter_set(void **state)
{
	struct fx *f = *state;
	char sql[2048];
	long now = (long)time(NULL);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO ip_rules VALUES"
		 " ('r1', NULL, '10.1.0.0/16', 4, 'deny', '', 1, NULL, %ld),"
		 " ('r2', NULL, '10.2.0.0/16', 4, 'allow', '', 1, NULL, %ld),"
		 " ('r3', NULL, '10.3.0.0/16', 4, 'deny', '', 0, NULL, %ld),"
		 " ('r4', 'ws1', '10.4.0.0/16', 4, 'deny', '', 1, NULL, %ld),"
		 " ('r5', 'ws1', '10.5.0.0/16', 4, 'allow', '', 1, NULL, %ld),"
		 " ('r6', NULL, '10.6.0.0/16', 4, 'deny', '', 1, %ld, %ld),"
		 " ('r7', NULL, '2001:db8::/32', 6, 'deny', '', 1, %ld, %ld);"
		 "INSERT INTO bans VALUES"
		 " ('b1', '10.9.0.1/32', 4, 'auth_failures', '', %ld, %ld),"
		 " ('b2', 'fd00::1/128', 6, 'manual', '', %ld, NULL),"
		 " ('b3', '10.9.0.2/32', 4, 'guardian_blocks', '', %ld, %ld);",
		 now, now, now, now, now, now - 1, now, now + 3600, now, now, now + 600, now, now,
		 now - 5);
	exec(f->db, sql);

	struct hw_perim_rule *r = NULL;
	size_t n = 0;
	assert_int_equal(hw_agent_store_rules(f->db, true, &r, &n), 0);
	assert_int_equal(n, 6);
	const struct hw_perim_rule *x = find(r, n, "10.1.0.0", 16);
	assert_non_null(x);
	assert_false(x->allow);
	assert_int_equal(x->origin, HW_ORIGIN_GLOBAL_RULE);
	assert_int_equal(x->expires_ns, 0);
	assert_true(find(r, n, "10.2.0.0", 16)->allow);
	assert_null(find(r, n, "10.3.0.0", 16)); /* kernel = 0 */
	assert_int_equal(find(r, n, "10.4.0.0", 16)->origin, HW_ORIGIN_WORKSPACE_RULE);
	assert_null(find(r, n, "10.5.0.0", 16)); /* workspace allow never enters the kernel */
	assert_null(find(r, n, "10.6.0.0", 16)); /* expired */
	x = find(r, n, "2001:db8::", 32);
	assert_non_null(x);
	/* An expiry an hour ahead lands about an hour ahead on CLOCK_MONOTONIC. */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t mono = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	assert_true(x->expires_ns > mono + 3590ull * 1000000000ull);
	assert_true(x->expires_ns < mono + 3601ull * 1000000000ull);
	assert_int_equal(find(r, n, "10.9.0.1", 32)->origin, HW_ORIGIN_AUTO_BAN);
	x = find(r, n, "fd00::1", 128);
	assert_int_equal(x->origin, HW_ORIGIN_MANUAL_BAN);
	assert_int_equal(x->expires_ns, 0);
	assert_null(find(r, n, "10.9.0.2", 32)); /* expired ban */
	struct hw_perim_counts c;
	hw_perim_count(r, n, &c);
	assert_int_equal(c.deny_v4, 2);
	assert_int_equal(c.allow_v4, 1);
	assert_int_equal(c.deny_v6, 1);
	assert_int_equal(c.bans, 2);
	free(r);

	/* perimeter.workspace_rules_in_kernel: false keeps workspace rules out. */
	assert_int_equal(hw_agent_store_rules(f->db, false, &r, &n), 0);
	assert_int_equal(n, 5);
	assert_null(find(r, n, "10.4.0.0", 16));
	free(r);
}

static void test_generation_and_status(void **state)
{
	struct fx *f = *state;
	int64_t g = -1;
	assert_int_equal(hw_agent_store_generation(f->db, &g), 0);
	assert_int_equal(g, 0);
	exec(f->db, "UPDATE settings SET value = '41' WHERE name = 'perimeter_generation'");
	assert_int_equal(hw_agent_store_generation(f->db, &g), 0);
	assert_int_equal(g, 41);

	struct hw_agent_report st = {.node_id = "n1",
				     .version = "1.0.0",
				     .status = "running",
				     .pid = 7,
				     .generation = 41,
				     .interfaces_json = "[]",
				     .rules_json = "{}",
				     .stats_json = "{}"};
	assert_int_equal(hw_agent_store_status(f->db, &st), 0);
	st.status = "stopped";
	st.generation = 42;
	assert_int_equal(hw_agent_store_status(f->db, &st), 0);
	sqlite3_stmt *q;
	assert_int_equal(sqlite3_prepare_v2(f->db,
					    "SELECT count(*), max(status), max(generation),"
					    " max(heartbeat_at) FROM agent_status",
					    -1, &q, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 1);
	assert_string_equal((const char *)sqlite3_column_text(q, 1), "stopped");
	assert_int_equal(sqlite3_column_int(q, 2), 42);
	assert_true(sqlite3_column_int64(q, 3) > (int64_t)time(NULL) * 1000 - 60000);
	sqlite3_finalize(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_cidr),
	    cmocka_unit_test_setup_teardown(test_perimeter_set, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_generation_and_status, setup, teardown),
	};
	return cmocka_run_group_tests_name("agent_store", tests, NULL, NULL);
}
