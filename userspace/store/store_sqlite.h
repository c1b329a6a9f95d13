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

#endif
