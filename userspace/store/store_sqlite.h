/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the SQLite backend's files; callers use store.h only. */
#ifndef HW_STORE_STORE_SQLITE_H
#define HW_STORE_STORE_SQLITE_H

#include "store/store.h"

#include <pthread.h>
#include <sqlite3.h>

/* `synchronous` is off | normal | full (NULL = normal). */
int hw_store_sqlite_open(const char *path, int64_t busy_timeout_ms, const char *synchronous,
			 struct hw_store **out);

/* Steps `s` to its end, reading each row with `read` into a malloc'ed array of `size`-byte
 * elements (*out, *n). Returns SQLITE_DONE, or the failing step's code (SQLITE_NOMEM when
 * the array could not grow) with *out NULL and *n 0. Neither resets nor finalizes `s`. */
int hw_sq_collect(sqlite3_stmt *s, size_t size, void (*read)(sqlite3_stmt *, void *), void **out,
		  size_t *n);

/* Applies the migration steps `db` has not seen yet, one transaction each. */
int hw_store_sqlite_migrate(sqlite3 *db);

/* Schema version this build writes (the last migration step). */
int hw_store_sqlite_schema_version(void);

/* Prepared statements of the ledger connection, kept by their SQL text's address (string
 * literals): the ledger writer commits on the request path, where preparing each time
 * would cost more than the statements themselves. */
#define HW_SQ_STMT_CACHE 32
struct hw_sq_stmt_cache {
	const char *sql[HW_SQ_STMT_CACHE];
	sqlite3_stmt *stmt[HW_SQ_STMT_CACHE];
};

/* The connection money operations use, the mutex that serializes it and its statement
 * cache (used under that mutex). */
sqlite3 *hw_store_sqlite_ledger(struct hw_store *st, pthread_mutex_t **mu,
				struct hw_sq_stmt_cache **cache);

/* store_sqlite_money.c: the money operations of hw_store_ops (see store.h). */
int hw_sq_money_load(struct hw_store *st, const char *ws, const char *month,
		     struct hw_money_state *out);
int hw_sq_money_wallet_create(struct hw_store *st, const char *ws, int64_t credit, int64_t at_ms);
int hw_sq_money_commit(struct hw_store *st, const struct hw_money_commit *c, size_t n);
int hw_sq_money_topup(struct hw_store *st, const char *ws, const char *kind, int64_t amount,
		      const char *reference, int64_t at_ms, const struct hw_outbox_row *rows,
		      size_t n_rows, struct hw_ledger_entry *out);
int hw_sq_money_ledger_list(struct hw_store *st, const char *ws, int64_t before, int limit,
			    struct hw_ledger_entry **out, size_t *n);
int hw_sq_money_ledger_sum(struct hw_store *st, const char *ws, int64_t *sum, int64_t *n);
int hw_sq_money_budget_put(struct hw_store *st, const char *ws, int64_t cap, double downgrade,
			   double light_only, double block);
int hw_sq_money_plan_put(struct hw_store *st, const char *ws, int64_t included, bool overage,
			 int64_t per_100k);
int hw_sq_usage_report(struct hw_store *st, const char *ws, int64_t from_ms, int64_t to_ms,
		       const char *group_by, struct hw_usage_group **out, size_t *n,
		       struct hw_usage_group *totals);

/* For the backend's other files (one per concern): the management connection, held
 * under its mutex from acquire to release, and the failure mapping every op uses. */
sqlite3 *hw_store_sqlite_acquire(struct hw_store *st);
void hw_store_sqlite_release(struct hw_store *st);
int hw_store_sqlite_fail(struct hw_store *st, const char *op, int rc);

/* store_sqlite_security.c */
int hw_store_sqlite_security_get(struct hw_store *st, const char *workspace_id,
				 struct hw_security_config *out);
int hw_store_sqlite_security_put(struct hw_store *st, const struct hw_security_config *cfg);
int hw_store_sqlite_security_list_all(struct hw_store *st, struct hw_security_config **out,
				      size_t *n);

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

/* store_sqlite_guardian.c: Guardian settings (see store.h). */
int hw_sq_guardian_get(struct hw_store *st, const char *ws, char **body);
int hw_sq_guardian_put(struct hw_store *st, const char *ws, const char *body, int64_t at_s);
int hw_sq_guardian_list_all(struct hw_store *st, char ***ws_ids, char ***bodies, size_t *n);

#endif
