// SPDX-License-Identifier: Apache-2.0
/* Picks the store backend named by the configured URL (SPEC §18 `store`). */
#include "store/store.h"

#include "common/log.h"
#include "store/store_sqlite.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int hw_store_open(const char *url, int64_t busy_timeout_ms, const char *synchronous,
		  struct hw_store **out)
{
	static const char sqlite_scheme[] = "sqlite:";
	static const char redis_scheme[] = "redis://";

	*out = NULL;
	if (!url)
		return -EINVAL;
	if (strncmp(url, sqlite_scheme, strlen(sqlite_scheme)) == 0)
		return hw_store_sqlite_open(url + strlen(sqlite_scheme), busy_timeout_ms,
					    synchronous, out);
	if (strncmp(url, redis_scheme, strlen(redis_scheme)) == 0) {
		/* The URL may carry a password: name the backend, never the URL. */
		hw_log(HW_LOG_ERROR, "store: the redis backend is not available in this build");
		return -ENOTSUP;
	}
	return -EINVAL;
}

void hw_outbox_rows_free(struct hw_outbox_row *rows, size_t n)
{
	for (size_t i = 0; i < n && rows; i++)
		free(rows[i].body);
	free(rows);
}
