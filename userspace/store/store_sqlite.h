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

#endif
