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

/* The connection money operations use, and the mutex that serializes it. */
sqlite3 *hw_store_sqlite_ledger(struct hw_store *st, pthread_mutex_t **mu);

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

#endif
