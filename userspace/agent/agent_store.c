// SPDX-License-Identifier: Apache-2.0
/* The store queries of hiway-agent, in plain SQL over the gateway's SQLite file. Rule and ban
 * rows are the gateway's; this file only reads them and writes the agent_status row. */
#include "agent/agent_store.h"

#include "common/log.h"
#include "store/store_sqlite.h"
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int hw_agent_store_open(const char *url, int64_t busy_timeout_ms, sqlite3 **out)
{
	*out = NULL;
	if (!url || strncmp(url, "sqlite:", 7) != 0) {
		hw_log(HW_LOG_ERROR, "agent: store %s: only sqlite: stores are supported",
		       url ? url : "(none)");
		return -ENOTSUP;
	}
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(url + 7, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		hw_log(HW_LOG_ERROR, "agent: store %s: %s", url + 7,
		       db ? sqlite3_errmsg(db) : "oom");
		sqlite3_close(db);
		return -EIO;
	}
	sqlite3_busy_timeout(db, (int)(busy_timeout_ms > 0 ? busy_timeout_ms : 5000));
	sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
	int rc = hw_store_sqlite_migrate(db);
	if (rc < 0) {
		sqlite3_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

int hw_agent_store_generation(sqlite3 *db, int64_t *gen)
{
	sqlite3_stmt *st = NULL;
	int rc = -EIO;
	*gen = 0;
	if (sqlite3_prepare_v2(db, "SELECT value FROM settings WHERE name = 'perimeter_generation'",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, 0);
		*gen = v ? strtoll((const char *)v, NULL, 10) : 0;
		rc = 0;
	} else if (s == SQLITE_DONE) {
		rc = 0;
	}
out:
	sqlite3_finalize(st);
	return rc;
}

int hw_agent_parse_cidr(const char *text, struct hw_perim_rule *r)
{
	char a[64];
	if (!text || strlen(text) >= sizeof(a))
		return -EINVAL;
	memcpy(a, text, strlen(text) + 1);
	char *slash = strchr(a, '/');
	long plen = -1;
	if (slash) {
		char *end;
		*slash = '\0';
		plen = strtol(slash + 1, &end, 10);
		if (*end || end == slash + 1)
			return -EINVAL;
	}
	memset(r->addr, 0, sizeof(r->addr));
	if (inet_pton(AF_INET, a, r->addr) == 1)
		r->family = 4;
	else if (inet_pton(AF_INET6, a, r->addr) == 1)
		r->family = 6;
	else
		return -EINVAL;
	long max = r->family == 4 ? 32 : 128;
	if (plen < 0)
		plen = max;
	if (plen > max)
		return -EINVAL;
	r->prefixlen = (uint32_t)plen;
	/* The gateway stores normalized networks; clearing host bits again costs nothing and
	 * keeps a hand-inserted row from matching less than it says. */
	for (long bit = plen; bit < max; bit++)
		r->addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
	return 0;
}

static int64_t now_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

struct rule_vec {
	struct hw_perim_rule *v;
	size_t n, cap;
};

static int vec_push(struct rule_vec *rv, const struct hw_perim_rule *r)
{
	if (rv->n == rv->cap) {
		size_t cap = rv->cap ? rv->cap * 2 : 64;
		struct hw_perim_rule *nv = realloc(rv->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		rv->v = nv;
		rv->cap = cap;
	}
	rv->v[rv->n++] = *r;
	return 0;
}

/* Unix seconds of expiry into CLOCK_MONOTONIC ns (0 = never). */
static uint64_t expiry_mono(sqlite3_stmt *st, int col, int64_t real_ns, int64_t mono_ns)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return 0;
	int64_t at = sqlite3_column_int64(st, col) * 1000000000ll - real_ns + mono_ns;
	return at > 0 ? (uint64_t)at : 1;
}

/* Rows of (cidr, is_allow, origin, expires_at). */
static int collect(sqlite3 *db, const char *sql, int64_t now_s, int ws_deny, struct rule_vec *rv)
{
	sqlite3_stmt *st = NULL;
	int rc = -EIO;
	int64_t real = now_ns(CLOCK_REALTIME), mono = now_ns(CLOCK_MONOTONIC);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		hw_log(HW_LOG_ERROR, "agent: store query: %s", sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_int64(st, 1, now_s);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int(st, 2, ws_deny);
	int s;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		struct hw_perim_rule r = {0};
		const char *cidr = (const char *)sqlite3_column_text(st, 0);
		if (hw_agent_parse_cidr(cidr, &r) < 0) {
			hw_log(HW_LOG_WARN, "agent: skipping unreadable CIDR %s",
			       cidr ? cidr : "(null)");
			continue;
		}
		r.allow = sqlite3_column_int(st, 1) != 0;
		r.origin = (uint32_t)sqlite3_column_int(st, 2);
		r.expires_ns = expiry_mono(st, 3, real, mono);
		rc = vec_push(rv, &r);
		if (rc < 0)
			goto out;
	}
	rc = s == SQLITE_DONE ? 0 : -EIO;
	if (rc)
		hw_log(HW_LOG_ERROR, "agent: store query: %s", sqlite3_errmsg(db));
out:
	sqlite3_finalize(st);
	return rc;
}

int hw_agent_store_rules(sqlite3 *db, bool ws_deny, struct hw_perim_rule **out, size_t *n)
{
	struct rule_vec rv = {0};
	int64_t now_s = (int64_t)time(NULL);
	/* Workspace allow rules never enter the kernel (SPEC §13.2). */
	int rc = collect(
	    db,
	    "SELECT cidr, action = 'allow', CASE WHEN workspace_id IS NULL THEN 1 ELSE 2 END,"
	    " expires_at FROM ip_rules WHERE kernel = 1"
	    " AND (expires_at IS NULL OR expires_at > ?1)"
	    " AND (workspace_id IS NULL OR (?2 AND action = 'deny'))"
	    " AND action IN ('allow', 'deny')",
	    now_s, ws_deny, &rv);
	if (!rc)
		rc = collect(
		    db,
		    "SELECT cidr, 0, CASE WHEN reason = 'manual' THEN 4 ELSE 3 END, expires_at"
		    " FROM bans WHERE expires_at IS NULL OR expires_at > ?1",
		    now_s, 0, &rv);
	if (rc) {
		free(rv.v);
		return rc;
	}
	*out = rv.v;
	*n = rv.n;
	return 0;
}

int hw_agent_store_status(sqlite3 *db, const struct hw_agent_report *s)
{
	sqlite3_stmt *st = NULL;
	int rc = -EIO;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (sqlite3_prepare_v2(
		db,
		"INSERT INTO agent_status(node_id, pid, version, status, heartbeat_at,"
		" generation, interfaces, rules, stats) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)"
		" ON CONFLICT(node_id) DO UPDATE SET pid = excluded.pid,"
		" version = excluded.version, status = excluded.status,"
		" heartbeat_at = excluded.heartbeat_at, generation = excluded.generation,"
		" interfaces = excluded.interfaces, rules = excluded.rules,"
		" stats = excluded.stats",
		-1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, s->node_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, s->pid);
	sqlite3_bind_text(st, 3, s->version, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, s->status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, ms);
	sqlite3_bind_int64(st, 6, s->generation);
	sqlite3_bind_text(st, 7, s->interfaces_json, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, s->rules_json, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, s->stats_json, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
out:
	if (rc)
		hw_log(HW_LOG_ERROR, "agent: writing agent_status: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc;
}
