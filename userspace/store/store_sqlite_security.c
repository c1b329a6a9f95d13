// SPDX-License-Identifier: Apache-2.0
/* The security_config table (schema step 7): a workspace's own Shield settings. These ops
 * run on management calls and at start only (the request path reads the Shield's cache),
 * so statements are prepared per call instead of cached. */
#include "store/store_sqlite.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC_COLS "workspace_id, mode, threshold, retention_days, custom_patterns, updated_at"

static int read_row(sqlite3_stmt *s, struct hw_security_config *out)
{
	const unsigned char *t;
	memset(out, 0, sizeof(*out));
	t = sqlite3_column_text(s, 0);
	snprintf(out->workspace_id, sizeof(out->workspace_id), "%s", t ? (const char *)t : "");
	t = sqlite3_column_text(s, 1);
	snprintf(out->mode, sizeof(out->mode), "%s", t ? (const char *)t : "");
	out->threshold =
	    sqlite3_column_type(s, 2) == SQLITE_NULL ? -1 : sqlite3_column_double(s, 2);
	out->retention_days = sqlite3_column_int64(s, 3);
	t = sqlite3_column_text(s, 4);
	if (t && !(out->custom_patterns = strdup((const char *)t)))
		return -ENOMEM;
	out->updated_at = sqlite3_column_int64(s, 5);
	return 0;
}

int hw_store_sqlite_security_get(struct hw_store *st, const char *workspace_id,
				 struct hw_security_config *out)
{
	static const char sql[] =
	    "SELECT " SEC_COLS " FROM security_config WHERE workspace_id = ?1";
	sqlite3 *db = hw_store_sqlite_acquire(st);
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		rc = hw_store_sqlite_fail(st, "security_config_get", rc);
		goto out;
	}
	sqlite3_bind_text(s, 1, workspace_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rc = read_row(s, out);
	else if (rc == SQLITE_DONE)
		rc = -ENOENT;
	else
		rc = hw_store_sqlite_fail(st, "security_config_get", rc);
out:
	sqlite3_finalize(s);
	hw_store_sqlite_release(st);
	return rc;
}

int hw_store_sqlite_security_put(struct hw_store *st, const struct hw_security_config *cfg)
{
	static const char sql[] =
	    "INSERT OR REPLACE INTO security_config(" SEC_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
	sqlite3 *db = hw_store_sqlite_acquire(st);
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		rc = hw_store_sqlite_fail(st, "security_config_put", rc);
		goto out;
	}
	sqlite3_bind_text(s, 1, cfg->workspace_id, (int)strnlen(cfg->workspace_id, HW_ID_MAX),
			  SQLITE_STATIC);
	if (cfg->mode[0])
		sqlite3_bind_text(s, 2, cfg->mode, (int)strnlen(cfg->mode, sizeof(cfg->mode)),
				  SQLITE_STATIC);
	if (cfg->threshold >= 0)
		sqlite3_bind_double(s, 3, cfg->threshold);
	if (cfg->retention_days > 0)
		sqlite3_bind_int64(s, 4, cfg->retention_days);
	if (cfg->custom_patterns)
		sqlite3_bind_text(s, 5, cfg->custom_patterns, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, cfg->updated_at);
	rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? 0 : hw_store_sqlite_fail(st, "security_config_put", rc);
out:
	sqlite3_finalize(s);
	hw_store_sqlite_release(st);
	return rc;
}

int hw_store_sqlite_security_list_all(struct hw_store *st, struct hw_security_config **out,
				      size_t *n)
{
	static const char sql[] = "SELECT " SEC_COLS " FROM security_config ORDER BY workspace_id";
	struct hw_security_config *list = NULL;
	size_t len = 0, cap = 0;
	sqlite3 *db = hw_store_sqlite_acquire(st);
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	*out = NULL;
	*n = 0;
	if (rc != SQLITE_OK) {
		rc = hw_store_sqlite_fail(st, "security_config_list_all", rc);
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct hw_security_config *g = realloc(list, ncap * sizeof(*list));
			if (!g) {
				rc = -ENOMEM;
				goto out;
			}
			list = g;
			cap = ncap;
		}
		if (read_row(s, &list[len]) < 0) {
			rc = -ENOMEM;
			goto out;
		}
		len++;
	}
	rc = rc == SQLITE_DONE ? 0 : hw_store_sqlite_fail(st, "security_config_list_all", rc);
out:
	sqlite3_finalize(s);
	hw_store_sqlite_release(st);
	if (rc < 0) {
		hw_security_configs_free(list, len);
		return rc;
	}
	*out = list;
	*n = len;
	return 0;
}
