// SPDX-License-Identifier: Apache-2.0
/* IP rules over the management API (SPEC §13.2, §16.2): a workspace's rules
 * (…/security/ip-rules, admin token or the workspace's admin key) and global rules
 * (/api/v1/ip-rules, admin token only). The CIDR is stored normalized, so the answer shows
 * what is enforced. A change is applied to this gateway's rule set before the response
 * returns; other gateways and hiway-agent pick it up from the generation bump. */
#include "admin/admin_internal.h"

#include "common/clock.h"
#include "common/ids.h"
#include "common/log.h"
#include "iprules/perimeter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMMENT_MAX_CHARS 200

static const char *const rule_fields[] = {"cidr",   "action",	  "comment",
					  "kernel", "expires_at", NULL};
static const char *const actions[] = {"allow", "deny", NULL};

static json_t *opt_string(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

static json_t *rule_json(const struct hw_ip_rule *r, const struct hw_config *cfg)
{
	return json_pack("{s:s,s:s,s:o,s:s,s:s,s:o,s:b,s:o,s:o,s:b}", "id", r->id, "scope",
			 r->workspace_id[0] ? "workspace" : "global", "workspace_id",
			 opt_string(r->workspace_id), "cidr", r->cidr, "action", r->action,
			 "comment", opt_string(r->comment), "kernel", r->kernel, "expires_at",
			 hw_admin_time_json(r->expires_at), "created_at",
			 hw_admin_time_json(r->created_at), "enforced_in_kernel",
			 hw_perimeter_rule_in_kernel(r, cfg));
}

/* Characters of a UTF-8 string: bytes that do not continue a sequence. */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

int hw_admin_cidr_take(struct hw_admin_call *c, const json_t *v, char *out, size_t cap, int *family)
{
	struct hw_cidr cidr;
	const char *text = json_string_value(v);
	if (!text || strlen(text) != json_string_length(v) || hw_cidr_parse(text, &cidr) < 0) {
		hw_admin_fail_param(c, "cidr",
				    "cidr must be an IPv4 or IPv6 address or CIDR "
				    "block, such as 203.0.113.0/24 or 2001:db8::/32.");
		return -EINVAL;
	}
	hw_cidr_format(&cidr, out, cap);
	*family = cidr.family;
	return 0;
}

int hw_admin_comment_take(struct hw_admin_call *c, const json_t *v, char *out, size_t cap)
{
	out[0] = '\0';
	if (!v || json_is_null(v))
		return 0;
	const char *s = json_string_value(v);
	if (!s || strlen(s) != json_string_length(v) || utf8_chars(s) > COMMENT_MAX_CHARS ||
	    json_string_length(v) >= cap) {
		hw_admin_fail_param(c, "comment",
				    "comment must be a string of at most %d "
				    "characters.",
				    COMMENT_MAX_CHARS);
		return -EINVAL;
	}
	memcpy(out, s, json_string_length(v) + 1);
	return 0;
}

/* Fills `r` from the body; answers 400 naming the field and returns -EINVAL otherwise. */
static int rule_take(struct hw_admin_call *c, const json_t *in, struct hw_ip_rule *r)
{
	const json_t *v;
	int64_t now = hw_clock_wall_s();

	if (!(v = json_object_get(in, "cidr"))) {
		hw_admin_fail_param(c, "cidr", "cidr is required.");
		return -EINVAL;
	}
	if (hw_admin_cidr_take(c, v, r->cidr, sizeof(r->cidr), &r->family))
		return -EINVAL;
	if (!(v = json_object_get(in, "action"))) {
		hw_admin_fail_param(c, "action", "action is required.");
		return -EINVAL;
	}
	if (hw_admin_choice_take(c, v, "action", actions, r->action, sizeof(r->action)))
		return -EINVAL;
	if (hw_admin_comment_take(c, json_object_get(in, "comment"), r->comment,
				  sizeof(r->comment)))
		return -EINVAL;
	r->kernel = true;
	if ((v = json_object_get(in, "kernel"))) {
		if (!json_is_boolean(v)) {
			hw_admin_fail_param(c, "kernel", "kernel must be true or false.");
			return -EINVAL;
		}
		r->kernel = json_is_true(v);
	}
	v = json_object_get(in, "expires_at");
	if (v && !json_is_null(v)) {
		const char *s = json_string_value(v);
		if (!s || hw_clock_parse_rfc3339(s, &r->expires_at) < 0) {
			hw_admin_fail_param(c, "expires_at",
					    "expires_at must be an RFC 3339 time "
					    "such as 2026-05-01T00:00:00Z, or null.");
			return -EINVAL;
		}
		if (r->expires_at <= now) {
			hw_admin_fail_param(c, "expires_at", "expires_at must be in the future.");
			return -EINVAL;
		}
	}
	r->created_at = now;
	return 0;
}

static int workspace_check(struct hw_admin_call *c)
{
	struct hw_store *st = c->ctx->store;
	struct hw_workspace ws;
	int rc = st->ops->workspace_get(st, c->ws_id, &ws);
	if (rc)
		hw_admin_fail_store(c, rc, "Workspace");
	return rc;
}

void hw_admin_perimeter_applied(struct hw_admin_call *c)
{
	/* The row is committed; a failed reload only delays it to the next poll. */
	if (hw_perimeter_refresh() < 0)
		hw_log_json(HW_LOG_WARN, c->req->request_id,
			    "admin: the change is stored, this gateway applies it at its next poll",
			    NULL);
}

/* `ws` NULL: global rules. */
static void rules_list(struct hw_admin_call *c, const char *ws)
{
	struct hw_store *st = c->ctx->store;
	struct hw_ip_rule *rows = NULL;
	char cursor[HW_ID_MAX];
	size_t n = 0;
	int limit, rc;

	if (hw_admin_page_parse(c, &limit, cursor) || (ws && workspace_check(c)))
		return;
	rc = st->ops->perimeter.rule_list(st, ws, cursor, limit + 1, &rows, &n);
	if (rc) {
		hw_admin_fail_store(c, rc, "IP rule");
		return;
	}
	json_t *data = json_array();
	for (size_t i = 0; i < n && i < (size_t)limit; i++)
		json_array_append_new(data, rule_json(&rows[i], c->ctx->cfg));
	hw_admin_reply(c, 200,
		       hw_admin_page_body(data, n > (size_t)limit ? rows[limit - 1].id : NULL));
	free(rows);
}

static void rules_create(struct hw_admin_call *c, const char *ws)
{
	struct hw_store *st = c->ctx->store;
	struct hw_ip_rule r;
	json_t *in = NULL;
	int64_t max = ws ? HW_IP_RULES_MAX_WORKSPACE : HW_IP_RULES_MAX_GLOBAL;
	int rc;

	memset(&r, 0, sizeof(r));
	if ((ws && workspace_check(c)) || hw_admin_body_parse(c, rule_fields, &in) ||
	    rule_take(c, in, &r))
		goto out;
	snprintf(r.workspace_id, sizeof(r.workspace_id), "%s", ws ? ws : "");
	hw_id_make(r.id, sizeof(r.id), "ipr_");
	rc = st->ops->perimeter.rule_insert(st, &r, max);
	if (rc == -ENOSPC) {
		char msg[96];
		snprintf(msg, sizeof(msg), "IP rule limit reached (%lld %s).", (long long)max,
			 ws ? "per workspace" : "global rules");
		hw_admin_fail(c, HW_ERR_CONFLICT, msg);
		goto out;
	}
	if (rc) {
		hw_admin_fail_store(c, rc, "IP rule");
		goto out;
	}
	hw_admin_perimeter_applied(c);
	hw_log_json(HW_LOG_INFO, c->req->request_id, "admin: IP rule created",
		    json_pack("{s:s,s:s,s:s,s:s}", "rule_id", r.id, "scope",
			      ws ? "workspace" : "global", "cidr", r.cidr, "action", r.action));
	hw_admin_reply(c, 201, rule_json(&r, c->ctx->cfg));
out:
	json_decref(in);
}

static void rules_delete(struct hw_admin_call *c, const char *ws, const char *id)
{
	struct hw_store *st = c->ctx->store;
	int rc = st->ops->perimeter.rule_delete(st, ws, id);
	if (rc) {
		hw_admin_fail_store(c, rc, "IP rule");
		return;
	}
	hw_admin_perimeter_applied(c);
	hw_log_json(HW_LOG_INFO, c->req->request_id, "admin: IP rule deleted",
		    json_pack("{s:s}", "rule_id", id));
	hw_admin_reply(c, 204, NULL);
}

void hw_admin_ws_ip_rules_list(struct hw_admin_call *c)
{
	rules_list(c, c->ws_id);
}
void hw_admin_ws_ip_rules_create(struct hw_admin_call *c)
{
	rules_create(c, c->ws_id);
}
void hw_admin_ws_ip_rule_delete(struct hw_admin_call *c)
{
	rules_delete(c, c->ws_id, c->key_id);
}

void hw_admin_global_ip_rules_list(struct hw_admin_call *c)
{
	rules_list(c, NULL);
}
void hw_admin_global_ip_rules_create(struct hw_admin_call *c)
{
	rules_create(c, NULL);
}
/* The router captures the first id of a path into ws_id: here it is the rule's. */
void hw_admin_global_ip_rule_delete(struct hw_admin_call *c)
{
	rules_delete(c, NULL, c->ws_id);
}
