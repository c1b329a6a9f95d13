/* SPDX-License-Identifier: Apache-2.0 */
/* A workspace's own Security Shield settings (SPEC §12.1, §16.2) as the request path reads
 * them: mode, threshold, retention and the workspace's custom patterns compiled into their
 * own Hyperscan database. The process keeps one in-memory table, loaded from the store at
 * start and updated by the management API after each write; lookups never take a lock
 * and never touch the store. */
#ifndef HW_SHIELD_SHIELD_WS_H
#define HW_SHIELD_SHIELD_WS_H

#include "shield/scanner.h"
#include "store/store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define HW_SHIELD_CUSTOM_MAX 100
#define HW_SHIELD_CUSTOM_NAME_MAX 64	  /* characters */
#define HW_SHIELD_CUSTOM_PATTERN_MAX 1024 /* bytes */

/* Immutable once published; a replaced one stays readable for a grace period. */
struct hw_shield_ws {
	const char *mode;	     /* "off" | "monitor" | "block", NULL = the configuration's */
	double threshold;	     /* < 0 = the configuration's */
	int64_t retention_days;	     /* 0 = the configuration's */
	struct hw_shield_db *custom; /* NULL = no custom patterns */
};

/* Checks a custom_patterns array of the API (at most HW_SHIELD_CUSTOM_MAX objects of
 * {name, threat_type, pattern}, each pattern compiled by Hyperscan on its own). 0 with
 * *out (hw_shield_patterns_free) and *n; else -EINVAL with `param` naming the culprit
 * ("custom_patterns[3].pattern") and `msg` saying why. The pattern names are not kept:
 * a detection reports its threat type, as a built-in one does. */
int hw_shield_custom_parse(const json_t *arr, struct hw_shield_pattern **out, size_t *n,
			   char *param, size_t plen, char *msg, size_t mlen);

/* Builds the settings object of `c`, its custom patterns compiled (off the request path).
 * 0, or -EINVAL/-ENOMEM with `err`. */
int hw_shield_ws_prepare(const struct hw_security_config *c, struct hw_shield_ws **out, char *err,
			 size_t errlen);
/* Makes `ws` (taken over, freed on failure) the settings of the workspace, replacing the
 * previous ones. 0 or -ENOMEM. */
int hw_shield_ws_publish(const char *workspace_id, struct hw_shield_ws *ws);
/* Frees a prepared object that was not published. */
void hw_shield_ws_discard(struct hw_shield_ws *ws);
/* prepare, then publish. */
int hw_shield_ws_set(const struct hw_security_config *c, char *err, size_t errlen);
/* Loads every workspace's settings from the store (start). A row whose patterns no longer
 * compile is logged and published without them, so one bad row cannot stop the gateway. */
int hw_shield_ws_load(struct hw_store *st);
/* The workspace's settings, or NULL when it has none of its own. Valid for the duration of
 * one request. */
const struct hw_shield_ws *hw_shield_ws_get(const char *workspace_id);
/* The retention in days of the workspace: its own, else `fallback`. */
int64_t hw_shield_ws_retention_days(const char *workspace_id, int64_t fallback);
/* Frees the table (shutdown, tests). */
void hw_shield_ws_free_all(void);

#endif
