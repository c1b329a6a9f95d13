// SPDX-License-Identifier: Apache-2.0
/* The chat pipeline's Guardian steps (SPEC §3 steps 9 and 10, §11): per-key RPM and the
 * admission rules before the Shield and money, so a refused request costs nothing;
 * cost_spike after each settlement and zombie_agent after each completed answer. Metrics
 * are atomics; events and suspensions go to Guardian's worker thread, never waited for. */
#include "common/clock.h"
#include "gateway/chat.h"
#include "gateway/metrics.h"
#include "gateway/server.h"
#include "guardian/guardian_worker.h"

#include <stdio.h>
#include <stdlib.h>

static void hex(const uint8_t *h, char out[2 * HW_GD_HASH_LEN + 1])
{
	for (int i = 0; i < HW_GD_HASH_LEN; i++)
		snprintf(out + (size_t)i * 2, 3, "%02x", h[i]);
}

/* Counts every trigger; queues the guardian.block events that are due and a suspension. */
static void report(struct chat *c, const struct hw_gd_outcome *out)
{
	struct hw_request *req = c->req;
	for (int i = 0; i < out->n_trig; i++) {
		const struct hw_gd_trigger *t = &out->trig[i];
		hw_metrics_guardian_event(hw_gd_rule_name(t->rule), t->action);
		if (!t->notify || !req->srv->gd_worker)
			continue;
		char h[2 * HW_GD_HASH_LEN + 1];
		if (c->have_prompt_hash)
			hex(c->prompt_hash, h);
		json_t *data =
		    json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:s}", "rule", hw_gd_rule_name(t->rule),
			      "key_id", req->key.id, "key_prefix", req->key.prefix, "request_hash",
			      c->have_prompt_hash ? json_string(h) : json_null(), "action",
			      t->action, "client_ip", req->client_ip, "request_id", req->request_id,
			      "detail", t->detail);
		bool suspend = out->suspend && t->rule == HW_GD_ZOMBIE;
		if (hw_gd_worker_submit(req->srv->gd_worker, req->key.workspace_id, req->key.id,
					suspend, data) < 0 &&
		    suspend)
			hw_guardian_suspended(req->srv->guardian, req->key.id);
	}
}

bool hw_chat_guardian_admit(struct chat *c, enum MHD_Result *ret)
{
	struct hw_request *req = c->req;
	struct hw_guardian *g = req->srv->guardian;
	if (!g)
		return true;
	const struct hw_config *cfg = hw_server_cfg(req->srv);
	c->gd = cfg->guardian.enabled ? hw_guardian_settings(g, cfg, req->key.workspace_id) : NULL;
	if (c->gd && (c->gd->dedup.enabled || c->gd->zombie_agent.enabled))
		c->have_prompt_hash = hw_gd_prompt_hash(c->body.root, c->prompt_hash) == 0;
	struct hw_gd_request rq = {
	    .key_id = req->key.id,
	    .rpm_limit = req->key.rpm_limit,
	    .settings = c->gd,
	    .prompt_hash = c->have_prompt_hash ? c->prompt_hash : NULL,
	    .est_tokens = c->body.est_tokens,
	    .now_ms = hw_clock_wall_ms(),
	};
	struct hw_gd_outcome out;
	hw_guardian_admit(g, &rq, &out);
	report(c, &out);
	switch (out.verdict) {
	case HW_GD_PASS:
		return true;
	case HW_GD_SUSPENDED:
		*ret = hw_respond_error(
		    req, HW_ERR_KEY_SUSPENDED, "API key suspended.",
		    json_pack("{s:s,s:s}", "key_id", req->key.id, "reason", "zombie_agent"));
		break;
	case HW_GD_RATE_LIMITED:
		hw_metrics_rate_limited();
		*ret = hw_respond_error(req, HW_ERR_RATE_LIMIT_EXCEEDED, out.message,
					json_pack("{s:I,s:I}", "retry_after_seconds",
						  (json_int_t)out.retry_after_s, "limit",
						  (json_int_t)out.limit));
		break;
	case HW_GD_BLOCKED:
		hw_guardian_note_block(req->client_ip);
		*ret = hw_respond_error(req, HW_ERR_GUARDIAN_BLOCK, out.message,
					json_pack("{s:s,s:I}", "rule", hw_gd_rule_name(out.rule),
						  "retry_after_seconds",
						  (json_int_t)out.retry_after_s));
		break;
	case HW_GD_BLOAT:
		*ret = hw_respond_error(req, HW_ERR_CONTEXT_BLOAT, out.message,
					json_pack("{s:s,s:I,s:I}", "rule", "context_bloat", "limit",
						  (json_int_t)out.limit, "prompt_tokens",
						  (json_int_t)out.prompt_tokens));
		break;
	}
	return false;
}

void hw_chat_guardian_cost(struct chat *c, int64_t cost)
{
	struct hw_guardian *g = c->req->srv->guardian;
	if (!g || !c->gd)
		return;
	struct hw_gd_outcome out;
	hw_guardian_cost(g, c->req->key.id, c->gd, cost, hw_clock_wall_ms(), &out);
	report(c, &out);
}

void hw_chat_guardian_completed(struct chat *c, const json_t *answer)
{
	struct hw_guardian *g = c->req->srv->guardian;
	uint8_t resp[HW_GD_HASH_LEN];
	if (!g || !c->gd || !c->have_prompt_hash || !answer ||
	    hw_gd_response_hash(answer, resp) < 0)
		return;
	struct hw_gd_outcome out;
	hw_guardian_completed(g, c->req->key.id, c->gd, c->prompt_hash, resp, hw_clock_wall_ms(),
			      &out);
	report(c, &out);
}

/* Streamed tool calls come in fragments by index; more than this many calls in one answer
 * are left out of the response hash. */
#define STREAM_MAX_CALLS 64

static void append(json_t *obj, const char *key, const char *frag)
{
	const char *cur = json_string_value(json_object_get(obj, key));
	char *s = NULL;
	if (asprintf(&s, "%s%s", cur ? cur : "", frag) >= 0)
		json_object_set_new(obj, key, json_string(s));
	free(s);
}

void hw_chat_guardian_stream_delta(struct chat *c, const json_t *delta)
{
	if (!c->gd || !c->gd->zombie_agent.enabled || !c->have_prompt_hash ||
	    !json_is_object(delta))
		return;
	const json_t *text = json_object_get(delta, "content");
	if (json_is_string(text))
		hw_buf_append(&c->gd_text, json_string_value(text), json_string_length(text));
	size_t i;
	json_t *tc;
	json_array_foreach(json_object_get(delta, "tool_calls"), i, tc)
	{
		const json_t *ix = json_object_get(tc, "index");
		size_t at = json_is_integer(ix) ? (size_t)json_integer_value(ix) : i;
		if (at >= STREAM_MAX_CALLS || (!c->gd_calls && !(c->gd_calls = json_array())))
			continue;
		while (json_array_size(c->gd_calls) <= at)
			json_array_append_new(c->gd_calls, json_pack("{s:{s:s,s:s}}", "function",
								     "name", "", "arguments", ""));
		json_t *fn = json_object_get(json_array_get(c->gd_calls, at), "function");
		const json_t *src = json_object_get(tc, "function");
		const char *name = json_string_value(json_object_get(src, "name"));
		const char *args = json_string_value(json_object_get(src, "arguments"));
		if (fn && name)
			append(fn, "name", name);
		if (fn && args)
			append(fn, "arguments", args);
	}
}

void hw_chat_guardian_stream_done(struct chat *c)
{
	if (!c->gd || !c->gd->zombie_agent.enabled || !c->have_prompt_hash)
		return;
	json_t *msg =
	    json_pack("{s:s%}", "content", c->gd_text.data ? c->gd_text.data : "", c->gd_text.len);
	if (msg && c->gd_calls)
		json_object_set(msg, "tool_calls", c->gd_calls);
	json_t *answer = msg ? json_pack("{s:[{s:o}]}", "choices", "message", msg) : NULL;
	hw_chat_guardian_completed(c, answer);
	json_decref(answer);
}
