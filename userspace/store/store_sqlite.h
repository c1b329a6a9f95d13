/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the SQLite backend's files; callers use store.h only. */
#ifndef HW_STORE_STORE_SQLITE_H
#define HW_STORE_STORE_SQLITE_H

#include "store/store.h"

#include <sqlite3.h>

/* `synchronous` is off | normal | full (NULL = normal). */
int hw_store_sqlite_open(const char *path, int64_t busy_timeout_ms, const char *synchronous,
			 struct hw_store **out);

/* Applies the migration steps `db` has not seen yet, one transaction each. */
int hw_store_sqlite_migrate(sqlite3 *db);

/* Schema version this build writes (the last migration step). */
int hw_store_sqlite_schema_version(void);

/* The main connection, locked, for the SQLite files beside store_sqlite.c. */
sqlite3 *hw_store_sqlite_main_lock(struct hw_store *st);
void hw_store_sqlite_main_unlock(struct hw_store *st);

/* store_sqlite_perimeter.c: IP rules, bans, agent status. */
int hw_sq_rule_insert(struct hw_store *st, const struct hw_ip_rule *rule, int64_t max);
int hw_sq_rule_delete(struct hw_store *st, const char *workspace_id, const char *id);
int hw_sq_rule_list(struct hw_store *st, const char *workspace_id, const char *after, int limit,
		    struct hw_ip_rule **out, size_t *n);
int hw_sq_rule_list_all(struct hw_store *st, struct hw_ip_rule **out, size_t *n);
int hw_sq_ban_insert(struct hw_store *st, const struct hw_ban *ban);
int hw_sq_ban_delete(struct hw_store *st, const char *id);
int hw_sq_ban_list(struct hw_store *st, const char *after, int limit, struct hw_ban **out,
		   size_t *n);
int hw_sq_ban_list_all(struct hw_store *st, struct hw_ban **out, size_t *n);
int hw_sq_perimeter_sweep(struct hw_store *st, int64_t now, int64_t *deleted);
int hw_sq_perimeter_generation(struct hw_store *st, int64_t *out);
int hw_sq_agent_list(struct hw_store *st, struct hw_agent_status **out, size_t *n);

#define HW_STORE_SQLITE_PERIMETER_OPS                                                              \
	{                                                                                          \
		.rule_insert = hw_sq_rule_insert, .rule_delete = hw_sq_rule_delete,                \
		.rule_list = hw_sq_rule_list, .rule_list_all = hw_sq_rule_list_all,                \
		.ban_insert = hw_sq_ban_insert, .ban_delete = hw_sq_ban_delete,                    \
		.ban_list = hw_sq_ban_list, .ban_list_all = hw_sq_ban_list_all,                    \
		.sweep = hw_sq_perimeter_sweep, .generation = hw_sq_perimeter_generation,          \
		.agent_list = hw_sq_agent_list,                                                    \
	}

#endif
