// SPDX-License-Identifier: Apache-2.0
/* Where the Shield's detections go (SPEC §12.3, §15): each becomes a row of its workspace's
 * hash-chained audit trail, then a `security.event` for the workspace's webhooks. The row is
 * written before the sink returns, on whichever thread scanned: the monitor worker, or for a
 * blocked request the HTTP worker just before its 400, so an answered block always has its
 * row (a crash cannot lose it). Detections are rare next to requests, and a blocked request
 * ends there, so the store write does not sit on any forwarded request's path. */
#include "shield/shield_audit.h"

#include "common/json_usd.h"
#include "common/log.h"
#include "events/outbox.h"
#include "shield/audit.h"
#include "shield/shield.h"

#include <stdatomic.h>
#include <stdio.h>

static _Atomic(struct hw_store *) audit_store;

static void copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static void audit_sink(const struct hw_shield_event *ev)
{
	struct hw_store *st = atomic_load(&audit_store);
	hw_shield_sink_log(ev); /* the log line stays: it is what operators grep */
	if (!st || !ev->workspace_id || !ev->workspace_id[0])
		return;
	struct hw_audit_event a = {.score = ev->score, .timestamp_ms = ev->timestamp_ms};
	copy(a.workspace_id, sizeof(a.workspace_id), ev->workspace_id);
	copy(a.key_id, sizeof(a.key_id), ev->key_id);
	copy(a.request_id, sizeof(a.request_id), ev->request_id);
	copy(a.client_ip, sizeof(a.client_ip), ev->client_ip);
	copy(a.model, sizeof(a.model), ev->model);
	copy(a.threat_type, sizeof(a.threat_type), ev->threat_type);
	copy(a.action, sizeof(a.action), ev->action);
	copy(a.mode, sizeof(a.mode), ev->mode);
	copy(a.prompt_sha256, sizeof(a.prompt_sha256), ev->prompt_sha256);
	int64_t seq = 0;
	char row_hash[65] = "";
	int rc = hw_audit_append(st, &a, &seq, row_hash);
	if (rc < 0) {
		hw_log(HW_LOG_ERROR, "audit append failed (%d) for request %s", rc, a.request_id);
		return;
	}
	/* The score with 2 decimals, as the row holds it, printed exactly. */
	json_t *data = json_pack("{s:I,s:s,s:s,s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "seq",
				 (json_int_t)seq, "row_hash", row_hash, "threat_type", a.threat_type,
				 "score", hw_json_usd((int64_t)(a.score * 100 + 0.5) * 10000), "action",
				 a.action, "req_id", a.request_id, "prompt_sha256", a.prompt_sha256,
				 "model", a.model, "key_id", a.key_id, "client_ip", a.client_ip, "mode",
				 a.mode);
	if (data && hw_outbox_emit(st, a.workspace_id, "security.event", data) < 0)
		hw_log(HW_LOG_WARN, "security.event for audit row %lld not queued",
		       (long long)seq);
}

void hw_shield_audit_attach(struct hw_store *st)
{
	atomic_store(&audit_store, st);
	atomic_store(&hw_shield_sink, st ? audit_sink : hw_shield_sink_log);
}
