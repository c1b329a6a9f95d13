// SPDX-License-Identifier: Apache-2.0
/* Money on SQLite (SPEC §10, §19): wallets, the ledger, month counters, budgets and plans,
 * on the store's ledger connection. A wallet's balance and its ledger entries change in
 * one transaction, so balance = Σ ledger amounts after every commit, kill -9 included. */
#include "store/store_sqlite.h"

#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lconn {
	sqlite3 *db;
	pthread_mutex_t *mu;
	struct hw_sq_stmt_cache *cache;
};

static struct lconn lock(struct hw_store *st)
{
	struct lconn c;
	c.db = hw_store_sqlite_ledger(st, &c.mu, &c.cache);
	pthread_mutex_lock(c.mu);
	return c;
}

static void unlock(struct lconn *c) { pthread_mutex_unlock(c->mu); }

static int fail(struct lconn *c, const char *op, int rc)
{
	if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		return -EEXIST;
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		return -ENOENT;
	hw_log(HW_LOG_ERROR, "store: money %s: %s", op, sqlite3_errmsg(c->db));
	return -EIO;
}

/* The cached statement for `sql` (a string literal), prepared on first use. */
static int prep(struct lconn *c, const char *sql, sqlite3_stmt **s)
{
	int i = 0;
	for (; i < HW_SQ_STMT_CACHE && c->cache->sql[i]; i++) {
		if (c->cache->sql[i] == sql) {
			*s = c->cache->stmt[i];
			return 0;
		}
	}
	*s = NULL;
	int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, s, NULL);
	if (rc != SQLITE_OK)
		return fail(c, "prepare", rc);
	if (i < HW_SQ_STMT_CACHE) {
		c->cache->sql[i] = sql;
		c->cache->stmt[i] = *s;
	}
	return 0;
}

/* Done with a statement of prep: reset for the next use (finalized only if uncached). */
static void done(struct lconn *c, sqlite3_stmt *s)
{
	if (!s)
		return;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	for (int i = 0; i < HW_SQ_STMT_CACHE; i++)
		if (c->cache->stmt[i] == s)
			return;
	sqlite3_finalize(s);
}

/* Steps a statement that returns no row, then resets it for the next use. */
static int run(struct lconn *c, sqlite3_stmt *s, const char *op)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : fail(c, op, rc);
}

static int exec(struct lconn *c, const char *sql, const char *op)
{
	int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : fail(c, op, rc);
}

static int tx_end(struct lconn *c, int rc)
{
	if (rc == 0)
		rc = exec(c, "COMMIT", "commit");
	if (rc < 0 && !sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static void bind_str(sqlite3_stmt *s, int i, const char *v)
{
	if (v && v[0])
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

static void col_str(sqlite3_stmt *s, int i, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	snprintf(out, cap, "%s", t ? (const char *)t : "");
}

static const char wallet_insert_sql[] =
	"INSERT INTO wallets(workspace_id, balance) VALUES (?1, 0) ON CONFLICT DO NOTHING";

/* ---- load ----------------------------------------------------------------------- */

static int load_wallet(struct lconn *c, const char *ws, struct hw_money_state *o)
{
	sqlite3_stmt *s = NULL;
	int rc = prep(c, "SELECT balance, last_topup, coalesce(last_topup_at, 0), low_alerts, "
			 "coalesce(pt_since, 0), pt_tokens, pt_warned, pt_cut, pt_rejected "
			 "FROM wallets WHERE workspace_id = ?1", &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, ws, -1, SQLITE_STATIC);
	int step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		o->balance = sqlite3_column_int64(s, 0);
		o->last_topup = sqlite3_column_int64(s, 1);
		o->last_topup_at_s = sqlite3_column_int64(s, 2);
		o->low_alerts = (uint32_t)sqlite3_column_int64(s, 3);
		o->pt_since_s = sqlite3_column_int64(s, 4);
		o->pt_tokens = sqlite3_column_int64(s, 5);
		o->pt_warned = sqlite3_column_int(s, 6) != 0;
		col_str(s, 7, o->pt_cut, sizeof(o->pt_cut));
		o->pt_rejected = sqlite3_column_int(s, 8) != 0;
		rc = 0;
	} else {
		rc = step == SQLITE_DONE ? -ENOENT : fail(c, "wallet read", step);
	}
	done(c, s);
	return rc;
}

static int load_month(struct lconn *c, const char *ws, struct hw_money_state *o)
{
	sqlite3_stmt *s = NULL;
	int rc = prep(c, "SELECT upstream_spend, used_requests, overage_requests, budget_alerts "
			 "FROM money_months WHERE workspace_id = ?1 AND month = ?2", &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, ws, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, o->month, -1, SQLITE_STATIC);
	int step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		o->spend = sqlite3_column_int64(s, 0);
		o->used_requests = sqlite3_column_int64(s, 1);
		o->overage_requests = sqlite3_column_int64(s, 2);
		o->budget_alerts = (uint32_t)sqlite3_column_int64(s, 3);
	} else if (step != SQLITE_DONE) {
		rc = fail(c, "month read", step);
	}
	done(c, s);
	return rc;
}

static int load_budget_plan(struct lconn *c, const char *ws, struct hw_money_state *o)
{
	sqlite3_stmt *s = NULL;
	int rc = prep(c, "SELECT cap, downgrade, light_only, block FROM budgets WHERE workspace_id = ?1", &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, ws, -1, SQLITE_STATIC);
	int step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		o->has_budget = true;
		o->cap = sqlite3_column_type(s, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 0);
		o->th_downgrade = sqlite3_column_double(s, 1);
		o->th_light_only = sqlite3_column_double(s, 2);
		o->th_block = sqlite3_column_double(s, 3);
	} else if (step != SQLITE_DONE) {
		rc = fail(c, "budget read", step);
	}
	done(c, s);
	if (rc < 0)
		return rc;
	rc = prep(c, "SELECT included_requests, overage_enabled, overage_per_100k FROM plans "
		     "WHERE workspace_id = ?1", &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, ws, -1, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		o->has_plan = true;
		o->included_requests = sqlite3_column_type(s, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 0);
		o->overage_enabled = sqlite3_column_int(s, 1) != 0;
		o->overage_per_100k = sqlite3_column_int64(s, 2);
	} else if (step != SQLITE_DONE) {
		rc = fail(c, "plan read", step);
	}
	done(c, s);
	return rc;
}

int hw_sq_money_load(struct hw_store *st, const char *ws, const char *month, struct hw_money_state *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->month, sizeof(out->month), "%s", month);
	out->cap = -1;
	out->included_requests = -1;
	struct lconn c = lock(st);
	int rc = load_wallet(&c, ws, out);
	if (rc == -ENOENT) {
		sqlite3_stmt *s = NULL;
		rc = prep(&c, wallet_insert_sql, &s);
		if (rc == 0) {
			sqlite3_bind_text(s, 1, ws, -1, SQLITE_STATIC);
			rc = run(&c, s, "wallet create");
		}
		done(&c, s);
	}
	if (rc == 0)
		rc = load_month(&c, ws, out);
	if (rc == 0)
		rc = load_budget_plan(&c, ws, out);
	unlock(&c);
	return rc;
}

/* ---- writes ---------------------------------------------------------------------- */

static int ledger_insert(struct lconn *c, const char *ws, int64_t at_ms, const char *kind,
			 int64_t amount, const char *request_id, const char *reference, int64_t *id,
			 int64_t *after)
{
	sqlite3_stmt *s = NULL;
	int rc = prep(c, "INSERT INTO ledger(workspace_id, at_ms, kind, amount, balance_after, "
			 "request_id, reference) SELECT ?1, ?2, ?3, ?4, balance, ?5, ?6 FROM wallets "
			 "WHERE workspace_id = ?1 RETURNING id, balance_after", &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, ws, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, at_ms);
	sqlite3_bind_text(s, 3, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, amount);
	bind_str(s, 5, request_id);
	bind_str(s, 6, reference);
	int step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		if (id)
			*id = sqlite3_column_int64(s, 0);
		if (after)
			*after = sqlite3_column_int64(s, 1);
		step = sqlite3_step(s);
	}
	rc = step == SQLITE_DONE ? 0 : fail(c, "ledger insert", step);
	done(c, s);
	return rc;
}

static int outbox_insert(struct lconn *c, const struct hw_outbox_row *rows, size_t n)
{
	if (n == 0)
		return 0;
	sqlite3_stmt *s = NULL;
	int rc = prep(c, "INSERT INTO outbox(event_id, delivery_id, webhook_id, workspace_id, event, "
			 "body, status, attempts, next_attempt_at_ms, last_status, created_at) "
			 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, NULL, ?8)", &s);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const struct hw_outbox_row *r = &rows[i];
		sqlite3_bind_text(s, 1, r->event_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, r->delivery_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, r->webhook_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, r->workspace_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, r->event, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 6, r->body, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 7, r->next_attempt_at_ms);
		sqlite3_bind_int64(s, 8, r->created_at);
		rc = run(c, s, "outbox insert");
	}
	done(c, s);
	return rc;
}

enum { C_BALANCE, C_LEDGER, C_DEBIT, C_MONTH, C_MONTH_FLAGS, C_WALLET_FLAGS, C_SEQ, C_COUNT };

static const char *const commit_sql[C_COUNT] = {
	[C_BALANCE] = "SELECT balance FROM wallets WHERE workspace_id = ?1",
	[C_LEDGER] = "INSERT INTO ledger(workspace_id, at_ms, kind, amount, balance_after, request_id) "
		     "VALUES (?1, ?2, 'markup', ?3, ?4, ?5)",
	[C_DEBIT] = "UPDATE wallets SET balance = balance - ?2 WHERE workspace_id = ?1",
	[C_MONTH] = "INSERT INTO money_months(workspace_id, month, upstream_spend, used_requests, "
		    "overage_requests) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(workspace_id, month) "
		    "DO UPDATE SET upstream_spend = upstream_spend + excluded.upstream_spend, "
		    "used_requests = used_requests + excluded.used_requests, "
		    "overage_requests = overage_requests + excluded.overage_requests",
	[C_MONTH_FLAGS] = "UPDATE money_months SET budget_alerts = ?3 WHERE workspace_id = ?1 AND month = ?2",
	[C_WALLET_FLAGS] = "UPDATE wallets SET low_alerts = ?2, pt_since = ?3, pt_tokens = ?4, "
			   "pt_warned = ?5, pt_cut = ?6, pt_rejected = ?7 WHERE workspace_id = ?1",
	/* The ledger journal's highest record applied, with the changes it carried. */
	[C_SEQ] = "INSERT INTO settings(name, value) VALUES ('ledger_journal_seq', ?1) "
		  "ON CONFLICT(name) DO UPDATE SET value = excluded.value "
		  "WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)",
};

/* The changes of one workspace and month in a batch, applied with one statement each but
 * the per-request ledger entries: under load most of a batch is one workspace. */
struct group {
	const struct hw_money_commit *first;
	int64_t markup, upstream, used, overage;
	const struct hw_money_commit *month_flags, *wallet_flags; /* the latest of each */
};

static bool same_group(const struct hw_money_commit *a, const struct hw_money_commit *b)
{
	return strcmp(a->workspace_id, b->workspace_id) == 0 && strcmp(a->month, b->month) == 0;
}

/* The ledger entries of the group's requests, in order, each with the balance after it. */
static int group_ledger(struct lconn *c, sqlite3_stmt **s, const struct hw_money_commit *m, size_t n,
			const struct group *g)
{
	if (g->markup <= 0)
		return 0;
	sqlite3_bind_text(s[C_BALANCE], 1, g->first->workspace_id, -1, SQLITE_STATIC);
	int step = sqlite3_step(s[C_BALANCE]);
	int64_t bal = step == SQLITE_ROW ? sqlite3_column_int64(s[C_BALANCE], 0) : 0;
	sqlite3_reset(s[C_BALANCE]);
	if (step != SQLITE_ROW)
		return step == SQLITE_DONE ? -ENOENT : fail(c, "balance", step);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (m[i].markup <= 0 || !same_group(&m[i], g->first))
			continue;
		bal -= m[i].markup;
		sqlite3_stmt *q = s[C_LEDGER];
		sqlite3_bind_text(q, 1, m[i].workspace_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, m[i].at_ms);
		sqlite3_bind_int64(q, 3, -m[i].markup);
		sqlite3_bind_int64(q, 4, bal);
		bind_str(q, 5, m[i].request_id);
		rc = run(c, q, "ledger insert");
	}
	if (rc == 0) {
		sqlite3_bind_text(s[C_DEBIT], 1, g->first->workspace_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s[C_DEBIT], 2, g->markup);
		rc = run(c, s[C_DEBIT], "debit");
	}
	return rc;
}

static int group_apply(struct lconn *c, sqlite3_stmt **s, const struct hw_money_commit *m, size_t n,
		       const struct group *g)
{
	const struct hw_money_commit *f = g->first;
	int rc = group_ledger(c, s, m, n, g);
	if (rc == 0 && (g->upstream || g->used || g->overage || g->month_flags)) {
		sqlite3_stmt *q = s[C_MONTH];
		sqlite3_bind_text(q, 1, f->workspace_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, f->month, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, g->upstream);
		sqlite3_bind_int64(q, 4, g->used);
		sqlite3_bind_int64(q, 5, g->overage);
		rc = run(c, q, "month");
	}
	if (rc == 0 && g->month_flags) {
		sqlite3_stmt *q = s[C_MONTH_FLAGS];
		sqlite3_bind_text(q, 1, f->workspace_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, f->month, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, g->month_flags->budget_alerts);
		rc = run(c, q, "month flags");
	}
	const struct hw_money_commit *w = g->wallet_flags;
	if (rc == 0 && w) {
		sqlite3_stmt *q = s[C_WALLET_FLAGS];
		sqlite3_bind_text(q, 1, w->workspace_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, w->low_alerts);
		if (w->pt_since_s)
			sqlite3_bind_int64(q, 3, w->pt_since_s);
		else
			sqlite3_bind_null(q, 3);
		sqlite3_bind_int64(q, 4, w->pt_tokens);
		sqlite3_bind_int(q, 5, w->pt_warned);
		bind_str(q, 6, w->pt_cut);
		sqlite3_bind_int(q, 7, w->pt_rejected);
		rc = run(c, q, "wallet flags");
	}
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (same_group(&m[i], f))
			rc = outbox_insert(c, m[i].rows, m[i].n_rows);
	return rc;
}

/* Sums the batch by workspace and month, in first-seen order. */
static size_t groups_build(const struct hw_money_commit *m, size_t n, struct group *g)
{
	size_t ng = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < ng && !same_group(&m[i], g[k].first))
			k++;
		if (k == ng)
			g[ng++] = (struct group){.first = &m[i]};
		g[k].markup += m[i].markup > 0 ? m[i].markup : 0;
		g[k].upstream += m[i].upstream;
		g[k].used += m[i].used_delta;
		g[k].overage += m[i].overage_delta;
		if (m[i].month_flags)
			g[k].month_flags = &m[i];
		if (m[i].wallet_flags)
			g[k].wallet_flags = &m[i];
	}
	return ng;
}

int hw_sq_money_commit(struct hw_store *st, const struct hw_money_commit *m, size_t n)
{
	sqlite3_stmt *s[C_COUNT] = {0};
	struct group *g = calloc(n ? n : 1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	size_t ng = groups_build(m, n, g);
	struct lconn c = lock(st);
	int rc = 0;
	for (int i = 0; rc == 0 && i < C_COUNT; i++)
		rc = prep(&c, commit_sql[i], &s[i]);
	if (rc == 0)
		rc = exec(&c, "BEGIN IMMEDIATE", "begin");
	if (rc == 0) {
		for (size_t k = 0; rc == 0 && k < ng; k++)
			rc = group_apply(&c, s, m, n, &g[k]);
		int64_t top = 0;
		for (size_t i = 0; i < n; i++)
			top = m[i].seq > top ? m[i].seq : top;
		if (rc == 0 && top > 0) {
			char v[24];
			snprintf(v, sizeof(v), "%lld", (long long)top);
			sqlite3_bind_text(s[C_SEQ], 1, v, -1, SQLITE_TRANSIENT);
			rc = run(&c, s[C_SEQ], "journal seq");
		}
		rc = tx_end(&c, rc);
	}
	for (int i = 0; i < C_COUNT; i++)
		done(&c, s[i]);
	unlock(&c);
	free(g);
	return rc;
}

int hw_sq_money_wallet_create(struct hw_store *st, const char *ws, int64_t credit, int64_t at_ms)
{
	sqlite3_stmt *s = NULL;
	struct lconn c = lock(st);
	int rc = exec(&c, "BEGIN IMMEDIATE", "begin");
	if (rc == 0)
		rc = prep(&c, "INSERT INTO wallets(workspace_id, balance, last_topup, last_topup_at) "
			      "VALUES (?1, ?2, ?2, ?3)", &s);
	if (rc == 0) {
		sqlite3_bind_text(s, 1, ws, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, credit);
		if (credit > 0)
			sqlite3_bind_int64(s, 3, at_ms / 1000);
		else
			sqlite3_bind_null(s, 3);
		rc = run(&c, s, "wallet create");
	}
	done(&c, s);
	if (rc == 0 && credit > 0)
		rc = ledger_insert(&c, ws, at_ms, "initial_credit", credit, NULL, NULL, NULL, NULL);
	rc = tx_end(&c, rc);
	unlock(&c);
	return rc;
}

static void read_entry(sqlite3_stmt *s, struct hw_ledger_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->id = sqlite3_column_int64(s, 0);
	e->at_ms = sqlite3_column_int64(s, 1);
	col_str(s, 2, e->kind, sizeof(e->kind));
	e->amount = sqlite3_column_int64(s, 3);
	e->balance_after = sqlite3_column_int64(s, 4);
	col_str(s, 5, e->request_id, sizeof(e->request_id));
	col_str(s, 6, e->reference, sizeof(e->reference));
}

#define LEDGER_COLS "id, at_ms, kind, amount, balance_after, request_id, reference"

/* A reference already used: -EALREADY with the original entry when the amount matches. */
static int reference_seen(struct lconn *c, const char *ws, const char *reference, int64_t amount,
			  struct hw_ledger_entry *out)
{
	sqlite3_stmt *s = NULL;
	int rc = prep(c, "SELECT " LEDGER_COLS " FROM ledger WHERE workspace_id = ?1 AND reference = ?2", &s);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(s, 1, ws, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, reference, -1, SQLITE_STATIC);
	int step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		read_entry(s, out);
		rc = out->amount == amount ? -EALREADY : -EEXIST;
	} else if (step != SQLITE_DONE) {
		rc = fail(c, "reference", step);
	}
	done(c, s);
	return rc;
}

int hw_sq_money_topup(struct hw_store *st, const char *ws, const char *kind, int64_t amount,
		      const char *reference, int64_t at_ms, const struct hw_outbox_row *rows,
		      size_t n_rows, struct hw_ledger_entry *out)
{
	sqlite3_stmt *s = NULL;
	struct lconn c = lock(st);
	int rc = exec(&c, "BEGIN IMMEDIATE", "begin");
	if (rc == 0 && reference && reference[0])
		rc = reference_seen(&c, ws, reference, amount, out);
	if (rc == 0)
		rc = prep(&c, wallet_insert_sql, &s);
	if (rc == 0) {
		sqlite3_bind_text(s, 1, ws, -1, SQLITE_STATIC);
		rc = run(&c, s, "wallet create");
		done(&c, s);
		s = NULL;
	}
	/* Only the balance and the last top-up: low-balance tiers and the passthrough cycle
	 * belong to the ledger writer, whose changes commit in the order they were made. */
	if (rc == 0)
		rc = prep(&c, "UPDATE wallets SET balance = balance + ?2, "
			      "last_topup = CASE WHEN ?4 THEN ?2 ELSE last_topup END, "
			      "last_topup_at = CASE WHEN ?4 THEN ?3 ELSE last_topup_at END "
			      "WHERE workspace_id = ?1", &s);
	if (rc == 0) {
		sqlite3_bind_text(s, 1, ws, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, amount);
		sqlite3_bind_int64(s, 3, at_ms / 1000);
		sqlite3_bind_int(s, 4, strcmp(kind, "topup") == 0);
		rc = run(&c, s, "topup");
	}
	done(&c, s);
	if (rc == 0) {
		memset(out, 0, sizeof(*out));
		rc = ledger_insert(&c, ws, at_ms, kind, amount, NULL, reference, &out->id,
				   &out->balance_after);
		out->at_ms = at_ms;
		out->amount = amount;
		snprintf(out->kind, sizeof(out->kind), "%s", kind);
		snprintf(out->reference, sizeof(out->reference), "%s", reference ? reference : "");
	}
	if (rc == 0)
		rc = outbox_insert(&c, rows, n_rows);
	if (rc == -EALREADY || rc == -EEXIST) {
		sqlite3_exec(c.db, "ROLLBACK", NULL, NULL, NULL);
	} else {
		rc = tx_end(&c, rc);
	}
	unlock(&c);
	return rc;
}

int hw_sq_money_ledger_list(struct hw_store *st, const char *ws, int64_t before, int limit,
			    struct hw_ledger_entry **out, size_t *n)
{
	sqlite3_stmt *s = NULL;
	*out = NULL;
	*n = 0;
	struct lconn c = lock(st);
	int rc = prep(&c, "SELECT " LEDGER_COLS " FROM ledger WHERE workspace_id = ?1 "
			  "AND (?2 = 0 OR id < ?2) ORDER BY id DESC LIMIT ?3", &s);
	if (rc == 0) {
		*out = calloc(limit > 0 ? (size_t)limit : 1, sizeof(**out));
		if (!*out)
			rc = -ENOMEM;
	}
	if (rc == 0) {
		sqlite3_bind_text(s, 1, ws, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, before);
		sqlite3_bind_int(s, 3, limit);
		int step;
		while ((step = sqlite3_step(s)) == SQLITE_ROW)
			read_entry(s, &(*out)[(*n)++]);
		if (step != SQLITE_DONE)
			rc = fail(&c, "ledger list", step);
	}
	done(&c, s);
	unlock(&c);
	if (rc < 0) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int hw_sq_money_ledger_sum(struct hw_store *st, const char *ws, int64_t *sum, int64_t *n)
{
	sqlite3_stmt *s = NULL;
	struct lconn c = lock(st);
	int rc = prep(&c, "SELECT coalesce(sum(amount), 0), count(*) FROM ledger WHERE workspace_id = ?1", &s);
	if (rc == 0) {
		sqlite3_bind_text(s, 1, ws, -1, SQLITE_STATIC);
		int step = sqlite3_step(s);
		if (step == SQLITE_ROW) {
			*sum = sqlite3_column_int64(s, 0);
			*n = sqlite3_column_int64(s, 1);
		} else {
			rc = fail(&c, "ledger sum", step);
		}
	}
	done(&c, s);
	unlock(&c);
	return rc;
}

int hw_sq_money_budget_put(struct hw_store *st, const char *ws, int64_t cap, double downgrade,
			   double light_only, double block)
{
	sqlite3_stmt *s = NULL;
	struct lconn c = lock(st);
	int rc = prep(&c, "INSERT INTO budgets(workspace_id, cap, downgrade, light_only, block) "
			  "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(workspace_id) DO UPDATE SET "
			  "cap = excluded.cap, downgrade = excluded.downgrade, "
			  "light_only = excluded.light_only, block = excluded.block", &s);
	if (rc == 0) {
		sqlite3_bind_text(s, 1, ws, -1, SQLITE_STATIC);
		if (cap >= 0)
			sqlite3_bind_int64(s, 2, cap);
		else
			sqlite3_bind_null(s, 2);
		sqlite3_bind_double(s, 3, downgrade);
		sqlite3_bind_double(s, 4, light_only);
		sqlite3_bind_double(s, 5, block);
		rc = run(&c, s, "budget put");
	}
	done(&c, s);
	unlock(&c);
	return rc;
}

int hw_sq_money_plan_put(struct hw_store *st, const char *ws, int64_t included, bool overage,
			 int64_t per_100k)
{
	sqlite3_stmt *s = NULL;
	struct lconn c = lock(st);
	int rc = prep(&c, "INSERT INTO plans(workspace_id, included_requests, overage_enabled, "
			  "overage_per_100k) VALUES (?1, ?2, ?3, ?4) ON CONFLICT(workspace_id) DO UPDATE "
			  "SET included_requests = excluded.included_requests, "
			  "overage_enabled = excluded.overage_enabled, "
			  "overage_per_100k = excluded.overage_per_100k", &s);
	if (rc == 0) {
		sqlite3_bind_text(s, 1, ws, -1, SQLITE_STATIC);
		if (included >= 0)
			sqlite3_bind_int64(s, 2, included);
		else
			sqlite3_bind_null(s, 2);
		sqlite3_bind_int(s, 3, overage);
		sqlite3_bind_int64(s, 4, per_100k);
		rc = run(&c, s, "plan put");
	}
	done(&c, s);
	unlock(&c);
	return rc;
}
