// SPDX-License-Identifier: Apache-2.0
#include "gateway/usage.h"

#include "common/clock.h"
#include "gateway/metrics.h"
#include "gateway/server.h"
#include "store/usage_writer.h"

#include <stdio.h>
#include <string.h>

void hw_usage_record_chat(struct hw_request *req, const struct hw_model *model, const char *tier,
			  const char *reason, const char *end_user, const char *requested_model,
			  bool stream, int64_t prompt_tokens, int64_t completion_tokens,
			  int64_t cached_tokens, const struct hw_usage_costs *costs,
			  int64_t routing_ns, int64_t ttft_ns)
{
	if (!req->authed || !req->srv->usage)
		return;
	struct hw_usage_record rec;
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.request_id, sizeof(rec.request_id), "%s", req->request_id);
	rec.ts_ms = hw_clock_wall_ms();
	snprintf(rec.workspace_id, sizeof(rec.workspace_id), "%s", req->key.workspace_id);
	snprintf(rec.key_id, sizeof(rec.key_id), "%s", req->key.id);
	snprintf(rec.end_user, sizeof(rec.end_user), "%s", end_user ? end_user : "");
	snprintf(rec.route, sizeof(rec.route), "%s", hw_route_name(req->route));
	snprintf(rec.requested_model, sizeof(rec.requested_model), "%s", requested_model ? requested_model : "");
	if (model) {
		snprintf(rec.routed_model, sizeof(rec.routed_model), "%s", model->id);
		snprintf(rec.provider, sizeof(rec.provider), "%s", model->provider_id);
	}
	snprintf(rec.tier, sizeof(rec.tier), "%s", tier ? tier : "");
	rec.score = -1;
	snprintf(rec.reason, sizeof(rec.reason), "%s", reason ? reason : "");
	rec.stream = stream;
	rec.status = req->outcome.status;
	snprintf(rec.error_code, sizeof(rec.error_code), "%s",
		 req->outcome.code && strcmp(req->outcome.code, "ok") != 0 ? req->outcome.code : "");
	rec.prompt_tokens = prompt_tokens;
	rec.completion_tokens = completion_tokens;
	rec.cache_read_tokens = cached_tokens;
	rec.upstream_cost = costs->upstream;
	rec.markup_cost = costs->markup;
	rec.baseline_cost = costs->baseline;
	rec.passthrough = costs->passthrough;
	rec.routing_us = routing_ns / 1000;
	rec.ttft_ms = ttft_ns / 1000000;
	rec.latency_ms = (hw_clock_mono_ns() - req->t_start_ns) / 1000000;
	snprintf(rec.client_ip, sizeof(rec.client_ip), "%s", req->client_ip);
	hw_usage_writer_submit(req->srv->usage, &rec);
}
