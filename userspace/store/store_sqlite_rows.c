// SPDX-License-Identifier: Apache-2.0
/* Reading a query's rows into an array, shared by the SQLite backend's files. */
#include "store/store_sqlite.h"

#include <stdlib.h>

int hw_sq_collect(sqlite3_stmt *s, size_t size, void (*read)(sqlite3_stmt *, void *), void **out,
		  size_t *n)
{
	char *rows = NULL;
	size_t len = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char *grown = realloc(rows, ncap * size);
			if (!grown) {
				rc = SQLITE_NOMEM;
				break;
			}
			rows = grown;
			cap = ncap;
		}
		read(s, rows + len * size);
		len++;
	}
	if (rc != SQLITE_DONE) {
		free(rows);
		rows = NULL;
		len = 0;
	}
	*out = rows;
	*n = len;
	return rc;
}
