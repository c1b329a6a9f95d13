// SPDX-License-Identifier: Apache-2.0
/* IP rules, bans and agent status in SQLite (schema step 6, SPEC §13-§14). The columns are
 * shared with hiway-agent, which polls the setting perimeter_generation: every insert or
 * delete bumps it inside the same write transaction, so the agent (and every gateway)
 * never sees a change without its new generation, nor a generation without its change.
 * These calls are rare (management API, auto-bans, a 1 s poll), so statements are
 * prepared per call rather than cached. */
#include "store/store_sqlite.h"

#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RULE_COLS "id, workspace_id, cidr, family, action, comment, kernel, expires_at, created_at"
#define BAN_COLS "id, cidr, family, reason, comment, created_at, expires_at"
#define AGENT_COLS                                                                                 \
	"node_id, pid, version, status, heartbeat_at, generation, interfaces, rules, stats"

static const char bump_sql[] =
    "INSERT INTO settings(name, value) VALUES ('perimeter_generation', '1') "
    "ON CONFLICT(name) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)";

static int fail(sqlite3 *db, const char *op, int rc)
{
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
		return -EEXIST;
	hw_log_json(
	    HW_LOG_ERROR, NULL, "store: sqlite failure",
	    json_pack("{s:s,s:s,s:i}", "op", op, "error", sqlite3_errmsg(db), "sqlite_code", rc));
	return -EIO;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **s, const char *op)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, s, NULL);
	return rc == SQLITE_OK ? 0 : fail(db, op, rc);
}

/* Runs a whole statement without rows; *changes gets the rows it touched when not NULL. */
static int run(sqlite3 *db, sqlite3_stmt *s, const char *op, int64_t *changes)
{
	int rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? 0 : fail(db, op, rc);
	if (rc == 0 && changes)
		*changes = sqlite3_changes(db);
	sqlite3_finalize(s);
	return rc;
}

static int exec_sql(sqlite3 *db, const char *sql, const char *op)
{
	sqlite3_stmt *s;
	int rc = prepare(db, sql, &s, op);
	return rc ? rc : run(db, s, op, NULL);
}

static int tx_begin(sqlite3 *db)
{
	return exec_sql(db, "BEGIN IMMEDIATE", "begin");
}

static int tx_end(sqlite3 *db, int rc)
{
	if (rc == 0)
		rc = exec_sql(db, "COMMIT", "commit");
	if (rc < 0 && !sqlite3_get_autocommit(db))
		exec_sql(db, "ROLLBACK", "rollback");
	return rc;
}

static void bind_opt_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v && v[0])
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

static void bind_opt_time(sqlite3_stmt *s, int i, int64_t v)
{
	if (v)
		sqlite3_bind_int64(s, i, v);
	else
		sqlite3_bind_null(s, i);
}

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

static void read_rule(sqlite3_stmt *s, void *dst)
{
	struct hw_ip_rule *r = dst;
	memset(r, 0, sizeof(*r));
	col_text(s, 0, r->id, sizeof(r->id));
	col_text(s, 1, r->workspace_id, sizeof(r->workspace_id));
	col_text(s, 2, r->cidr, sizeof(r->cidr));
	r->family = sqlite3_column_int(s, 3);
	col_text(s, 4, r->action, sizeof(r->action));
	col_text(s, 5, r->comment, sizeof(r->comment));
	r->kernel = sqlite3_column_int(s, 6) != 0;
	r->expires_at = sqlite3_column_int64(s, 7);
	r->created_at = sqlite3_column_int64(s, 8);
}

static void read_ban(sqlite3_stmt *s, void *dst)
{
	struct hw_ban *b = dst;
	memset(b, 0, sizeof(*b));
	col_text(s, 0, b->id, sizeof(b->id));
	col_text(s, 1, b->cidr, sizeof(b->cidr));
	b->family = sqlite3_column_int(s, 2);
	col_text(s, 3, b->reason, sizeof(b->reason));
	col_text(s, 4, b->comment, sizeof(b->comment));
	b->created_at = sqlite3_column_int64(s, 5);
	b->expires_at = sqlite3_column_int64(s, 6);
}

static void read_agent(sqlite3_stmt *s, void *dst)
{
	struct hw_agent_status *a = dst;
	memset(a, 0, sizeof(*a));
	col_text(s, 0, a->node_id, sizeof(a->node_id));
	a->pid = sqlite3_column_int64(s, 1);
	col_text(s, 2, a->version, sizeof(a->version));
	col_text(s, 3, a->status, sizeof(a->status));
	a->heartbeat_at = sqlite3_column_int64(s, 4);
	a->generation = sqlite3_column_int64(s, 5);
	col_text(s, 6, a->interfaces, sizeof(a->interfaces));
	col_text(s, 7, a->rules, sizeof(a->rules));
	col_text(s, 8, a->stats, sizeof(a->stats));
}

/* Steps a prepared query into a malloc'ed array of `size`-byte rows, then finalizes it. */
static int query_all(sqlite3 *db, sqlite3_stmt *s, const char *op, size_t size,
		     void (*read)(sqlite3_stmt *, void *), void **out, size_t *n)
{
	int rc = hw_sq_collect(s, size, read, out, n);
	rc = rc == SQLITE_DONE ? 0 : rc == SQLITE_NOMEM ? -ENOMEM : fail(db, op, rc);
	sqlite3_finalize(s);
	return rc;
}

static int count_scope(sqlite3 *db, const char *ws, int64_t *out)
{
	sqlite3_stmt *s;
	int rc = prepare(db,
			 ws[0] ? "SELECT count(*) FROM ip_rules WHERE workspace_id = ?1"
			       : "SELECT count(*) FROM ip_rules WHERE workspace_id IS NULL",
			 &s, "rule_count");
	if (rc)
		return rc;
	if (ws[0])
		sqlite3_bind_text(s, 1, ws, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		rc = 0;
	} else {
		rc = fail(db, "rule_count", rc);
	}
	sqlite3_finalize(s);
	return rc;
}

int hw_sq_rule_insert(struct hw_store *st, const struct hw_ip_rule *r, int64_t max)
{
	sqlite3 *db = hw_store_sqlite_main_lock(st);
	sqlite3_stmt *s;
	int64_t have = 0;
	int rc = tx_begin(db);

	if (rc == 0)
		rc = count_scope(db, r->workspace_id, &have);
	if (rc == 0 && have >= max)
		rc = -ENOSPC;
	if (rc == 0 && (rc = prepare(db,
				     "INSERT INTO ip_rules(" RULE_COLS ") VALUES "
				     "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
				     &s, "rule_insert")) == 0) {
		sqlite3_bind_text(s, 1, r->id, -1, SQLITE_STATIC);
		bind_opt_text(s, 2, r->workspace_id);
		sqlite3_bind_text(s, 3, r->cidr, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 4, r->family);
		sqlite3_bind_text(s, 5, r->action, -1, SQLITE_STATIC);
		bind_opt_text(s, 6, r->comment);
		sqlite3_bind_int(s, 7, r->kernel ? 1 : 0);
		bind_opt_time(s, 8, r->expires_at);
		sqlite3_bind_int64(s, 9, r->created_at);
		rc = run(db, s, "rule_insert", NULL);
	}
	if (rc == 0)
		rc = exec_sql(db, bump_sql, "generation_bump");
	rc = tx_end(db, rc);
	hw_store_sqlite_main_unlock(st);
	return rc;
}

/* Deletes by `sql` bound to ?1 = id (and ?2 = workspace when given); bumps the generation
 * when a row went. */
static int delete_one(struct hw_store *st, const char *sql, const char *id, const char *ws,
		      const char *op)
{
	sqlite3 *db = hw_store_sqlite_main_lock(st);
	sqlite3_stmt *s;
	int64_t changes = 0;
	int rc = tx_begin(db);

	if (rc == 0 && (rc = prepare(db, sql, &s, op)) == 0) {
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
		if (ws)
			sqlite3_bind_text(s, 2, ws, -1, SQLITE_STATIC);
		rc = run(db, s, op, &changes);
	}
	if (rc == 0 && changes == 0)
		rc = -ENOENT;
	if (rc == 0)
		rc = exec_sql(db, bump_sql, "generation_bump");
	rc = tx_end(db, rc);
	hw_store_sqlite_main_unlock(st);
	return rc;
}

int hw_sq_rule_delete(struct hw_store *st, const char *workspace_id, const char *id)
{
	if (workspace_id && workspace_id[0])
		return delete_one(st, "DELETE FROM ip_rules WHERE id = ?1 AND workspace_id = ?2",
				  id, workspace_id, "rule_delete");
	return delete_one(st, "DELETE FROM ip_rules WHERE id = ?1 AND workspace_id IS NULL", id,
			  NULL, "rule_delete");
}

int hw_sq_rule_list(struct hw_store *st, const char *workspace_id, const char *after, int limit,
		    struct hw_ip_rule **out, size_t *n)
{
	bool ws = workspace_id && workspace_id[0];
	sqlite3 *db = hw_store_sqlite_main_lock(st);
	sqlite3_stmt *s;
	int rc =
	    prepare(db,
		    ws ? "SELECT " RULE_COLS " FROM ip_rules WHERE workspace_id = ?1 AND id > ?2 "
			 "ORDER BY id LIMIT ?3"
		       : "SELECT " RULE_COLS " FROM ip_rules WHERE workspace_id IS NULL AND "
			 "id > ?2 ORDER BY id LIMIT ?3",
		    &s, "rule_list");
	*out = NULL;
	*n = 0;
	if (rc == 0) {
		bind_opt_text(s, 1, ws ? workspace_id : NULL);
		sqlite3_bind_text(s, 2, after ? after : "", -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 3, limit);
		rc = query_all(db, s, "rule_list", sizeof(**out), read_rule, (void **)out, n);
	}
	hw_store_sqlite_main_unlock(st);
	return rc;
}

int hw_sq_rule_list_all(struct hw_store *st, struct hw_ip_rule **out, size_t *n)
{
	sqlite3 *db = hw_store_sqlite_main_lock(st);
	sqlite3_stmt *s;
	int rc = prepare(db, "SELECT " RULE_COLS " FROM ip_rules ORDER BY id", &s, "rule_list_all");
	*out = NULL;
	*n = 0;
	if (rc == 0)
		rc = query_all(db, s, "rule_list_all", sizeof(**out), read_rule, (void **)out, n);
	hw_store_sqlite_main_unlock(st);
	return rc;
}

int hw_sq_ban_insert(struct hw_store *st, const struct hw_ban *b)
{
	sqlite3 *db = hw_store_sqlite_main_lock(st);
	sqlite3_stmt *s;
	int rc = tx_begin(db);

	if (rc == 0 && (rc = prepare(db,
				     "INSERT INTO bans(" BAN_COLS ") VALUES "
				     "(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
				     &s, "ban_insert")) == 0) {
		sqlite3_bind_text(s, 1, b->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, b->cidr, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 3, b->family);
		sqlite3_bind_text(s, 4, b->reason, -1, SQLITE_STATIC);
		bind_opt_text(s, 5, b->comment);
		sqlite3_bind_int64(s, 6, b->created_at);
		bind_opt_time(s, 7, b->expires_at);
		rc = run(db, s, "ban_insert", NULL);
	}
	if (rc == 0)
		rc = exec_sql(db, bump_sql, "generation_bump");
	rc = tx_end(db, rc);
	hw_store_sqlite_main_unlock(st);
	return rc;
}

int hw_sq_ban_delete(struct hw_store *st, const char *id)
{
	return delete_one(st, "DELETE FROM bans WHERE id = ?1", id, NULL, "ban_delete");
}

int hw_sq_ban_list(struct hw_store *st, const char *after, int limit, struct hw_ban **out,
		   size_t *n)
{
	sqlite3 *db = hw_store_sqlite_main_lock(st);
	sqlite3_stmt *s;
	int rc = prepare(db, "SELECT " BAN_COLS " FROM bans WHERE id > ?1 ORDER BY id LIMIT ?2", &s,
			 "ban_list");
	*out = NULL;
	*n = 0;
	if (rc == 0) {
		sqlite3_bind_text(s, 1, after ? after : "", -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 2, limit);
		rc = query_all(db, s, "ban_list", sizeof(**out), read_ban, (void **)out, n);
	}
	hw_store_sqlite_main_unlock(st);
	return rc;
}

int hw_sq_ban_list_all(struct hw_store *st, struct hw_ban **out, size_t *n)
{
	sqlite3 *db = hw_store_sqlite_main_lock(st);
	sqlite3_stmt *s;
	int rc = prepare(db, "SELECT " BAN_COLS " FROM bans ORDER BY id", &s, "ban_list_all");
	*out = NULL;
	*n = 0;
	if (rc == 0)
		rc = query_all(db, s, "ban_list_all", sizeof(**out), read_ban, (void **)out, n);
	hw_store_sqlite_main_unlock(st);
	return rc;
}

int hw_sq_perimeter_sweep(struct hw_store *st, int64_t now, int64_t *deleted)
{
	static const char *const sql[] = {
	    "DELETE FROM ip_rules WHERE expires_at IS NOT NULL AND expires_at <= ?1",
	    "DELETE FROM bans WHERE expires_at IS NOT NULL AND expires_at <= ?1",
	};
	sqlite3 *db = hw_store_sqlite_main_lock(st);
	int64_t total = 0;
	int rc = tx_begin(db);

	for (size_t i = 0; rc == 0 && i < 2; i++) {
		sqlite3_stmt *s;
		int64_t changes = 0;
		if ((rc = prepare(db, sql[i], &s, "perimeter_sweep")) != 0)
			break;
		sqlite3_bind_int64(s, 1, now);
		rc = run(db, s, "perimeter_sweep", &changes);
		total += changes;
	}
	if (rc == 0 && total > 0)
		rc = exec_sql(db, bump_sql, "generation_bump");
	rc = tx_end(db, rc);
	hw_store_sqlite_main_unlock(st);
	*deleted = rc == 0 ? total : 0;
	return rc;
}

int hw_sq_perimeter_generation(struct hw_store *st, int64_t *out)
{
	sqlite3 *db = hw_store_sqlite_main_lock(st);
	sqlite3_stmt *s;
	int rc = prepare(db,
			 "SELECT CAST(value AS INTEGER) FROM settings "
			 "WHERE name = 'perimeter_generation'",
			 &s, "perimeter_generation");
	*out = 0;
	if (rc == 0) {
		int step = sqlite3_step(s);
		if (step == SQLITE_ROW)
			*out = sqlite3_column_int64(s, 0);
		else if (step != SQLITE_DONE)
			rc = fail(db, "perimeter_generation", step);
		sqlite3_finalize(s);
	}
	hw_store_sqlite_main_unlock(st);
	return rc;
}

int hw_sq_agent_list(struct hw_store *st, struct hw_agent_status **out, size_t *n)
{
	sqlite3 *db = hw_store_sqlite_main_lock(st);
	sqlite3_stmt *s;
	int rc = prepare(db, "SELECT " AGENT_COLS " FROM agent_status ORDER BY node_id", &s,
			 "agent_list");
	*out = NULL;
	*n = 0;
	if (rc == 0)
		rc = query_all(db, s, "agent_list", sizeof(**out), read_agent, (void **)out, n);
	hw_store_sqlite_main_unlock(st);
	return rc;
}
