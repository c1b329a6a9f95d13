// SPDX-License-Identifier: Apache-2.0
/* The usage report (SPEC §16.3) over usage_records: totals and groups in one pass. */
#include "store/store_sqlite.h"

#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *group_expr(const char *group_by)
{
	static const char *const map[][2] = {
		{"none", "''"},
		{"key", "key_id"},
		{"user", "coalesce(end_user, '')"},
		{"model", "coalesce(routed_model, '')"},
		{"tier", "coalesce(tier, '')"},
		{"day", "strftime('%Y-%m-%d', ts_ms / 1000, 'unixepoch')"},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(group_by, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

static void add(struct hw_usage_group *t, const struct hw_usage_group *g)
{
	t->requests += g->requests;
	t->errors += g->errors;
	t->prompt_tokens += g->prompt_tokens;
	t->completion_tokens += g->completion_tokens;
	t->upstream += g->upstream;
	t->markup += g->markup;
	t->baseline += g->baseline;
}

static void read_group(sqlite3_stmt *s, void *dst)
{
	struct hw_usage_group *g = dst;
	memset(g, 0, sizeof(*g));
	const unsigned char *k = sqlite3_column_text(s, 0);
	snprintf(g->key, sizeof(g->key), "%s", k ? (const char *)k : "");
	g->requests = sqlite3_column_int64(s, 1);
	g->errors = sqlite3_column_int64(s, 2);
	g->prompt_tokens = sqlite3_column_int64(s, 3);
	g->completion_tokens = sqlite3_column_int64(s, 4);
	g->upstream = sqlite3_column_int64(s, 5);
	g->markup = sqlite3_column_int64(s, 6);
	g->baseline = sqlite3_column_int64(s, 7);
}

int hw_sq_usage_report(struct hw_store *st, const char *ws, int64_t from_ms, int64_t to_ms,
		       const char *group_by, struct hw_usage_group **out, size_t *n,
		       struct hw_usage_group *totals)
{
	const char *expr = group_expr(group_by);
	*out = NULL;
	*n = 0;
	memset(totals, 0, sizeof(*totals));
	if (!expr)
		return -EINVAL;
	char sql[640];
	snprintf(sql, sizeof(sql),
		 "SELECT %s, count(*), coalesce(sum(status >= 400), 0), coalesce(sum(prompt_tokens), 0), "
		 "coalesce(sum(completion_tokens), 0), coalesce(sum(upstream_cost), 0), "
		 "coalesce(sum(markup_cost), 0), coalesce(sum(baseline_cost), 0) FROM usage_records "
		 "WHERE workspace_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3 GROUP BY 1 ORDER BY 1",
		 expr);
	pthread_mutex_t *mu;
	sqlite3 *db = hw_store_sqlite_ledger(st, &mu, NULL);
	sqlite3_stmt *s = NULL;
	int rc = 0;
	pthread_mutex_lock(mu);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		rc = -EIO;
		goto out;
	}
	sqlite3_bind_text(s, 1, ws, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, from_ms);
	sqlite3_bind_int64(s, 3, to_ms);
	void *rows = NULL;
	int step = hw_sq_collect(s, sizeof(**out), read_group, &rows, n);
	*out = rows;
	if (step != SQLITE_DONE) {
		hw_log(HW_LOG_ERROR, "store: usage report: %s", sqlite3_errmsg(db));
		rc = step == SQLITE_NOMEM ? -ENOMEM : -EIO;
		goto out;
	}
	for (size_t i = 0; i < *n; i++)
		add(totals, &(*out)[i]);
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(mu);
	if (rc < 0) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}
