// SPDX-License-Identifier: Apache-2.0
/* Guardian settings in the SQLite store (SPEC §16.2): put, get, replace, list_all, and the
 * workspace they belong to, against a real database file under /tmp. */
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

static void test_guardian_settings_rows(void **state)
{
	(void)state;
	char dir[] = "/tmp/hw_test_gd_store_XXXXXX", path[96], url[128];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/hiway.db", dir);
	snprintf(url, sizeof(url), "sqlite:%s", path);
	struct hw_store *st = NULL;
	assert_int_equal(hw_store_open(url, 5000, "normal", &st), 0);

	struct hw_workspace ws = {.id = "01JAAAAAAAAAAAAAAAAAAAAAAA",
				  .name = "a",
				  .status = "active",
				  .plan = "unlimited",
				  .routing_profile = "balanced"};
	assert_int_equal(st->ops->workspace_create(st, &ws), 0);
	char *body = NULL;
	assert_int_equal(st->ops->guardian.get(st, ws.id, &body), -ENOENT);
	assert_null(body);
	/* No such workspace. */
	assert_int_equal(st->ops->guardian.put(st, "01JNOPE0000000000000000000", "{}", 1), -ENOENT);

	assert_int_equal(st->ops->guardian.put(st, ws.id, "{\"dedup\":{\"count\":5}}", 10), 0);
	assert_int_equal(st->ops->guardian.get(st, ws.id, &body), 0);
	assert_string_equal(body, "{\"dedup\":{\"count\":5}}");
	free(body);
	assert_int_equal(st->ops->guardian.put(st, ws.id, "{}", 11), 0); /* replaces */
	assert_int_equal(st->ops->guardian.get(st, ws.id, &body), 0);
	assert_string_equal(body, "{}");
	free(body);

	char **ids = NULL, **bodies = NULL;
	size_t n = 0;
	assert_int_equal(st->ops->guardian.list_all(st, &ids, &bodies, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], ws.id);
	assert_string_equal(bodies[0], "{}");
	hw_store_guardian_rows_free(ids, bodies, n);

	st->ops->close(st);
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < 3; i++) {
		char p[128];
		snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
		unlink(p);
	}
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_guardian_settings_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
