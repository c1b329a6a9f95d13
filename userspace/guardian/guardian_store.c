// SPDX-License-Identifier: Apache-2.0
/* Loads the workspace settings cache from the store: at start and after each management
 * change, never per request. */
#include "guardian/guardian.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int hw_guardian_settings_reload(struct hw_guardian *g, const struct hw_config *cfg,
				struct hw_store *st)
{
	char **ids = NULL, **bodies = NULL;
	size_t n = 0;
	int rc = st->ops->guardian.list_all(st, &ids, &bodies, &n);
	if (rc < 0)
		return rc;
	struct hw_gd_stored *rows = n ? calloc(n, sizeof(*rows)) : NULL;
	if (n && !rows) {
		hw_store_guardian_rows_free(ids, bodies, n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(rows[i].workspace_id, sizeof(rows[i].workspace_id), "%s", ids[i]);
		rows[i].body = bodies[i];
	}
	rc = hw_guardian_settings_load(g, cfg, rows, n);
	free(rows);
	hw_store_guardian_rows_free(ids, bodies, n);
	return rc;
}
