// SPDX-License-Identifier: Apache-2.0
/* The embedded SQLite store (SPEC §19): WAL, migrations at open, prepared statements cached
 * per connection. Two connections, each behind its own mutex: management calls use one, the
 * usage writer's batches the other, so a reader never waits behind a batch in this process.
 * Write transactions are BEGIN IMMEDIATE: both connections (and hiway-agent) then queue on
 * the busy timeout instead of failing a lock upgrade. */
#include "store/store_sqlite.h"

#include "common/clock.h"
#include "common/log.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_PING,
	S_SETTING_GET,
	S_SETTING_SET,
	S_WS_INSERT,
	S_WS_GET,
	S_WS_UPDATE,
	S_WS_COUNT,
	S_WS_LIST,
	S_KEY_INSERT,
	S_KEY_GET,
	S_KEY_UPDATE,
	S_KEY_DELETE,
	S_KEY_LIST,
	S_KEY_LIST_ALL,
	S_KEY_TOUCH,
	S_USAGE_INSERT,
	S_USAGE_COUNT,
	S_PK_PUT,
	S_PK_GET,
	S_PK_DELETE,
	S_PK_LIST,
	S_PK_LIST_ALL,
	S_WH_INSERT,
	S_WH_GET,
	S_WH_UPDATE,
	S_WH_DELETE,
	S_WH_DELETE_PENDING,
	S_WH_LIST,
	S_OB_INSERT,
	S_OB_DUE,
	S_OB_LEASE,
	S_OB_FINISH,
	S_OB_PENDING,
	S_OB_LIST,
	S_COUNT
};

#define WS_COLS                                                                                    \
	"id, name, status, suspended_reason, plan, routing_profile, default_model, "               \
	"allowed_regions, created_at"
#define KEY_COLS                                                                                   \
	"id, workspace_id, name, prefix, hash, role, status, rpm_limit, shield_mode, source, "     \
	"created_at, last_used_at, revoked_at, suspended_reason"
#define PK_COLS "workspace_id, provider, ciphertext, fingerprint, enabled, updated_at"
#define WH_COLS "id, workspace_id, name, url, events, security_actions, secret, created_at"
#define OB_COLS                                                                                    \
	"id, event_id, delivery_id, webhook_id, workspace_id, event, body, status, attempts, "     \
	"next_attempt_at_ms, last_status, created_at"

static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	/* Reads a page of the file, so a vanished or unreadable database fails the ping. */
	[S_PING] = "SELECT max(version) FROM schema_migrations",
	[S_SETTING_GET] = "SELECT value FROM settings WHERE name = ?1",
	[S_SETTING_SET] = "INSERT INTO settings(name, value) VALUES (?1, ?2) "
			  "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
	[S_WS_INSERT] = "INSERT INTO workspaces(" WS_COLS ") "
			"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[S_WS_GET] = "SELECT " WS_COLS " FROM workspaces WHERE id = ?1",
	[S_WS_UPDATE] = "UPDATE workspaces SET name = ?2, status = ?3, suspended_reason = ?4, "
			"plan = ?5, routing_profile = ?6, default_model = ?7, allowed_regions = ?8 "
			"WHERE id = ?1",
	[S_WS_COUNT] = "SELECT count(*) FROM workspaces",
	[S_WS_LIST] = "SELECT " WS_COLS " FROM workspaces WHERE id > ?1 ORDER BY id LIMIT ?2",
	[S_KEY_INSERT] = "INSERT INTO keys(" KEY_COLS ") "
			 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	[S_KEY_GET] = "SELECT " KEY_COLS " FROM keys WHERE id = ?1",
	/* last_used_at belongs to the usage writer: an update built from an older read of the
	 * key must not move it back. id, workspace, prefix, hash, source and created_at are
	 * fixed at creation. */
	[S_KEY_UPDATE] = "UPDATE keys SET name = ?2, role = ?3, status = ?4, rpm_limit = ?5, "
			 "shield_mode = ?6, revoked_at = ?7, suspended_reason = ?8, "
			 "last_used_at = CASE WHEN ?9 > coalesce(last_used_at, 0) THEN ?9 "
			 "ELSE last_used_at END WHERE id = ?1",
	[S_KEY_DELETE] = "DELETE FROM keys WHERE id = ?1",
	[S_KEY_LIST] = "SELECT " KEY_COLS " FROM keys WHERE workspace_id = ?1 "
		       "AND (?2 IS NULL OR status = ?2) AND id > ?3 ORDER BY id LIMIT ?4",
	[S_KEY_LIST_ALL] = "SELECT " KEY_COLS " FROM keys ORDER BY id",
	/* Batches from several nodes or a late retry may arrive out of order. */
	[S_KEY_TOUCH] = "UPDATE keys SET last_used_at = ?2 WHERE id = ?1 "
			"AND (last_used_at IS NULL OR last_used_at < ?2)",
	[S_USAGE_INSERT] =
		"INSERT INTO usage_records(request_id, ts_ms, workspace_id, key_id, end_user, "
		"route, requested_model, routed_model, provider, tier, score, reason, "
		"fallback_chain, stream, passthrough, status, error_code, prompt_tokens, "
		"completion_tokens, cache_read_tokens, cache_write_tokens, upstream_cost, "
		"markup_cost, baseline_cost, routing_us, ttft_ms, latency_ms, client_ip) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
		"?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)",
	[S_USAGE_COUNT] = "SELECT count(*) FROM usage_records WHERE workspace_id = ?1 "
			  "AND ts_ms >= ?2 AND ts_ms < ?3",
	[S_PK_PUT] = "INSERT INTO provider_keys(" PK_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
		     "ON CONFLICT(workspace_id, provider) DO UPDATE SET "
		     "ciphertext = excluded.ciphertext, fingerprint = excluded.fingerprint, "
		     "enabled = excluded.enabled, updated_at = excluded.updated_at",
	[S_PK_GET] = "SELECT " PK_COLS " FROM provider_keys WHERE workspace_id = ?1 "
		     "AND provider = ?2",
	[S_PK_DELETE] = "DELETE FROM provider_keys WHERE workspace_id = ?1 AND provider = ?2",
	[S_PK_LIST] = "SELECT " PK_COLS " FROM provider_keys WHERE workspace_id = ?1 "
		      "ORDER BY provider",
	[S_PK_LIST_ALL] = "SELECT " PK_COLS " FROM provider_keys ORDER BY workspace_id, provider",
	[S_WH_INSERT] = "INSERT INTO webhooks(" WH_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[S_WH_GET] = "SELECT " WH_COLS " FROM webhooks WHERE workspace_id = ?1 AND id = ?2",
	[S_WH_UPDATE] = "UPDATE webhooks SET name = ?3, url = ?4, events = ?5, "
			"security_actions = ?6, secret = ?7 WHERE workspace_id = ?1 AND id = ?2",
	[S_WH_DELETE] = "DELETE FROM webhooks WHERE workspace_id = ?1 AND id = ?2",
	[S_WH_DELETE_PENDING] = "DELETE FROM outbox WHERE webhook_id = ?1 AND status = 'pending'",
	[S_WH_LIST] = "SELECT " WH_COLS " FROM webhooks WHERE workspace_id = ?1 AND id > ?2 "
		      "ORDER BY id LIMIT ?3",
	[S_OB_INSERT] = "INSERT INTO outbox(event_id, delivery_id, webhook_id, workspace_id, event, "
			"body, status, attempts, next_attempt_at_ms, last_status, created_at) "
			"VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, NULL, ?8)",
	[S_OB_DUE] = "SELECT " OB_COLS " FROM outbox WHERE status = 'pending' "
		     "AND next_attempt_at_ms <= ?1 ORDER BY next_attempt_at_ms, id LIMIT ?2",
	[S_OB_LEASE] = "UPDATE outbox SET next_attempt_at_ms = ?2 WHERE id = ?1",
	[S_OB_FINISH] = "UPDATE outbox SET status = ?2, attempts = ?3, next_attempt_at_ms = ?4, "
			"last_status = ?5 WHERE id = ?1",
	[S_OB_PENDING] = "SELECT count(*) FROM outbox WHERE status = 'pending'",
	[S_OB_LIST] = "SELECT " OB_COLS " FROM outbox WHERE webhook_id = ?1 ORDER BY id",
};

struct conn {
	sqlite3 *db;
	pthread_mutex_t mu;
	sqlite3_stmt *stmts[S_COUNT];
	int64_t err_logged_ns;
	int busy_ms;
	unsigned err_suppressed;
};

struct sqlite_store {
	struct hw_store base;
	struct conn main;
	struct conn bulk;
	struct conn *writer; /* &bulk, or &main for ":memory:", which one connection must see */
	struct conn money;   /* the ledger's: group commits never queue behind a usage batch */
	struct conn *ledger; /* &money, or &main for ":memory:" */
	struct hw_sq_stmt_cache ledger_stmts;
};

static struct sqlite_store *sq(struct hw_store *st) { return (struct sqlite_store *)st; }

static int map_rc(int rc)
{
	switch (rc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return -EEXIST;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return -ENOENT;
	default:
		return -EIO;
	}
}

/* Maps a failed SQLite call to an errno. Backend failures are logged at most once a second
 * per connection: an outage retried by the usage writer every tick must not flood stderr. */
static int conn_fail(struct conn *c, const char *op, int rc)
{
	int err = map_rc(rc);
	if (err != -EIO)
		return err;
	int64_t now = hw_clock_mono_ns();
	if (c->err_logged_ns && now - c->err_logged_ns < 1000000000) {
		c->err_suppressed++;
		return err;
	}
	const char *msg = c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc);
	json_t *fields = json_pack("{s:s, s:s, s:i, s:I}", "op", op, "error", msg, "sqlite_code",
				   rc, "suppressed", (json_int_t)c->err_suppressed);
	hw_log_json(HW_LOG_ERROR, NULL, "store: sqlite failure", fields);
	c->err_logged_ns = now;
	c->err_suppressed = 0;
	return err;
}

/* The cached statement for `id`, prepared on first use. Caller holds c->mu. */
static sqlite3_stmt *stmt(struct conn *c, enum stmt_id id)
{
	if (!c->stmts[id]) {
		int rc = sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					    &c->stmts[id], NULL);
		if (rc != SQLITE_OK) {
			conn_fail(c, "prepare", rc);
			c->stmts[id] = NULL;
		}
	}
	return c->stmts[id];
}

static void stmt_done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/* Runs a statement that returns no rows; 0 or an errno. Resets it either way. */
static int exec_stmt(struct conn *c, sqlite3_stmt *s, const char *op)
{
	int rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? 0 : conn_fail(c, op, rc);
	stmt_done(s);
	return rc;
}

static int tx_begin(struct conn *c)
{
	sqlite3_stmt *s = stmt(c, S_BEGIN);
	return s ? exec_stmt(c, s, "begin") : -EIO;
}

/* Commits when rc is 0, else (or when the commit fails) rolls back; returns the outcome. */
static int tx_end(struct conn *c, int rc)
{
	sqlite3_stmt *s;
	if (rc == 0) {
		s = stmt(c, S_COMMIT);
		rc = s ? exec_stmt(c, s, "commit") : -EIO;
	}
	if (rc < 0 && !sqlite3_get_autocommit(c->db)) {
		s = stmt(c, S_ROLLBACK);
		if (s)
			exec_stmt(c, s, "rollback");
	}
	return rc;
}

/* Text fields are fixed arrays: bind at most their size even if a caller forgot the NUL. */
static void bind_text(sqlite3_stmt *s, int i, const char *v, size_t cap)
{
	sqlite3_bind_text(s, i, v, (int)strnlen(v, cap), SQLITE_STATIC);
}

/* "" means null for optional text. */
static void bind_opt_text(sqlite3_stmt *s, int i, const char *v, size_t cap)
{
	if (v[0])
		bind_text(s, i, v, cap);
	else
		sqlite3_bind_null(s, i);
}

static void bind_opt_i64(sqlite3_stmt *s, int i, int64_t v, bool present)
{
	if (present)
		sqlite3_bind_int64(s, i, v);
	else
		sqlite3_bind_null(s, i);
}

#define BIND_TEXT(s, i, field) bind_text(s, i, field, sizeof(field))
#define BIND_OPT_TEXT(s, i, field) bind_opt_text(s, i, field, sizeof(field))

/* Copies a text column into a fixed array; null reads as "". */
static void col_text(sqlite3_stmt *s, int i, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	size_t n = t ? (size_t)sqlite3_column_bytes(s, i) : 0;
	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(out, t, n);
	out[n] = '\0';
}

#define COL_TEXT(s, i, field) col_text(s, i, field, sizeof(field))

static bool col_null(sqlite3_stmt *s, int i) { return sqlite3_column_type(s, i) == SQLITE_NULL; }

static void bind_workspace(sqlite3_stmt *s, const struct hw_workspace *ws)
{
	BIND_TEXT(s, 1, ws->id);
	BIND_TEXT(s, 2, ws->name);
	BIND_TEXT(s, 3, ws->status);
	if (ws->has_suspended_reason)
		BIND_TEXT(s, 4, ws->suspended_reason);
	else
		sqlite3_bind_null(s, 4);
	BIND_TEXT(s, 5, ws->plan);
	BIND_TEXT(s, 6, ws->routing_profile);
	BIND_OPT_TEXT(s, 7, ws->default_model);
	BIND_OPT_TEXT(s, 8, ws->allowed_regions);
}

static void read_workspace(sqlite3_stmt *s, void *dst)
{
	struct hw_workspace *ws = dst;
	memset(ws, 0, sizeof(*ws));
	COL_TEXT(s, 0, ws->id);
	COL_TEXT(s, 1, ws->name);
	COL_TEXT(s, 2, ws->status);
	ws->has_suspended_reason = !col_null(s, 3);
	COL_TEXT(s, 3, ws->suspended_reason);
	COL_TEXT(s, 4, ws->plan);
	COL_TEXT(s, 5, ws->routing_profile);
	COL_TEXT(s, 6, ws->default_model);
	COL_TEXT(s, 7, ws->allowed_regions);
	ws->created_at = sqlite3_column_int64(s, 8);
}

static void bind_key(sqlite3_stmt *s, const struct hw_key *k)
{
	BIND_TEXT(s, 1, k->id);
	BIND_TEXT(s, 2, k->workspace_id);
	BIND_TEXT(s, 3, k->name);
	BIND_TEXT(s, 4, k->prefix);
	BIND_TEXT(s, 5, k->hash);
	BIND_TEXT(s, 6, k->role);
	BIND_TEXT(s, 7, k->status);
	bind_opt_i64(s, 8, k->rpm_limit, k->rpm_limit >= 0);
	BIND_OPT_TEXT(s, 9, k->shield_mode);
	BIND_TEXT(s, 10, k->source);
	sqlite3_bind_int64(s, 11, k->created_at);
	bind_opt_i64(s, 12, k->last_used_at, k->last_used_at != 0);
	bind_opt_i64(s, 13, k->revoked_at, k->revoked_at != 0);
	if (k->has_suspended_reason)
		BIND_TEXT(s, 14, k->suspended_reason);
	else
		sqlite3_bind_null(s, 14);
}

static void read_key(sqlite3_stmt *s, void *dst)
{
	struct hw_key *k = dst;
	memset(k, 0, sizeof(*k));
	COL_TEXT(s, 0, k->id);
	COL_TEXT(s, 1, k->workspace_id);
	COL_TEXT(s, 2, k->name);
	COL_TEXT(s, 3, k->prefix);
	COL_TEXT(s, 4, k->hash);
	COL_TEXT(s, 5, k->role);
	COL_TEXT(s, 6, k->status);
	k->rpm_limit = col_null(s, 7) ? -1 : sqlite3_column_int64(s, 7);
	COL_TEXT(s, 8, k->shield_mode);
	COL_TEXT(s, 9, k->source);
	k->created_at = sqlite3_column_int64(s, 10);
	k->last_used_at = sqlite3_column_int64(s, 11);
	k->revoked_at = sqlite3_column_int64(s, 12);
	k->has_suspended_reason = !col_null(s, 13);
	COL_TEXT(s, 13, k->suspended_reason);
}

/* Steps a query expecting at most one row, read by `read` into `dst`; -ENOENT without one. */
static int query_one(struct conn *c, sqlite3_stmt *s, const char *op,
		     void (*read)(sqlite3_stmt *, void *), void *dst)
{
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		read(s, dst);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : conn_fail(c, op, rc);
	}
	stmt_done(s);
	return rc;
}

/* Steps a query into a malloc'ed array of `size`-byte rows. */
static int query_all(struct conn *c, sqlite3_stmt *s, const char *op, size_t size,
		     void (*read)(sqlite3_stmt *, void *), void **out, size_t *n)
{
	int rc = hw_sq_collect(s, size, read, out, n);
	rc = rc == SQLITE_DONE ? 0 : rc == SQLITE_NOMEM ? -ENOMEM : conn_fail(c, op, rc);
	stmt_done(s);
	return rc;
}

static void read_count(sqlite3_stmt *s, void *dst) { *(int64_t *)dst = sqlite3_column_int64(s, 0); }

static int sq_ping(struct hw_store *st)
{
	struct conn *c = &sq(st)->main;
	int64_t version = 0;
	int rc = -EIO;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_PING);
	if (s)
		rc = query_one(c, s, "ping", read_count, &version);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

struct text_out {
	char *buf;
	size_t len;
	bool fits;
};

static void read_text_out(sqlite3_stmt *s, void *dst)
{
	struct text_out *t = dst;
	t->fits = (size_t)sqlite3_column_bytes(s, 0) < t->len;
	if (t->fits)
		col_text(s, 0, t->buf, t->len);
}

static int sq_setting_get(struct hw_store *st, const char *name, char *out, size_t len)
{
	struct conn *c = &sq(st)->main;
	struct text_out t = {.buf = out, .len = len};
	int rc = -EIO;
	if (len == 0)
		return -ENOSPC;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_SETTING_GET);
	if (!s)
		goto out;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = query_one(c, s, "setting_get", read_text_out, &t);
	/* A truncated secret or JSON value is worse than an error. */
	if (rc == 0 && !t.fits)
		rc = -ENOSPC;
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_setting_set(struct hw_store *st, const char *name, const char *value)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_SETTING_SET);
	if (!s)
		goto out;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	rc = exec_stmt(c, s, "setting_set");
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_workspace_create(struct hw_store *st, const struct hw_workspace *ws)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_WS_INSERT);
	if (!s)
		goto out;
	bind_workspace(s, ws);
	sqlite3_bind_int64(s, 9, ws->created_at);
	rc = exec_stmt(c, s, "workspace_create");
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_workspace_get(struct hw_store *st, const char *id, struct hw_workspace *out)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_WS_GET);
	if (!s)
		goto out;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = query_one(c, s, "workspace_get", read_workspace, out);
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* Runs an UPDATE or DELETE of one row by id: -ENOENT when no row matched. */
static int exec_one_row(struct conn *c, sqlite3_stmt *s, const char *op)
{
	int rc = exec_stmt(c, s, op);
	if (rc == 0 && sqlite3_changes(c->db) == 0)
		rc = -ENOENT;
	return rc;
}

static int sq_workspace_update(struct hw_store *st, const struct hw_workspace *ws)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_WS_UPDATE);
	if (!s)
		goto out;
	bind_workspace(s, ws);
	rc = exec_one_row(c, s, "workspace_update");
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_workspace_count(struct hw_store *st, int64_t *out)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_WS_COUNT);
	if (s)
		rc = query_one(c, s, "workspace_count", read_count, out);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_workspace_list(struct hw_store *st, const char *after, int limit,
			     struct hw_workspace **out, size_t *n)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;
	*out = NULL;
	*n = 0;
	if (limit < 1)
		return -EINVAL;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_WS_LIST);
	if (!s)
		goto out;
	sqlite3_bind_text(s, 1, after ? after : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, limit);
	rc = query_all(c, s, "workspace_list", sizeof(**out), read_workspace, (void **)out, n);
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_key_create(struct hw_store *st, const struct hw_key *key)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_KEY_INSERT);
	if (!s)
		goto out;
	bind_key(s, key);
	rc = exec_stmt(c, s, "key_create");
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_key_get(struct hw_store *st, const char *id, struct hw_key *out)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_KEY_GET);
	if (!s)
		goto out;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = query_one(c, s, "key_get", read_key, out);
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* Caller holds c->mu. */
static int key_update_locked(struct conn *c, const struct hw_key *key)
{
	sqlite3_stmt *s = stmt(c, S_KEY_UPDATE);
	if (!s)
		return -EIO;
	BIND_TEXT(s, 1, key->id);
	BIND_TEXT(s, 2, key->name);
	BIND_TEXT(s, 3, key->role);
	BIND_TEXT(s, 4, key->status);
	bind_opt_i64(s, 5, key->rpm_limit, key->rpm_limit >= 0);
	BIND_OPT_TEXT(s, 6, key->shield_mode);
	bind_opt_i64(s, 7, key->revoked_at, key->revoked_at != 0);
	if (key->has_suspended_reason)
		BIND_TEXT(s, 8, key->suspended_reason);
	else
		sqlite3_bind_null(s, 8);
	sqlite3_bind_int64(s, 9, key->last_used_at);
	return exec_one_row(c, s, "key_update");
}

static int sq_key_update(struct hw_store *st, const struct hw_key *key)
{
	struct conn *c = &sq(st)->main;
	pthread_mutex_lock(&c->mu);
	int rc = key_update_locked(c, key);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_key_delete(struct hw_store *st, const char *id)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_KEY_DELETE);
	if (!s)
		goto out;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = exec_one_row(c, s, "key_delete");
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_key_list(struct hw_store *st, const char *workspace_id, const char *status,
		       const char *after, int limit, struct hw_key **out, size_t *n)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;
	*out = NULL;
	*n = 0;
	if (limit < 1)
		return -EINVAL;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_KEY_LIST);
	if (!s)
		goto out;
	sqlite3_bind_text(s, 1, workspace_id, -1, SQLITE_STATIC);
	if (status)
		sqlite3_bind_text(s, 2, status, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, after ? after : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, limit);
	rc = query_all(c, s, "key_list", sizeof(**out), read_key, (void **)out, n);
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_key_list_all(struct hw_store *st, struct hw_key **out, size_t *n)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_KEY_LIST_ALL);
	if (s)
		rc = query_all(c, s, "key_list_all", sizeof(**out), read_key, (void **)out, n);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static void read_provider_key(sqlite3_stmt *s, void *dst)
{
	struct hw_provider_key *pk = dst;
	const void *blob = sqlite3_column_blob(s, 2);
	size_t n = (size_t)sqlite3_column_bytes(s, 2);

	memset(pk, 0, sizeof(*pk));
	COL_TEXT(s, 0, pk->workspace_id);
	COL_TEXT(s, 1, pk->provider);
	/* A box too large for this build cannot be one it wrote: treat it as no key. */
	if (blob && n <= sizeof(pk->ciphertext)) {
		memcpy(pk->ciphertext, blob, n);
		pk->ciphertext_len = n;
	}
	COL_TEXT(s, 3, pk->fingerprint);
	pk->enabled = sqlite3_column_int(s, 4) != 0;
	pk->updated_at = sqlite3_column_int64(s, 5);
}

static int sq_provider_key_put(struct hw_store *st, const struct hw_provider_key *pk)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;

	if (pk->ciphertext_len > sizeof(pk->ciphertext))
		return -EINVAL;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_PK_PUT);
	if (!s)
		goto out;
	BIND_TEXT(s, 1, pk->workspace_id);
	BIND_TEXT(s, 2, pk->provider);
	if (pk->ciphertext_len)
		sqlite3_bind_blob(s, 3, pk->ciphertext, (int)pk->ciphertext_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 3);
	BIND_OPT_TEXT(s, 4, pk->fingerprint);
	sqlite3_bind_int(s, 5, pk->enabled);
	sqlite3_bind_int64(s, 6, pk->updated_at);
	rc = exec_stmt(c, s, "provider_key_put");
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_provider_key_get(struct hw_store *st, const char *workspace_id,
			       const char *provider, struct hw_provider_key *out)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_PK_GET);
	if (!s)
		goto out;
	sqlite3_bind_text(s, 1, workspace_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, provider, -1, SQLITE_STATIC);
	rc = query_one(c, s, "provider_key_get", read_provider_key, out);
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_provider_key_delete(struct hw_store *st, const char *workspace_id,
				  const char *provider)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_PK_DELETE);
	if (!s)
		goto out;
	sqlite3_bind_text(s, 1, workspace_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, provider, -1, SQLITE_STATIC);
	rc = exec_one_row(c, s, "provider_key_delete");
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_provider_key_list(struct hw_store *st, const char *workspace_id,
				struct hw_provider_key **out, size_t *n)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_PK_LIST);
	if (!s)
		goto out;
	sqlite3_bind_text(s, 1, workspace_id, -1, SQLITE_STATIC);
	rc = query_all(c, s, "provider_key_list", sizeof(**out), read_provider_key, (void **)out,
		       n);
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_provider_key_list_all(struct hw_store *st, struct hw_provider_key **out, size_t *n)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_PK_LIST_ALL);
	if (s)
		rc = query_all(c, s, "provider_key_list_all", sizeof(**out), read_provider_key,
			       (void **)out, n);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static void bind_usage(sqlite3_stmt *s, const struct hw_usage_record *r)
{
	BIND_TEXT(s, 1, r->request_id);
	sqlite3_bind_int64(s, 2, r->ts_ms);
	BIND_TEXT(s, 3, r->workspace_id);
	BIND_TEXT(s, 4, r->key_id);
	BIND_OPT_TEXT(s, 5, r->end_user);
	BIND_TEXT(s, 6, r->route);
	BIND_OPT_TEXT(s, 7, r->requested_model);
	BIND_OPT_TEXT(s, 8, r->routed_model);
	BIND_OPT_TEXT(s, 9, r->provider);
	BIND_OPT_TEXT(s, 10, r->tier);
	if (r->score >= 0)
		sqlite3_bind_double(s, 11, r->score);
	else
		sqlite3_bind_null(s, 11);
	BIND_OPT_TEXT(s, 12, r->reason);
	if (r->fallback_chain)
		sqlite3_bind_text(s, 13, r->fallback_chain, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 13);
	sqlite3_bind_int(s, 14, r->stream);
	sqlite3_bind_int(s, 15, r->passthrough);
	sqlite3_bind_int(s, 16, r->status);
	BIND_OPT_TEXT(s, 17, r->error_code);
	sqlite3_bind_int64(s, 18, r->prompt_tokens);
	sqlite3_bind_int64(s, 19, r->completion_tokens);
	sqlite3_bind_int64(s, 20, r->cache_read_tokens);
	sqlite3_bind_int64(s, 21, r->cache_write_tokens);
	sqlite3_bind_int64(s, 22, r->upstream_cost);
	sqlite3_bind_int64(s, 23, r->markup_cost);
	sqlite3_bind_int64(s, 24, r->baseline_cost);
	sqlite3_bind_int64(s, 25, r->routing_us);
	sqlite3_bind_int64(s, 26, r->ttft_ms);
	sqlite3_bind_int64(s, 27, r->latency_ms);
	BIND_OPT_TEXT(s, 28, r->client_ip);
}

/* Both helpers run inside the caller's transaction on c. */
static int insert_usage(struct conn *c, const struct hw_usage_record *recs, size_t n)
{
	sqlite3_stmt *s = stmt(c, S_USAGE_INSERT);
	if (!s)
		return -EIO;
	for (size_t i = 0; i < n; i++) {
		bind_usage(s, &recs[i]);
		int rc = exec_stmt(c, s, "usage_insert");
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int touch_keys(struct conn *c, const char *const *ids, const int64_t *at, size_t n)
{
	sqlite3_stmt *s = stmt(c, S_KEY_TOUCH);
	if (!s)
		return -EIO;
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_text(s, 1, ids[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, at[i]);
		int rc = exec_stmt(c, s, "key_touch");
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int sq_usage_flush(struct hw_store *st, const struct hw_usage_record *recs, size_t n,
			  const char *const *key_ids, const int64_t *at, size_t m)
{
	struct conn *c = sq(st)->writer;
	if (n == 0 && m == 0)
		return 0;
	pthread_mutex_lock(&c->mu);
	int rc = tx_begin(c);
	if (rc < 0)
		goto out;
	rc = insert_usage(c, recs, n);
	if (rc == 0)
		rc = touch_keys(c, key_ids, at, m);
	rc = tx_end(c, rc);
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_usage_insert(struct hw_store *st, const struct hw_usage_record *recs, size_t n)
{
	return sq_usage_flush(st, recs, n, NULL, NULL, 0);
}

static int sq_key_touch(struct hw_store *st, const char *const *ids, const int64_t *at, size_t n)
{
	return sq_usage_flush(st, NULL, 0, ids, at, n);
}

static int sq_usage_count(struct hw_store *st, const char *workspace_id, int64_t from_ms,
			  int64_t to_ms, int64_t *out)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_USAGE_COUNT);
	if (!s)
		goto out;
	sqlite3_bind_text(s, 1, workspace_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, from_ms);
	sqlite3_bind_int64(s, 3, to_ms);
	rc = query_one(c, s, "usage_count", read_count, out);
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* Webhooks and the event outbox. */

static void bind_webhook(sqlite3_stmt *s, const struct hw_webhook *wh)
{
	BIND_TEXT(s, 1, wh->workspace_id);
	BIND_TEXT(s, 2, wh->id);
	BIND_TEXT(s, 3, wh->name);
	BIND_TEXT(s, 4, wh->url);
	BIND_OPT_TEXT(s, 5, wh->events);
	BIND_TEXT(s, 6, wh->security_actions);
	sqlite3_bind_blob(s, 7, wh->secret_box, (int)wh->secret_box_len, SQLITE_STATIC);
}

static void read_webhook(sqlite3_stmt *s, void *dst)
{
	struct hw_webhook *wh = dst;
	const void *blob = sqlite3_column_blob(s, 6);
	size_t n = (size_t)sqlite3_column_bytes(s, 6);

	memset(wh, 0, sizeof(*wh));
	COL_TEXT(s, 0, wh->id);
	COL_TEXT(s, 1, wh->workspace_id);
	COL_TEXT(s, 2, wh->name);
	COL_TEXT(s, 3, wh->url);
	COL_TEXT(s, 4, wh->events);
	COL_TEXT(s, 5, wh->security_actions);
	/* A box too large for this build cannot be one it wrote: it then fails to open. */
	if (blob && n <= sizeof(wh->secret_box)) {
		memcpy(wh->secret_box, blob, n);
		wh->secret_box_len = n;
	}
	wh->created_at = sqlite3_column_int64(s, 7);
}

static int sq_webhook_create(struct hw_store *st, const struct hw_webhook *wh)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;

	if (wh->secret_box_len > sizeof(wh->secret_box))
		return -EINVAL;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_WH_INSERT);
	if (s) {
		/* The insert lists id first; the shared binder puts the workspace first. */
		BIND_TEXT(s, 1, wh->id);
		BIND_TEXT(s, 2, wh->workspace_id);
		BIND_TEXT(s, 3, wh->name);
		BIND_TEXT(s, 4, wh->url);
		BIND_OPT_TEXT(s, 5, wh->events);
		BIND_TEXT(s, 6, wh->security_actions);
		sqlite3_bind_blob(s, 7, wh->secret_box, (int)wh->secret_box_len, SQLITE_STATIC);
		sqlite3_bind_int64(s, 8, wh->created_at);
		rc = exec_stmt(c, s, "webhook_create");
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_webhook_get(struct hw_store *st, const char *workspace_id, const char *id,
			  struct hw_webhook *out)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_WH_GET);
	if (s) {
		sqlite3_bind_text(s, 1, workspace_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
		rc = query_one(c, s, "webhook_get", read_webhook, out);
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_webhook_update(struct hw_store *st, const struct hw_webhook *wh)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;

	if (wh->secret_box_len > sizeof(wh->secret_box))
		return -EINVAL;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_WH_UPDATE);
	if (s) {
		bind_webhook(s, wh);
		rc = exec_one_row(c, s, "webhook_update");
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_webhook_delete(struct hw_store *st, const char *workspace_id, const char *id)
{
	struct conn *c = &sq(st)->main;
	sqlite3_stmt *s;
	pthread_mutex_lock(&c->mu);
	int rc = tx_begin(c);
	if (rc == 0) {
		s = stmt(c, S_WH_DELETE);
		rc = -EIO;
		if (s) {
			sqlite3_bind_text(s, 1, workspace_id, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
			rc = exec_one_row(c, s, "webhook_delete");
		}
	}
	if (rc == 0) {
		s = stmt(c, S_WH_DELETE_PENDING);
		rc = -EIO;
		if (s) {
			sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
			rc = exec_stmt(c, s, "webhook_delete");
		}
	}
	rc = tx_end(c, rc);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_webhook_list(struct hw_store *st, const char *workspace_id, const char *after,
			   int limit, struct hw_webhook **out, size_t *n)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_WH_LIST);
	if (s) {
		sqlite3_bind_text(s, 1, workspace_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, after ? after : "", -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 3, limit);
		rc = query_all(c, s, "webhook_list", sizeof(**out), read_webhook, (void **)out, n);
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* A row whose body could not be copied keeps body NULL; callers treat it as undeliverable. */
static void read_outbox(sqlite3_stmt *s, void *dst)
{
	struct hw_outbox_row *r = dst;
	const unsigned char *body = sqlite3_column_text(s, 6);

	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(s, 0);
	COL_TEXT(s, 1, r->event_id);
	COL_TEXT(s, 2, r->delivery_id);
	COL_TEXT(s, 3, r->webhook_id);
	COL_TEXT(s, 4, r->workspace_id);
	COL_TEXT(s, 5, r->event);
	r->body = body ? strdup((const char *)body) : NULL;
	COL_TEXT(s, 7, r->status);
	r->attempts = sqlite3_column_int64(s, 8);
	r->next_attempt_at_ms = sqlite3_column_int64(s, 9);
	r->last_status = sqlite3_column_int64(s, 10);
	r->created_at = sqlite3_column_int64(s, 11);
}

static int sq_outbox_insert(struct hw_store *st, const struct hw_key *key,
			    const struct hw_outbox_row *rows, size_t n)
{
	struct conn *c = &sq(st)->main;
	pthread_mutex_lock(&c->mu);
	int rc = tx_begin(c);
	if (rc == 0 && key)
		rc = key_update_locked(c, key);
	for (size_t i = 0; i < n && rc == 0; i++) {
		sqlite3_stmt *s = stmt(c, S_OB_INSERT);
		if (!s || !rows[i].body) {
			rc = s ? -EINVAL : -EIO;
			break;
		}
		BIND_TEXT(s, 1, rows[i].event_id);
		BIND_TEXT(s, 2, rows[i].delivery_id);
		BIND_TEXT(s, 3, rows[i].webhook_id);
		BIND_TEXT(s, 4, rows[i].workspace_id);
		BIND_TEXT(s, 5, rows[i].event);
		sqlite3_bind_text(s, 6, rows[i].body, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 7, rows[i].next_attempt_at_ms);
		sqlite3_bind_int64(s, 8, rows[i].created_at);
		rc = exec_stmt(c, s, "outbox_insert");
	}
	rc = tx_end(c, rc);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_outbox_claim(struct hw_store *st, int64_t now_ms, int64_t lease_ms, int max,
			   struct hw_outbox_row **out, size_t *n)
{
	struct conn *c = &sq(st)->main;
	sqlite3_stmt *s;
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&c->mu);
	int rc = tx_begin(c);
	if (rc == 0) {
		s = stmt(c, S_OB_DUE);
		rc = -EIO;
		if (s) {
			sqlite3_bind_int64(s, 1, now_ms);
			sqlite3_bind_int(s, 2, max);
			rc = query_all(c, s, "outbox_claim", sizeof(**out), read_outbox,
				       (void **)out, n);
		}
	}
	for (size_t i = 0; i < *n && rc == 0; i++) {
		s = stmt(c, S_OB_LEASE);
		if (!s) {
			rc = -EIO;
			break;
		}
		sqlite3_bind_int64(s, 1, (*out)[i].id);
		sqlite3_bind_int64(s, 2, now_ms + lease_ms);
		rc = exec_stmt(c, s, "outbox_claim");
	}
	rc = tx_end(c, rc);
	pthread_mutex_unlock(&c->mu);
	if (rc < 0) {
		hw_outbox_rows_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

static int sq_outbox_finish(struct hw_store *st, const struct hw_outbox_row *row)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_OB_FINISH);
	if (s) {
		sqlite3_bind_int64(s, 1, row->id);
		BIND_TEXT(s, 2, row->status);
		sqlite3_bind_int64(s, 3, row->attempts);
		sqlite3_bind_int64(s, 4, row->next_attempt_at_ms);
		bind_opt_i64(s, 5, row->last_status, row->last_status != 0);
		rc = exec_one_row(c, s, "outbox_finish");
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_outbox_pending(struct hw_store *st, int64_t *out)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_OB_PENDING);
	if (s)
		rc = query_one(c, s, "outbox_pending", read_count, out);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_outbox_list(struct hw_store *st, const char *webhook_id,
			  struct hw_outbox_row **out, size_t *n)
{
	struct conn *c = &sq(st)->main;
	int rc = -EIO;
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&c->mu);
	sqlite3_stmt *s = stmt(c, S_OB_LIST);
	if (s) {
		sqlite3_bind_text(s, 1, webhook_id, -1, SQLITE_STATIC);
		rc = query_all(c, s, "outbox_list", sizeof(**out), read_outbox, (void **)out, n);
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* Audit trail (security_events). Statements are prepared per call rather than cached: an
 * append happens once per flagged request, far from the hot path. */
#define AUDIT_COLS                                                                                 \
	"seq, ts_ms, workspace_id, kind, key_id, request_id, client_ip, threat_type, score, "      \
	"action, prompt_sha256, model, mode, detail, prev_hash, row_hash"

static int audit_prepare(struct conn *c, const char *sql, sqlite3_stmt **s)
{
	int rc = sqlite3_prepare_v2(c->db, sql, -1, s, NULL);
	return rc == SQLITE_OK ? 0 : conn_fail(c, "audit_prepare", rc);
}

/* Runs a one-shot statement without rows and finalizes it. */
static int audit_exec(struct conn *c, const char *sql, const char *op)
{
	sqlite3_stmt *s = NULL;
	int rc = audit_prepare(c, sql, &s);
	if (rc == 0) {
		rc = sqlite3_step(s);
		rc = rc == SQLITE_DONE ? 0 : conn_fail(c, op, rc);
	}
	sqlite3_finalize(s);
	return rc;
}

static void read_audit_row(sqlite3_stmt *s, void *dst)
{
	struct hw_audit_row *r = dst;
	memset(r, 0, sizeof(*r));
	r->seq = sqlite3_column_int64(s, 0);
	r->ts_ms = sqlite3_column_int64(s, 1);
	COL_TEXT(s, 2, r->workspace_id);
	COL_TEXT(s, 3, r->kind);
	COL_TEXT(s, 4, r->key_id);
	COL_TEXT(s, 5, r->request_id);
	COL_TEXT(s, 6, r->client_ip);
	COL_TEXT(s, 7, r->threat_type);
	COL_TEXT(s, 8, r->score);
	COL_TEXT(s, 9, r->action);
	COL_TEXT(s, 10, r->prompt_sha256);
	COL_TEXT(s, 11, r->model);
	COL_TEXT(s, 12, r->mode);
	COL_TEXT(s, 13, r->detail);
	COL_TEXT(s, 14, r->prev_hash);
	COL_TEXT(s, 15, r->row_hash);
}

/* The chain head (last seq and row_hash) inside the caller's transaction; seq 0 and 64
 * zeros for an empty chain. */
static int audit_head(struct conn *c, const char *ws, int64_t *seq, char hash[65])
{
	sqlite3_stmt *s = NULL;
	int rc = audit_prepare(c,
			       "SELECT seq, row_hash FROM security_events WHERE workspace_id = ?1 "
			       "ORDER BY seq DESC LIMIT 1",
			       &s);
	*seq = 0;
	memset(hash, '0', 64);
	hash[64] = '\0';
	if (rc < 0)
		goto out;
	sqlite3_bind_text(s, 1, ws, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*seq = sqlite3_column_int64(s, 0);
		col_text(s, 1, hash, 65);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? 0 : conn_fail(c, "audit_head", rc);
	}
out:
	sqlite3_finalize(s);
	return rc;
}

static int audit_insert(struct conn *c, const struct hw_audit_row *r)
{
	sqlite3_stmt *s = NULL;
	int rc = audit_prepare(c,
			       "INSERT INTO security_events(" AUDIT_COLS ") VALUES (?1, ?2, ?3, ?4, "
			       "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
			       &s);
	if (rc < 0)
		goto out;
	sqlite3_bind_int64(s, 1, r->seq);
	sqlite3_bind_int64(s, 2, r->ts_ms);
	BIND_TEXT(s, 3, r->workspace_id);
	BIND_TEXT(s, 4, r->kind);
	BIND_OPT_TEXT(s, 5, r->key_id);
	BIND_OPT_TEXT(s, 6, r->request_id);
	BIND_OPT_TEXT(s, 7, r->client_ip);
	BIND_OPT_TEXT(s, 8, r->threat_type);
	BIND_OPT_TEXT(s, 9, r->score);
	BIND_OPT_TEXT(s, 10, r->action);
	BIND_OPT_TEXT(s, 11, r->prompt_sha256);
	BIND_OPT_TEXT(s, 12, r->model);
	BIND_OPT_TEXT(s, 13, r->mode);
	BIND_OPT_TEXT(s, 14, r->detail);
	BIND_TEXT(s, 15, r->prev_hash);
	BIND_TEXT(s, 16, r->row_hash);
	rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? 0 : conn_fail(c, "audit_insert", rc);
out:
	sqlite3_finalize(s);
	return rc;
}

/* Chains `row` after the head read in the same transaction. Caller holds c->mu. */
static int audit_chain(struct conn *c, struct hw_audit_row *row, hw_audit_seal_fn seal)
{
	int64_t head = 0;
	int rc = audit_head(c, row->workspace_id, &head, row->prev_hash);
	if (rc < 0)
		return rc;
	row->seq = head + 1;
	seal(row);
	return audit_insert(c, row);
}

static int sq_audit_append(struct hw_store *st, struct hw_audit_row *row, hw_audit_seal_fn seal)
{
	struct conn *c = &sq(st)->main;
	pthread_mutex_lock(&c->mu);
	int rc = tx_begin(c);
	if (rc == 0)
		rc = tx_end(c, audit_chain(c, row, seal));
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int sq_audit_list(struct hw_store *st, const char *workspace_id, int64_t from_ms,
			 int64_t after_seq, int limit, struct hw_audit_row **out, size_t *n)
{
	struct conn *c = &sq(st)->main;
	sqlite3_stmt *s = NULL;
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&c->mu);
	int rc = audit_prepare(c,
			       "SELECT " AUDIT_COLS " FROM security_events WHERE workspace_id = ?1 "
			       "AND ts_ms >= ?2 AND seq > ?3 ORDER BY seq LIMIT ?4",
			       &s);
	if (rc == 0) {
		sqlite3_bind_text(s, 1, workspace_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, from_ms);
		sqlite3_bind_int64(s, 3, after_seq);
		sqlite3_bind_int(s, 4, limit);
		rc = query_all(c, s, "audit_list", sizeof(**out), read_audit_row, (void **)out, n);
	}
	sqlite3_finalize(s);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* Inside the purge transaction: the last seq to delete (the newest row older than
 * before_ms; rows before it go too, so the chain left is a suffix), its row_hash and the
 * count; *through = 0 when nothing is that old. */
static int audit_purge_span(struct conn *c, const char *ws, int64_t before_ms, int64_t *through,
			    char anchor[65], int64_t *count)
{
	sqlite3_stmt *s = NULL;
	int rc = audit_prepare(c,
			       "SELECT e.seq, e.row_hash, (SELECT count(*) FROM security_events "
			       "WHERE workspace_id = ?1 AND seq <= e.seq) FROM security_events e "
			       "WHERE e.workspace_id = ?1 AND e.ts_ms < ?2 ORDER BY e.seq DESC LIMIT 1",
			       &s);
	*through = 0;
	*count = 0;
	anchor[0] = '\0';
	if (rc < 0)
		goto out;
	sqlite3_bind_text(s, 1, ws, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, before_ms);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*through = sqlite3_column_int64(s, 0);
		col_text(s, 1, anchor, 65);
		*count = sqlite3_column_int64(s, 2);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? 0 : conn_fail(c, "audit_purge_span", rc);
	}
out:
	sqlite3_finalize(s);
	return rc;
}

static int audit_purge_rows(struct conn *c, const char *ws, int64_t through)
{
	sqlite3_stmt *s = NULL;
	int rc = audit_exec(c, "UPDATE audit_purge_gate SET open = 1 WHERE id = 1", "audit_gate");
	if (rc < 0)
		return rc;
	rc = audit_prepare(c, "DELETE FROM security_events WHERE workspace_id = ?1 AND seq <= ?2",
			   &s);
	if (rc == 0) {
		sqlite3_bind_text(s, 1, ws, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, through);
		rc = sqlite3_step(s);
		rc = rc == SQLITE_DONE ? 0 : conn_fail(c, "audit_purge", rc);
	}
	sqlite3_finalize(s);
	if (rc == 0)
		rc = audit_exec(c, "UPDATE audit_purge_gate SET open = 0 WHERE id = 1",
				"audit_gate");
	return rc;
}

static int sq_audit_purge(struct hw_store *st, const char *workspace_id, int64_t before_ms,
			  struct hw_audit_row *purge, hw_audit_seal_fn seal, int64_t *deleted)
{
	struct conn *c = &sq(st)->main;
	int64_t through = 0, count = 0, head = 0;
	char anchor[65];
	*deleted = 0;
	pthread_mutex_lock(&c->mu);
	int rc = tx_begin(c);
	if (rc < 0)
		goto out;
	rc = audit_purge_span(c, workspace_id, before_ms, &through, anchor, &count);
	/* The head is read before the delete: the purge may take every row, and its own row
	 * must still follow the last one. */
	if (rc == 0 && through > 0)
		rc = audit_head(c, workspace_id, &head, purge->prev_hash);
	if (rc == 0 && through > 0) {
		rc = audit_purge_rows(c, workspace_id, through);
		if (rc == 0) {
			purge->seq = head + 1;
			snprintf(purge->detail, sizeof(purge->detail),
				 "deleted_through_seq=%lld;deleted_count=%lld;anchor=%s",
				 (long long)through, (long long)count, anchor);
			seal(purge);
			rc = audit_insert(c, purge);
		}
	}
	rc = tx_end(c, rc);
	if (rc == 0)
		*deleted = count;
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static void conn_close(struct conn *c)
{
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(c->stmts[i]);
	sqlite3_close(c->db);
	pthread_mutex_destroy(&c->mu);
}

static void sq_close(struct hw_store *st)
{
	struct sqlite_store *s = sq(st);
	conn_close(&s->main);
	conn_close(&s->bulk);
	for (int i = 0; i < HW_SQ_STMT_CACHE; i++)
		sqlite3_finalize(s->ledger_stmts.stmt[i]);
	conn_close(&s->money);
	free(s);
}

sqlite3 *hw_store_sqlite_acquire(struct hw_store *st)
{
	struct conn *c = &sq(st)->main;
	pthread_mutex_lock(&c->mu);
	return c->db;
}

void hw_store_sqlite_release(struct hw_store *st) { pthread_mutex_unlock(&sq(st)->main.mu); }

int hw_store_sqlite_fail(struct hw_store *st, const char *op, int rc)
{
	return conn_fail(&sq(st)->main, op, rc);
}

static const struct hw_store_ops sqlite_ops = {
	.close = sq_close,
	.ping = sq_ping,
	.setting_get = sq_setting_get,
	.setting_set = sq_setting_set,
	.workspace_create = sq_workspace_create,
	.workspace_get = sq_workspace_get,
	.workspace_update = sq_workspace_update,
	.workspace_count = sq_workspace_count,
	.workspace_list = sq_workspace_list,
	.key_create = sq_key_create,
	.key_get = sq_key_get,
	.key_update = sq_key_update,
	.key_delete = sq_key_delete,
	.key_list = sq_key_list,
	.key_list_all = sq_key_list_all,
	.key_touch = sq_key_touch,
	.provider_key_put = sq_provider_key_put,
	.provider_key_get = sq_provider_key_get,
	.provider_key_delete = sq_provider_key_delete,
	.provider_key_list = sq_provider_key_list,
	.provider_key_list_all = sq_provider_key_list_all,
	.usage_insert = sq_usage_insert,
	.usage_count = sq_usage_count,
	.usage_flush = sq_usage_flush,
	.audit_append = sq_audit_append,
	.audit_list = sq_audit_list,
	.audit_purge = sq_audit_purge,
	.hooks = {
		.webhook_create = sq_webhook_create,
		.webhook_get = sq_webhook_get,
		.webhook_update = sq_webhook_update,
		.webhook_delete = sq_webhook_delete,
		.webhook_list = sq_webhook_list,
		.outbox_insert = sq_outbox_insert,
		.outbox_claim = sq_outbox_claim,
		.outbox_finish = sq_outbox_finish,
		.outbox_pending = sq_outbox_pending,
		.outbox_list = sq_outbox_list,
	},
	.money = {
		.load = hw_sq_money_load,
		.wallet_create = hw_sq_money_wallet_create,
		.commit = hw_sq_money_commit,
		.topup = hw_sq_money_topup,
		.ledger_list = hw_sq_money_ledger_list,
		.ledger_sum = hw_sq_money_ledger_sum,
		.budget_put = hw_sq_money_budget_put,
		.plan_put = hw_sq_money_plan_put,
		.usage_report = hw_sq_usage_report,
	},
	.security = {
		.config_get = hw_store_sqlite_security_get,
		.config_put = hw_store_sqlite_security_put,
		.config_list_all = hw_store_sqlite_security_list_all,
	},
	.perimeter = HW_STORE_SQLITE_PERIMETER_OPS,
	.guardian = {
		.get = hw_sq_guardian_get,
		.put = hw_sq_guardian_put,
		.list_all = hw_sq_guardian_list_all,
	},
};

sqlite3 *hw_store_sqlite_ledger(struct hw_store *st, pthread_mutex_t **mu,
				struct hw_sq_stmt_cache **cache)
{
	struct conn *c = sq(st)->ledger;
	*mu = &c->mu;
	if (cache)
		*cache = &sq(st)->ledger_stmts;
	return c->db;
}

/* The perimeter file (store_sqlite_perimeter.c) runs its statements on the main
 * connection under its mutex, like the calls here. */
sqlite3 *hw_store_sqlite_main_lock(struct hw_store *st)
{
	pthread_mutex_lock(&sq(st)->main.mu);
	return sq(st)->main.db;
}

void hw_store_sqlite_main_unlock(struct hw_store *st) { pthread_mutex_unlock(&sq(st)->main.mu); }

static int pragma(struct conn *c, const char *sql, const char *expect)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(c->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		rc = conn_fail(c, sql, rc);
		goto out;
	}
	int step = sqlite3_step(s);
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		rc = conn_fail(c, sql, step);
		goto out;
	}
	/* journal_mode answers the mode it ended in, which may not be the one asked for. */
	if (expect) {
		const char *got = NULL;
		if (step == SQLITE_ROW)
			got = (const char *)sqlite3_column_text(s, 0);
		if (!got || strcasecmp(got, expect) != 0) {
			hw_log(HW_LOG_ERROR, "store: %s gave %s", sql, got ? got : "nothing");
			rc = -EIO;
		}
	}
out:
	sqlite3_finalize(s);
	return rc;
}

/* Waiting for another connection's write lock. SQLite's own timeout handler sleeps at
 * least a millisecond, then longer; the writers here hold the lock for a fraction of that,
 * and the ledger writer's wait is on a response's path, so the first waits are short. */
static int busy_wait(void *arg, int count)
{
	struct conn *c = arg;
	long us = count < 200 ? 50 : 1000;
	long waited_ms = count < 200 ? count / 20 : 10 + (count - 200);
	if (waited_ms >= c->busy_ms)
		return 0;
	struct timespec ts = {0, us * 1000};
	nanosleep(&ts, NULL);
	return 1;
}

static int conn_open(struct conn *c, const char *path, int busy_ms, const char *sync, bool memory)
{
	char sql[64];
	int rc = sqlite3_open_v2(path, &c->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
				 NULL);
	if (rc != SQLITE_OK) {
		hw_log(HW_LOG_ERROR, "store: cannot open %s: %s", path,
		       c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		return -EIO;
	}
	sqlite3_extended_result_codes(c->db, 1);
	c->busy_ms = busy_ms;
	sqlite3_busy_handler(c->db, busy_wait, c);
	rc = pragma(c, "PRAGMA journal_mode = WAL", memory ? "memory" : "wal");
	if (rc < 0)
		return rc;
	snprintf(sql, sizeof(sql), "PRAGMA synchronous = %s", sync);
	rc = pragma(c, sql, NULL);
	if (rc < 0)
		return rc;
	return pragma(c, "PRAGMA foreign_keys = ON", NULL);
}

int hw_store_sqlite_open(const char *path, int64_t busy_timeout_ms, const char *synchronous,
			 struct hw_store **out)
{
	static const char *const sync_modes[] = {"off", "normal", "full"};
	const char *sync = NULL;
	struct sqlite_store *s = NULL;
	bool memory = strcmp(path, ":memory:") == 0;
	int busy_ms = busy_timeout_ms > INT_MAX ? INT_MAX : (int)busy_timeout_ms;
	int rc = -EINVAL;

	*out = NULL;
	if (!synchronous)
		synchronous = "normal";
	for (size_t i = 0; i < sizeof(sync_modes) / sizeof(sync_modes[0]); i++)
		if (strcmp(synchronous, sync_modes[i]) == 0)
			sync = sync_modes[i];
	if (!sync || !path[0] || busy_timeout_ms < 0)
		goto out;

	rc = -ENOMEM;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto out;
	s->base.ops = &sqlite_ops;
	s->base.backend = "sqlite";
	pthread_mutex_init(&s->main.mu, NULL);
	pthread_mutex_init(&s->bulk.mu, NULL);
	pthread_mutex_init(&s->money.mu, NULL);
	s->writer = memory ? &s->main : &s->bulk;
	s->ledger = memory ? &s->main : &s->money;

	rc = conn_open(&s->main, path, busy_ms, sync, memory);
	if (rc < 0)
		goto out;
	rc = hw_store_sqlite_migrate(s->main.db);
	if (rc < 0)
		goto out;
	if (!memory)
		rc = conn_open(&s->bulk, path, busy_ms, sync, false);
	if (!memory && rc == 0)
		rc = conn_open(&s->money, path, busy_ms, sync, false);
	/* Checkpoints (the fsyncs of WAL mode) are left to the other connections: a ledger
	 * commit waits on a response's path. */
	if (!memory && rc == 0)
		rc = pragma(&s->money, "PRAGMA wal_autocheckpoint = 0", NULL);
out:
	if (rc < 0) {
		if (s)
			sq_close(&s->base);
		return rc;
	}
	*out = &s->base;
	return 0;
}
