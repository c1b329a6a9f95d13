// SPDX-License-Identifier: Apache-2.0
/* Bans and the perimeter status over the management API (SPEC §13.3, §16.2; admin token
 * only). A manual ban is a CIDR with an optional TTL; auto-bans are created by the gateway
 * itself and listed and lifted here like any other. GET /api/v1/perimeter reports what
 * hiway-agent last wrote (agent up = heartbeat at most 15 s old) beside the store's
 * perimeter generation; without an agent the rule counts are the gateway's own
 * perimeter set, which the gateway enforces alone. */
#include "admin/admin_internal.h"

#include "common/clock.h"
#include "common/ids.h"
#include "common/log.h"
#include "iprules/perimeter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAN_TTL_MAX_S (10LL * 365 * 86400)

static const char *const ban_fields[] = {"cidr", "ttl_s", "comment", NULL};
static const char *const verdicts[] = {"pass",		 "pass_allowed",  "drop_deny",
				       "drop_ratelimit", "pass_unparsed", NULL};

static json_t *ban_json(const struct hw_ban *b)
{
	return json_pack(
	    "{s:s,s:s,s:s,s:o,s:o,s:o}", "id", b->id, "cidr", b->cidr, "reason", b->reason,
	    "comment", b->comment[0] ? json_string(b->comment) : json_null(), "created_at",
	    hw_admin_time_json(b->created_at), "expires_at", hw_admin_time_json(b->expires_at));
}

void hw_admin_bans_list(struct hw_admin_call *c)
{
	struct hw_store *st = c->ctx->store;
	struct hw_ban *rows = NULL;
	char cursor[HW_ID_MAX];
	size_t n = 0;
	int limit, rc;

	if (hw_admin_page_parse(c, &limit, cursor))
		return;
	rc = st->ops->perimeter.ban_list(st, cursor, limit + 1, &rows, &n);
	if (rc) {
		hw_admin_fail_store(c, rc, "Ban");
		return;
	}
	json_t *data = json_array();
	for (size_t i = 0; i < n && i < (size_t)limit; i++)
		json_array_append_new(data, ban_json(&rows[i]));
	hw_admin_reply(c, 200,
		       hw_admin_page_body(data, n > (size_t)limit ? rows[limit - 1].id : NULL));
	free(rows);
}

void hw_admin_bans_create(struct hw_admin_call *c)
{
	struct hw_store *st = c->ctx->store;
	struct hw_ban b;
	json_t *in = NULL, *v;
	int rc;

	memset(&b, 0, sizeof(b));
	if (hw_admin_body_parse(c, ban_fields, &in))
		goto out;
	if (!(v = json_object_get(in, "cidr"))) {
		hw_admin_fail_param(c, "cidr", "cidr is required.");
		goto out;
	}
	if (hw_admin_cidr_take(c, v, b.cidr, sizeof(b.cidr), &b.family) ||
	    hw_admin_comment_take(c, json_object_get(in, "comment"), b.comment, sizeof(b.comment)))
		goto out;
	b.created_at = hw_clock_wall_s();
	v = json_object_get(in, "ttl_s");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > BAN_TTL_MAX_S) {
			hw_admin_fail_param(c, "ttl_s",
					    "ttl_s must be an integer from 1 to %lld, or "
					    "null for a ban without end.",
					    BAN_TTL_MAX_S);
			goto out;
		}
		b.expires_at = b.created_at + json_integer_value(v);
	}
	snprintf(b.reason, sizeof(b.reason), "manual");
	hw_id_make(b.id, sizeof(b.id), "ban_");
	rc = st->ops->perimeter.ban_insert(st, &b);
	if (rc) {
		hw_admin_fail_store(c, rc, "Ban");
		goto out;
	}
	hw_admin_perimeter_applied(c);
	hw_log_json(HW_LOG_INFO, c->req->request_id, "admin: ban created",
		    json_pack("{s:s,s:s}", "ban_id", b.id, "cidr", b.cidr));
	hw_admin_reply(c, 201, ban_json(&b));
out:
	json_decref(in);
}

/* The router captures the first id of a path into ws_id: here it is the ban's. */
void hw_admin_ban_delete(struct hw_admin_call *c)
{
	struct hw_store *st = c->ctx->store;
	int rc = st->ops->perimeter.ban_delete(st, c->ws_id);
	if (rc) {
		hw_admin_fail_store(c, rc, "Ban");
		return;
	}
	hw_admin_perimeter_applied(c);
	hw_log_json(HW_LOG_INFO, c->req->request_id, "admin: ban lifted",
		    json_pack("{s:s}", "ban_id", c->ws_id));
	hw_admin_reply(c, 204, NULL);
}

/* The agent row of this node, else the one with the freshest heartbeat; NULL without any. */
static const struct hw_agent_status *pick_agent(const struct hw_agent_status *rows, size_t n,
						const char *node_id)
{
	const struct hw_agent_status *best = NULL;
	for (size_t i = 0; i < n; i++) {
		if (node_id && strcmp(rows[i].node_id, node_id) == 0)
			return &rows[i];
		if (!best || rows[i].heartbeat_at > best->heartbeat_at)
			best = &rows[i];
	}
	return best;
}

static json_t *json_or(const char *text, json_t *fallback, bool want_array)
{
	json_t *v = text[0] ? json_loads(text, 0, NULL) : NULL;
	if (v && (want_array ? json_is_array(v) : json_is_object(v))) {
		json_decref(fallback);
		return v;
	}
	json_decref(v);
	return fallback;
}

static json_t *stats_json(const struct hw_agent_status *a)
{
	json_t *src = a ? json_or(a->stats, json_object(), false) : json_object();
	json_t *out = json_object();
	for (const char *const *v = verdicts; *v; v++) {
		json_t *one = json_object_get(src, *v);
		json_t *p = json_object_get(one, "packets"), *b = json_object_get(one, "bytes");
		json_object_set_new(out, *v,
				    json_pack("{s:I,s:I}", "packets",
					      json_is_integer(p) ? json_integer_value(p) : 0,
					      "bytes",
					      json_is_integer(b) ? json_integer_value(b) : 0));
	}
	json_decref(src);
	return out;
}

void hw_admin_perimeter_get(struct hw_admin_call *c)
{
	struct hw_store *st = c->ctx->store;
	const struct hw_config *cfg = c->ctx->cfg;
	struct hw_agent_status *rows = NULL;
	struct hw_perimeter_counts k;
	size_t n = 0;
	int64_t gen = 0;
	int rc = st->ops->perimeter.agent_list(st, &rows, &n);

	if (rc == 0)
		rc = st->ops->perimeter.generation(st, &gen);
	if (rc) {
		free(rows);
		hw_admin_fail_store(c, rc, "Perimeter");
		return;
	}
	hw_perimeter_counts(&k);
	const struct hw_agent_status *a = pick_agent(rows, n, cfg->node_id);
	bool up = a && hw_clock_wall_ms() - a->heartbeat_at <= HW_PERIMETER_AGENT_FRESH_MS;
	char hb[21] = "";
	if (a)
		hw_clock_rfc3339(a->heartbeat_at / 1000, hb);
	json_t *own_rules =
	    json_pack("{s:I,s:I,s:I,s:I}", "allow_v4", (json_int_t)k.kernel_allow[0], "deny_v4",
		      (json_int_t)k.kernel_deny[0], "allow_v6", (json_int_t)k.kernel_allow[1],
		      "deny_v6", (json_int_t)k.kernel_deny[1]);
	json_t *rules = up ? json_or(a->rules, own_rules, false) : own_rules;
	json_t *bans_v = json_object_get(rules, "bans");
	json_int_t bans = json_is_integer(bans_v) ? json_integer_value(bans_v) : k.bans_active;
	json_object_del(rules, "bans");
	json_t *agent = json_pack("{s:s,s:o,s:o,s:o,s:o}", "status", up ? "up" : "down", "node_id",
				  a ? json_string(a->node_id) : json_null(), "pid",
				  a ? json_integer(a->pid) : json_null(), "version",
				  a ? json_string(a->version) : json_null(), "heartbeat_at",
				  a ? json_string(hb) : json_null());
	hw_admin_reply(c, 200,
		       json_pack("{s:b,s:o,s:o,s:I,s:o,s:I,s:o}", "enabled", cfg->perimeter.enabled,
				 "agent", agent, "interfaces",
				 a ? json_or(a->interfaces, json_array(), true) : json_array(),
				 "generation", (json_int_t)gen, "rules", rules, "bans", bans,
				 "stats", stats_json(a)));
	free(rows);
}
