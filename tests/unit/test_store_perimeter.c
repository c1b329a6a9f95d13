// SPDX-License-Identifier: Apache-2.0
/* The SQLite perimeter operations on a real file: rules per scope with their limit, bans,
 * the sweep, agent rows, and the perimeter_generation bump in the same transaction as each
 * change (checked from a second connection, as hiway-agent would see it). */
#include "store/store.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

struct fixture {
	char dir[64];
	char path[96];
	struct hw_store *st;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char url[128];
	assert_non_null(f);
	strcpy(f->dir, "/tmp/hw_test_perim_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/hiway.db", f->dir);
	snprintf(url, sizeof(url), "sqlite:%s", f->path);
	assert_int_equal(hw_store_open(url, 5000, "normal", &f->st), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	char p[128];
	f->st->ops->close(f->st);
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, suffixes[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* perimeter_generation as another process reads it. */
static long long other_gen(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	long long v = -1;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT value FROM settings WHERE name = "
					    "'perimeter_generation'",
					    -1, &s, NULL),
			 SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = strtoll((const char *)sqlite3_column_text(s, 0), NULL, 10);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static struct hw_ip_rule rule(const char *id, const char *ws, const char *cidr)
{
	struct hw_ip_rule r;
	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "%s", id);
	snprintf(r.workspace_id, sizeof(r.workspace_id), "%s", ws);
	snprintf(r.cidr, sizeof(r.cidr), "%s", cidr);
	r.family = strchr(cidr, ':') ? 6 : 4;
	snprintf(r.action, sizeof(r.action), "deny");
	r.kernel = true;
	r.created_at = 100;
	return r;
}

static void test_rules(void **state)
{
	struct fixture *f = *state;
	struct hw_store *st = f->st;
	const struct hw_store_perimeter_ops *p = &st->ops->perimeter;
	struct hw_ip_rule *rows = NULL;
	size_t n = 0;
	int64_t gen = -1;

	assert_int_equal(p->generation(st, &gen), 0);
	assert_int_equal(gen, 0);
	struct hw_ip_rule g = rule("ipr_A", "", "10.0.0.0/8");
	snprintf(g.comment, sizeof(g.comment), "global one");
	g.expires_at = 5000;
	assert_int_equal(p->rule_insert(st, &g, 2), 0);
	assert_int_equal(other_gen(f->path), 1);
	struct hw_ip_rule w = rule("ipr_B", "WS1", "2001:db8::/32");
	w.kernel = false;
	assert_int_equal(p->rule_insert(st, &w, 1), 0);
	assert_int_equal(other_gen(f->path), 2);
	/* the workspace holds 1 of 1: the next one is refused, and nothing is bumped */
	struct hw_ip_rule w2 = rule("ipr_C", "WS1", "192.0.2.0/24");
	assert_int_equal(p->rule_insert(st, &w2, 1), -ENOSPC);
	assert_int_equal(other_gen(f->path), 2);
	/* ... while another scope still has room */
	w2 = rule("ipr_C", "WS2", "192.0.2.0/24");
	assert_int_equal(p->rule_insert(st, &w2, 1), 0);
	assert_int_equal(p->rule_insert(st, &w2, 10), -EEXIST);
	assert_int_equal(other_gen(f->path), 3);

	assert_int_equal(p->rule_list(st, NULL, "", 10, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].id, "ipr_A");
	assert_string_equal(rows[0].workspace_id, "");
	assert_string_equal(rows[0].comment, "global one");
	assert_int_equal(rows[0].expires_at, 5000);
	assert_true(rows[0].kernel);
	free(rows);
	assert_int_equal(p->rule_list(st, "WS1", "", 10, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].cidr, "2001:db8::/32");
	assert_int_equal(rows[0].family, 6);
	assert_false(rows[0].kernel);
	assert_int_equal(rows[0].expires_at, 0);
	assert_string_equal(rows[0].comment, "");
	free(rows);
	assert_int_equal(p->rule_list(st, "WS1", "ipr_B", 10, &rows, &n), 0);
	assert_int_equal(n, 0);
	free(rows);
	assert_int_equal(p->rule_list_all(st, &rows, &n), 0);
	assert_int_equal(n, 3);
	free(rows);

	/* delete is scoped: a workspace rule is not found as global, nor in another workspace */
	assert_int_equal(p->rule_delete(st, NULL, "ipr_B"), -ENOENT);
	assert_int_equal(p->rule_delete(st, "WS2", "ipr_B"), -ENOENT);
	assert_int_equal(p->rule_delete(st, "", "ipr_A"), 0);
	assert_int_equal(p->rule_delete(st, "WS1", "ipr_B"), 0);
	assert_int_equal(p->generation(st, &gen), 0);
	assert_int_equal(gen, 5);
	assert_int_equal(other_gen(f->path), 5);
}

static void test_bans_and_sweep(void **state)
{
	struct fixture *f = *state;
	struct hw_store *st = f->st;
	const struct hw_store_perimeter_ops *p = &st->ops->perimeter;
	struct hw_ban b = {.id = "ban_1",
			   .cidr = "203.0.113.5/32",
			   .family = 4,
			   .reason = "auth_failures",
			   .comment = "20 x 401",
			   .created_at = 10,
			   .expires_at = 610};
	struct hw_ban *rows = NULL;
	size_t n = 0;
	int64_t deleted = -1;

	assert_int_equal(p->ban_insert(st, &b), 0);
	struct hw_ban m = {.id = "ban_2",
			   .cidr = "2001:db8::/48",
			   .family = 6,
			   .reason = "manual",
			   .created_at = 20};
	assert_int_equal(p->ban_insert(st, &m), 0);
	assert_int_equal(other_gen(f->path), 2);
	assert_int_equal(p->ban_list(st, "", 1, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].id, "ban_1");
	assert_string_equal(rows[0].reason, "auth_failures");
	assert_int_equal(rows[0].expires_at, 610);
	free(rows);
	assert_int_equal(p->ban_list(st, "ban_1", 10, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].expires_at, 0);
	assert_string_equal(rows[0].comment, "");
	free(rows);

	struct hw_ip_rule r = rule("ipr_X", "", "10.0.0.0/8");
	r.expires_at = 600;
	assert_int_equal(p->rule_insert(st, &r, 10), 0);
	assert_int_equal(other_gen(f->path), 3);
	/* nothing expired yet: no bump */
	assert_int_equal(p->sweep(st, 599, &deleted), 0);
	assert_int_equal(deleted, 0);
	assert_int_equal(other_gen(f->path), 3);
	/* the rule expires at 600, the ban at 610; one bump for the whole sweep */
	assert_int_equal(p->sweep(st, 610, &deleted), 0);
	assert_int_equal(deleted, 2);
	assert_int_equal(other_gen(f->path), 4);
	assert_int_equal(p->ban_list_all(st, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].id, "ban_2");
	free(rows);
	assert_int_equal(p->ban_delete(st, "ban_2"), 0);
	assert_int_equal(p->ban_delete(st, "ban_2"), -ENOENT);
	assert_int_equal(other_gen(f->path), 5);
}

static void test_agents(void **state)
{
	struct fixture *f = *state;
	struct hw_agent_status *rows = NULL;
	size_t n = 0;
	sqlite3 *db = NULL;

	assert_int_equal(f->st->ops->perimeter.agent_list(f->st, &rows, &n), 0);
	assert_int_equal(n, 0);
	free(rows);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db,
			 "INSERT INTO agent_status VALUES ('n1', 7, '1.0.0', 'running', "
			 "123456, 3, '[{\"name\":\"eth0\",\"mode\":\"tc\",\"prog_id\":9}]', "
			 "'{\"allow_v4\":1}', '{\"pass\":{\"packets\":5,\"bytes\":300}}')",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(f->st->ops->perimeter.agent_list(f->st, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].node_id, "n1");
	assert_int_equal(rows[0].pid, 7);
	assert_int_equal(rows[0].heartbeat_at, 123456);
	assert_int_equal(rows[0].generation, 3);
	assert_non_null(strstr(rows[0].interfaces, "eth0"));
	assert_non_null(strstr(rows[0].stats, "\"packets\":5"));
	free(rows);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bans_and_sweep, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_agents, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
