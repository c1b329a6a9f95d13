// SPDX-License-Identifier: Apache-2.0
/* The SQLite store against a real database file under /tmp. */
#include "store/store.h"
#include "store/store_sqlite.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

struct fixture {
	char dir[64];
	char path[96];
	char url[128];
	struct hw_store *st;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strcpy(f->dir, "/tmp/hw_test_store_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/hiway.db", f->dir);
	snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
	assert_int_equal(hw_store_open(f->url, 5000, "normal", &f->st), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[128];
	if (f->st)
		f->st->ops->close(f->st);
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, suffixes[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Runs a one-value query on the file behind the store's back. */
static int64_t query_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void query_text(const char *path, const char *sql, char *out, size_t len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	const unsigned char *t = sqlite3_column_text(s, 0);
	snprintf(out, len, "%s", t ? (const char *)t : "(null)");
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static void exec_sql(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static struct hw_workspace make_ws(const char *id, const char *name)
{
	struct hw_workspace ws;
	memset(&ws, 0, sizeof(ws));
	snprintf(ws.id, sizeof(ws.id), "%s", id);
	snprintf(ws.name, sizeof(ws.name), "%s", name);
	strcpy(ws.status, "active");
	strcpy(ws.plan, "unlimited");
	strcpy(ws.routing_profile, "balanced");
	ws.created_at = 1767225600;
	return ws;
}

static struct hw_key make_key(const char *id, const char *ws, const char *name, const char *status)
{
	struct hw_key k;
	memset(&k, 0, sizeof(k));
	snprintf(k.id, sizeof(k.id), "%s", id);
	snprintf(k.workspace_id, sizeof(k.workspace_id), "%s", ws);
	snprintf(k.name, sizeof(k.name), "%s", name);
	strcpy(k.prefix, "hw_live_3f2a");
	memset(k.hash, 'a', sizeof(k.hash) - 1);
	strcpy(k.role, "inference");
	snprintf(k.status, sizeof(k.status), "%s", status);
	k.rpm_limit = 600;
	strcpy(k.source, "api");
	k.created_at = 1767225600;
	return k;
}

static struct hw_usage_record make_usage(const char *ws, const char *key, int64_t ts_ms)
{
	struct hw_usage_record r;
	memset(&r, 0, sizeof(r));
	snprintf(r.request_id, sizeof(r.request_id), "req_%lld", (long long)ts_ms);
	r.ts_ms = ts_ms;
	snprintf(r.workspace_id, sizeof(r.workspace_id), "%s", ws);
	snprintf(r.key_id, sizeof(r.key_id), "%s", key);
	strcpy(r.route, "chat");
	strcpy(r.requested_model, "auto");
	strcpy(r.routed_model, "openai/gpt-4o-mini");
	strcpy(r.provider, "openai");
	strcpy(r.tier, "light");
	r.score = 0.25;
	r.status = 200;
	r.prompt_tokens = 12;
	r.completion_tokens = 34;
	r.upstream_cost = 41;
	r.markup_cost = 5;
	r.baseline_cost = 900;
	strcpy(r.client_ip, "192.0.2.7");
	return r;
}

static struct hw_provider_key make_pk(const char *ws, const char *provider, const char *box)
{
	struct hw_provider_key pk;
	memset(&pk, 0, sizeof(pk));
	snprintf(pk.workspace_id, sizeof(pk.workspace_id), "%s", ws);
	snprintf(pk.provider, sizeof(pk.provider), "%s", provider);
	/* The store keeps bytes as given: a NUL inside must survive. */
	pk.ciphertext_len = strlen(box) + 1;
	memcpy(pk.ciphertext, box, pk.ciphertext_len);
	strcpy(pk.fingerprint, "0123abcd");
	pk.enabled = true;
	pk.updated_at = 1767225600;
	return pk;
}

static void test_provider_keys(void **state)
{
	struct fixture *f = *state;
	struct hw_store *st = f->st;
	struct hw_workspace ws = make_ws("01JAAAAAAAAAAAAAAAAAAAAAAA", "a");
	struct hw_workspace ws2 = make_ws("01JBBBBBBBBBBBBBBBBBBBBBBB", "b");
	struct hw_provider_key pk = make_pk(ws.id, "openai", "box-1"), got, *rows = NULL;
	size_t n = 0;

	assert_int_equal(st->ops->workspace_create(st, &ws), 0);
	assert_int_equal(st->ops->workspace_create(st, &ws2), 0);
	/* A workspace that does not exist cannot hold a key. */
	struct hw_provider_key orphan = make_pk("01JZZZZZZZZZZZZZZZZZZZZZZZ", "openai", "x");
	assert_int_equal(st->ops->provider_key_put(st, &orphan), -ENOENT);

	assert_int_equal(st->ops->provider_key_get(st, ws.id, "openai", &got), -ENOENT);
	assert_int_equal(st->ops->provider_key_put(st, &pk), 0);
	assert_int_equal(st->ops->provider_key_get(st, ws.id, "openai", &got), 0);
	assert_int_equal(got.ciphertext_len, 6);
	assert_memory_equal(got.ciphertext, "box-1", 6);
	assert_string_equal(got.fingerprint, "0123abcd");
	assert_true(got.enabled);
	assert_int_equal(got.updated_at, 1767225600);

	/* Put replaces the row: here with the flag only, no key. */
	pk.ciphertext_len = 0;
	pk.fingerprint[0] = '\0';
	pk.enabled = false;
	pk.updated_at++;
	assert_int_equal(st->ops->provider_key_put(st, &pk), 0);
	assert_int_equal(st->ops->provider_key_get(st, ws.id, "openai", &got), 0);
	assert_int_equal(got.ciphertext_len, 0);
	assert_string_equal(got.fingerprint, "");
	assert_false(got.enabled);
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM provider_keys "
					    "WHERE ciphertext IS NULL AND fingerprint IS NULL"),
			 1);

	struct hw_provider_key more[] = {make_pk(ws.id, "anthropic", "box-2"),
					 make_pk(ws2.id, "openai", "box-3")};
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(st->ops->provider_key_put(st, &more[i]), 0);
	assert_int_equal(st->ops->provider_key_list(st, ws.id, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].provider, "anthropic");
	assert_string_equal(rows[1].provider, "openai");
	free(rows);
	assert_int_equal(st->ops->provider_key_list_all(st, &rows, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(rows[2].workspace_id, ws2.id);
	assert_memory_equal(rows[2].ciphertext, "box-3", 6);
	free(rows);

	assert_int_equal(st->ops->provider_key_delete(st, ws.id, "openai"), 0);
	assert_int_equal(st->ops->provider_key_delete(st, ws.id, "openai"), -ENOENT);
	assert_int_equal(st->ops->provider_key_get(st, ws.id, "openai", &got), -ENOENT);
	assert_int_equal(st->ops->provider_key_list(st, ws.id, &rows, &n), 0);
	assert_int_equal(n, 1);
	free(rows);

	/* The rows survive a reopen. */
	st->ops->close(st);
	assert_int_equal(hw_store_open(f->url, 5000, "normal", &f->st), 0);
	st = f->st;
	assert_int_equal(st->ops->provider_key_get(st, ws2.id, "openai", &got), 0);
	assert_memory_equal(got.ciphertext, "box-3", 6);
}

static void test_open_errors(void **state)
{
	struct hw_store *st = (struct hw_store *)1;
	assert_int_equal(hw_store_open(NULL, 5000, "normal", &st), -EINVAL);
	assert_null(st);
	assert_int_equal(hw_store_open("mysql://db", 5000, "normal", &st), -EINVAL);
	assert_int_equal(hw_store_open("redis://127.0.0.1:6379", 5000, "normal", &st), -ENOTSUP);
	assert_int_equal(hw_store_open("sqlite:", 5000, "normal", &st), -EINVAL);
	assert_int_equal(hw_store_open("sqlite:/tmp/x.db", 5000, "fast", &st), -EINVAL);
	assert_int_equal(hw_store_open("sqlite:/tmp/x.db", -1, "normal", &st), -EINVAL);
	assert_int_equal(hw_store_open("sqlite:/nonexistent-dir/x/hiway.db", 5000, "full", &st),
			 -EIO);
	assert_null(st);
}

static void test_migrations_idempotent(void **state)
{
	struct fixture *f = *state;
	struct hw_workspace ws = make_ws("01JAX3Q5ZP7K8M9N0R1S2T3V4W", "default");
	int latest = hw_store_sqlite_schema_version();

	assert_string_equal(f->st->backend, "sqlite");
	assert_int_equal(f->st->ops->ping(f->st), 0);
	assert_int_equal(f->st->ops->workspace_create(f->st, &ws), 0);
	f->st->ops->close(f->st);
	f->st = NULL;

	for (int i = 0; i < 2; i++) {
		assert_int_equal(hw_store_open(f->url, 5000, "full", &f->st), 0);
		assert_non_null(f->st);
		struct hw_workspace got;
		assert_int_equal(f->st->ops->workspace_get(f->st, ws.id, &got), 0);
		assert_string_equal(got.name, "default");
		f->st->ops->close(f->st);
		f->st = NULL;
	}
	assert_int_equal(query_int(f->path, "SELECT count(*) FROM schema_migrations"), latest);
	assert_int_equal(query_int(f->path, "SELECT max(version) FROM schema_migrations"), latest);
	char mode[16];
	query_text(f->path, "PRAGMA journal_mode", mode, sizeof(mode));
	assert_string_equal(mode, "wal");

	/* A file written by a newer build is refused rather than misread. */
	exec_sql(f->path, "INSERT INTO schema_migrations(version, applied_at) VALUES (9999, 0)");
	assert_int_equal(hw_store_open(f->url, 5000, "normal", &f->st), -EIO);
	assert_null(f->st);
}

static void test_workspace_crud(void **state)
{
	struct fixture *f = *state;
	const struct hw_store_ops *ops = f->st->ops;
	struct hw_workspace ws = make_ws("01JAX3Q5ZP7K8M9N0R1S2T3V4W", "acme"), got;
	int64_t count = -1;

	assert_int_equal(ops->workspace_count(f->st, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(ops->workspace_create(f->st, &ws), 0);
	assert_int_equal(ops->workspace_create(f->st, &ws), -EEXIST);
	assert_int_equal(ops->workspace_get(f->st, "01JAX3Q5ZP7K8M9N0R1S2T3V4X", &got), -ENOENT);

	assert_int_equal(ops->workspace_get(f->st, ws.id, &got), 0);
	assert_string_equal(got.id, ws.id);
	assert_string_equal(got.status, "active");
	assert_false(got.has_suspended_reason);
	assert_string_equal(got.default_model, "");
	assert_string_equal(got.allowed_regions, "");
	assert_int_equal(got.created_at, 1767225600);

	strcpy(ws.status, "suspended");
	ws.has_suspended_reason = true;
	strcpy(ws.suspended_reason, "unpaid");
	strcpy(ws.default_model, "anthropic/claude-haiku-4-5");
	strcpy(ws.allowed_regions, "[\"eu\"]");
	ws.created_at = 1;
	assert_int_equal(ops->workspace_update(f->st, &ws), 0);
	assert_int_equal(ops->workspace_get(f->st, ws.id, &got), 0);
	assert_string_equal(got.status, "suspended");
	assert_true(got.has_suspended_reason);
	assert_string_equal(got.suspended_reason, "unpaid");
	assert_string_equal(got.default_model, "anthropic/claude-haiku-4-5");
	assert_string_equal(got.allowed_regions, "[\"eu\"]");
	assert_int_equal(got.created_at, 1767225600);

	/* An empty reason is still a reason; has_suspended_reason alone says null. */
	ws.suspended_reason[0] = '\0';
	assert_int_equal(ops->workspace_update(f->st, &ws), 0);
	assert_int_equal(ops->workspace_get(f->st, ws.id, &got), 0);
	assert_true(got.has_suspended_reason);
	assert_string_equal(got.suspended_reason, "");

	struct hw_workspace missing = make_ws("01JAX3Q5ZP7K8M9N0R1S2T3V4Z", "ghost");
	assert_int_equal(ops->workspace_update(f->st, &missing), -ENOENT);
	assert_int_equal(ops->workspace_count(f->st, &count), 0);
	assert_int_equal(count, 1);
}

static void test_workspace_list_cursor(void **state)
{
	struct fixture *f = *state;
	const struct hw_store_ops *ops = f->st->ops;
	static const char *const ids[] = {"01C", "01A", "01E", "01B", "01D"};
	struct hw_workspace *list = NULL;
	size_t n = 0;

	for (size_t i = 0; i < 5; i++) {
		struct hw_workspace ws = make_ws(ids[i], ids[i]);
		assert_int_equal(ops->workspace_create(f->st, &ws), 0);
	}
	assert_int_equal(ops->workspace_list(f->st, NULL, 2, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].id, "01A");
	assert_string_equal(list[1].id, "01B");
	free(list);
	assert_int_equal(ops->workspace_list(f->st, "01B", 2, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].id, "01C");
	assert_string_equal(list[1].id, "01D");
	free(list);
	assert_int_equal(ops->workspace_list(f->st, "01D", 2, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].id, "01E");
	free(list);
	assert_int_equal(ops->workspace_list(f->st, "01E", 2, &list, &n), 0);
	assert_int_equal(n, 0);
	free(list);
	assert_int_equal(ops->workspace_list(f->st, "", 100, &list, &n), 0);
	assert_int_equal(n, 5);
	free(list);
	assert_int_equal(ops->workspace_list(f->st, NULL, 0, &list, &n), -EINVAL);
	assert_null(list);
}

static void test_key_crud(void **state)
{
	struct fixture *f = *state;
	const struct hw_store_ops *ops = f->st->ops;
	struct hw_workspace a = make_ws("01A", "a"), b = make_ws("01B", "b");
	struct hw_key k = make_key("kid_01K1", "01A", "ci", "active"), got;

	assert_int_equal(ops->workspace_create(f->st, &a), 0);
	assert_int_equal(ops->workspace_create(f->st, &b), 0);

	/* A key needs its workspace. */
	struct hw_key orphan = make_key("kid_01K0", "01Z", "orphan", "active");
	assert_int_equal(ops->key_create(f->st, &orphan), -ENOENT);

	assert_int_equal(ops->key_create(f->st, &k), 0);
	assert_int_equal(ops->key_create(f->st, &k), -EEXIST);
	struct hw_key same_name = make_key("kid_01K2", "01A", "ci", "active");
	assert_int_equal(ops->key_create(f->st, &same_name), -EEXIST);
	struct hw_key other_ws = make_key("kid_01K3", "01B", "ci", "active");
	assert_int_equal(ops->key_create(f->st, &other_ws), 0);

	assert_int_equal(ops->key_get(f->st, "kid_nope", &got), -ENOENT);
	assert_int_equal(ops->key_get(f->st, k.id, &got), 0);
	assert_string_equal(got.workspace_id, "01A");
	assert_string_equal(got.name, "ci");
	assert_string_equal(got.prefix, "hw_live_3f2a");
	assert_string_equal(got.hash, k.hash);
	assert_string_equal(got.role, "inference");
	assert_int_equal(got.rpm_limit, 600);
	assert_string_equal(got.shield_mode, "");
	assert_string_equal(got.source, "api");
	assert_int_equal(got.last_used_at, 0);
	assert_int_equal(got.revoked_at, 0);
	assert_false(got.has_suspended_reason);

	k.rpm_limit = -1;
	strcpy(k.shield_mode, "block");
	strcpy(k.status, "revoked");
	k.revoked_at = 1767225700;
	k.has_suspended_reason = true;
	strcpy(k.suspended_reason, "zombie_agent");
	assert_int_equal(ops->key_update(f->st, &k), 0);
	assert_int_equal(ops->key_get(f->st, k.id, &got), 0);
	assert_int_equal(got.rpm_limit, -1);
	assert_string_equal(got.shield_mode, "block");
	assert_string_equal(got.status, "revoked");
	assert_int_equal(got.revoked_at, 1767225700);
	assert_true(got.has_suspended_reason);
	assert_string_equal(got.suspended_reason, "zombie_agent");

	struct hw_key rename = make_key("kid_01K4", "01A", "deploy", "active");
	assert_int_equal(ops->key_create(f->st, &rename), 0);
	strcpy(rename.name, "ci");
	assert_int_equal(ops->key_update(f->st, &rename), -EEXIST);
	struct hw_key missing = make_key("kid_01K9", "01A", "x", "active");
	assert_int_equal(ops->key_update(f->st, &missing), -ENOENT);

	assert_int_equal(ops->key_delete(f->st, k.id), 0);
	assert_int_equal(ops->key_get(f->st, k.id, &got), -ENOENT);
	assert_int_equal(ops->key_delete(f->st, k.id), -ENOENT);
	/* The name is free again once the key is gone. */
	assert_int_equal(ops->key_create(f->st, &same_name), 0);
}

static void test_key_list(void **state)
{
	struct fixture *f = *state;
	const struct hw_store_ops *ops = f->st->ops;
	struct hw_workspace a = make_ws("01A", "a"), b = make_ws("01B", "b");
	struct hw_key *list = NULL;
	size_t n = 0;

	assert_int_equal(ops->workspace_create(f->st, &a), 0);
	assert_int_equal(ops->workspace_create(f->st, &b), 0);
	static const struct {
		const char *id, *ws, *status;
	} keys[] = {
		{"kid_05", "01A", "revoked"}, {"kid_01", "01A", "active"},
		{"kid_03", "01A", "active"},  {"kid_02", "01B", "active"},
		{"kid_04", "01A", "suspended"},
	};
	for (size_t i = 0; i < 5; i++) {
		struct hw_key k = make_key(keys[i].id, keys[i].ws, keys[i].id, keys[i].status);
		assert_int_equal(ops->key_create(f->st, &k), 0);
	}

	assert_int_equal(ops->key_list(f->st, "01A", NULL, NULL, 100, &list, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(list[0].id, "kid_01");
	assert_string_equal(list[1].id, "kid_03");
	assert_string_equal(list[2].id, "kid_04");
	assert_string_equal(list[3].id, "kid_05");
	free(list);

	assert_int_equal(ops->key_list(f->st, "01A", NULL, "kid_01", 2, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].id, "kid_03");
	assert_string_equal(list[1].id, "kid_04");
	free(list);

	assert_int_equal(ops->key_list(f->st, "01A", "active", NULL, 100, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].id, "kid_01");
	assert_string_equal(list[1].id, "kid_03");
	free(list);
	assert_int_equal(ops->key_list(f->st, "01A", "active", "kid_01", 100, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].id, "kid_03");
	free(list);
	assert_int_equal(ops->key_list(f->st, "01A", "revoked", NULL, 100, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].status, "revoked");
	free(list);
	assert_int_equal(ops->key_list(f->st, "01C", NULL, NULL, 100, &list, &n), 0);
	assert_int_equal(n, 0);
	free(list);
	assert_int_equal(ops->key_list(f->st, "01A", NULL, NULL, 0, &list, &n), -EINVAL);

	assert_int_equal(ops->key_list_all(f->st, &list, &n), 0);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++) {
		char want[32];
		snprintf(want, sizeof(want), "kid_%02zu", i + 1);
		assert_string_equal(list[i].id, want);
	}
	assert_string_equal(list[1].workspace_id, "01B");
	free(list);
}

static void test_settings(void **state)
{
	struct fixture *f = *state;
	const struct hw_store_ops *ops = f->st->ops;
	char buf[65];

	assert_int_equal(ops->setting_get(f->st, "admin_token_hash", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(ops->setting_set(f->st, "admin_token_hash", "abc"), 0);
	assert_int_equal(ops->setting_get(f->st, "admin_token_hash", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "abc");
	assert_int_equal(ops->setting_set(f->st, "admin_token_hash", "def0"), 0);
	assert_int_equal(ops->setting_get(f->st, "admin_token_hash", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "def0");
	/* Never a silently truncated value. */
	assert_int_equal(ops->setting_get(f->st, "admin_token_hash", buf, 4), -ENOSPC);
	assert_int_equal(ops->setting_get(f->st, "admin_token_hash", buf, 5), 0);
	assert_string_equal(buf, "def0");
	assert_int_equal(ops->setting_set(f->st, "empty", ""), 0);
	assert_int_equal(ops->setting_get(f->st, "empty", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

static void test_key_touch(void **state)
{
	struct fixture *f = *state;
	const struct hw_store_ops *ops = f->st->ops;
	struct hw_workspace a = make_ws("01A", "a");
	struct hw_key k1 = make_key("kid_01", "01A", "one", "active");
	struct hw_key k2 = make_key("kid_02", "01A", "two", "active"), got;

	assert_int_equal(ops->workspace_create(f->st, &a), 0);
	assert_int_equal(ops->key_create(f->st, &k1), 0);
	assert_int_equal(ops->key_create(f->st, &k2), 0);

	const char *ids[] = {"kid_01", "kid_02", "kid_gone"};
	int64_t at[] = {1000, 2000, 3000};
	assert_int_equal(ops->key_touch(f->st, ids, at, 3), 0);
	assert_int_equal(ops->key_get(f->st, "kid_01", &got), 0);
	assert_int_equal(got.last_used_at, 1000);
	assert_int_equal(ops->key_get(f->st, "kid_02", &got), 0);
	assert_int_equal(got.last_used_at, 2000);

	/* A late batch never moves last_used_at back. */
	int64_t older[] = {900, 2100};
	assert_int_equal(ops->key_touch(f->st, ids, older, 2), 0);
	assert_int_equal(ops->key_get(f->st, "kid_01", &got), 0);
	assert_int_equal(got.last_used_at, 1000);
	assert_int_equal(ops->key_get(f->st, "kid_02", &got), 0);
	assert_int_equal(got.last_used_at, 2100);

	/* Neither does a management update built from an older read. */
	k1.last_used_at = 0;
	strcpy(k1.status, "suspended");
	assert_int_equal(ops->key_update(f->st, &k1), 0);
	assert_int_equal(ops->key_get(f->st, "kid_01", &got), 0);
	assert_int_equal(got.last_used_at, 1000);
	assert_string_equal(got.status, "suspended");
	assert_int_equal(ops->key_touch(f->st, NULL, NULL, 0), 0);
}

static void test_usage_insert_count(void **state)
{
	struct fixture *f = *state;
	const struct hw_store_ops *ops = f->st->ops;
	struct hw_usage_record recs[4];
	char chain[] = "[{\"model\":\"openai/gpt-4o\",\"error\":\"upstream_timeout\"}]";
	char text[128];
	int64_t count = -1;

	recs[0] = make_usage("01A", "kid_01", 1000);
	recs[1] = make_usage("01A", "kid_01", 2000);
	recs[2] = make_usage("01A", "kid_02", 3000);
	recs[3] = make_usage("01B", "kid_03", 2500);
	recs[1].fallback_chain = chain;
	recs[1].stream = true;
	recs[1].score = -1;
	strcpy(recs[1].error_code, "upstream_error");
	assert_int_equal(ops->usage_insert(f->st, recs, 4), 0);
	assert_int_equal(ops->usage_insert(f->st, recs, 0), 0);

	assert_int_equal(ops->usage_count(f->st, "01A", 1000, 3000, &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(ops->usage_count(f->st, "01A", 0, 4000, &count), 0);
	assert_int_equal(count, 3);
	assert_int_equal(ops->usage_count(f->st, "01A", 1001, 3001, &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(ops->usage_count(f->st, "01B", 0, INT64_MAX, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(ops->usage_count(f->st, "01C", 0, INT64_MAX, &count), 0);
	assert_int_equal(count, 0);

	query_text(f->path, "SELECT fallback_chain FROM usage_records WHERE ts_ms = 2000", text,
		   sizeof(text));
	assert_string_equal(text, chain);
	assert_int_equal(query_int(f->path, "SELECT score IS NULL AND stream = 1 AND "
					    "error_code = 'upstream_error' FROM usage_records "
					    "WHERE ts_ms = 2000"),
			 1);
	assert_int_equal(query_int(f->path, "SELECT fallback_chain IS NULL AND score = 0.25 AND "
					    "prompt_tokens = 12 AND completion_tokens = 34 AND "
					    "upstream_cost = 41 AND markup_cost = 5 AND "
					    "baseline_cost = 900 AND client_ip = '192.0.2.7' AND "
					    "error_code IS NULL FROM usage_records "
					    "WHERE ts_ms = 1000"),
			 1);
}

static void test_usage_flush_one_transaction(void **state)
{
	struct fixture *f = *state;
	const struct hw_store_ops *ops = f->st->ops;
	struct hw_workspace a = make_ws("01A", "a");
	struct hw_key k = make_key("kid_01", "01A", "one", "active"), got;
	struct hw_usage_record recs[2] = {make_usage("01A", "kid_01", 1000),
					  make_usage("01A", "kid_01", 1001)};
	int64_t count = -1;

	assert_int_equal(ops->workspace_create(f->st, &a), 0);
	assert_int_equal(ops->key_create(f->st, &k), 0);
	const char *ids[] = {"kid_01"};
	int64_t at[] = {77};
	assert_int_equal(ops->usage_flush(f->st, recs, 2, ids, at, 1), 0);
	assert_int_equal(ops->usage_count(f->st, "01A", 0, INT64_MAX, &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(ops->key_get(f->st, "kid_01", &got), 0);
	assert_int_equal(got.last_used_at, 77);

	/* A touch that fails takes the batch's rows down with it. */
	exec_sql(f->path, "CREATE TRIGGER refuse_touch BEFORE UPDATE OF last_used_at ON keys "
			  "BEGIN SELECT RAISE(ABORT, 'refused'); END");
	at[0] = 200;
	assert_int_equal(ops->usage_flush(f->st, recs, 2, ids, at, 1), -EIO);
	assert_int_equal(ops->usage_count(f->st, "01A", 0, INT64_MAX, &count), 0);
	assert_int_equal(count, 2);
	exec_sql(f->path, "DROP TRIGGER refuse_touch");
	assert_int_equal(ops->usage_flush(f->st, recs, 2, ids, at, 1), 0);
	assert_int_equal(ops->usage_count(f->st, "01A", 0, INT64_MAX, &count), 0);
	assert_int_equal(count, 4);
	assert_int_equal(ops->key_get(f->st, "kid_01", &got), 0);
	assert_int_equal(got.last_used_at, 200);
}

static void test_memory_store(void **state)
{
	struct hw_store *st = NULL;
	struct hw_workspace ws = make_ws("01A", "a"), got;
	struct hw_usage_record rec = make_usage("01A", "kid_01", 5);
	int64_t count = -1;

	assert_int_equal(hw_store_open("sqlite::memory:", 0, NULL, &st), 0);
	assert_int_equal(st->ops->workspace_create(st, &ws), 0);
	assert_int_equal(st->ops->workspace_get(st, "01A", &got), 0);
	assert_int_equal(st->ops->usage_insert(st, &rec, 1), 0);
	assert_int_equal(st->ops->usage_count(st, "01A", 0, 10, &count), 0);
	assert_int_equal(count, 1);
	st->ops->close(st);
}

struct worker_arg {
	struct hw_store *st;
	int index;
};

static void *worker(void *p)
{
	struct worker_arg *a = p;
	const struct hw_store_ops *ops = a->st->ops;
	for (int i = 0; i < 100; i++) {
		struct hw_key k;
		struct hw_workspace *list = NULL;
		size_t n = 0;
		struct hw_usage_record rec = make_usage("01A", "kid_01", a->index * 1000 + i);
		const char *ids[] = {"kid_01"};
		int64_t at[] = {a->index * 1000 + i};
		if (ops->key_get(a->st, "kid_01", &k) != 0 ||
		    ops->usage_insert(a->st, &rec, 1) != 0 ||
		    ops->key_touch(a->st, ids, at, 1) != 0 ||
		    ops->workspace_list(a->st, NULL, 10, &list, &n) != 0)
			return (void *)1;
		free(list);
	}
	return NULL;
}

static void test_concurrent_calls(void **state)
{
	struct fixture *f = *state;
	struct hw_workspace a = make_ws("01A", "a");
	struct hw_key k = make_key("kid_01", "01A", "one", "active");
	pthread_t threads[4];
	struct worker_arg args[4];
	int64_t count = -1;

	assert_int_equal(f->st->ops->workspace_create(f->st, &a), 0);
	assert_int_equal(f->st->ops->key_create(f->st, &k), 0);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct worker_arg){.st = f->st, .index = i};
		assert_int_equal(pthread_create(&threads[i], NULL, worker, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		void *ret = NULL;
		pthread_join(threads[i], &ret);
		assert_null(ret);
	}
	assert_int_equal(f->st->ops->usage_count(f->st, "01A", 0, INT64_MAX, &count), 0);
	assert_int_equal(count, 400);
	assert_int_equal(f->st->ops->key_get(f->st, "kid_01", &k), 0);
	assert_int_equal(k.last_used_at, 3099);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_memory_store),
		cmocka_unit_test_setup_teardown(test_migrations_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workspace_crud, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workspace_list_cursor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_crud, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_touch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_provider_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_insert_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_flush_one_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_calls, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
