// SPDX-License-Identifier: Apache-2.0
/* Workspaces over the management API (SPEC §4.3, §16.2): create (optionally with a first
 * admin key), list, read, update, suspend and unsuspend. */
#include "admin/admin_internal.h"

#include "common/clock.h"
#include "common/ids.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGION_MAX_CHARS 32

/* §18 plans.presets, for a configuration that lists none. */
static const char *const builtin_plans[] = {
	"free", "build", "scale", "business", "unlimited", NULL,
};
static const char *const profiles[] = {"budget", "balanced", "quality", NULL};

void hw_admin_workspace_init(const struct hw_config *cfg, struct hw_workspace *ws)
{
	const char *profile = cfg->routing.profile;
	const char *plan = cfg->plans.default_plan;

	memset(ws, 0, sizeof(*ws));
	hw_ulid(ws->id);
	snprintf(ws->status, sizeof(ws->status), "active");
	snprintf(ws->plan, sizeof(ws->plan), "%s", plan && *plan ? plan : "unlimited");
	snprintf(ws->routing_profile, sizeof(ws->routing_profile), "%s",
		 profile && *profile ? profile : "balanced");
	ws->created_at = hw_clock_wall_s();
}

json_t *hw_admin_workspace_json(const struct hw_config *cfg, const struct hw_workspace *ws)
{
	const char *model = ws->default_model[0] ? ws->default_model : cfg->routing.default_model;
	json_t *regions = NULL;

	/* Stored as JSON text; anything unreadable is shown as "any region". */
	if (ws->allowed_regions[0])
		regions = json_loads(ws->allowed_regions, 0, NULL);
	if (!json_is_array(regions)) {
		json_decref(regions);
		regions = json_null();
	}
	return json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:o,s:o,s:o}", "id", ws->id, "name", ws->name,
			 "status", ws->status, "suspended_reason",
			 ws->has_suspended_reason ? json_string(ws->suspended_reason) : json_null(),
			 "plan", ws->plan, "routing_profile", ws->routing_profile, "default_model",
			 model && *model ? json_string(model) : json_null(), "allowed_regions",
			 regions, "created_at", hw_admin_time_json(ws->created_at));
}

/* A plan preset named by the configuration (plans.presets). */
static int plan_take(struct hw_admin_call *c, const json_t *v, char *out, size_t cap)
{
	const struct hw_config *cfg = c->ctx->cfg;
	const char *s = json_string_value(v);

	if (!cfg->plans.n_presets)
		return hw_admin_choice_take(c, v, "plan", builtin_plans, out, cap);
	for (size_t i = 0; s && i < cfg->plans.n_presets; i++) {
		if (strcmp(s, cfg->plans.presets[i].name) == 0 && strlen(s) < cap) {
			memcpy(out, s, strlen(s) + 1);
			return 0;
		}
	}
	hw_admin_fail_param(c, "plan", "plan must name a configured plan preset.");
	return -EINVAL;
}

/* A catalog id "provider/model" (the catalog itself is routing's), or null for the server
 * default. */
static int model_take(struct hw_admin_call *c, const json_t *v, char *out, size_t cap)
{
	const char *s = json_string_value(v);
	const char *slash = s ? strchr(s, '/') : NULL;

	if (json_is_null(v)) {
		out[0] = '\0';
		return 0;
	}
	if (!slash || slash == s || !slash[1] || strlen(s) >= cap)
		goto bad;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			goto bad;
	memcpy(out, s, strlen(s) + 1);
	return 0;
bad:
	hw_admin_fail_param(c, "default_model",
			    "default_model must be a model id \"provider/model\" of at most %zu "
			    "bytes, or null.",
			    cap - 1);
	return -EINVAL;
}

/* The routing fields create and PATCH share: routing_profile and default_model. */
static int routing_take(struct hw_admin_call *c, json_t *in, struct hw_workspace *ws)
{
	json_t *v = json_object_get(in, "routing_profile");
	if (v && hw_admin_choice_take(c, v, "routing_profile", profiles, ws->routing_profile,
				      sizeof(ws->routing_profile)))
		return -1;
	v = json_object_get(in, "default_model");
	if (v && model_take(c, v, ws->default_model, sizeof(ws->default_model)))
		return -1;
	return 0;
}

static bool region_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > REGION_MAX_CHARS)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return false;
	return true;
}

/* null = any region; else a non-empty array of catalog region values, kept as JSON text. */
static int regions_take(struct hw_admin_call *c, const json_t *v, char *out, size_t cap)
{
	char param[40];
	const json_t *item;
	size_t i;
	char *text;
	int rc = -EINVAL;

	if (json_is_null(v)) {
		out[0] = '\0';
		return 0;
	}
	if (!json_is_array(v) || json_array_size(v) == 0) {
		hw_admin_fail_param(c, "allowed_regions",
				    "allowed_regions must be a non-empty array of region names, "
				    "or null for any region.");
		return -EINVAL;
	}
	json_array_foreach(v, i, item) {
		if (!json_is_string(item) || !region_valid(json_string_value(item))) {
			snprintf(param, sizeof(param), "allowed_regions[%zu]", i);
			hw_admin_fail_param(c, param,
					    "%s must be a region name of 1 to %d letters, digits, "
					    "'-', '_' or '.'.",
					    param, REGION_MAX_CHARS);
			return -EINVAL;
		}
	}
	text = json_dumps(v, JSON_COMPACT);
	if (!text) {
		hw_admin_fail(c, HW_ERR_INTERNAL, "Internal error.");
		return -ENOMEM;
	}
	if (strlen(text) >= cap) {
		hw_admin_fail_param(c, "allowed_regions",
				    "allowed_regions lists too many regions.");
		goto out;
	}
	memcpy(out, text, strlen(text) + 1);
	rc = 0;
out:
	free(text);
	return rc;
}

static int load(struct hw_admin_call *c, struct hw_workspace *ws)
{
	struct hw_store *st = c->ctx->store;
	int rc = st->ops->workspace_get(st, c->ws_id, ws);

	if (rc)
		hw_admin_fail_store(c, rc, "Workspace");
	return rc;
}

static int save(struct hw_admin_call *c, const struct hw_workspace *ws)
{
	struct hw_store *st = c->ctx->store;
	int rc = st->ops->workspace_update(st, ws);

	if (rc) {
		hw_admin_fail_store(c, rc, "Workspace");
		return rc;
	}
	c->changed = true;
	hw_admin_reply(c, 200, hw_admin_workspace_json(c->ctx->cfg, ws));
	return 0;
}

void hw_admin_workspaces_list(struct hw_admin_call *c)
{
	struct hw_store *st = c->ctx->store;
	struct hw_workspace *rows = NULL;
	char cursor[HW_ID_MAX];
	size_t n = 0;
	json_t *data;
	int limit, rc;

	if (hw_admin_page_parse(c, &limit, cursor))
		return;
	/* One row more than asked tells whether another page exists. */
	rc = st->ops->workspace_list(st, cursor, limit + 1, &rows, &n);
	if (rc) {
		hw_admin_fail_store(c, rc, "Workspace");
		goto out;
	}
	data = json_array();
	for (size_t i = 0; i < n && i < (size_t)limit; i++)
		json_array_append_new(data, hw_admin_workspace_json(c->ctx->cfg, &rows[i]));
	hw_admin_reply(c, 200,
		       hw_admin_page_body(data, n > (size_t)limit ? rows[limit - 1].id : NULL));
out:
	free(rows);
}

void hw_admin_workspaces_create(struct hw_admin_call *c)
{
	static const char *const fields[] = {"name",
					     "plan",
					     "routing_profile",
					     "default_model",
					     "initial_credit_usd",
					     "create_admin_key",
					     NULL};
	const struct hw_config *cfg = c->ctx->cfg;
	struct hw_store *st = c->ctx->store;
	char plain[HW_KEY_LIVE_LEN + 1] = "";
	json_t *in = NULL, *out = NULL, *v, *kj;
	struct hw_workspace ws;
	struct hw_key key;
	bool with_key;
	int64_t credit;
	int rc;

	if (hw_admin_body_parse(c, fields, &in))
		goto out;
	hw_admin_workspace_init(cfg, &ws);
	if (hw_admin_name_take(c, json_object_get(in, "name"), "name", ws.name, sizeof(ws.name)))
		goto out;
	v = json_object_get(in, "plan");
	if (v && plan_take(c, v, ws.plan, sizeof(ws.plan)))
		goto out;
	if (routing_take(c, in, &ws))
		goto out;
	/* Without one, a new workspace gets the bootstrap credit, so it starts funded
	 * rather than in passthrough. */
	credit = cfg->bootstrap.initial_credit;
	v = json_object_get(in, "initial_credit_usd");
	if (v && (!json_is_number(v) || hw_admin_usd_member(c->req->body, c->req->body_len,
							    "initial_credit_usd", &credit))) {
		hw_admin_fail_param(c, "initial_credit_usd",
				    "initial_credit_usd must be a number >= 0 with at most 6 "
				    "decimals.");
		goto out;
	}
	v = json_object_get(in, "create_admin_key");
	if (v && !json_is_boolean(v)) {
		hw_admin_fail_param(c, "create_admin_key", "create_admin_key must be a boolean.");
		goto out;
	}
	with_key = json_is_true(v);
	rc = st->ops->workspace_create(st, &ws);
	if (rc == 0)
		rc = st->ops->money.wallet_create(st, ws.id, credit, hw_clock_wall_ms());
	if (rc) {
		hw_admin_fail_store(c, rc, "Workspace");
		goto out;
	}
	c->changed = true;
	out = hw_admin_workspace_json(cfg, &ws);
	if (with_key) {
		hw_admin_key_init(cfg, ws.id, &key);
		snprintf(key.name, sizeof(key.name), "admin");
		snprintf(key.role, sizeof(key.role), "admin");
		rc = hw_admin_key_mint(st, &key, plain);
		if (rc) {
			hw_admin_fail_store(c, rc, "Key");
			goto out;
		}
		kj = hw_admin_key_json(&key);
		json_object_set_new(kj, "key", json_string(plain));
		json_object_set_new(out, "admin_key", kj);
	}
	hw_admin_reply(c, 201, out);
	out = NULL;
out:
	explicit_bzero(plain, sizeof(plain));
	json_decref(out);
	json_decref(in);
}

void hw_admin_workspace_get(struct hw_admin_call *c)
{
	struct hw_workspace ws;

	if (load(c, &ws) == 0)
		hw_admin_reply(c, 200, hw_admin_workspace_json(c->ctx->cfg, &ws));
}

void hw_admin_workspace_patch(struct hw_admin_call *c)
{
	static const char *const fields[] = {"name", "routing_profile", "default_model",
					     "allowed_regions", NULL};
	struct hw_workspace ws;
	json_t *in = NULL, *v;

	if (hw_admin_body_parse(c, fields, &in) || load(c, &ws))
		goto out;
	v = json_object_get(in, "name");
	if (v && hw_admin_name_take(c, v, "name", ws.name, sizeof(ws.name)))
		goto out;
	if (routing_take(c, in, &ws))
		goto out;
	v = json_object_get(in, "allowed_regions");
	if (v && regions_take(c, v, ws.allowed_regions, sizeof(ws.allowed_regions)))
		goto out;
	save(c, &ws);
out:
	json_decref(in);
}

/* {reason?}: a string that fits the record, or null. */
static int reason_take(struct hw_admin_call *c, const json_t *in, struct hw_workspace *ws)
{
	const json_t *v = json_object_get(in, "reason");
	const char *s = json_string_value(v);

	ws->has_suspended_reason = s != NULL;
	ws->suspended_reason[0] = '\0';
	if (!v || json_is_null(v))
		return 0;
	if (!s || strlen(s) >= sizeof(ws->suspended_reason)) {
		hw_admin_fail_param(c, "reason", "reason must be a string of at most %zu bytes.",
				    sizeof(ws->suspended_reason) - 1);
		return -EINVAL;
	}
	memcpy(ws->suspended_reason, s, strlen(s) + 1);
	return 0;
}

void hw_admin_workspace_suspend(struct hw_admin_call *c)
{
	static const char *const fields[] = {"reason", NULL};
	struct hw_workspace ws;
	json_t *in = NULL;

	if (hw_admin_body_parse(c, fields, &in) || load(c, &ws) || reason_take(c, in, &ws))
		goto out;
	snprintf(ws.status, sizeof(ws.status), "suspended");
	save(c, &ws);
out:
	json_decref(in);
}

void hw_admin_workspace_unsuspend(struct hw_admin_call *c)
{
	static const char *const fields[] = {"reason", NULL};
	struct hw_workspace ws;
	json_t *in = NULL;

	/* The reason is checked like suspend's, then dropped with the suspension. */
	if (hw_admin_body_parse(c, fields, &in) || load(c, &ws) || reason_take(c, in, &ws))
		goto out;
	snprintf(ws.status, sizeof(ws.status), "active");
	ws.has_suspended_reason = false;
	ws.suspended_reason[0] = '\0';
	save(c, &ws);
out:
	json_decref(in);
}
