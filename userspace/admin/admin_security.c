// SPDX-License-Identifier: Apache-2.0
/* A workspace's Security Shield settings over the management API (SPEC §12.1, §16.2):
 * GET answers the effective values and which of them are the server's defaults; POST and
 * PUT change the fields the body names (null puts one back to its default). Custom
 * patterns are compiled before anything is stored, so a stored list always compiles, and
 * the new settings reach the request path as soon as the row is written. */
#include "admin/admin_internal.h"

#include "common/clock.h"
#include "common/json_usd.h"
#include "shield/shield_ws.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETENTION_DAYS_MAX 3650

/* Updates are read-modify-write of one row and must publish in the order they store. */
static pthread_mutex_t update_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const modes[] = {"off", "monitor", "block", NULL};
static const char *const fields[] = {"mode", "threshold", "retention_days", "custom_patterns",
				     NULL};

static json_t *config_json(const struct hw_config *cfg, const struct hw_security_config *sc)
{
	bool dmode = !sc->mode[0], dthr = sc->threshold < 0, dret = sc->retention_days <= 0;
	double thr = dthr ? cfg->shield.threshold : sc->threshold;
	json_t *pats = sc->custom_patterns ? json_loads(sc->custom_patterns, 0, NULL) : NULL;

	return json_pack(
	    "{s:s,s:s,s:o,s:I,s:o,s:{s:b,s:b,s:b},s:o}", "workspace_id", sc->workspace_id, "mode",
	    dmode ? cfg->shield.mode : sc->mode, "threshold", hw_json_usd(llround(thr * 1e6)),
	    "retention_days", (json_int_t)(dret ? cfg->shield.retention_days : sc->retention_days),
	    "custom_patterns", pats ? pats : json_array(), "defaults", "mode", dmode, "threshold",
	    dthr, "retention_days", dret, "updated_at", hw_admin_time_json(sc->updated_at));
}

/* The workspace's row, or an all-defaults one when it has none; answers on failure. */
static int current(struct hw_admin_call *c, struct hw_security_config *sc)
{
	struct hw_store *st = c->ctx->store;
	struct hw_workspace ws;
	int rc = st->ops->workspace_get(st, c->ws_id, &ws);

	if (rc) {
		hw_admin_fail_store(c, rc, "Workspace");
		return rc;
	}
	rc = st->ops->security.config_get(st, c->ws_id, sc);
	if (rc == -ENOENT) {
		memset(sc, 0, sizeof(*sc));
		snprintf(sc->workspace_id, sizeof(sc->workspace_id), "%s", c->ws_id);
		sc->threshold = -1;
		return 0;
	}
	if (rc)
		hw_admin_fail_store(c, rc, "Workspace");
	return rc;
}

void hw_admin_security_config_get(struct hw_admin_call *c)
{
	struct hw_security_config sc = {0};

	if (current(c, &sc) == 0)
		hw_admin_reply(c, 200, config_json(c->ctx->cfg, &sc));
	hw_security_config_clear(&sc);
}

/* Applies the scalar fields of `body` to `sc`; answers 400 and returns -EINVAL on a bad one. */
static int take_scalars(struct hw_admin_call *c, const json_t *body, struct hw_security_config *sc)
{
	const json_t *v;

	if ((v = json_object_get(body, "mode"))) {
		if (json_is_null(v))
			sc->mode[0] = '\0';
		else if (hw_admin_choice_take(c, v, "mode", modes, sc->mode, sizeof(sc->mode)))
			return -EINVAL;
	}
	if ((v = json_object_get(body, "threshold"))) {
		double t = json_number_value(v);
		if (json_is_null(v)) {
			sc->threshold = -1;
		} else if (!json_is_number(v) || !(t >= 0 && t <= 1)) {
			hw_admin_fail_param(c, "threshold",
					    "threshold must be null or a number from 0 to 1.");
			return -EINVAL;
		} else {
			sc->threshold = round(t * 1e6) / 1e6; /* answered with at most 6 decimals */
		}
	}
	if ((v = json_object_get(body, "retention_days"))) {
		if (json_is_null(v)) {
			sc->retention_days = 0;
		} else if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			   json_integer_value(v) > RETENTION_DAYS_MAX) {
			hw_admin_fail_param(
			    c, "retention_days",
			    "retention_days must be null or an integer from 1 to %d.",
			    RETENTION_DAYS_MAX);
			return -EINVAL;
		} else {
			sc->retention_days = json_integer_value(v);
		}
	}
	return 0;
}

/* custom_patterns: every pattern compiled on its own to name a bad one; null or [] = none. */
static int take_patterns(struct hw_admin_call *c, const json_t *body, struct hw_security_config *sc)
{
	const json_t *v = json_object_get(body, "custom_patterns");
	struct hw_shield_pattern *pats = NULL;
	size_t n = 0;
	char param[64], msg[384];
	int rc;

	if (!v)
		return 0;
	hw_security_config_clear(sc);
	if (json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0))
		return 0;
	rc = hw_shield_custom_parse(v, &pats, &n, param, sizeof(param), msg, sizeof(msg));
	hw_shield_patterns_free(pats, n);
	if (rc == -EINVAL) {
		hw_admin_fail_param(c, param, "%s", msg);
		return rc;
	}
	if (rc == 0 && !(sc->custom_patterns = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER)))
		rc = -ENOMEM;
	if (rc)
		hw_admin_fail_store(c, rc, "Security config");
	return rc;
}

void hw_admin_security_config_put(struct hw_admin_call *c)
{
	struct hw_store *st = c->ctx->store;
	struct hw_security_config sc = {0};
	struct hw_shield_ws *ws = NULL;
	json_t *body = NULL;
	char err[512];
	int rc;

	if (hw_admin_body_parse(c, fields, &body))
		return;
	pthread_mutex_lock(&update_lock);
	if (current(c, &sc) || take_scalars(c, body, &sc) || take_patterns(c, body, &sc))
		goto out;
	rc = hw_shield_ws_prepare(&sc, &ws, err, sizeof(err));
	if (rc == -EINVAL) {
		/* Each pattern compiled alone; the set as a whole did not. */
		hw_admin_fail_param(c, "custom_patterns", "custom_patterns: %s", err);
		goto out;
	}
	sc.updated_at = hw_clock_wall_s();
	if (rc == 0)
		rc = st->ops->security.config_put(st, &sc);
	if (rc == 0) {
		rc = hw_shield_ws_publish(sc.workspace_id, ws);
		ws = NULL;
	}
	if (rc) {
		hw_admin_fail_store(c, rc, "Workspace");
		goto out;
	}
	hw_admin_reply(c, 200, config_json(c->ctx->cfg, &sc));
out:
	pthread_mutex_unlock(&update_lock);
	hw_shield_ws_discard(ws);
	hw_security_config_clear(&sc);
	json_decref(body);
}
