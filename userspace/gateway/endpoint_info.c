// SPDX-License-Identifier: Apache-2.0
/* The small read-only endpoints: /v1/models (SPEC §5.4), /health (§5.5), /metrics (§20.1). */
#include "common/clock.h"
#include "common/crypto.h"
#include "auth/byok_cache.h"
#include "common/json_usd.h"
#include "gateway/endpoints.h"
#include "gateway/metrics.h"
#include "gateway/server.h"
#include "iprules/perimeter.h"
#include "routing/catalog.h"
#include "store/store.h"
#include "upstream/breaker.h"

#include <stdlib.h>
#include <strings.h>
#include <string.h>

static json_t *model_item(const struct hw_model *m)
{
	const char *tier = m->tier == HW_TIER_ULTRA_LIGHT ? "ultra_light" : hw_tier_name(m->tier);
	return json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:I,s:b,s:I,s:{s:o,s:o}}", "id", m->id, "object",
			 "model", "created", (json_int_t)m->created, "owned_by", m->provider_id,
			 "hiway_tier", tier, "hiway_provider", m->provider_id, "hiway_quality",
			 (json_int_t)m->quality, "hiway_supports_tools", m->supports_tools,
			 "hiway_context_window", (json_int_t)m->context_window, "hiway_pricing",
			 "input_per_mtok", hw_json_usd(m->input_per_mtok), "output_per_mtok",
			 hw_json_usd(m->output_per_mtok));
}

/* What the workspace may see (SPEC §5.4): its usable providers, its allowed regions, and
 * echo models only where no real provider is usable, as routing does. */
struct listing {
	const char *workspace_id;
	json_t *regions; /* NULL: any */
	bool real_usable;
};

static void listing_init(struct listing *l, struct hw_request *req, const struct hw_config *cfg)
{
	l->workspace_id = req->key.workspace_id;
	l->regions = req->ws_regions[0] ? json_loads(req->ws_regions, 0, NULL) : NULL;
	if (!json_is_array(l->regions)) {
		json_decref(l->regions);
		l->regions = NULL;
	}
	l->real_usable = false;
	for (size_t i = 0; i < cfg->n_providers && !l->real_usable; i++)
		l->real_usable = cfg->providers[i].kind != HW_PROVIDER_ECHO &&
				 hw_byok_usable(l->workspace_id, &cfg->providers[i]);
}

static bool region_allowed(const struct listing *l, const char *region)
{
	if (!l->regions)
		return true;
	size_t i;
	json_t *v;
	json_array_foreach(l->regions, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), region) == 0)
			return true;
	}
	return false;
}

static bool listed(const struct listing *l, const struct hw_model *m)
{
	if (!m->enabled || !m->provider || !hw_byok_usable(l->workspace_id, m->provider) ||
	    !region_allowed(l, m->region))
		return false;
	return m->provider->kind != HW_PROVIDER_ECHO || !l->real_usable;
}

enum MHD_Result hw_ep_models(struct hw_request *req)
{
	enum MHD_Result ret;
	if (!hw_authn_inference(req, &ret))
		return ret;
	const struct hw_catalog *cat = atomic_load(&req->srv->catalog);
	struct listing l;
	listing_init(&l, req, hw_server_cfg(req->srv));
	const char *prefix = "/v1/models/";
	if (strncmp(req->path, prefix, strlen(prefix)) == 0) {
		const struct hw_model *m = hw_catalog_find(cat, req->path + strlen(prefix));
		bool ok = m && listed(&l, m);
		json_decref(l.regions);
		if (!ok)
			return hw_respond_error(req, HW_ERR_NOT_FOUND, "No such model.", NULL);
		return hw_respond_json(req, 200, model_item(m));
	}
	const char *tier_arg = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, "tier");
	int tier = -1;
	if (tier_arg && (tier = hw_tier_parse(tier_arg)) < 0) {
		json_decref(l.regions);
		return hw_respond_error(req, HW_ERR_INVALID_REQUEST, "Unknown tier.",
					json_pack("{s:s}", "param", "tier"));
	}
	json_t *data = json_array();
	for (size_t i = 0; i < cat->n; i++) {
		const struct hw_model *m = &cat->models[i];
		if (listed(&l, m) && (tier < 0 || (int)m->tier == tier))
			json_array_append_new(data, model_item(m));
	}
	json_decref(l.regions);
	return hw_respond_json(req, 200, json_pack("{s:s,s:o}", "object", "list", "data", data));
}

enum MHD_Result hw_ep_health(struct hw_request *req)
{
	struct hw_server *srv = req->srv;
	const struct hw_config *cfg = hw_server_cfg(srv);
	int64_t t0 = hw_clock_mono_ns();
	bool ok = srv->store->ops->ping(srv->store) == 0;
	double ms = (double)(hw_clock_mono_ns() - t0) / 1e6;
	json_t *body = json_pack(
		"{s:s,s:s,s:s,s:I,s:{s:s,s:s,s:f},s:o,s:i}", "status",
		ok ? "ok" : "unavailable", "version", HIWAY_VERSION, "node_id", cfg->node_id, "uptime_s",
		(json_int_t)(hw_clock_wall_s() - srv->started_s), "store", "backend", srv->store->backend,
		"status", ok ? "ok" : "unavailable", "latency_ms", ms, "perimeter",
		hw_perimeter_health(cfg), "circuits_open", hw_breaker_open_count());
	if (strcmp(req->method, "HEAD") == 0) {
		json_decref(body);
		struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(r, "Content-Type", "application/json");
		return hw_respond(req, ok ? 200 : 503, r, ok ? "ok" : "store_unavailable");
	}
	if (ok)
		return hw_respond_json(req, 200, body);
	/* The health document with the error envelope beside it: monitors read either. */
	json_t *err = hw_err_body(HW_ERR_STORE_UNAVAILABLE, "The store cannot be reached.",
				  req->request_id, NULL, false);
	json_object_set(body, "error", json_object_get(err, "error"));
	json_decref(err);
	struct MHD_Response *r = hw_json_response(body);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Retry-After", "1");
	return hw_respond(req, 503, r, "store_unavailable");
}

enum MHD_Result hw_ep_metrics(struct hw_request *req)
{
	const struct hw_config *cfg = hw_server_cfg(req->srv);
	if (!cfg->metrics.enabled)
		return hw_respond_error(req, HW_ERR_NOT_FOUND, "Metrics are disabled.", NULL);
	if (cfg->metrics.token && cfg->metrics.token[0]) {
		const char *authz = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Authorization");
		if (!authz || strncasecmp(authz, "Bearer ", 7) != 0 || !hw_ct_streq(authz + 7, cfg->metrics.token))
			return hw_respond_error(req, HW_ERR_INVALID_API_KEY, "Invalid metrics token.", NULL);
	}
	struct hw_buf out = {0};
	hw_metrics_render(req->srv, &out);
	return hw_respond_text(req, 200, "text/plain; version=0.0.4", out.data, out.len);
}
