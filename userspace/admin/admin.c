// SPDX-License-Identifier: Apache-2.0
/* Management API entry point (SPEC §16): matches the path against the route table, answers
 * 404 and 405 itself, applies the authorization of §4.2 (token-only routes, an admin key
 * confined to its own workspace), then hands the call to the resource's handler. */
#include "admin/admin_internal.h"

#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define API_PREFIX   "/api/v1/"
#define MAX_SEGMENTS 6

enum route_access { ACCESS_BOTH, ACCESS_TOKEN };

struct route {
	const char *pattern; /* segments after /api/v1/; "*" captures an id ({ws}, then {kid}) */
	const char *method;
	enum route_access access;
	void (*handler)(struct hw_admin_call *c);
};

static const struct route routes[] = {
	{"workspaces", "GET", ACCESS_TOKEN, hw_admin_workspaces_list},
	{"workspaces", "POST", ACCESS_TOKEN, hw_admin_workspaces_create},
	{"workspaces/*", "GET", ACCESS_BOTH, hw_admin_workspace_get},
	{"workspaces/*", "PATCH", ACCESS_BOTH, hw_admin_workspace_patch},
	{"workspaces/*/suspend", "POST", ACCESS_TOKEN, hw_admin_workspace_suspend},
	{"workspaces/*/unsuspend", "POST", ACCESS_TOKEN, hw_admin_workspace_unsuspend},
	{"workspaces/*/keys", "GET", ACCESS_BOTH, hw_admin_keys_list},
	{"workspaces/*/keys", "POST", ACCESS_BOTH, hw_admin_keys_create},
	{"workspaces/*/keys/*", "GET", ACCESS_BOTH, hw_admin_key_get},
	{"workspaces/*/keys/*", "PATCH", ACCESS_BOTH, hw_admin_key_patch},
	{"workspaces/*/keys/*", "DELETE", ACCESS_BOTH, hw_admin_key_delete},
	{"workspaces/*/keys/*/revoke", "POST", ACCESS_BOTH, hw_admin_key_revoke},
	{"workspaces/*/keys/*/rotate", "POST", ACCESS_BOTH, hw_admin_key_rotate},
	{"workspaces/*/providers", "GET", ACCESS_BOTH, hw_admin_providers_list},
	{"workspaces/*/providers/*", "PUT", ACCESS_BOTH, hw_admin_provider_put},
	{"workspaces/*/providers/*", "DELETE", ACCESS_BOTH, hw_admin_provider_delete},
	{"workspaces/*/webhooks", "GET", ACCESS_BOTH, hw_admin_webhooks_list},
	{"workspaces/*/webhooks", "POST", ACCESS_BOTH, hw_admin_webhooks_create},
	{"workspaces/*/webhooks/*", "PATCH", ACCESS_BOTH, hw_admin_webhook_patch},
	{"workspaces/*/webhooks/*", "DELETE", ACCESS_BOTH, hw_admin_webhook_delete},
	{"workspaces/*/security/config", "GET", ACCESS_BOTH, hw_admin_security_config_get},
	{"workspaces/*/security/config", "POST", ACCESS_BOTH, hw_admin_security_config_put},
	{"workspaces/*/security/config", "PUT", ACCESS_BOTH, hw_admin_security_config_put},
	{"workspaces/*/security/verify", "GET", ACCESS_BOTH, hw_admin_audit_verify},
	{"workspaces/*/security/export", "GET", ACCESS_BOTH, hw_admin_audit_export},
	{"workspaces/*/wallet", "GET", ACCESS_BOTH, hw_admin_wallet_get},
	{"workspaces/*/wallet/topup", "POST", ACCESS_TOKEN, hw_admin_wallet_topup},
	{"workspaces/*/wallet/ledger", "GET", ACCESS_BOTH, hw_admin_wallet_ledger},
	{"workspaces/*/budget", "GET", ACCESS_BOTH, hw_admin_budget_get},
	{"workspaces/*/budget", "PUT", ACCESS_BOTH, hw_admin_budget_put},
	{"workspaces/*/plan", "GET", ACCESS_BOTH, hw_admin_plan_get},
	{"workspaces/*/plan", "PUT", ACCESS_TOKEN, hw_admin_plan_put},
	{"workspaces/*/usage", "GET", ACCESS_BOTH, hw_admin_usage},
	{"workspaces/*/security/ip-rules", "GET", ACCESS_BOTH, hw_admin_ws_ip_rules_list},
	{"workspaces/*/security/ip-rules", "POST", ACCESS_BOTH, hw_admin_ws_ip_rules_create},
	{"workspaces/*/security/ip-rules/*", "DELETE", ACCESS_BOTH, hw_admin_ws_ip_rule_delete},
	{"ip-rules", "GET", ACCESS_TOKEN, hw_admin_global_ip_rules_list},
	{"ip-rules", "POST", ACCESS_TOKEN, hw_admin_global_ip_rules_create},
	{"ip-rules/*", "DELETE", ACCESS_TOKEN, hw_admin_global_ip_rule_delete},
	{"bans", "GET", ACCESS_TOKEN, hw_admin_bans_list},
	{"bans", "POST", ACCESS_TOKEN, hw_admin_bans_create},
	{"bans/*", "DELETE", ACCESS_TOKEN, hw_admin_ban_delete},
	{"perimeter", "GET", ACCESS_TOKEN, hw_admin_perimeter_get},
	{"workspaces/*/guardian", "GET", ACCESS_BOTH, hw_admin_guardian_get},
	{"workspaces/*/guardian", "PUT", ACCESS_BOTH, hw_admin_guardian_put},
};

struct segment {
	const char *p;
	size_t n;
};

struct path {
	struct segment seg[MAX_SEGMENTS];
	size_t n;
};

/* Splits what follows /api/v1/; an empty segment or too many make the path unknown. */
static bool path_split(const char *path, struct path *out)
{
	size_t plen = sizeof(API_PREFIX) - 1;
	const char *p;

	out->n = 0;
	if (!path || strncmp(path, API_PREFIX, plen) != 0)
		return false;
	p = path + plen;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 0 || out->n == MAX_SEGMENTS)
			return false;
		out->seg[out->n].p = p;
		out->seg[out->n].n = n;
		out->n++;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

/* Matches one pattern; ids[] receives the "*" captures in order. The first is always a
 * workspace id; the second a key id or a provider id, which may be longer. */
static bool route_match(const char *pattern, const struct path *path,
			char ids[2][HW_PROVIDER_ID_MAX])
{
	const char *p = pattern;
	size_t i = 0, nid = 0;

	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		const struct segment *s;

		if (i == path->n)
			return false;
		s = &path->seg[i++];
		if (n == 1 && *p == '*') {
			/* Longer than any id: no such resource, so no such route either. */
			if (nid == 2 || s->n >= (nid == 0 ? HW_ID_MAX : HW_PROVIDER_ID_MAX))
				return false;
			memcpy(ids[nid], s->p, s->n);
			ids[nid][s->n] = '\0';
			nid++;
		} else if (n != s->n || memcmp(p, s->p, n) != 0) {
			return false;
		}
		p = slash ? slash + 1 : p + n;
	}
	return i == path->n;
}

static void allow_add(char *allow, size_t len, const char *method)
{
	size_t used = strlen(allow);
	const char *p = allow;
	size_t mlen = strlen(method);

	/* Several routes share a pattern; list each method once. */
	while ((p = strstr(p, method))) {
		if ((p == allow || p[-1] == ' ') && (p[mlen] == ',' || p[mlen] == '\0'))
			return;
		p += mlen;
	}
	snprintf(allow + used, len - used, "%s%s", used ? ", " : "", method);
}

void hw_admin_reply(struct hw_admin_call *c, int status, json_t *body)
{
	json_decref(c->resp->body);
	c->resp->status = status;
	c->resp->body = body;
}

void hw_admin_fail(struct hw_admin_call *c, enum hw_err err, const char *message)
{
	hw_admin_reply(c, hw_err_info(err)->status,
		       hw_err_body(err, message, c->req->request_id, NULL, false));
}

void hw_admin_fail_param(struct hw_admin_call *c, const char *param, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	json_t *extra = json_object();

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_set_new(extra, "param", param ? json_string(param) : json_null());
	hw_admin_reply(c, 400,
		       hw_err_body(HW_ERR_INVALID_REQUEST, msg, c->req->request_id, extra, false));
}

void hw_admin_fail_store(struct hw_admin_call *c, int rc, const char *what)
{
	char msg[96];

	switch (rc) {
	case -ENOENT:
		snprintf(msg, sizeof(msg), "%s not found.", what);
		hw_admin_fail(c, HW_ERR_NOT_FOUND, msg);
		return;
	case -EEXIST:
		snprintf(msg, sizeof(msg), "%s name already in use.", what);
		hw_admin_fail(c, HW_ERR_CONFLICT, msg);
		return;
	case -EIO:
		hw_log_json(HW_LOG_ERROR, c->req->request_id, "admin: store unavailable",
			    json_pack("{s:s}", "path", c->req->path));
		hw_admin_fail(c, HW_ERR_STORE_UNAVAILABLE, "The store is unavailable.");
		return;
	default:
		hw_log_json(HW_LOG_ERROR, c->req->request_id, "admin: unexpected failure",
			    json_pack("{s:s,s:i}", "path", c->req->path, "errno", -rc));
		hw_admin_fail(c, HW_ERR_INTERNAL, "Internal error.");
	}
}

bool hw_admin_by_token(const struct hw_admin_call *c)
{
	return c->req->who->kind == HW_PRINCIPAL_ADMIN_TOKEN;
}

/* §4.2/§4.3 for an admin key: its workspace must be active, server-only routes are
 * forbidden, and another workspace does not exist as far as it can tell. */
static bool admin_key_allowed(struct hw_admin_call *c, const struct route *r)
{
	const struct hw_principal *who = c->req->who;
	struct hw_store *st = c->ctx->store;
	struct hw_workspace own;
	int rc = st->ops->workspace_get(st, who->workspace_id, &own);

	if (rc == -ENOENT) {
		hw_admin_fail(c, HW_ERR_INVALID_API_KEY, "Invalid API key.");
		return false;
	}
	if (rc) {
		hw_admin_fail_store(c, rc, "Workspace");
		return false;
	}
	if (strcmp(own.status, "suspended") == 0) {
		json_t *extra = json_pack(
			"{s:o}", "reason",
			own.has_suspended_reason ? json_string(own.suspended_reason) : json_null());
		hw_admin_reply(c, 403,
			       hw_err_body(HW_ERR_WORKSPACE_SUSPENDED, "Workspace suspended.",
					   c->req->request_id, extra, false));
		return false;
	}
	if (r->access == ACCESS_TOKEN) {
		hw_admin_fail(c, HW_ERR_FORBIDDEN, "This operation needs the admin token.");
		return false;
	}
	if (c->ws_id && strcmp(c->ws_id, who->workspace_id) != 0) {
		hw_admin_fail(c, HW_ERR_NOT_FOUND, "Workspace not found.");
		return false;
	}
	return true;
}

void hw_admin_handle(struct hw_admin_ctx *ctx, const struct hw_admin_request *req,
		     struct hw_admin_response *resp)
{
	struct hw_admin_call c = {.ctx = ctx, .req = req, .resp = resp};
	const struct route *hit = NULL;
	char ids[2][HW_PROVIDER_ID_MAX] = {"", ""};
	bool known = false;
	struct path path;

	resp->status = 500;
	resp->body = NULL;
	resp->text = NULL;
	resp->text_len = 0;
	resp->content_type = NULL;
	resp->disposition[0] = '\0';
	resp->allow[0] = '\0';

	if (path_split(req->path, &path)) {
		for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
			if (!route_match(routes[i].pattern, &path, ids))
				continue;
			known = true;
			allow_add(resp->allow, sizeof(resp->allow), routes[i].method);
			if (req->method && strcmp(req->method, routes[i].method) == 0)
				hit = &routes[i];
		}
	}
	if (!known) {
		hw_admin_fail(&c, HW_ERR_NOT_FOUND, "No such route.");
		goto out;
	}
	if (!hit) {
		hw_admin_fail(&c, HW_ERR_METHOD_NOT_ALLOWED, "Method not allowed on this route.");
		goto out;
	}
	resp->allow[0] = '\0';
	c.ws_id = ids[0][0] ? ids[0] : NULL;
	c.key_id = ids[1][0] ? ids[1] : NULL;
	if (!req->who) {
		hw_admin_fail(&c, HW_ERR_INVALID_API_KEY, "Missing API key.");
		goto out;
	}
	if (req->who->kind != HW_PRINCIPAL_ADMIN_TOKEN && !admin_key_allowed(&c, hit))
		goto out;
	hit->handler(&c);
out:
	if (c.changed && ctx->on_change)
		ctx->on_change(ctx->on_change_arg);
}
