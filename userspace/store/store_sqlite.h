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

/* store_sqlite_guardian.c: Guardian settings (see store.h). */
int hw_sq_guardian_get(struct hw_store *st, const char *ws, char **body);
int hw_sq_guardian_put(struct hw_store *st, const char *ws, const char *body, int64_t at_s);
int hw_sq_guardian_list_all(struct hw_store *st, char ***ws_ids, char ***bodies, size_t *n);

#endif
