// SPDX-License-Identifier: Apache-2.0
/* Guardian settings in SQLite (SPEC §11, §16.2): one row per workspace holding its PUT body.
 * Only the management API and the cache load call these, so statements are prepared per
 * call on the ledger connection, whose mutex serializes it. */
#include "common/log.h"
#include "store/store_sqlite.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int sq_fail(sqlite3 *db, const char *op, int rc)
{
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return -ENOENT; /* the workspace's foreign key */
	hw_log(HW_LOG_ERROR, "store: guardian %s: %s", op, sqlite3_errmsg(db));
	return -EIO;
}

int hw_sq_guardian_get(struct hw_store *st, const char *ws, char **body)
{
	pthread_mutex_t *mu;
	sqlite3 *db = hw_store_sqlite_ledger(st, &mu, NULL);
	sqlite3_stmt *s = NULL;
	*body = NULL;
	pthread_mutex_lock(mu);
	int rc = sqlite3_prepare_v2(
	    db, "SELECT body FROM guardian_settings WHERE workspace_id = ?1", -1, &s, NULL);
	if (rc != SQLITE_OK) {
		rc = sq_fail(db, "get", rc);
		goto out;
	}
	sqlite3_bind_text(s, 1, ws, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*body = strdup((const char *)sqlite3_column_text(s, 0));
		rc = *body ? 0 : -ENOMEM;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : sq_fail(db, "get", rc);
	}
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(mu);
	return rc;
}

int hw_sq_guardian_put(struct hw_store *st, const char *ws, const char *body, int64_t at_s)
{
	pthread_mutex_t *mu;
	sqlite3 *db = hw_store_sqlite_ledger(st, &mu, NULL);
	sqlite3_stmt *s = NULL;
	pthread_mutex_lock(mu);
	int rc = sqlite3_prepare_v2(db,
				    "INSERT INTO guardian_settings(workspace_id, body, updated_at) "
				    "VALUES (?1, ?2, ?3) ON CONFLICT(workspace_id) DO UPDATE SET "
				    "body = excluded.body, updated_at = excluded.updated_at",
				    -1, &s, NULL);
	if (rc != SQLITE_OK) {
		rc = sq_fail(db, "put", rc);
		goto out;
	}
	sqlite3_bind_text(s, 1, ws, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, body, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, at_s);
	rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? 0 : sq_fail(db, "put", sqlite3_extended_errcode(db));
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(mu);
	return rc;
}

int hw_sq_guardian_list_all(struct hw_store *st, char ***ws_ids, char ***bodies, size_t *n)
{
	pthread_mutex_t *mu;
	sqlite3 *db = hw_store_sqlite_ledger(st, &mu, NULL);
	sqlite3_stmt *s = NULL;
	size_t cap = 0, len = 0;
	char **ids = NULL, **bs = NULL;
	pthread_mutex_lock(mu);
	int rc = sqlite3_prepare_v2(db, "SELECT workspace_id, body FROM guardian_settings", -1, &s,
				    NULL);
	if (rc != SQLITE_OK) {
		rc = sq_fail(db, "list", rc);
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 16;
			char **ni = realloc(ids, cap * sizeof(*ids));
			if (ni)
				ids = ni;
			char **nb = realloc(bs, cap * sizeof(*bs));
			if (nb)
				bs = nb;
			if (!ni || !nb) {
				rc = -ENOMEM;
				goto out;
			}
		}
		ids[len] = strdup((const char *)sqlite3_column_text(s, 0));
		bs[len] = strdup((const char *)sqlite3_column_text(s, 1));
		len++;
		if (!ids[len - 1] || !bs[len - 1]) {
			rc = -ENOMEM;
			goto out;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : sq_fail(db, "list", rc);
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(mu);
	if (rc < 0) {
		hw_store_guardian_rows_free(ids, bs, len);
		ids = bs = NULL;
		len = 0;
	}
	*ws_ids = ids;
	*bodies = bs;
	*n = len;
	return rc;
}

void hw_store_guardian_rows_free(char **ws_ids, char **bodies, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ws_ids ? ws_ids[i] : NULL);
		free(bodies ? bodies[i] : NULL);
	}
	free(ws_ids);
	free(bodies);
}
