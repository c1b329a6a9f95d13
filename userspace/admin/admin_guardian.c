// SPDX-License-Identifier: Apache-2.0
/* GET and PUT .../guardian (SPEC §16.2): a workspace's Guardian settings. A PUT body is
 * validated whole and stored as sent; the members it leaves out follow the configuration's
 * defaults, so GET always answers the full effective settings. The gateway's settings
 * cache is rebuilt through on_change before the answer goes out. */
#include "admin/admin_internal.h"
#include "common/clock.h"
#include "guardian/guardian.h"

#include <errno.h>
#include <stdlib.h>

/* The workspace must exist; *settings gets its effective values. */
static bool load(struct hw_admin_call *c, struct hw_gd_settings *settings)
{
	struct hw_store *st = c->ctx->store;
	struct hw_workspace ws;
	int rc = st->ops->workspace_get(st, c->ws_id, &ws);
	if (rc < 0) {
		hw_admin_fail_store(c, rc, "Workspace");
		return false;
	}
	hw_gd_settings_defaults(c->ctx->cfg, settings);
	char *body = NULL;
	rc = st->ops->guardian.get(st, c->ws_id, &body);
	if (rc == -ENOENT)
		return true;
	if (rc < 0) {
		hw_admin_fail_store(c, rc, "Workspace");
		return false;
	}
	json_t *stored = json_loads(body, 0, NULL);
	char param[64], msg[160];
	/* Stored bodies were validated by a PUT; one this build rejects keeps the defaults. */
	if (hw_gd_settings_apply(settings, stored, param, sizeof(param), msg, sizeof(msg)) < 0)
		hw_gd_settings_defaults(c->ctx->cfg, settings);
	json_decref(stored);
	free(body);
	return true;
}

void hw_admin_guardian_get(struct hw_admin_call *c)
{
	struct hw_gd_settings s;
	if (load(c, &s))
		hw_admin_reply(c, 200, hw_gd_settings_json(&s));
}

void hw_admin_guardian_put(struct hw_admin_call *c)
{
	static const char *const fields[] = {"dedup", "cost_spike", "context_bloat", "zombie_agent",
					     NULL};
	json_t *in = NULL;
	struct hw_gd_settings s;
	char param[64], msg[160];
	if (!load(c, &s) || hw_admin_body_parse(c, fields, &in))
		return;
	hw_gd_settings_defaults(c->ctx->cfg, &s);
	if (hw_gd_settings_apply(&s, in, param, sizeof(param), msg, sizeof(msg)) < 0) {
		hw_admin_fail_param(c, param, "%s", msg);
		goto out;
	}
	char *text = json_dumps(in, JSON_COMPACT | JSON_PRESERVE_ORDER);
	struct hw_store *st = c->ctx->store;
	int rc = text ? st->ops->guardian.put(st, c->ws_id, text, hw_clock_wall_s()) : -ENOMEM;
	free(text);
	if (rc < 0) {
		hw_admin_fail_store(c, rc, "Workspace");
		goto out;
	}
	c->changed = true;
	hw_admin_reply(c, 200, hw_gd_settings_json(&s));
out:
	json_decref(in);
}
