// SPDX-License-Identifier: Apache-2.0
#include "gateway/access_log.h"

#include "common/clock.h"
#include "common/log.h"
#include "gateway/metrics.h"
#include "gateway/server.h"

void hw_access_finish(struct hw_request *req, bool completed)
{
	int64_t dur = hw_clock_mono_ns() - req->t_start_ns;
	const char *code = req->outcome.code ? req->outcome.code : "ok";
	hw_metrics_request(req->route, req->method ? req->method : "", req->outcome.status, code, dur,
			   req->upstream_ns);
	const struct hw_config *cfg = hw_server_cfg(req->srv);
	if (!cfg->logging.access_log || !hw_log_enabled(HW_LOG_INFO))
		return;
	json_t *f = json_pack("{s:s,s:s,s:s,s:i,s:s,s:f,s:f,s:s,s:b}", "route", hw_route_name(req->route),
			      "method", req->method ? req->method : "", "path", req->path, "status",
			      req->outcome.status, "code", code, "latency_ms", (double)dur / 1e6,
			      "upstream_ms", (double)req->upstream_ns / 1e6, "client_ip", req->client_ip,
			      "completed", completed);
	if (req->authed) {
		json_object_set_new(f, "workspace_id", json_string(req->key.workspace_id));
		json_object_set_new(f, "key_id", json_string(req->key.id));
	}
	if (req->routed_model[0]) {
		json_object_set_new(f, "routed_model", json_string(req->routed_model));
		json_object_set_new(f, "tier", json_string(req->routed_tier));
	}
	hw_log_json(HW_LOG_INFO, req->request_id, "access", f);
}
