/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus metrics (SPEC §20.1). Series are created on first use in a lock-free table
 * and updated with atomics, so recording never takes a lock on the request path. */
#ifndef HW_GATEWAY_METRICS_H
#define HW_GATEWAY_METRICS_H

#include "common/buf.h"
#include "gateway/request.h"

#include <stdint.h>

struct hw_server;

const char *hw_route_name(enum hw_route route);

void hw_metrics_request(enum hw_route route, const char *method, int status, const char *code,
			int64_t duration_ns, int64_t upstream_ns);
void hw_metrics_in_flight(enum hw_route route, int delta);
/* One provider call: outcome is ok|timeout|connect_error|http_4xx|http_429|http_5xx|
 * malformed|stream_interrupted. `error_type` is "" on success. */
void hw_metrics_upstream(const char *provider_kind_or_id, const char *request_model,
			 const char *response_model, const char *outcome, int64_t duration_ns,
			 int64_t input_tokens, int64_t output_tokens);

/* One routing decision: mode is auto | tier_pin | model_pin | passthrough. */
void hw_metrics_routing(const char *tier, const char *mode, int64_t duration_ns);

/* An attempt on a further candidate after a failure (SPEC §9.3), by routed tier. */
void hw_metrics_fallback(const char *tier);

/* Security Shield (SPEC §20.1): one scan by mode (monitor | block) and its duration, a
 * monitor scan dropped on a full queue, one detection by type and action. */
void hw_metrics_shield_scan(const char *mode, int64_t duration_ns);
void hw_metrics_shield_dropped(void);
void hw_metrics_shield_detection(const char *threat_type, const char *action);

/* Per-key RPM refusals and Guardian rule triggers (SPEC §20.1). */
void hw_metrics_rate_limited(void);
void hw_metrics_guardian_event(const char *rule, const char *action);

/* Renders the text exposition format 0.0.4 into out. */
void hw_metrics_render(struct hw_server *srv, struct hw_buf *out);

/* metrics_money.c: the money families, from the accounts. */
void hw_metrics_money_render(struct hw_server *srv, struct hw_buf *out);

#endif
