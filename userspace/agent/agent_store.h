/* SPDX-License-Identifier: Apache-2.0 */
/* hiway-agent's side of the store contract (SQLite, schema step 6): reads the perimeter set
 * (SPEC §13.2) and the perimeter_generation setting, and upserts the agent_status row. */
#ifndef HW_AGENT_STORE_H
#define HW_AGENT_STORE_H

#include "agent/ruleset.h"
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

/* url is the config's `store` ("sqlite:PATH"); runs the schema migrations so the tables
 * exist even when the agent starts before hiwayd ever has. */
int hw_agent_store_open(const char *url, int64_t busy_timeout_ms, sqlite3 **out);

int hw_agent_store_generation(sqlite3 *db, int64_t *gen);

/* The perimeter set, unexpired at now: global kernel rules (allow and deny), workspace
 * kernel deny rules when ws_deny, and bans. expires_at becomes CLOCK_MONOTONIC ns. The
 * caller frees *out. */
int hw_agent_store_rules(sqlite3 *db, bool ws_deny, struct hw_perim_rule **out, size_t *n);

/* "10.0.0.0/8", "2001:db8::/32" or a bare address into r (host bits cleared). */
int hw_agent_parse_cidr(const char *text, struct hw_perim_rule *r);

struct hw_agent_report {
	const char *node_id, *version, *status;
	int pid;
	int64_t generation;
	const char *interfaces_json, *rules_json, *stats_json;
};

int hw_agent_store_status(sqlite3 *db, const struct hw_agent_report *st);

#endif
